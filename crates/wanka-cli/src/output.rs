//! Terminal tables and JSON documents. SI in JSON, human units on the terminal.

use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Write as _;
use wanka::report::StepReport;
use wanka::scenario::Scenario;
use wanka::validate::Validation;

pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    println!("{text}");
    Ok(())
}

/// `1.3 TiB`, `42.0 GiB`, `512 MiB`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b;
    let mut i = 0;
    while v.abs() >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

/// `42.1 ms`, `3.20 s`, `15 µs`.
pub fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// `405.9 B`, `12.9 M`.
pub fn count(n: f64) -> String {
    if n >= 1e12 {
        format!("{:.2} T", n / 1e12)
    } else if n >= 1e9 {
        format!("{:.1} B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// The simulate document: the scenario's identity, then SCENARIO.md's keys.
pub fn simulate_table(s: &Scenario, r: &StepReport) -> String {
    let p = &s.parallel;
    let params = s.model.params();
    let mut o = String::new();
    let _ = writeln!(o, "wanka simulate: {} (analytic)", s.name);
    let _ = writeln!(
        o,
        "  model    {} ({} parameters, {} active), seq {}",
        s.model_source,
        count(params.total),
        count(params.active),
        s.model.seq_len
    );
    let _ = writeln!(
        o,
        "  cluster  {} × {} ({} per node, NVLink domain {}, {} Gb/s NIC, {:?} {} tiers)",
        s.cluster.gpus, s.cluster.gpu.id, s.cluster.gpus_per_node, s.cluster.nvlink_domain, s.cluster.nic_gbps, s.cluster.fabric, s.cluster.tiers
    );
    let etp = if p.etp != p.tp { format!(" (ETP {})", p.etp) } else { String::new() };
    let partial = p.recompute_layers.map_or(String::new(), |n| format!(" (first {n} layers of each chunk)"));
    let _ = writeln!(
        o,
        "  layout   TP {} · PP {} (vpp {}, {:?}) · CP {} · EP {}{etp} · DP {} · ZeRO {} · SP {} · recompute {:?}{partial}",
        p.tp, p.pp, p.vpp, p.schedule, p.cp, p.ep, p.dp, p.zero, p.sequence_parallel, p.recompute
    );
    if let Some(chunks) = &p.chunk_layers {
        let ranks: Vec<String> = chunks.iter().map(|r| r.iter().map(u64::to_string).collect::<Vec<_>>().join("+")).collect();
        let _ = writeln!(o, "  stages   layers per rank (its chunks): {}", ranks.join(" | "));
    }
    let _ = writeln!(
        o,
        "  batch    {} sequences ({} tokens), micro-batch {}, {} micro-batches per pipeline",
        p.global_batch,
        count(r.tokens_per_step),
        p.micro_batch,
        r.microbatches
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "  step time        {}", seconds(r.step_time_s));
    let _ = writeln!(o, "  tokens/s         {} ({:.0} per GPU)", count(r.tokens_per_s), r.tokens_per_s_per_gpu);
    let _ = writeln!(o, "  MFU              {:.1}%  ({:.0} model TFLOP/s per GPU)", 100.0 * r.mfu, r.model_tflops_per_gpu);
    let _ = writeln!(o, "  HFU              {:.1}%  ({:.0} hardware TFLOP/s per GPU)", 100.0 * r.hfu, r.hardware_tflops_per_gpu);
    let _ = writeln!(o);
    let b = &r.breakdown_s;
    let pct = |x: f64| 100.0 * x / r.step_time_s;
    let _ = writeln!(o, "  where the step goes");
    let rows: [(&str, f64); 12] = [
        ("compute", b.compute),
        ("pipeline bubble", b.bubble),
        ("exposed TP comm", b.exposed_comm.tp),
        ("exposed CP comm", b.exposed_comm.cp),
        ("exposed EP comm", b.exposed_comm.ep),
        ("exposed PP comm", b.exposed_comm.pp),
        ("exposed DP comm", b.exposed_comm.dp),
        ("optimizer", b.optimizer),
        ("overhead", b.overhead),
        ("stragglers", b.stragglers),
        ("host-bound", b.host),
        ("total", r.step_time_s),
    ];
    for (name, t) in rows {
        let _ = writeln!(o, "    {name:<18} {:>10}  {:>5.1}%", seconds(t), pct(t));
    }
    let m = &r.memory;
    let _ = writeln!(o);
    let _ = writeln!(o, "  memory per GPU (busiest stage)");
    for (name, x) in [
        ("weights", m.weights_bytes),
        ("gradients", m.gradients_bytes),
        ("optimizer", m.optimizer_bytes),
        ("activations", m.activations_bytes),
        ("allocator cache", m.torch_reserved_bytes - m.allocated_bytes),
        ("CUDA/NCCL runtime", m.runtime_bytes),
    ] {
        let _ = writeln!(o, "    {name:<18} {:>10}", bytes(x));
    }
    let _ = writeln!(
        o,
        "    {:<18} {:>10} of {}  {}",
        "total",
        bytes(m.total_bytes),
        bytes(m.capacity_bytes),
        match (m.fits, m.allocator_headroom) {
            (true, true) => "fits",
            (true, false) => "fits, tight: PyTorch's allocator cache does not, so it will flush and retry (slower)",
            _ => "DOES NOT FIT",
        }
    );
    o
}

pub fn validate_table(v: &Validation) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "wanka validate: predicted against published tokens/s per GPU\n");
    let _ = writeln!(o, "  {:<44} {:>10} {:>10} {:>8}", "row", "published", "predicted", "error");
    let mut group = String::new();
    for r in &v.rows {
        if r.group != group {
            group = r.group.clone();
            let _ = writeln!(o, "  [{group}]");
        }
        let _ = writeln!(
            o,
            "  {:<44} {:>10.0} {:>10.0} {:>+7.1}%{}",
            r.id,
            r.published_tokens_per_s_per_gpu,
            r.predicted_tokens_per_s_per_gpu,
            r.error_pct,
            if r.excluded.is_some() { "  excluded" } else { "" }
        );
    }
    let n_included = v.rows.iter().filter(|r| r.excluded.is_none()).count();
    for (title, groups) in [("MAPE by group", &v.groups), ("by framework", &v.by_framework), ("by scale", &v.by_scale)] {
        let _ = writeln!(o, "\n  {title} (excluded rows left out; bias = mean signed error)");
        for g in groups.iter() {
            let _ = writeln!(o, "    {:<54} {:>3} rows {:>6.1}%  bias {:>+6.1}%", g.group, g.rows, g.mape_pct, g.bias_pct);
        }
    }
    let _ = writeln!(o, "\n  all represented rows                                     {:>3} rows {:>6.1}%  (worst {:.1}%)", v.rows.len(), v.mape_pct, v.max_abs_error_pct);
    let _ = writeln!(
        o,
        "  without the {} excluded rows                            {:>3} rows {:>6.1}%  (worst {:.1}%)",
        v.rows.len() - n_included,
        n_included,
        v.mape_included_pct,
        v.max_abs_error_included_pct
    );
    if !v.scaling_series.is_empty() {
        let _ = writeln!(o, "\n  per-GPU throughput as the job grows (largest over smallest GPU count)");
        for x in &v.scaling_series {
            let gpus: Vec<String> = x.gpus.iter().map(|g| g.to_string()).collect();
            let _ = writeln!(o, "    {:<58} {:>16}  published {:>5.3}  predicted {:>5.3}", x.series, gpus.join("→"), x.published_ratio, x.predicted_ratio);
        }
    }
    let over: Vec<&wanka::validate::Row> = v.rows.iter().filter(|r| !r.fits).collect();
    let _ = writeln!(o, "\n  published layouts that ran but wanka says do not fit: {}", over.len());
    for r in over {
        let _ = writeln!(o, "    {:<44} {:.1} GiB per GPU (nvidia-smi)", r.id, r.predicted_memory_gib);
    }
    let excluded: Vec<&wanka::validate::Row> = v.rows.iter().filter(|r| r.excluded.is_some()).collect();
    if !excluded.is_empty() {
        let _ = writeln!(o, "\n  excluded");
        for r in excluded {
            let _ = writeln!(o, "    {:<44} {}", r.id, r.excluded.as_deref().unwrap_or_default());
        }
    }
    if !v.skipped.is_empty() {
        let _ = writeln!(o, "\n  not represented");
        for s in &v.skipped {
            let _ = writeln!(o, "    {:<44} {}", s.id, s.reason);
        }
    }
    o
}

pub fn gpus_table() -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<10} {:>9} {:>9} {:>9} {:>10} {:>11} {:>6} {:>6} {:>6}",
        "id", "BF16 TF/s", "FP8 TF/s", "HBM", "HBM TB/s", "NVLink GB/s", "domain", "NIC Gb", "TDP W"
    );
    for g in wanka::catalog::gpus() {
        let _ = writeln!(
            o,
            "{:<10} {:>9.0} {:>9.0} {:>9} {:>10.2} {:>11.0} {:>6} {:>6.0} {:>6.0}",
            g.id,
            g.bf16_flops / 1e12,
            g.fp8_flops / 1e12,
            format!("{:.0} GB", g.hbm_bytes / 1e9),
            g.hbm_bytes_per_s / 1e12,
            g.nvlink_bytes_per_s / 1e9,
            g.nvlink_domain,
            g.nic_gbps,
            g.tdp_w
        );
    }
    o
}

