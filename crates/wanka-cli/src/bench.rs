//! `wanka bench`: the speed targets at the top of wanka's range, each timed once on the
//! built-in examples scaled up, with its peak memory. Criterion suites (`cargo bench`)
//! cover the fast paths; these cases take seconds each, so one run each is the figure.

use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use wanka::collective::CollectiveOp;
use wanka::error::Result;

const LLAMA3_405B: &str = include_str!("../../../examples/llama3-405b-16k.toml");
const DEEPSEEK_V3: &str = include_str!("../../../examples/deepseek-v3-2048.toml");
const DESIGN_LLAMA3_405B: &str = include_str!("../../../examples/design-llama3-405b.toml");
const SEARCH_LLAMA3_405B: &str = include_str!("../../../examples/search-llama3-405b-16k.toml");
const SEARCH_DEEPSEEK_V3: &str = include_str!("../../../examples/search-deepseek-v3-2048.toml");

/// The keys that scale the examples to 131,072 and 1,048,576 GPUs (what `--set
/// cluster.gpus=N` asks for; wanka names them).
const LLAMA_131K: &[&str] = &["cluster.gpus=131072", "parallel.dp=1024", "parallel.global_batch=16384"];
const LLAMA_1M: &[&str] = &["cluster.gpus=1048576", "cluster.switch_radix=128", "parallel.dp=8192", "parallel.global_batch=131072"];
const DEEPSEEK_1M: &[&str] = &["cluster.gpus=1048576", "cluster.switch_radix=128", "parallel.global_batch=2097152"];

/// What a case measures and the bound it must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Wall-clock seconds at most.
    SecondsAtMost(f64),
    /// Evaluations per second at least.
    RateAtLeast(f64),
}

/// One timed case.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: String,
    pub seconds: f64,
    /// Evaluations per second, for rate cases.
    pub rate_per_s: Option<f64>,
    pub target: Target,
    /// Peak resident memory during the case (Linux; `None` elsewhere).
    pub peak_rss_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub meets_target: bool,
    /// Refused in bounded time with an error naming the key (a phase too large to
    /// route): the answer to a resource bomb.
    pub refused: bool,
    /// What the case answered (a step time, a busbw), or why it was refused.
    pub answer: String,
}

/// A built-in example, scaled by `sets` (the examples are tested to load; an error here
/// is a bug, reported rather than panicked on).
fn scenario(text: &str, name: &str, sets: &[&str]) -> Result<wanka::scenario::Scenario> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    wanka::scenario::parse(text, Path::new(name), &sets)
}

fn space(text: &str, name: &str, sets: &[&str]) -> Result<wanka::scenario::ScenarioSpace> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    wanka::scenario::parse_space(text, Path::new(name), &sets)
}

/// Resets the kernel's peak-RSS mark (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset (`VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `work` once, timing it and its peak memory.
fn timed(case: String, target: Target, memory_limit_bytes: Option<u64>, work: impl FnOnce() -> String) -> Outcome {
    reset_peak_rss();
    let started = Instant::now();
    let answer = work();
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_bytes = peak_rss_bytes();
    let time_ok = match target {
        Target::SecondsAtMost(s) => seconds <= s,
        Target::RateAtLeast(_) => true,
    };
    let memory_ok = match (memory_limit_bytes, peak_rss_bytes) {
        (Some(limit), Some(peak)) => peak <= limit,
        _ => true,
    };
    let refused = answer.starts_with("refused");
    Outcome { case, seconds, rate_per_s: None, target, peak_rss_bytes, memory_limit_bytes, meets_target: time_ok && memory_ok, refused, answer }
}

