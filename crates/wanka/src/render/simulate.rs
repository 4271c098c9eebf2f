//! The report of one training step (`wanka simulate --report`, `wanka report`): the
//! headline numbers, where the step goes, memory per GPU against the HBM, and the
//! scenario as resolved with the keys the user set told from the defaults.

use super::chart::{self, Segment};
use super::page::{Cell, Page};
use crate::report::StepReport;
use crate::scenario::Scenario;
use std::collections::BTreeSet;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The keys a scenario file and its `--set` overrides set, dotted
/// (`cluster.gpus`), to tell them from defaults in a report.
pub fn keys_set(doc: &toml::Table, overrides: &[String]) -> BTreeSet<String> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            if let toml::Value::Table(inner) = v {
                walk(&key, inner, out);
            } else {
                out.insert(key);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", doc, &mut out);
    out.extend(overrides.iter().filter_map(|o| o.split_once('=').map(|(k, _)| k.trim().to_string())));
    out
}

/// Every resolved value of `s` as (dotted key, value as text), in key order.
fn resolved(s: &Scenario) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, inner) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, inner, out);
                }
            }
            serde_json::Value::String(text) => out.push((prefix.to_string(), text.clone())),
            serde_json::Value::Null => out.push((prefix.to_string(), "none".into())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", &serde_json::to_value(s).unwrap_or(serde_json::Value::Null), &mut out);
    out
}

/// Whether `key` (resolved) is one the user set: itself or a section above it.
fn was_set(key: &str, set: &BTreeSet<String>) -> bool {
    set.iter().any(|k| key == k || key.strip_prefix(k.as_str()).is_some_and(|rest| rest.starts_with('.')))
}