/// The fabric kinds of `cluster.fabric`, with what each tier of radix-64 switches
/// reaches (8 GPUs per node): how many tiers `cluster.tiers` defaults to for a size.
const FABRICS: [(&str, wanka::net::FabricKind, &str); 3] = [
    ("rail-optimized", wanka::net::FabricKind::RailOptimized, "NIC i of every node meets on rail switch i (NVIDIA SuperPOD, Meta, Alibaba HPN)"),
    ("fat-tree", wanka::net::FabricKind::FatTree, "k-ary fat tree (Al-Fares et al. 2008): k/2 NICs per edge switch"),
    ("single-switch", wanka::net::FabricKind::SingleSwitch, "one non-blocking switch joins every NIC"),
];

fn fabric_reach(kind: wanka::net::FabricKind) -> Vec<Option<u64>> {
    let radix = wanka::scenario::defaults::SWITCH_RADIX;
    (1..=3u32)
        .map(|t| match kind {
            wanka::net::FabricKind::SingleSwitch => None,
            k => Some(wanka::net::fabric::tier_reach_gpus(k, t, true, radix, 8)),
        })
        .collect()
}

pub fn fabrics_json() -> Value {
    let fabrics: Vec<Value> = FABRICS
        .iter()
        .map(|(id, kind, what)| json!({"id": id, "description": what, "switch_radix": wanka::scenario::defaults::SWITCH_RADIX, "gpus_per_node": 8, "max_gpus_by_tiers": fabric_reach(*kind)}))
        .collect();
    Value::Array(fabrics)
}

