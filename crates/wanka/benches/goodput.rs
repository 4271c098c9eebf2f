//! Speed of the goodput Monte Carlo: a 100k-GPU, 100-day run, 1,000 runs.
//! Run: `cargo bench -p wanka --bench goodput`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;

fn bench(c: &mut Criterion) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
    let mut s = wanka::scenario::load(&p, &["cluster.gpus=98304".into(), "parallel.dp=768".into(), "parallel.global_batch=6144".into()])
        .expect("scenario");
    let step = wanka::step::simulate(&s);
    // Choose the token budget so the failure-free run lasts 100 days.
    s.training.tokens = step.tokens_per_s * 100.0 * 86_400.0;
    let mut g = c.benchmark_group("goodput");
    g.sample_size(10);
    g.bench_function("monte carlo 98,304 GPUs, 100 days, 1000 runs", |b| b.iter(|| wanka::reliability::goodput(&s, step.tokens_per_s)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
