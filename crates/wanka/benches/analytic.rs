//! Speed of the analytic evaluator: one step evaluation of a resolved scenario on a
//! prebuilt fabric, as `search` calls it. Run: `cargo bench -p wanka --bench analytic`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::Path;

fn load(name: &str) -> wanka::scenario::Scenario {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    wanka::scenario::load(&p, &[]).expect("example loads")
}

fn bench(c: &mut Criterion) {
    for name in ["llama3-405b-16k.toml", "deepseek-v3-2048.toml", "gpt3-175b-1k.toml"] {
        let s = load(name);
        let fabric = wanka::parallel::fabric(&s.cluster);
        c.bench_function(&format!("evaluate {name}"), |b| b.iter(|| wanka::step::evaluate(black_box(&s), black_box(&fabric))));
    }
    let s = load("llama3-405b-16k.toml");
    c.bench_function("simulate llama3-405b-16k (builds fabric)", |b| b.iter(|| wanka::step::simulate(black_box(&s))));
    // What one `wanka.simulate(text)` from Python runs in Rust, less the conversion.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
    let text = std::fs::read_to_string(&path).expect("example reads");
    c.bench_function("parse + simulate llama3-405b-16k from TOML text", |b| {
        b.iter(|| wanka::step::simulate(&wanka::scenario::parse(black_box(&text), &path, &[]).expect("example parses")))
    });
    // All of what `wanka.simulate(text)` runs in Rust: the `--json` document it returns.
    c.bench_function("parse + simulate + JSON document llama3-405b-16k from TOML text", |b| {
        b.iter(|| {
            let s = wanka::scenario::parse(black_box(&text), &path, &[]).expect("example parses");
            wanka::json::simulate(&s, &wanka::step::simulate(&s))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