pub fn fabrics_table() -> String {
    let mut o = String::new();
    let _ = writeln!(o, "cluster.fabric   largest cluster with 1 / 2 / 3 tiers of {}-port switches, 8 GPUs per node", wanka::scenario::defaults::SWITCH_RADIX);
    for (id, kind, what) in FABRICS {
        let reach: Vec<String> = fabric_reach(kind).iter().map(|r| r.map_or("any".to_string(), |g| g.to_string())).collect();
        let _ = writeln!(o, "{id:<16} {:>24}   {what}", reach.join(" / "));
    }
    o
}

/// The `[reliability]` defaults: every key and its value, then the failure causes.
pub fn reliability_table() -> String {
    let mut o = String::new();
    let _ = writeln!(o, "[reliability] defaults (every key optional; sources in crates/wanka/src/scenario.rs and catalog/failures.toml)");
    let v = serde_json::to_value(wanka::scenario::default_reliability()).unwrap_or_default();
    if let Some(map) = v.as_object() {
        for (k, val) in map.iter().filter(|(k, _)| *k != "causes") {
            let shown = match (k.as_str(), val.is_null()) {
                ("checkpoint_bytes", true) => "model parameters × 14 bytes".to_string(),
                (_, true) => "\"auto\" (Daly's optimum)".to_string(),
                _ => val.to_string(),
            };
            let _ = writeln!(o, "  {k:<30} {shown}");
        }
    }
    let _ = writeln!(o, "\n  {:<40} {:<12} {:<6} {:>14}", "cause", "category", "unit", "per unit-day");
    for c in wanka::reliability::default_causes() {
        let unit = serde_json::to_value(c.unit).ok().and_then(|u| u.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(o, "  {:<40} {:<12} {:<6} {:>14.3e}", c.name, c.category, unit, c.per_unit_per_day);
    }
    o
}

pub fn models_json() -> Value {
    let models: Vec<Value> = wanka::catalog::models()
        .iter()
        .filter_map(|m| {
            let a = m.arch.resolve("model").ok()?;
            let p = a.params();
            Some(json!({
                "id": m.id,
                "name": m.name,
                "params": p.total,
                "active_params": p.active,
                "published_params": m.published_params,
                "source": m.source,
                "architecture": a,
            }))
        })
        .collect();
    Value::Array(models)
}

pub fn models_table() -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{:<16} {:>7} {:>7} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9}", "id", "layers", "hidden", "heads", "kv", "ffn", "experts", "params", "active");
    for m in wanka::catalog::models() {
        let Ok(a) = m.arch.resolve("model") else { continue };
        let p = a.params();
        let experts = if a.is_moe() { format!("{}/{}", a.moe.top_k, a.moe.experts) } else { "-".into() };
        let _ = writeln!(
            o,
            "{:<16} {:>7} {:>7} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9}",
            m.id,
            a.layers,
            a.hidden,
            a.heads,
            a.kv_heads,
            a.ffn_hidden,
            experts,
            count(p.total),
            count(p.active)
        );
    }
    o
}

/// `3.2 days`, `5.1 h`, `42 min`.
pub fn duration(s: f64) -> String {
    if !s.is_finite() {
        "never".into()
    } else if s >= 86_400.0 {
        format!("{:.1} days", s / 86_400.0)
    } else if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        seconds(s)
    }
}

