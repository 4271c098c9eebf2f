//! Speed of the flow solver: one phase of 131,072 concurrent flows (a ring step of every
//! DP group of a TP8 layout) on a 3-tier rail-optimised fabric of 131,072 GPUs.
//! Run: `cargo bench -p wanka-net --bench flows`.

use criterion::{criterion_group, criterion_main, Criterion};
use wanka_net::{max_min_rates, FabricSpec, FlowSet, LinkRates, Network, Routing};

fn setup(gpus: u64) -> (Network, FlowSet) {
    let spec = FabricSpec::hgx_h100(gpus, 3, 1.0);
    let net = Network::new(&spec, LinkRates { nvlink_efficiency: 0.8, nic_efficiency: 0.95 });
    let mut flows = FlowSet::new();
    let mut path = Vec::new();
    // Every GPU sends to the GPU 8 ahead (next node, same rail), wrapping: one ring step.
    for g in 0..gpus {
        let dst = (g + 8) % gpus;
        let mut ecmp = |n: u64, _: u32| wanka_net::topology::mix(g ^ (dst << 32)) % n;
        net.route(g, dst, Routing::Ecmp, &mut ecmp, &mut path);
        flows.push(&path);
    }
    (net, flows)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("flows");
    g.sample_size(10);
    g.bench_function("build 131,072-GPU network", |b| b.iter(|| setup(131072)));
    let (net, flows) = setup(131072);
    let active = vec![true; flows.len()];
    g.bench_function("max-min rates, 131,072 flows", |b| b.iter(|| max_min_rates(&flows, &active, &net.capacity)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