/// Every case whose name contains `only` (all when empty), in a fixed order.
pub fn run(only: &str, progress: &dyn Fn(&str)) -> Result<Vec<Outcome>> {
    let wanted = |name: &str| only.is_empty() || name.contains(only);
    let mut out = Vec::new();

    let name = "analytic step, Llama 3 405B on 16,384 GPUs (evaluations/s)".to_string();
    if wanted(&name) {
        progress(&name);
        let s = scenario(LLAMA3_405B, "llama3-405b-16k.toml", &[])?;
        let fabric = wanka::parallel::fabric(&s.cluster);
        let started = Instant::now();
        let mut n = 0u64;
        let mut sink = 0.0;
        while started.elapsed().as_secs_f64() < 1.0 {
            for _ in 0..1000 {
                sink += std::hint::black_box(wanka::step::evaluate(std::hint::black_box(&s), &fabric)).step_time_s;
            }
            n += 1000;
        }
        let seconds = started.elapsed().as_secs_f64();
        let rate = n as f64 / seconds;
        out.push(Outcome {
            case: name,
            seconds,
            rate_per_s: Some(rate),
            target: Target::RateAtLeast(1e6),
            peak_rss_bytes: None,
            memory_limit_bytes: None,
            meets_target: rate >= 1e6,
            refused: false,
            answer: format!("{n} evaluations, step {:.2} s", sink / n as f64),
        });
    }

    let name = "analytic sweep, Llama 3 405B, CSV rows (points/s on 1 thread)".to_string();
    if wanted(&name) {
        progress(&name);
        // A design sweep as users write one: layout keys (micro-batch, recompute, ZeRO,
        // global batch) against fabric and cost keys, 28,800 points.
        let text = r#"
fidelity = "analytic"
[axes]
"parallel.micro_batch" = [1, 2]
"parallel.recompute" = ["none", "selective", "full"]
"parallel.zero" = [1, 2]
"parallel.global_batch" = [2048, 4096, 8192]
"cluster.oversubscription" = [1, 2, 4, 7]
"training.tokens" = [1e12, 2e12, 5e12, 10e12, 15e12]
"training.gpu_hour_usd" = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75, 4.0, 4.25, 4.5, 4.75, 5.0, 5.25, 5.5, 5.75, 6.0, 6.25, 6.5, 6.75, 7.0, 7.25, 7.5, 7.75, 8.0, 8.25, 8.5, 8.75, 9.0, 9.25, 9.5, 9.75, 10.0, 10.25, 10.5, 10.75]
"#;
        let sweep = wanka::sweep::parse_with_base_text(text, Path::new("bench-sweep.toml"), LLAMA3_405B, "llama3-405b-16k.toml".into())?;
        let points: Vec<u64> = (0..sweep.points()).collect();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| wanka::error::Error::Io { path: "thread pool".into(), reason: e.to_string() })?;
        let started = Instant::now();
        let (bytes, errors) = pool.install(|| sweep.encode(&points, wanka::sweep::Format::Csv));
        let seconds = started.elapsed().as_secs_f64();
        let rate = points.len() as f64 / seconds;
        out.push(Outcome {
            case: name,
            seconds,
            rate_per_s: Some(rate),
            target: Target::RateAtLeast(2e5),
            peak_rss_bytes: None,
            memory_limit_bytes: None,
            meets_target: rate >= 2e5,
            refused: false,
            answer: format!("{} points ({errors} not valid), {} bytes of rows", points.len(), bytes.len()),
        });
    }

    let name = "design study, Llama 3 405B on 15.6T tokens, 15 cluster designs (examples/design-llama3-405b.toml)".to_string();
    if wanted(&name) {
        progress(&name);
        let study = wanka::design::study::parse_with_base_text(DESIGN_LLAMA3_405B, Path::new("design-llama3-405b.toml"), LLAMA3_405B, "llama3-405b-16k.toml".into())?;
        out.push(timed(name, Target::SecondsAtMost(30.0), None, || match study.run(&|_, _| {}) {
            Ok(r) => {
                let ran = r.designs.iter().filter(|d| d.result.is_some()).count();
                format!("{ran} of {} designs ran, {} on the Pareto front", r.designs.len(), r.pareto.len())
            }
            Err(e) => format!("error: {e}"),
        }));
    }

    for (label, sets, limit_s, memory) in [
        ("131,072", LLAMA_131K, 4.0, None),
        ("1,048,576", LLAMA_1M, 30.0, Some(1u64 << 30)),
    ] {
        let name = format!("event step, Llama 3 405B on {label} GPUs");
        if wanted(&name) {
            progress(&name);
            let s = scenario(LLAMA3_405B, "llama3-405b-16k.toml", sets)?;
            out.push(timed(name, Target::SecondsAtMost(limit_s), memory, || match wanka::step::event::simulate_event(&s) {
                Ok(step) => format!("step {:.2} s", step.report.step_time_s),
                Err(e) => format!("error: {e}"),
            }));
        }
    }

    let name = "HTML report of the event step, Llama 3 405B on 131,072 GPUs (on top of the step; ≤ 5 MB)".to_string();
    if wanted(&name) {
        progress(&name);
        let s = scenario(LLAMA3_405B, "llama3-405b-16k.toml", LLAMA_131K)?;
        let step = wanka::step::event::simulate_event(&s)?;
        let mut bytes = 0;
        let mut outcome = timed(name, Target::SecondsAtMost(2.0), None, || {
            let html = wanka::render::simulate_report(&s, &step.report, Some(&step), &wanka::step::pipeline_ranks(&s), &Default::default());
            bytes = html.len();
            format!("{:.2} MB, {} charts", bytes as f64 / 1e6, html.matches("<svg").count())
        });
        outcome.meets_target &= bytes <= 5_000_000;
        out.push(outcome);
    }

    let ops = [
        ("all_reduce", CollectiveOp::AllReduce),
        ("all_gather", CollectiveOp::AllGather),
        ("reduce_scatter", CollectiveOp::ReduceScatter),
        ("all_to_all", CollectiveOp::AllToAll),
        ("broadcast", CollectiveOp::Broadcast),
    ];
    for (model, text, file, sets, groups) in [
        ("Llama 3 405B", LLAMA3_405B, "llama3-405b-16k.toml", LLAMA_1M, &["tp", "dp", "pp"][..]),
        ("DeepSeek-V3", DEEPSEEK_V3, "deepseek-v3-2048.toml", DEEPSEEK_1M, &["ep", "expert_dp", "dp", "pp"][..]),
    ] {
        let s = scenario(text, file, sets)?;
        for group in groups {
            for (op_name, op) in ops {
                let name = format!("collective {op_name} over {group}, {model} on 1,048,576 GPUs");
                if !wanted(&name) {
                    continue;
                }
                progress(&name);
                out.push(timed(name, Target::SecondsAtMost(10.0), None, || {
                    let layout = match wanka::collective::flows::named_group(&s, group) {
                        Ok(l) => l,
                        Err(e) => return format!("refused: {e}"),
                    };
                    // As many channels as NCCL builds for the group (`wanka collective`'s default).
                    let channels = wanka::collective::flows::nccl_channels(&s, &wanka::parallel::fabric(&s.cluster), layout, op);
                    if let Err(e) = wanka::collective::flows::check_phase_size(&s, layout, op, channels) {
                        return format!("refused: {e}");
                    }
                    let r = wanka::collective::flows::run(&s, layout, op, s.cluster.routing.into(), channels, &[1073741824.0]);
                    format!("{} groups of {}, {channels} channels: {} flows, busbw {:.1} GB/s at 1 GiB", r.groups, r.group_size, r.flows_per_phase, r.rows[0].busbw_gb_s)
                }));
            }
        }
    }

    for (label, text, file) in [
        ("Llama 3 405B", SEARCH_LLAMA3_405B, "search-llama3-405b-16k.toml"),
        ("DeepSeek-V3", SEARCH_DEEPSEEK_V3, "search-deepseek-v3-2048.toml"),
    ] {
        let name = format!("search, {label} on 131,072 GPUs (2 threads)");
        if wanted(&name) {
            progress(&name);
            let sp = space(text, file, &["cluster.gpus=131072"])?;
            out.push(timed(name, Target::SecondsAtMost(3.0), None, || {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(2).build() {
                    Ok(p) => p,
                    Err(e) => return format!("error: {e}"),
                };
                pool.install(|| match wanka::search::search(&sp, 5, &|_, _| {}) {
                    Ok(r) => format!("{} candidates, {} valid, {} fit", r.candidates, r.evaluated, r.feasible),
                    Err(e) => format!("error: {e}"),
                })
            }));
        }
    }

    let name = "scale, Llama 3 405B over 1k..1M GPUs".to_string();
    if wanted(&name) {
        progress(&name);
        let sp = space(LLAMA3_405B, "llama3-405b-16k.toml", &[])?;
        let counts: Vec<u64> = (10..=20).map(|p| 1u64 << p).collect();
        out.push(timed(name, Target::SecondsAtMost(20.0), None, || match wanka::scale::scale(&sp, &counts) {
            Ok(r) => format!("{} GPU counts", r.points.len()),
            Err(e) => format!("error: {e}"),
        }));
    }
    Ok(out)
}