pub fn goodput_table(s: &Scenario, g: &wanka::reliability::GoodputReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "wanka goodput: {} ({} GPUs)", s.name, g.gpus);
    let _ = writeln!(o, "  interruptions        {:.1} per day, one every {}", g.interruptions_per_day, duration(g.mean_time_between_interruptions_s));
    let _ = writeln!(o, "  checkpoint           {} written in {}, training stops {} for it", bytes(g.checkpoint_bytes), duration(g.checkpoint_write_s), duration(g.checkpoint_blocking_s));
    let _ = writeln!(o, "  checkpoint every     {} of training{}", duration(g.checkpoint_interval_s), if s.reliability.checkpoint_interval_s.is_none() { " (Daly's optimum)" } else { "" });
    let _ = writeln!(o, "  recovery             {} per interruption (detect, restart, reload)", duration(g.restart_s));
    let _ = writeln!(o, "  ETTR                 {:.1}% expected (closed form), {:.1}% Monte Carlo ({} runs)", 100.0 * g.ettr, 100.0 * g.ettr_monte_carlo, g.monte_carlo_runs);
    let _ = writeln!(o, "  time to train        {} failure-free; p10 {}, p50 {}, p90 {}", duration(g.useful_time_s), duration(g.time_to_train_s.p10), duration(g.time_to_train_s.p50), duration(g.time_to_train_s.p90));
    let _ = writeln!(o, "  interruptions        p10 {:.0}, p50 {:.0}, p90 {:.0} over the run", g.interruptions.p10, g.interruptions.p50, g.interruptions.p90);
    let _ = writeln!(o, "\n  {:<26} {:>10} {:>7}", "cause", "per day", "share");
    let mut causes = g.by_cause.clone();
    causes.sort_by(|a, b| b.per_day.total_cmp(&a.per_day));
    for c in causes.iter().filter(|c| c.per_day > 0.0) {
        let _ = writeln!(o, "  {:<26} {:>10.2} {:>6.1}%", c.cause, c.per_day, 100.0 * c.share);
    }
    o
}

pub fn sweep_table(points: &[wanka::reliability::SweepPoint]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "wanka goodput sweep (time-to-train assumes throughput per GPU stays that of the scenario)\n");
    let _ = writeln!(
        o,
        "  {:>9} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "GPUs", "per day", "MTBI", "blocking", "async", "in-mem", "fast rst", "p50 train"
    );
    for p in points {
        let _ = writeln!(
            o,
            "  {:>9} {:>8.1} {:>10} {:>8.1}% {:>8.1}% {:>8.1}% {:>8.1}% {:>12}",
            p.gpus,
            p.interruptions_per_day,
            duration(p.mean_time_between_interruptions_s),
            100.0 * p.ettr_blocking,
            100.0 * p.ettr_async,
            100.0 * p.ettr_in_memory,
            100.0 * p.ettr_in_memory_fast_restart,
            duration(p.time_to_train_p50_s)
        );
    }
    o
}

pub fn collective_table(s: &Scenario, r: &wanka::collective::flows::CollectiveReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "wanka collective: {:?} on {} groups of {} ranks (stride {}), {:?} routing, {} channels, {} × {}",
        r.op, r.groups, r.group_size, r.stride, r.routing, r.channels, s.cluster.gpus, s.cluster.gpu.id
    );
    let _ = writeln!(
        o,
        "  {} flows per phase, {} climb above their leaf; {} share a switch link with another flow ({} leaf-spine, {} spine-core); {}\n",
        r.flows_per_phase,
        r.crossing_flows,
        r.colliding_flows,
        r.colliding_leaf_spine,
        r.colliding_spine_core,
        match r.straggler_ratio {
            Some(x) => format!("slowest flow at 1/{x:.2} of the median rate"),
            None => format!("flow rates not solved one by one above {} flows", wanka::collective::flows::STORED_FLOWS_MAX),
        }
    );
    let _ = writeln!(o, "  {:>14} {:>12} {:>11} {:>11}  algorithm", "size (B)", "time", "algbw GB/s", "busbw GB/s");
    for row in &r.rows {
        let _ = writeln!(o, "  {:>14.0} {:>12} {:>11.2} {:>11.2}  {}", row.bytes, seconds(row.time_s), row.algbw_gb_s, row.busbw_gb_s, row.algorithm);
    }
    o
}

/// What separates two layouts, in words: the breakdown term that differs most.
fn why(a: &wanka::search::Ranked, b: &wanka::search::Ranked) -> String {
    let (x, y) = (&a.report.breakdown_s, &b.report.breakdown_s);
    let terms = [
        ("compute", x.compute, y.compute),
        ("pipeline bubble", x.bubble, y.bubble),
        ("exposed TP comm", x.exposed_comm.tp, y.exposed_comm.tp),
        ("exposed CP comm", x.exposed_comm.cp, y.exposed_comm.cp),
        ("exposed EP comm", x.exposed_comm.ep, y.exposed_comm.ep),
        ("exposed PP comm", x.exposed_comm.pp, y.exposed_comm.pp),
        ("exposed DP comm", x.exposed_comm.dp, y.exposed_comm.dp),
    ];
    // Per token, since layouts may differ in micro-batches per step.
    let (ta, tb) = (a.report.tokens_per_step, b.report.tokens_per_step);
    let mut diffs: Vec<(&str, f64)> = terms.iter().map(|(n, p, q)| (*n, q / tb - p / ta)).collect();
    diffs.sort_by(|p, q| q.1.total_cmp(&p.1));
    let gains: Vec<String> = diffs
        .iter()
        .filter(|d| d.1 > 0.0)
        .take(2)
        .map(|(n, d)| format!("{n} {:.0}% of its step lower", 100.0 * d * ta / a.step_time_s))
        .collect();
    if gains.is_empty() {
        "the same costs; it wins on ties".into()
    } else {
        gains.join(", ")
    }
}