/// The report of one step of `s`: `r` from the analytic fidelity, or the event
/// fidelity's `event` step (its timeline drawn too); `ranks`, each kind of pipeline
/// rank's cost per micro-batch (`step::pipeline_ranks`); `set` names the keys the user
/// set ([`keys_set`]).
pub fn simulate_report(s: &Scenario, r: &StepReport, event: Option<&crate::step::event::EventStep>, ranks: &[crate::step::PipelineRank], set: &BTreeSet<String>) -> String {
    let fidelity = if event.is_some() { "event" } else { "analytic" };
    let p = &s.parallel;
    let mut page = Page::new(
        &format!("wanka simulate: {}", s.name),
        &format!(
            "{} on {} × {} · TP {} · PP {} (vpp {}) · CP {} · EP {} · DP {} · {} fidelity",
            s.model_source, s.cluster.gpus, s.cluster.gpu.name, p.tp, p.pp, p.vpp, p.cp, p.ep, p.dp, fidelity
        ),
    );

    page.section("Headline");
    let m = &r.memory;
    let rows = vec![
        vec![Cell::text("step time"), Cell::number(format!("{:.3} s", r.step_time_s))],
        vec![Cell::text("tokens per step"), Cell::number(format!("{:.0}", r.tokens_per_step))],
        vec![Cell::text("tokens/s"), Cell::number(format!("{:.0}", r.tokens_per_s))],
        vec![Cell::text("tokens/s per GPU"), Cell::number(format!("{:.1}", r.tokens_per_s_per_gpu))],
        vec![Cell::text("MFU (model FLOPs)"), Cell::number(format!("{:.1}%", 100.0 * r.mfu))],
        vec![Cell::text("HFU (with recomputation)"), Cell::number(format!("{:.1}%", 100.0 * r.hfu))],
        vec![Cell::text("model TFLOP/s per GPU"), Cell::number(format!("{:.0}", r.model_tflops_per_gpu))],
        vec![
            Cell::text("memory per GPU (busiest stage, as nvidia-smi shows it)"),
            match (m.fits, m.allocator_headroom) {
                (true, true) => Cell::number(format!("{:.1} of {:.1} GiB", m.total_bytes / GIB, m.capacity_bytes / GIB)),
                (true, false) => Cell::warning(format!(
                    "{:.1} of {:.1} GiB: the allocated peak fits, the allocator's cache does not (it flushes and retries, slower)",
                    m.total_bytes / GIB,
                    m.capacity_bytes / GIB
                )),
                (false, _) => Cell::warning(format!("{:.1} of {:.1} GiB: does not fit", m.total_bytes / GIB, m.capacity_bytes / GIB)),
            },
        ],
    ];
    page.table(&["", "value"], &rows);

    page.section("Where the step goes");
    let b = &r.breakdown_s;
    let e = &b.exposed_comm;
    let parts = [
        ("compute", b.compute),
        ("pipeline bubble", b.bubble),
        ("exposed TP comm", e.tp),
        ("exposed CP comm", e.cp),
        ("exposed EP comm", e.ep),
        ("exposed PP comm", e.pp),
        ("exposed DP comm", e.dp),
        ("optimizer", b.optimizer),
        ("overhead", b.overhead),
        ("stragglers", b.stragglers),
        ("host-bound", b.host),
    ];
    let segments: Vec<Segment> = parts.iter().map(|(l, v)| Segment { label: l.to_string(), value: *v }).collect();
    page.figure(&chart::stacked_bar("One training step", "seconds", &segments, None), "The step time split into what the GPUs do and what they wait for.");
    let rows: Vec<Vec<Cell>> = parts
        .iter()
        .map(|(l, v)| vec![Cell::text(*l), Cell::number(format!("{v:.4} s")), Cell::number(format!("{:.1}%", 100.0 * v / r.step_time_s.max(f64::MIN_POSITIVE)))])
        .collect();
    page.table(&["part", "time", "share"], &rows);

    if !ranks.is_empty() {
        page.section("Per pipeline-rank kind");
        let rows: Vec<(String, Vec<Segment>)> = ranks
            .iter()
            .map(|k| {
                let mut what = format!("{:.0} layers", k.layers);
                if k.embedding {
                    what += " + embedding";
                }
                if k.head {
                    what += " + head";
                }
                let label = if k.ranks == 1 { format!("rank {}: {what}", k.first_rank) } else { format!("{} ranks from {}: {what}", k.ranks, k.first_rank) };
                let seg = |l: &str, v: f64| Segment { label: l.to_string(), value: v * 1e3 };
                (label, vec![seg("compute", k.compute_s), seg("TP comm", k.tp_s), seg("CP comm", k.cp_s), seg("EP comm", k.ep_s), seg("host-bound", k.host_s)])
            })
            .collect();
        page.figure(
            &chart::stacked_bars("One micro-batch on each kind of pipeline rank", "milliseconds", &rows, None),
            "What a micro-batch costs each kind of rank (communication before overlap): the busiest sets the pipeline's pace.",
        );
    }

    page.section("Memory per GPU");
    let segments = vec![
        Segment { label: "weights".into(), value: m.weights_bytes / GIB },
        Segment { label: "gradients".into(), value: m.gradients_bytes / GIB },
        Segment { label: "optimizer state".into(), value: m.optimizer_bytes / GIB },
        Segment { label: "activations".into(), value: m.activations_bytes / GIB },
        Segment { label: "allocator cache".into(), value: (m.torch_reserved_bytes - m.allocated_bytes).max(0.0) / GIB },
        Segment { label: "CUDA/NCCL runtime".into(), value: m.runtime_bytes / GIB },
    ];
    page.figure(
        &chart::stacked_bar("Memory of the busiest pipeline stage", "GiB", &segments, Some(("HBM capacity", m.capacity_bytes / GIB))),
        "What one GPU holds at its peak, against its HBM: past the black line the layout does not fit.",
    );

    if let Some(step) = event {
        page.section("Timeline of one step");
        page.figure(
            &super::timeline::gantt(&step.graph, "One step, stream by stream"),
            "Every stream of the simulated pipeline (compute, communication and host issue of each stage) over one step; the critical path is outlined. Tasks closer than the chart's resolution are drawn as one bar.",
        );
        let rows: Vec<Vec<Cell>> = step
            .streams
            .iter()
            .map(|t| vec![Cell::text(t.stream.clone()), Cell::number(format!("{:.3} s", t.busy_s)), Cell::number(format!("{:.3} s", t.idle_s))])
            .collect();
        page.table(&["stream", "busy", "idle"], &rows);
    }

    page.section("Scenario as resolved");
    page.paragraph("Every value the simulation used; the keys the scenario file or --set gave are in black, defaults and derived values in grey.");
    let rows: Vec<Vec<Cell>> = resolved(s)
        .into_iter()
        .map(|(k, v)| if was_set(&k, set) { vec![Cell::text(k), Cell::text(v), Cell::text("set")] } else { vec![Cell::muted(k), Cell::muted(v), Cell::muted("default")] })
        .collect();
    page.table(&["key", "value", ""], &rows);
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn example() -> (Scenario, BTreeSet<String>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = crate::scenario::parse_document(&text, &path).unwrap();
        (crate::scenario::parse(&text, &path, &[]).unwrap(), keys_set(&doc, &["parallel.tp=8".into()]))
    }

    #[test]
    fn a_step_report_has_its_charts_and_marks_what_was_set() {
        let (s, set) = example();
        let r = crate::step::simulate(&s);
        let html = simulate_report(&s, &r, None, &crate::step::pipeline_ranks(&s), &set);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("ranks from") && html.contains("+ head"));
        assert!(html.contains("HBM capacity") && html.contains("compute") && html.contains("Scenario as resolved"));
        assert!(set.contains("cluster.gpus") && set.contains("parallel.tp"));
        assert!(html.contains("<td>cluster.gpus</td>"), "keys the file sets are not muted");
        assert!(html.contains("<td class=\"default\">cluster.qps_per_connection</td>"), "defaults are muted");
        assert_eq!(html, simulate_report(&s, &r, None, &crate::step::pipeline_ranks(&s), &set), "same input, same bytes");
        assert!(!html.contains("<script"));
    }

    /// At event fidelity the report draws the step's timeline too.
    #[test]
    fn an_event_report_has_the_timeline() {
        let (s, set) = example();
        let step = crate::step::event::simulate_event(&s).unwrap();
        let html = simulate_report(&s, &step.report, Some(&step), &crate::step::pipeline_ranks(&s), &set);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 4);
        assert!(html.contains("Timeline of one step") && html.contains("critical path") && html.contains("event fidelity"));
        assert!(html.len() < 5_000_000);
    }
}
