//! Speed of `wanka search` over every layout: Llama 3 405B on 16,384 H100s and
//! DeepSeek-V3 on 2,048 H800s (all cores). Run: `cargo bench -p wanka --bench search`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    for name in ["search-llama3-405b-16k.toml", "search-deepseek-v3-2048.toml"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
        let space = wanka::scenario::load_space(&p, &[]).expect("example");
        let r = wanka::search::search(&space, 10, &|_, _| {}).expect("search");
        eprintln!("{name}: {} candidates, {} evaluated, {} feasible", r.candidates, r.evaluated, r.feasible);
        g.bench_function(name, |b| b.iter(|| wanka::search::search(&space, 10, &|_, _| {}).expect("search")));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