pub fn search_table(space: &wanka::scenario::ScenarioSpace, r: &wanka::search::SearchResult, elapsed_s: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "wanka search: {} on {} × {}: {} candidates, {} valid layouts evaluated, {} fit in memory ({:.2} s)\n",
        space.model_source, space.cluster.gpus, space.cluster.gpu.id, r.candidates, r.evaluated, r.feasible, elapsed_s
    );
    let _ = writeln!(
        o,
        "  {:>3} {:>3} {:>3} {:>3} {:>3} {:>3} {:>3} {:>5} {:>4} {:>3} {:>10} {:>3} {:>11} {:>9} {:>8} {:>11} {:>6} {:>7} {:>9}",
        "#", "tp", "pp", "vpp", "cp", "ep", "etp", "dp", "zero", "sp", "recompute", "mb", "schedule", "step", "tok/s/gpu", "band", "MFU", "bubble", "memory"
    );
    for (i, t) in r.top.iter().enumerate() {
        let p = &t.parallel;
        let _ = writeln!(
            o,
            "  {:>3} {:>3} {:>3} {:>3} {:>3} {:>3} {:>3} {:>5} {:>4} {:>3} {:>10} {:>3} {:>11} {:>9} {:>8.0} {:>11} {:>5.1}% {:>6.1}% {:>9}{}",
            i + 1,
            p.tp,
            p.pp,
            p.vpp,
            p.cp,
            p.ep,
            p.etp,
            p.dp,
            p.zero,
            if p.sequence_parallel { "y" } else { "n" },
            format!("{:?}", p.recompute).to_lowercase(),
            p.micro_batch,
            serde_json::to_value(p.schedule).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            seconds(t.step_time_s),
            t.tokens_per_s_per_gpu,
            t.band.as_ref().map_or(String::new(), |b| format!("{:.0}–{:.0}", b.low_tokens_per_s_per_gpu, b.high_tokens_per_s_per_gpu)),
            100.0 * t.mfu,
            100.0 * t.report.breakdown_s.bubble / t.step_time_s,
            bytes(t.memory_total_bytes),
            if t.flags.is_empty() { "" } else { "  !" }
        );
    }
    if let Some(b) = r.top.iter().find_map(|t| t.band.as_ref()) {
        let _ = writeln!(o, "\n  band: the 10th–90th percentile of published/predicted over {} ({} rows); wider for layouts marked !", b.basis, b.rows);
    }
    for (i, t) in r.top.iter().enumerate().filter(|(_, t)| !t.flags.is_empty()) {
        let _ = writeln!(o, "  ! #{}: {}", i + 1, t.flags.join("; "));
    }
    for (i, t) in r.top.iter().enumerate() {
        match t.moe_capacity_factor {
            Some(Some(c)) => {
                let _ = writeln!(o, "  routing #{}: capacity factor {c} (tokens past an expert's capacity are dropped)", i + 1);
            }
            Some(None) => {
                let _ = writeln!(o, "  routing #{}: dropless", i + 1);
            }
            None => {}
        }
    }
    if r.top.len() >= 2 {
        let (a, b) = (&r.top[0], &r.top[1]);
        let _ = writeln!(
            o,
            "\n  The winner is {:.1}% faster than #2: {}.",
            100.0 * (a.tokens_per_s_per_gpu / b.tokens_per_s_per_gpu - 1.0),
            why(a, b)
        );
    }
    if let Some(a) = r.top.first() {
        let b = &a.report.breakdown_s;
        let _ = writeln!(
            o,
            "  Its step: compute {:.0}%, bubble {:.0}%, exposed communication {:.0}% (TP {:.0}, CP {:.0}, EP {:.0}, PP {:.0}, DP {:.0}).",
            100.0 * b.compute / a.step_time_s,
            100.0 * b.bubble / a.step_time_s,
            100.0 * b.exposed_comm.total() / a.step_time_s,
            100.0 * b.exposed_comm.tp / a.step_time_s,
            100.0 * b.exposed_comm.cp / a.step_time_s,
            100.0 * b.exposed_comm.ep / a.step_time_s,
            100.0 * b.exposed_comm.pp / a.step_time_s,
            100.0 * b.exposed_comm.dp / a.step_time_s
        );
    }
    let removed: Vec<String> = r.removed.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    if !removed.is_empty() {
        let _ = writeln!(o, "  Removed by constraint: {}.", removed.join(", "));
    }
    o
}

