//! Drives the real `wanka` binary: every example, every malformed scenario, JSON keys,
//! determinism.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wanka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wanka")).args(args).output().expect("wanka runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        // Search spaces and design studies are not single scenarios.
        .filter(|p| !["search-", "design-"].iter().any(|k| p.file_name().unwrap().to_string_lossy().starts_with(k)))
        .collect();
    v.sort();
    assert!(v.len() >= 6, "examples/ holds {} scenarios", v.len());
    v
}

/// Every key SCENARIO.md promises in `simulate --json`.
const SIMULATE_KEYS: &[&str] = &[
    "step_time_s",
    "tokens_per_step",
    "tokens_per_s",
    "tokens_per_s_per_gpu",
    "model_flops_per_token",
    "model_tflops_per_gpu",
    "mfu",
    "hardware_tflops_per_gpu",
    "hfu",
    "memory",
    "breakdown_s",
    "comm_fraction",
];
const MEMORY_KEYS: &[&str] =
    &["weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "total_bytes", "capacity_bytes", "fits"];
const EXPOSED_KEYS: &[&str] = &["tp", "cp", "ep", "pp", "dp"];

#[test]
fn every_example_simulates_with_all_keys() {
    for ex in examples() {
        let out = wanka(&["simulate", ex.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}: {}", ex.display(), String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
        for k in SIMULATE_KEYS {
            assert!(v.get(k).is_some(), "{}: missing {k}", ex.display());
        }
        for k in MEMORY_KEYS {
            assert!(v["memory"].get(k).is_some(), "{}: missing memory.{k}", ex.display());
        }
        assert!(v["breakdown_s"]["compute"].is_number() && v["breakdown_s"]["bubble"].is_number());
        for k in EXPOSED_KEYS {
            assert!(v["breakdown_s"]["exposed_comm"][k].is_number(), "{}: missing exposed_comm.{k}", ex.display());
        }
        // The parts of the breakdown add up to the step.
        let b = &v["breakdown_s"];
        let sum: f64 = ["compute", "bubble", "optimizer", "overhead", "stragglers", "host"].iter().map(|k| b[k].as_f64().unwrap()).sum::<f64>()
            + EXPOSED_KEYS.iter().map(|k| b["exposed_comm"][k].as_f64().unwrap()).sum::<f64>();
        let step = v["step_time_s"].as_f64().unwrap();
        assert!((sum - step).abs() < 1e-9 * step, "{}: breakdown {sum} vs step {step}", ex.display());
        let mfu = v["mfu"].as_f64().unwrap();
        assert!(mfu > 0.0 && mfu < 1.0, "{}: mfu {mfu}", ex.display());
        // And the terminal table works too.
        let out = wanka(&["simulate", ex.to_str().unwrap()]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("step time"));
    }
}

#[test]
fn same_scenario_same_bytes() {
    for ex in examples() {
        let a = wanka(&["simulate", ex.to_str().unwrap(), "--json"]);
        let b = wanka(&["simulate", ex.to_str().unwrap(), "--json"]);
        assert_eq!(a.stdout, b.stdout, "{}", ex.display());
    }
    let a = wanka(&["validate", "--json"]);
    let b = wanka(&["validate", "--json"]);
    assert_eq!(a.stdout, b.stdout);
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let a = wanka(&["simulate", ex.to_str().unwrap(), "--json", "--fidelity", "event"]);
    let b = wanka(&["simulate", ex.to_str().unwrap(), "--json", "--fidelity", "event"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn set_overrides_a_key() {
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let base = wanka(&["simulate", ex.to_str().unwrap(), "--json"]);
    let more = wanka(&["simulate", ex.to_str().unwrap(), "--json", "--set", "cluster.gpus=8192", "--set", "parallel.dp=64"]);
    assert!(more.status.success(), "{}", String::from_utf8_lossy(&more.stderr));
    let a: Value = serde_json::from_slice(&base.stdout).unwrap();
    let b: Value = serde_json::from_slice(&more.stdout).unwrap();
    assert_eq!(b["gpus"], 8192);
    assert!(b["step_time_s"].as_f64() > a["step_time_s"].as_f64());
    // An unquoted string value works.
    let out = wanka(&["simulate", ex.to_str().unwrap(), "--set", "cluster.gpu=h200"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_set_is_a_usage_error() {
    let ex = repo().join("examples/llama3-405b-16k.toml");
    for bad in ["parallel.tp", "=4", "parallel.tp=3", "parallel.warp=9"] {
        let out = wanka(&["simulate", ex.to_str().unwrap(), "--set", bad]);
        assert_eq!(out.status.code(), Some(2), "--set {bad}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn missing_file_is_a_usage_error() {
    let out = wanka(&["simulate", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.toml"));
}

/// Every malformed scenario gives exit status 2, nothing on stdout, and exactly the
/// error recorded in its snapshot.
#[test]
fn malformed_scenarios_give_exact_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 50, "{} malformed files", files.len());
    let scratch = std::env::temp_dir().join(format!("wanka-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        // Asked for an output file too: none may be left behind.
        let trace = scratch.join(format!("{name}.json"));
        let out = Command::new(env!("CARGO_BIN_EXE_wanka"))
            .current_dir(&dir)
            .args(["simulate", f.file_name().unwrap().to_str().unwrap(), "--fidelity", "event", "--trace", trace.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty(), "{name} printed on stdout");
        assert!(!trace.exists(), "{name} left {}", trace.display());
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!err.contains("panicked"), "{name}: {err}");
        // The key is named (section.key), or the file is not TOML at all.
        assert!(names_a_key(&err) || err.contains("TOML parse error"), "{name} names no key: {err}");
        let out = Command::new(env!("CARGO_BIN_EXE_wanka")).current_dir(&dir).args(["simulate", f.file_name().unwrap().to_str().unwrap()]).output().unwrap();
        insta::assert_snapshot!(name, String::from_utf8_lossy(&out.stderr).to_string());
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Whether `text` holds a dotted scenario key (`parallel.tp`), a section's own error
/// (`model is missing`, `[model]: unknown field`) or names an unknown top-level key.
fn names_a_key(text: &str) -> bool {
    const SECTIONS: [&str; 5] = ["model", "cluster", "parallel", "training", "reliability"];
    text.contains("unknown field `")
        || SECTIONS.iter().any(|s| text.contains(&format!("{s}.")) || text.contains(&format!("{s} is missing")) || text.contains(&format!("[{s}]")))
}

#[test]
fn catalog_lists_gpus_and_models() {
    let out = wanka(&["catalog", "gpus", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 11);
    let out = wanka(&["catalog", "models"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("deepseek-v3"));
    // Every fabric a scenario may name, with what 1–3 tiers of 64-port switches reach.
    let out = wanka(&["catalog", "fabrics", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["rail-optimized", "fat-tree", "single-switch"]);
    assert_eq!(v[0]["max_gpus_by_tiers"][1], 16384);
    // The [reliability] defaults SCENARIO.md points to.
    let out = wanka(&["catalog", "reliability", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["restart_s"], 120.0);
    assert!(v["causes"].as_array().unwrap().len() >= 19);
}

#[test]
fn validate_json_has_the_promised_keys() {
    let out = wanka(&["validate", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["mape_pct"].is_number());
    let row = &v["rows"][0];
    for k in ["id", "source", "published_tokens_per_s_per_gpu", "predicted_tokens_per_s_per_gpu", "error_pct"] {
        assert!(row.get(k).is_some(), "rows[].{k}");
    }
    assert!(v["skipped"][0]["reason"].is_string());
}

#[test]
fn goodput_json_has_the_promised_keys() {
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let runs = "reliability.monte_carlo_runs=100";
    let out = wanka(&["goodput", ex.to_str().unwrap(), "--json", "--set", runs]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "gpus",
        "mean_time_between_interruptions_s",
        "interruptions_per_day",
        "checkpoint_bytes",
        "checkpoint_write_s",
        "checkpoint_interval_s",
        "restart_s",
        "ettr",
    ] {
        assert!(v[k].is_number(), "goodput.{k}");
    }
    for k in ["time_to_train_s", "interruptions"] {
        for p in ["p10", "p50", "p90"] {
            assert!(v[k][p].is_number(), "goodput.{k}.{p}");
        }
    }
    let causes = v["by_cause"].as_array().unwrap();
    assert!(causes.iter().all(|c| c["cause"].is_string() && c["per_day"].is_number() && c["share"].is_number()));
    let share: f64 = causes.iter().map(|c| c["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9);
    // The Llama 3 layout on 16k GPUs: the table's 466 interruptions in 54 days, ETTR > 90%.
    let per_day = v["interruptions_per_day"].as_f64().unwrap();
    assert!((per_day * 54.0 - 466.0).abs() < 1.0, "{per_day}");
    assert!(v["ettr"].as_f64().unwrap() > 0.9);
    // Same seed, same bytes.
    let again = wanka(&["goodput", ex.to_str().unwrap(), "--json", "--set", runs]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn goodput_sweep_and_bad_gpu_lists() {
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let out = wanka(&["goodput", ex.to_str().unwrap(), "--gpus", "1k..16k", "--json", "--set", "reliability.monte_carlo_runs=20"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let points = v.as_array().unwrap();
    assert_eq!(points.len(), 5);
    // ETTR falls as the job grows.
    let ettr: Vec<f64> = points.iter().map(|p| p["ettr_blocking"].as_f64().unwrap()).collect();
    assert!(ettr.windows(2).all(|w| w[1] < w[0]), "{ettr:?}");
    for bad in ["0", "lots", "16k..1k", "99999999999"] {
        let out = wanka(&["goodput", ex.to_str().unwrap(), "--gpus", bad]);
        assert_eq!(out.status.code(), Some(2), "--gpus {bad}");
    }
}

#[test]
fn collective_table_and_json() {
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let out = wanka(&["collective", ex.to_str().unwrap(), "--op", "all_reduce", "--group", "tp", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["op", "group_size", "groups", "routing"] {
        assert!(v.get(k).is_some(), "collective.{k}");
    }
    assert_eq!(v["group_size"], 8);
    assert_eq!(v["groups"], 2048);
    let rows = v["rows"].as_array().unwrap();
    // 1 MiB to 8 GiB by doubling, as nccl-tests prints it.
    assert_eq!(rows.len(), 14);
    for r in rows {
        for k in ["bytes", "time_s", "algbw_gb_s", "busbw_gb_s"] {
            assert!(r[k].is_number(), "rows[].{k}");
        }
    }
    // Large all-reduce inside an H100 node: NVLS, near the published ~480 GB/s busbw.
    let big = rows.last().unwrap()["busbw_gb_s"].as_f64().unwrap();
    assert!((big / 480.0 - 1.0).abs() < 0.1, "{big}");
    let out = wanka(&["collective", ex.to_str().unwrap(), "--op", "reduce_scatter"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("busbw"));
    // A phase too large to route in bounded time is refused, naming what to change.
    let out = wanka(&["collective", ex.to_str().unwrap(), "--op", "all_to_all", "--group", "16384"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("flows in one phase") && err.contains("--channels"), "{err}");
    assert!(out.stdout.is_empty());
    for bad in [vec!["--group", "xp"], vec!["--group", "7"], vec!["--min-bytes", "lots"], vec!["--min-bytes", "8G", "--max-bytes", "1M"]] {
        let mut args = vec!["collective", ex.to_str().unwrap(), "--op", "all_gather"];
        args.extend(bad.iter());
        let out = wanka(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// `wanka bench` runs a chosen case and says whether it meets its target; an unknown
/// case is a usage error. (The long cases run by hand; their figures go in the notes.)
#[test]
fn bench_runs_a_chosen_case() {
    let out = wanka(&["bench", "--only", "analytic step", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = v.as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert!(cases[0]["rate_per_s"].as_f64().unwrap() > 0.0);
    assert!(cases[0]["meets_target"].is_boolean());
    let out = wanka(&["bench", "--only", "no such case"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn search_examples_rank_layouts() {
    for name in ["search-llama3-405b-16k.toml", "search-deepseek-v3-2048.toml"] {
        let ex = repo().join("examples").join(name);
        let out = wanka(&["search", ex.to_str().unwrap(), "--top", "3", "--json"]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in ["evaluated", "feasible", "elapsed_s"] {
            assert!(v[k].is_number(), "search.{k}");
        }
        let top = v["top"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        for t in top {
            for k in ["tp", "pp", "vpp", "cp", "ep", "dp", "zero", "sequence_parallel", "recompute", "micro_batch", "schedule"] {
                assert!(t["parallel"].get(k).is_some(), "top[].parallel.{k}");
            }
            for k in ["step_time_s", "tokens_per_s_per_gpu", "mfu", "memory_total_bytes"] {
                assert!(t[k].is_number(), "top[].{k}");
            }
        }
    }
    // A space nothing survives is a usage error naming the constraint.
    let ex = repo().join("examples/search-llama3-405b-16k.toml");
    let out = wanka(&["search", ex.to_str().unwrap(), "--set", "parallel.tp=[3, 5]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parallel.tp"));
}

#[test]
fn scale_sweeps_gpu_counts() {
    let ex = repo().join("examples/gpt3-175b-1k.toml");
    let out = wanka(&["scale", ex.to_str().unwrap(), "--gpus", "1024,4096", "--json", "--set", "reliability.monte_carlo_runs=20"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for p in points {
        for k in [
            "gpus", "global_batch", "step_time_s", "tokens_per_s", "mfu", "ettr", "time_to_train_s", "gpu_hours", "energy_mwh", "cost_usd",
            "speedup", "scaling_efficiency",
        ] {
            assert!(p[k].is_number(), "points[].{k}");
        }
        assert!(p["parallel"]["tp"].is_number());
    }
    assert_eq!(points[0]["speedup"], 1.0);
    assert!(points[1]["speedup"].as_f64().unwrap() > 1.0);
    // Not whole nodes of 8.
    let out = wanka(&["scale", ex.to_str().unwrap(), "--gpus", "1001"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn event_fidelity_json_and_trace() {
    let ex = repo().join("examples/gpt3-175b-1k.toml");
    let dir = std::env::temp_dir().join(format!("wanka-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("step.json");
    let out = wanka(&["simulate", ex.to_str().unwrap(), "--fidelity", "event", "--json", "--trace", trace.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fidelity"], "event");
    for k in SIMULATE_KEYS {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert!(v["streams"].as_array().unwrap().iter().all(|s| s["busy_s"].is_number() && s["idle_s"].is_number()));
    let t: Value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    assert!(t["traceEvents"].as_array().unwrap().iter().any(|e| e["name"].as_str().is_some_and(|n| n.starts_with("fwd mb"))));
    // --trace needs the event fidelity; a failed write leaves nothing behind.
    let out = wanka(&["simulate", ex.to_str().unwrap(), "--trace", trace.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let bad = dir.join("no/such/dir/t.json");
    let out = wanka(&["simulate", ex.to_str().unwrap(), "--fidelity", "event", "--trace", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!bad.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The repository's scenario reference (docs/SCENARIO.md) works as written: its example
/// file simulates, every key of its additions block is accepted, and its sweep file runs.
#[test]
fn scenario_reference_example_runs() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SCENARIO.md")).unwrap();
    let blocks: Vec<&str> = doc.split("```toml\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 3);
    let dir = std::env::temp_dir().join(format!("wanka-scenario-doc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("example.toml");
    std::fs::write(&file, blocks[0]).unwrap();
    let out = wanka(&["simulate", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The additions: the [cluster.variability] table and the [training] keys, set on the example.
    let mut sets = Vec::new();
    let mut section = String::new();
    for line in blocks[1].lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with('[') {
            section = line.split('#').next().unwrap().trim().trim_matches(|c| c == '[' || c == ']').to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            let v = v.split('#').next().unwrap().trim();
            sets.push("--set".to_string());
            sets.push(format!("{section}.{}={v}", k.trim()));
        }
    }
    assert!(sets.len() >= 18, "{sets:?}");
    let mut args = vec!["simulate".to_string(), file.to_str().unwrap().to_string()];
    args.extend(sets);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wanka(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The sweep file, its base pointed at the repository's example.
    let base = repo().join("examples/llama3-405b-16k.toml");
    let sweep: String = blocks[2]
        .lines()
        .map(|l| if l.starts_with("base =") { format!("base = {:?}", base.to_str().unwrap()) } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    let sweep_file = dir.join("sweep.toml");
    std::fs::write(&sweep_file, sweep).unwrap();
    let out = wanka(&["sweep", sweep_file.to_str().unwrap(), "-o", dir.join("rows.csv").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Scaling an example by one key: one error names every key that must change with it
/// (here dp and the global batch; at 10⁶ GPUs the switch radix too), and the `--set`
/// flags it prints make the scenario run. A key set on the command line stays the
/// user's.
#[test]
fn scaling_by_one_key_names_every_change_at_once() {
    let file = repo().join("examples/llama3-405b-16k.toml");
    let file = file.to_str().unwrap();
    for gpus in ["131072", "1048576"] {
        let set = format!("cluster.gpus={gpus}");
        let out = wanka(&["simulate", file, "--set", &set]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("parallel.dp") && err.contains("parallel.global_batch"), "{err}");
        let flags: Vec<&str> = err.split("rerun with ").nth(1).unwrap().split(';').next().unwrap().split_whitespace().collect();
        let mut args = vec!["simulate", file, "--set", &set];
        args.extend(flags.iter().copied());
        let out = wanka(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The user's own --set is not overridden: the error stays theirs.
    let out = wanka(&["simulate", file, "--set", "cluster.gpus=131072", "--set", "parallel.dp=128"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(!err.contains("rerun with"), "{err}");
}

/// A sweep written in one go, one killed mid-line and resumed, and three shards hold the
/// same rows; a file of another sweep is refused, not appended to.
#[test]
fn sweep_resumes_and_shards_to_the_same_rows() {
    let dir = std::env::temp_dir().join(format!("wanka-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = repo().join("examples/llama3-405b-16k.toml");
    let sweep = dir.join("s.toml");
    std::fs::write(
        &sweep,
        format!(
            "base = {:?}\n[axes]\n\"cluster.gpus\" = [16384, 32768, 12]\n\"cluster.oversubscription\" = [1, 2, 4, 7]\n\"parallel.micro_batch\" = [1, 2]\n",
            base.to_str().unwrap()
        ),
    )
    .unwrap();
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["sweep", sweep.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        wanka(&args)
    };
    let full = dir.join("full.csv");
    let out = run(&full, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&full).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + 24, "{text}");
    // Points at 12 GPUs do not resolve: their rows carry the error, the others run.
    assert_eq!(text.lines().filter(|l| l.contains("cluster.gpus = 12")).count(), 8);
    // Same input, same bytes.
    let again = dir.join("again.csv");
    assert!(run(&again, &[]).status.success());
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    // Killed mid-line: the cut line is dropped and the run picks up from there.
    let resumed = dir.join("resumed.csv");
    std::fs::write(&resumed, &bytes[..bytes.len() * 3 / 5]).unwrap();
    let out = run(&resumed, &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept from an earlier run"));
    assert_eq!(std::fs::read(&resumed).unwrap(), bytes);
    // Run again on a complete file: nothing to do.
    assert!(String::from_utf8_lossy(&run(&resumed, &[]).stdout).contains(" 0 written now"));
    // Three shards hold every row once.
    let mut rows: Vec<String> = Vec::new();
    for i in 0..3 {
        let shard = dir.join(format!("shard{i}.csv"));
        assert!(run(&shard, &["--shard", &format!("{i}/3")]).status.success());
        rows.extend(std::fs::read_to_string(&shard).unwrap().lines().skip(1).map(String::from));
    }
    let point = |l: &String| l.split(',').next().unwrap().parse::<u64>().unwrap();
    rows.sort_by_key(point);
    assert_eq!(rows, text.lines().skip(1).map(String::from).collect::<Vec<_>>());
    // `sweep merge` joins them into the unsharded run's bytes.
    let merged = dir.join("merged.csv");
    let shards: Vec<String> = (0..3).map(|i| dir.join(format!("shard{i}.csv")).to_str().unwrap().to_string()).collect();
    let mut args = vec!["sweep", "merge", "-o", merged.to_str().unwrap()];
    args.extend(shards.iter().map(String::as_str));
    let out = wanka(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&merged).unwrap(), bytes);
    // JSON Lines: the same points, deterministic.
    let (j1, j2) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    assert!(run(&j1, &[]).status.success() && run(&j2, &[]).status.success());
    assert_eq!(std::fs::read(&j1).unwrap(), std::fs::read(&j2).unwrap());
    assert_eq!(std::fs::read_to_string(&j1).unwrap().lines().count(), 24);
    // Parquet: written whole at the end; a run killed mid-way leaves its rows as JSON
    // Lines beside it and picks up from there to the same file.
    let (p1, p2) = (dir.join("a.parquet"), dir.join("b.parquet"));
    assert!(run(&p1, &[]).status.success());
    let parquet = std::fs::read(&p1).unwrap();
    assert!(parquet.starts_with(b"PAR1") && !dir.join("a.parquet.rows.jsonl").exists());
    assert!(String::from_utf8_lossy(&run(&p1, &[]).stdout).contains(" 0 written now"));
    let lines = std::fs::read(&j1).unwrap();
    std::fs::write(dir.join("b.parquet.rows.jsonl"), &lines[..lines.len() * 3 / 5]).unwrap();
    let out = run(&p2, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept from an earlier run"));
    assert_eq!(std::fs::read(&p2).unwrap(), parquet);
    // Another sweep's file, a bad shard, an unknown format: exit 2, file untouched.
    std::fs::write(&sweep, format!("base = {:?}\n[axes]\n\"cluster.gpus\" = [16384]\n", base.to_str().unwrap())).unwrap();
    for (out, extra) in [(&full, vec![]), (&dir.join("x.csv"), vec!["--shard", "3/3"]), (&dir.join("x.txt"), vec![])] {
        let r = run(out, &extra);
        assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
    }
    assert_eq!(std::fs::read(&full).unwrap(), bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chromium, when installed (`.ci/run` installs Debian's and sets
/// WANKA_REQUIRE_CHROMIUM=1, so there a missing one fails the test).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
    });
    if found.is_none() && std::env::var_os("WANKA_REQUIRE_CHROMIUM").is_some_and(|v| v == "1") {
        panic!("WANKA_REQUIRE_CHROMIUM=1 but no chromium on PATH");
    }
    found
}

/// Every report kind opens in headless Chromium with no console message, and its DOM
/// holds each chart as inline SVG with axes (tick labels) and data marks. With
/// WANKA_SCREENSHOT=PATH the step report's screenshot is kept there (the README's).
#[test]
fn reports_render_in_headless_chromium() {
    let dir = std::env::temp_dir().join(format!("wanka-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let (step, event, scale) = (dir.join("step.html"), dir.join("event.html"), dir.join("scale.html"));
    let out = wanka(&["report", ex.to_str().unwrap(), "-o", step.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = wanka(&["simulate", ex.to_str().unwrap(), "--fidelity", "event", "--report", event.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = wanka(&["scale", ex.to_str().unwrap(), "--gpus", "4k..64k", "--report", scale.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (search, collective, validate, goodput) = (dir.join("search.html"), dir.join("collective.html"), dir.join("validate.html"), dir.join("goodput.html"));
    let search_ex = repo().join("examples/search-llama3-405b-16k.toml");
    let (sweeps, rows, sweep) = (dir.join("sweep.toml"), dir.join("rows.csv"), dir.join("sweep.html"));
    let (designs, design) = (dir.join("design.toml"), dir.join("design.html"));
    std::fs::write(dir.join("base.toml"), "[model]\npreset = \"llama3-8b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\n[parallel]\nglobal_batch = 256\n[training]\ntokens = 1e11\n").unwrap();
    std::fs::write(&designs, "base = \"base.toml\"\nfidelity = \"analytic\"\n[axes]\n\"cluster.gpus\" = [64, 128]\n[[design]]\nname = \"H100\"\n[[design]]\nname = \"B200\"\n\"cluster.gpu\" = \"b200\"\n").unwrap();
    std::fs::write(
        &sweeps,
        format!("base = {:?}\n[axes]\n\"cluster.gpus\" = [8192, 16384, 32768]\n\"cluster.oversubscription\" = [1, 4]\n\"cluster.fabric\" = [\"rail-optimized\", \"fat-tree\"]\n", ex.display().to_string()),
    )
    .unwrap();
    for (args, what) in [
        (vec!["search", search_ex.to_str().unwrap(), "--top", "5", "--report", search.to_str().unwrap()], "search"),
        (vec!["collective", ex.to_str().unwrap(), "--op", "all_reduce", "--group", "dp", "--report", collective.to_str().unwrap()], "collective"),
        (vec!["validate", "--report", validate.to_str().unwrap()], "validate"),
        (vec!["goodput", ex.to_str().unwrap(), "--report", goodput.to_str().unwrap()], "goodput"),
        (vec!["sweep", sweeps.to_str().unwrap(), "-o", rows.to_str().unwrap(), "--report", sweep.to_str().unwrap()], "sweep"),
        (vec!["design", designs.to_str().unwrap(), "--report", design.to_str().unwrap()], "design"),
    ] {
        let out = wanka(&args);
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A report is only written whole, and only as .html.
    let out = wanka(&["report", ex.to_str().unwrap(), "-o", dir.join("r.png").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.join("r.png").exists());
    let Some(chromium) = chromium() else {
        eprintln!("no chromium on PATH: the reports were written, not rendered");
        return;
    };
    for (html, charts) in [(&step, 3), (&event, 4), (&scale, 5), (&search, 1), (&collective, 1), (&validate, 1), (&goodput, 3), (&sweep, 3), (&design, 2)] {
        let shot = dir.join(format!("{}.png", html.file_stem().unwrap().to_string_lossy()));
        let url = format!("file://{}", html.display());
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"];
        let run = Command::new(&chromium).args(common).arg(format!("--screenshot={}", shot.display())).arg("--window-size=1000,1400").arg(&url).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let log = String::from_utf8_lossy(&run.stderr);
        assert!(!log.contains(":CONSOLE"), "console messages: {log}");
        let png = std::fs::read(&shot).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
        let dom = Command::new(&chromium).args(common).arg("--dump-dom").arg(&url).output().unwrap();
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert_eq!(dom.matches("<svg").count(), charts, "{html:?}");
        for svg in dom.split("<svg").skip(1) {
            let svg = &svg[..svg.find("</svg>").unwrap()];
            // Axes: their lines and at least four labels (ticks, the axis description).
            assert!(svg.matches("<text").count() >= 4 && svg.matches("<line").count() + svg.matches("<polyline").count() >= 2, "axes with tick labels");
            // Data marks: bars, points or task bars beyond the background and the legend's box.
            assert!(svg.matches("<circle").count() + svg.matches("<rect").count().saturating_sub(2) >= 1, "data marks");
        }
        if let (Some(keep), true) = (std::env::var_os("WANKA_SCREENSHOT"), html == &step) {
            std::fs::copy(&shot, keep).unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--plot` writes the chart alone, SVG or PNG by its extension, the same bytes each
/// time; another extension is a usage error and writes nothing.
#[test]
fn plots_are_svg_or_png() {
    let dir = std::env::temp_dir().join(format!("wanka-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ex = repo().join("examples/llama3-405b-16k.toml");
    let (svg, png, again) = (dir.join("v.svg"), dir.join("s.png"), dir.join("s2.png"));
    assert!(wanka(&["validate", "--plot", svg.to_str().unwrap()]).status.success());
    for out in [&png, &again] {
        assert!(wanka(&["scale", ex.to_str().unwrap(), "--gpus", "4k..16k", "--plot", out.to_str().unwrap()]).status.success());
    }
    let c = dir.join("c.png");
    assert!(wanka(&["collective", ex.to_str().unwrap(), "--op", "all_gather", "--group", "dp", "--plot", c.to_str().unwrap()]).status.success());
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    for p in [&png, &c] {
        assert!(std::fs::read(p).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    }
    assert_eq!(std::fs::read(&png).unwrap(), std::fs::read(&again).unwrap());
    let bad = dir.join("v.jpg");
    let out = wanka(&["validate", "--plot", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FILE.svg or FILE.png") && !bad.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `wanka design bom`: a table and a JSON document whose parts add up; a cluster the
/// catalog cannot build exits 2 naming the key, with nothing on stdout.
#[test]
fn design_bom_table_json_and_refusals() {
    let file = repo().join("examples/llama3-405b-16k.toml");
    let file = file.to_str().unwrap();
    let out = wanka(&["design", "bom", file]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["leaf switches (tier 1)", "spine–core links", "capex", "PUE"] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let out = wanka(&["design", "bom", file, "--json", "--set", "cluster.gpus=8192"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bom = &v["bom"];
    assert_eq!(bom["gpus"], 8192);
    assert_eq!(bom["nics"]["count"], 8192);
    let capex = &bom["capex"];
    let parts: f64 = ["servers_usd", "nics_usd", "switches_usd", "optics_usd", "fiber_usd"].iter().map(|k| capex[k].as_f64().unwrap()).sum();
    assert!((parts - capex["total_usd"].as_f64().unwrap()).abs() < 1e-3 * parts);
    for key in ["switch_tiers", "link_tiers", "racks", "power", "assumptions"] {
        assert!(!bom[key].is_null(), "{key}");
    }
    // A100 NICs run at 200 Gb/s: no catalog InfiniBand switch has 64 such ports.
    let a100 = repo().join("examples/gpt3-175b-1k.toml");
    let out = wanka(&["design", "bom", a100.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cluster.switch_radix = 64") && err.contains("quantum-qm8700 (40 ports)"), "{err}");
    let out = wanka(&["design", "bom", a100.to_str().unwrap(), "--set", "cluster.switch=\"quantum-qm8700\""]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = wanka(&["design", "bom", file, "--set", "cluster.fabric=\"single-switch\""]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster.fabric"));
}

/// `wanka design DESIGN.toml`: a table with the front and the verdict, a JSON document
/// with the promised keys; a bad design file exits 2 naming the key.
#[test]
fn design_study_table_json_and_errors() {
    let dir = std::env::temp_dir().join(format!("wanka-design-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("base.toml"), "[model]\npreset = \"llama3-8b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\n[parallel]\nglobal_batch = 256\n[training]\ntokens = 1e11\n").unwrap();
    let design = dir.join("design.toml");
    std::fs::write(&design, "base = \"base.toml\"\nfidelity = \"analytic\"\n[axes]\n\"cluster.gpus\" = [64, 128]\n[[design]]\nname = \"IB\"\n\"cluster.transport\" = \"infiniband\"\n[[design]]\nname = \"RoCE\"\n\"cluster.transport\" = \"roce\"\n").unwrap();
    let out = wanka(&["design", design.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Pareto front") && text.contains("Cheapest per token") || text.contains("Fastest and cheapest"), "{text}");
    let out = wanka(&["design", design.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["name", "model", "tokens", "designs", "fastest", "cheapest", "pareto", "verdict"] {
        assert!(!v[key].is_null(), "{key}");
    }
    assert_eq!(v["designs"].as_array().unwrap().len(), 4);
    for key in ["gpus", "layout", "step_time_s", "mfu", "ettr", "time_to_train_s", "capex_usd", "facility_power_w", "energy_mwh", "usd_per_million_tokens", "pareto"] {
        assert!(!v["designs"][0]["result"][key].is_null(), "{key}");
    }
    std::fs::write(&design, "base = \"base.toml\"\nelectricity_usd_per_kwh = -1\n").unwrap();
    let out = wanka(&["design", design.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty() && String::from_utf8_lossy(&out.stderr).contains("electricity_usd_per_kwh = -1"));
    let out = wanka(&["design"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
