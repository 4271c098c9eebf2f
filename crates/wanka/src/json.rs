//! The `--json` documents of docs/SCENARIO.md, built once for the command line and the
//! Python package alike.

use crate::report::StepReport;
use crate::scenario::Scenario;
use serde_json::{json, Value};

/// `wanka simulate --json`: the step report with the scenario's name, GPU count and
/// resolved layout.
pub fn simulate(s: &Scenario, r: &StepReport) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("name".into(), json!(s.name));
        map.insert("fidelity".into(), json!("analytic"));
        map.insert("gpus".into(), json!(s.cluster.gpus));
        map.insert("parallel".into(), serde_json::to_value(&s.parallel).unwrap_or(Value::Null));
        map.insert("global_batch".into(), json!(s.parallel.global_batch));
    }
    v
}

/// `wanka search --json`.
pub fn search(r: &crate::search::SearchResult, elapsed_s: f64) -> Value {
    json!({
        "evaluated": r.evaluated,
        "feasible": r.feasible,
        "candidates": r.candidates,
        "removed": r.removed,
        "elapsed_s": elapsed_s,
        "top": r.top,
    })
}