pub fn scale_table(space: &wanka::scenario::ScenarioSpace, r: &wanka::scale::ScaleResult) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "wanka scale: {} on {}, {:.3} T tokens, batch ceiling {:.1} M tokens\n",
        space.model_source,
        space.cluster.gpu.id,
        space.training.tokens / 1e12,
        space.training.max_global_batch_tokens / 1e6
    );
    let _ = writeln!(
        o,
        "  {:>7} {:>22} {:>6} {:>8} {:>6} {:>7} {:>6} {:>6} {:>11} {:>9} {:>8} {:>10} {:>7} {:>6}",
        "GPUs", "layout tp/pp/vpp/cp/ep", "batch", "step", "MFU", "bubble", "comm", "ETTR", "train", "GPU-h", "MWh", "cost $", "speedup", "eff"
    );
    for p in &r.points {
        let l = &p.parallel;
        let _ = writeln!(
            o,
            "  {:>7} {:>22} {:>6} {:>8} {:>5.1}% {:>6.1}% {:>5.1}% {:>5.1}% {:>11} {:>9} {:>8.0} {:>10} {:>6.2}× {:>5.0}%",
            p.gpus,
            format!("{}/{}/{}/{}/{} dp{}", l.tp, l.pp, l.vpp, l.cp, l.ep, l.dp),
            p.global_batch,
            seconds(p.step_time_s),
            100.0 * p.mfu,
            100.0 * p.bubble_fraction,
            100.0 * p.comm_fraction,
            100.0 * p.ettr,
            duration(p.time_to_train_s),
            count(p.gpu_hours),
            p.energy_mwh,
            count(p.cost_usd),
            p.speedup,
            100.0 * p.scaling_efficiency
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  Verdict: {}", r.verdict());
    o
}

pub fn streams_table(streams: &[wanka::step::event::StreamTime]) -> String {
    let width = streams.iter().map(|s| s.stream.chars().count()).max().unwrap_or(0).max(22);
    let mut o = format!("\n  streams (busy / idle over the step)\n    {:<width$} {:>10} {:>10}\n", "", "busy", "idle");
    for st in streams {
        let _ = writeln!(o, "    {:<width$} {:>10} {:>10}", st.stream, seconds(st.busy_s), seconds(st.idle_s));
    }
    o
}

pub fn layouts_table(v: &wanka::validate::layouts::LayoutValidation) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "wanka validate --layouts: peak memory and layout choice against measured sweeps\n");
    let _ = writeln!(o, "  memory per GPU (GiB): measured counter beside wanka's weights + gradients + optimizer + activations");
    let _ = writeln!(o, "  {:<58} {:>10} {:>9} {:>9} {:>8}", "row", "counter", "measured", "wanka", "error");
    for r in &v.memory {
        let counter = serde_json::to_value(r.counter).ok().and_then(|c| c.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(o, "  {:<58} {:>10} {:>9.1} {:>9.1} {:>+7.1}%{}", r.id, counter, r.measured_gib, r.predicted_gib, r.error_pct, if r.fits { "" } else { "  does not fit" });
    }
    let _ = writeln!(o, "\n  memory MAPE by source and counter (bias = mean signed error)");
    for b in &v.memory_by_source {
        let counter = serde_json::to_value(b.counter).ok().and_then(|c| c.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(o, "    {:<34} {:>10} {:>3} rows {:>6.1}%  bias {:>+6.1}%", b.group, counter, b.rows, b.mape_pct, b.bias_pct);
    }
    let _ = writeln!(o, "    {:<34} {:>10} {:>3} rows {:>6.1}%", "all", "", v.memory.len(), v.memory_mape_pct);
    let _ = writeln!(o, "  layouts that ran but wanka says do not fit: {}", v.memory_does_not_fit.len());
    let _ = writeln!(o, "\n  layout choice: Spearman ρ of predicted against measured throughput; regret of wanka's pick");
    for g in &v.groups {
        let _ = writeln!(o, "    {:<88} {:>3} layouts  ρ {:>+5.2}  regret {:>5.1}%", g.group, g.layouts, g.spearman, g.regret_pct);
    }
    let _ = writeln!(o, "    median over {} groups: ρ {:+.2}, regret {:.1}%", v.groups.len(), v.median_spearman, v.median_regret_pct);
    if !v.skipped.is_empty() {
        let _ = writeln!(o, "\n  not represented");
        for s in &v.skipped {
            let _ = writeln!(o, "    {:<58} {}", s.id, s.reason);
        }
    }
    o
}

pub fn bench_table(outcomes: &[crate::bench::Outcome]) -> String {
    use crate::bench::Target;
    let mut o = String::new();
    let _ = writeln!(o, "wanka bench: each case once, release build ({} cases)\n", outcomes.len());
    let _ = writeln!(o, "  {:<72} {:>12} {:>12} {:>10}  verdict", "case", "measured", "target", "peak RSS");
    for c in outcomes {
        let (measured, target) = match (c.target, c.rate_per_s) {
            (Target::RateAtLeast(t), Some(r)) => (format!("{:.2} M/s", r / 1e6), format!("≥ {:.2} M/s", t / 1e6)),
            (Target::SecondsAtMost(t), _) => (seconds(c.seconds), format!("≤ {}", seconds(t))),
            (Target::RateAtLeast(t), None) => (seconds(c.seconds), format!("≥ {t}/s")),
        };
        let target = match c.memory_limit_bytes {
            Some(m) => format!("{target}, ≤ {}", bytes(m as f64)),
            None => target,
        };
        let rss = c.peak_rss_bytes.map(|b| bytes(b as f64)).unwrap_or_else(|| "-".into());
        let verdict = match (c.meets_target, c.refused) {
            (true, false) => "ok",
            (true, true) => "refused in bounded time",
            (false, _) => "MISSED",
        };
        let answer = c.answer.strip_prefix("refused: ").unwrap_or(&c.answer);
        let _ = writeln!(o, "  {:<72} {:>12} {:>12} {:>10}  {verdict}: {answer}", c.case, measured, target, rss);
    }
    let missed = outcomes.iter().filter(|c| !c.meets_target).count();
    let refused = outcomes.iter().filter(|c| c.refused).count();
    let _ = writeln!(o, "\n  {} of {} cases meet their target ({refused} of them refused as too large, with the reason)", outcomes.len() - missed, outcomes.len());
    o
}

/// `$1.23 B`, `$614.4 M`, `$30.0 k`, `$150`.
pub fn usd(x: f64) -> String {
    if x >= 1e9 {
        format!("${:.2} B", x / 1e9)
    } else if x >= 1e6 {
        format!("${:.1} M", x / 1e6)
    } else if x >= 1e3 {
        format!("${:.1} k", x / 1e3)
    } else {
        format!("${x:.0}")
    }
}

/// `20.9 MW`, `747 W`.
pub fn watts(w: f64) -> String {
    if w >= 1e6 {
        format!("{:.2} MW", w / 1e6)
    } else if w >= 1e3 {
        format!("{:.1} kW", w / 1e3)
    } else {
        format!("{w:.0} W")
    }
}

/// How an enum is spelled in files and JSON (`rail-optimized`, `infiniband`).
fn serde_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn names<T: Serialize>(v: &[T]) -> String {
    v.iter().map(serde_name).collect::<Vec<_>>().join(", ")
}

/// `wanka design bom`: one line per part, grouped as the fabric is built, then racks,
/// power and capex.
pub fn bom_table(name: &str, c: &wanka::scenario::ClusterConfig, b: &wanka::design::Bom) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "wanka design bom: {name}");
    let _ = writeln!(
        o,
        "  cluster  {} × {}, {} fabric, {} tier{} of {}-port switches, {} plane{}, {} Gb/s per GPU, {}",
        count(b.gpus as f64),
        b.gpu,
        serde_name(&b.fabric),
        b.tiers,
        if b.tiers == 1 { "" } else { "s" },
        c.switch_radix,
        b.planes,
        if b.planes == 1 { "" } else { "s" },
        c.nic_gbps,
        serde_name(&b.protocol)
    );
    let _ = writeln!(o, "\n  {:<34} {:<28} {:>9} {:>10} {:>10} {:>10}", "what", "part", "count", "unit", "capex", "power");
    let row = |o: &mut String, what: &str, l: &wanka::design::bom::Line| {
        let _ = writeln!(o, "  {:<34} {:<28} {:>9} {:>10} {:>10} {:>10}", what, l.part, l.count, usd(l.unit_price_usd), usd(l.price_usd), watts(l.power_w));
    };
    row(&mut o, "servers", &b.servers);
    if b.nvlink_switch_trays > 0 {
        let _ = writeln!(o, "  {:<34} {:<28} {:>9}   (in the systems)", "NVLink switch trays", "", b.nvlink_switch_trays);
    }
    row(&mut o, "NICs (one per GPU)", &b.nics);
    for t in &b.switch_tiers {
        row(&mut o, &format!("{} switches (tier {})", t.role, t.tier), &t.switches);
    }
    for t in &b.link_tiers {
        let what = format!("{} links: {} × {}, runs up to {:.0} m", t.between, t.links, serde_name(&t.medium), t.longest_m);
        let _ = writeln!(o, "  {what}");
        match (&t.upper, &t.fiber) {
            (Some(up), fiber) => {
                row(&mut o, if t.tier == 1 { "    modules at the NICs" } else { "    modules at the lower switches" }, &t.lower);
                row(&mut o, "    modules at the upper switches", up);
                if let Some(f) = fiber {
                    row(&mut o, &format!("    fibre (mean run {:.0} m)", t.mean_m), f);
                }
            }
            (None, _) => row(&mut o, "    copper cables", &t.lower),
        }
    }
    let r = &b.racks;
    let _ = writeln!(
        o,
        "\n  racks    {} for servers ({} per rack), {} for switches; {} row{} of up to {}",
        r.gpu_racks,
        r.servers_per_rack,
        r.network_racks,
        r.rows,
        if r.rows == 1 { "" } else { "s" },
        r.racks_per_row
    );
    let p = &b.power;
    let _ = writeln!(
        o,
        "  power    {} IT ({} GPUs in {} servers, {} NICs, {} switches, {} optics); {} at the site (PUE {:.2})",
        watts(p.it_w),
        watts(p.gpus_w),
        watts(p.servers_w),
        watts(p.nics_w),
        watts(p.switches_w),
        watts(p.optics_w),
        watts(p.facility_w),
        p.pue
    );
    let k = &b.capex;
    let _ = writeln!(
        o,
        "  capex    {} ({} per GPU): servers {}, network {} ({:.1}%: NICs {}, switches {}, optics and cables {}, fibre {})",
        usd(k.total_usd),
        usd(k.per_gpu_usd),
        usd(k.servers_usd),
        usd(k.network_usd),
        100.0 * k.network_share,
        usd(k.nics_usd),
        usd(k.switches_usd),
        usd(k.optics_usd),
        usd(k.fiber_usd)
    );
    let _ = writeln!(o, "           prices are catalog estimates (wanka catalog parts); override them with [cluster.prices]");
    for a in &b.assumptions {
        let _ = writeln!(o, "  assumed  {a}");
    }
    o
}

