//! The built-in failure causes (`catalog/failures.toml`, Llama 3's 54-day cause table
//! line by line): what each scales with and its rate per unit per day. `reliability`
//! turns them into a job's interruptions; `[reliability]` overrides them.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const FAILURES_TOML: &str = include_str!("../../catalog/failures.toml");

/// What a failure process scales with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Gpu,
    Node,
    /// A scale-out switch (count from the fabric's tiers).
    Switch,
    Job,
}

/// A failure cause with its rate per unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    pub name: String,
    pub category: String,
    pub unit: Unit,
    pub per_unit_per_day: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseRow {
    name: String,
    category: String,
    unit: Unit,
    count: f64,
    units: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureFile {
    days: f64,
    cause: Vec<CauseRow>,
}

/// The default causes, rates per unit per day = count / (units × days).
pub fn default_causes() -> &'static [Cause] {
    static CAUSES: OnceLock<Vec<Cause>> = OnceLock::new();
    CAUSES.get_or_init(|| {
        let f: FailureFile = toml::from_str(FAILURES_TOML).expect("catalog/failures.toml is valid");
        f.cause
            .into_iter()
            .map(|c| Cause { name: c.name, category: c.category, unit: c.unit, per_unit_per_day: c.count / (c.units * f.days) })
            .collect()
    })
}