/// `wanka catalog parts`: every part with the figures a bill of materials uses.
pub fn parts_table() -> String {
    let p = wanka::catalog::parts();
    let mut o = String::new();
    let _ = writeln!(o, "servers (cluster.server)\n  {:<16} {:<8} {:>5} {:>9} {:>5} {:>9}", "id", "gpu", "gpus", "power", "/rack", "price");
    for s in &p.server {
        let _ = writeln!(o, "  {:<16} {:<8} {:>5} {:>9} {:>5} {:>9}", s.id, s.gpu, s.gpus, watts(s.power_w), s.per_rack, usd(s.price_usd));
    }
    let _ = writeln!(o, "NICs (cluster.nic)\n  {:<22} {:>6} {:>6} {:>9}  protocols", "id", "Gb/s", "power", "price");
    for n in &p.nic {
        let _ = writeln!(o, "  {:<22} {:>6} {:>6} {:>9}  {}", n.id, n.port_gbps, watts(n.power_w), usd(n.price_usd), names(&n.protocols));
    }
    let _ = writeln!(o, "switches (cluster.switch)\n  {:<22} {:>12} {:>6} {:>8} {:>9}  protocols", "id", "ports", "cages", "power", "price");
    for s in &p.switch {
        let _ = writeln!(o, "  {:<22} {:>12} {:>6} {:>8} {:>9}  {}{}", s.id, format!("{} × {}G", s.ports, s.port_gbps), s.cages, watts(s.power_w), usd(s.price_usd), names(&s.protocols), if s.adaptive_routing { "; routes per packet" } else { "" });
    }
    let _ = writeln!(o, "optics and cables\n  {:<18} {:<10} {:>10} {:>7} {:>6} {:>8}", "id", "medium", "links", "reach", "power", "price");
    for l in &p.link {
        let _ = writeln!(o, "  {:<18} {:<10} {:>10} {:>7} {:>6} {:>8}", l.id, serde_name(&l.medium), format!("{} × {}G", l.links, l.link_gbps), format!("{} m", l.reach_m), watts(l.power_w), usd(l.price_usd));
    }
    let _ = writeln!(o, "fibre\n  {:<18} {:<10} {:>10} {:>8}", "id", "medium", "per link", "per m");
    for f in &p.fiber {
        let _ = writeln!(o, "  {:<18} {:<10} {:>10} {:>8}", f.id, serde_name(&f.medium), usd(f.price_usd_per_link), format!("${:.2}", f.price_usd_per_m));
    }
    o
}

/// `wanka design DESIGN.toml`: one row per design, then the front and the verdict.
pub fn study_table(r: &wanka::design::StudyResult) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "wanka design: {} — {} on {} tokens, capex over {} years, electricity ${}/kWh",
        r.name,
        r.model,
        count(r.tokens),
        r.depreciation_years,
        r.electricity_usd_per_kwh
    );
    let _ = writeln!(
        o,
        "\n  {:<34} {:>7} {:<20} {:>7} {:>5} {:>5} {:>9} {:>9} {:>9} {:>9}  front",
        "design", "GPUs", "layout tp/pp/cp/ep", "step", "MFU", "ETTR", "train", "capex", "site", "$/M tok"
    );
    for d in &r.designs {
        match (&d.result, &d.error) {
            (Some(x), _) => {
                let p = &x.parallel;
                let line = format!(
                    "  {:<34} {:>7} {:<20} {:>7} {:>4.0}% {:>4.0}% {:>9} {:>9} {:>9} {:>9}  {}",
                    d.name,
                    x.gpus,
                    format!("{}/{}/{}/{} dp{}", p.tp, p.pp, p.cp, p.ep, p.dp),
                    seconds(x.step_time_s),
                    100.0 * x.mfu,
                    100.0 * x.ettr,
                    duration(x.time_to_train_s),
                    usd(x.capex_usd),
                    watts(x.facility_power_w),
                    format!("${:.2}", x.usd_per_million_tokens),
                    if x.pareto { "*" } else { "" }
                );
                let _ = writeln!(o, "{}", line.trim_end());
            }
            (None, e) => {
                let _ = writeln!(o, "  {:<34} {}", d.name, e.as_deref().unwrap_or_default());
                let _ = writeln!(o, "  {:<34} ({})", "", d.sets.join(" "));
            }
        }
    }
    let _ = writeln!(o, "\n  * on the Pareto front of time-to-train against cost per token (capex share over the run plus energy)");
    for line in &r.verdict {
        let _ = writeln!(o, "  {line}");
    }
    o
}
