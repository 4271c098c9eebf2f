//! `wanka design DESIGN.toml`: one model and training target, several cluster designs;
//! for each design its best layout, time-to-train with failures, bill of materials,
//! power, energy and cost per token; the Pareto front of time against cost, and the
//! verdict in words.
//!
//! A design file (TOML):
//!
//! ```toml
//! base = "llama3-405b-16k.toml"   # the scenario: model, training, reliability (relative)
//! tokens = 15e12                  # default: the base's training.tokens
//! deadline_days = 90              # optional: which designs train in time
//! depreciation_years = 5          # the life capex is spread over
//! electricity_usd_per_kwh = 0.08
//! fidelity = "event"              # the best layouts re-run on the fabric (or "analytic")
//!
//! [axes]                          # every design at every combination
//! "cluster.gpus" = [8192, 16384, 32768]
//!
//! [[design]]
//! name = "InfiniBand, rail-optimized, adaptive"
//! "cluster.transport" = "infiniband"
//! "cluster.routing" = "adaptive"
//! ```
//!
//! The cost of a run is the share of the cluster's capex that its time-to-train uses up
//! over the depreciation life, plus the energy the site draws meanwhile; the cost per
//! token divides that by the tokens. Buildings, staff and the network's spares are not
//! in it.

use crate::error::{Error, Result};
use crate::scale::{self, ScalePoint, ScaleResult};
use crate::scenario;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Years over which capex is spread when the file does not say: servers and network gear
/// are depreciated over 5–6 years by the hyperscalers (Amazon 5 years from 2025, Meta
/// 5.5, Microsoft 6; their 10-K filings); 5, the shortest of them.
pub const DEPRECIATION_YEARS: f64 = 5.0;
/// USD per kWh when the file does not say: the U.S. average industrial price, about
/// 8 ¢/kWh in 2024 (EIA, Electric Power Monthly, table 5.6.A).
pub const ELECTRICITY_USD_PER_KWH: f64 = 0.08;
/// Layouts of each design's analytic search re-run with the event fidelity.
pub const EVENT_CANDIDATES: usize = 4;
/// Designs a study may hold: each one is a search.
pub const MAX_DESIGNS: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    name: Option<String>,
    base: Option<String>,
    tokens: Option<f64>,
    deadline_days: Option<f64>,
    depreciation_years: Option<f64>,
    electricity_usd_per_kwh: Option<f64>,
    fidelity: Option<crate::sweep::Fidelity>,
    axes: Option<toml::Table>,
    design: Option<Vec<toml::Table>>,
}

/// One design: a name and the scenario keys it sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignSpec {
    pub name: String,
    /// Which `[[design]]` it comes from (its axes combinations share it).
    #[serde(skip)]
    pub family: usize,
    /// `key=value` overrides, as `--set` takes them.
    pub sets: Vec<String>,
}

/// A parsed design study.
#[derive(Debug, Clone)]
pub struct Study {
    pub name: String,
    pub base_path: PathBuf,
    base: toml::Table,
    pub tokens: Option<f64>,
    pub deadline_s: Option<f64>,
    pub depreciation_years: f64,
    pub electricity_usd_per_kwh: f64,
    /// How the chosen layout's step is timed: analytic, or the event fidelity on the
    /// fabric (where routing, ECMP collisions and oversubscription show).
    pub fidelity: crate::sweep::Fidelity,
    /// Every design (each `[[design]]` at each combination of the axes).
    pub designs: Vec<DesignSpec>,
}

/// One design, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignPoint {
    pub name: String,
    /// Which `[[design]]` it comes from.
    pub family: usize,
    pub sets: Vec<String>,
    /// Why it could not be evaluated (no layout fits, a part the catalog lacks…); the
    /// figures below are then absent.
    pub error: Option<String>,
    pub result: Option<DesignResult>,
}

/// The figures of one design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignResult {
    pub gpus: u64,
    pub gpu: String,
    /// The best layout (`wanka search`), and compact.
    pub parallel: crate::scenario::ParallelConfig,
    pub layout: String,
    pub global_batch: u64,
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub bubble_fraction: f64,
    pub comm_fraction: f64,
    /// Effective training time ratio (failures, checkpoints, restarts).
    pub ettr: f64,
    pub time_to_train_s: f64,
    pub capex_usd: f64,
    pub network_capex_usd: f64,
    pub it_power_w: f64,
    pub facility_power_w: f64,
    pub energy_mwh: f64,
    pub energy_usd: f64,
    /// Capex used up over the run (time-to-train over the depreciation life).
    pub capex_share_usd: f64,
    /// Capex share plus energy.
    pub run_cost_usd: f64,
    pub usd_per_million_tokens: f64,
    pub meets_deadline: Option<bool>,
    /// On the Pareto front of time-to-train against cost per token.
    pub pareto: bool,
}

/// The whole study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyResult {
    pub name: String,
    pub model: String,
    pub tokens: f64,
    pub deadline_s: Option<f64>,
    pub depreciation_years: f64,
    pub electricity_usd_per_kwh: f64,
    pub designs: Vec<DesignPoint>,
    /// Indices into `designs`: the fastest, the cheapest per token, the cheapest that
    /// meets the deadline.
    pub fastest: Option<usize>,
    pub cheapest: Option<usize>,
    pub cheapest_in_time: Option<usize>,
    /// The Pareto front, fastest first.
    pub pareto: Vec<usize>,
    /// What the study says, in sentences.
    pub verdict: Vec<String>,
}

/// Reads a design file and its base scenario.
pub fn load(path: &Path) -> Result<Study> {
    parse(&scenario::read_text(path)?, path)
}

/// [`load`] from text; `path` places the base scenario and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Study> {
    let file: StudyFile = toml::from_str(text).map_err(|e| Error::Parse { path: path.display().to_string(), message: e.to_string().trim_end().to_string() })?;
    let Some(base) = file.base.clone() else {
        return Err(Error::missing("base", "the scenario file whose model and training every design runs, relative to the design file"));
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&base);
    let base_text = scenario::read_text(&base_path).map_err(|e| Error::invalid("base", format!("{base:?}"), format!("cannot read it: {e}")))?;
    parse_file(file, path, &base_text, base_path)
}

/// [`parse`] with the base scenario's text given (`base_path` names it in errors; the
/// file's own `base` is not read): what `wanka bench` runs a built-in study with.
pub fn parse_with_base_text(text: &str, path: &Path, base_text: &str, base_path: PathBuf) -> Result<Study> {
    let file: StudyFile = toml::from_str(text).map_err(|e| Error::Parse { path: path.display().to_string(), message: e.to_string().trim_end().to_string() })?;
    parse_file(file, path, base_text, base_path)
}

fn parse_file(file: StudyFile, path: &Path, base_text: &str, base_path: PathBuf) -> Result<Study> {
    let base_doc = scenario::parse_document(base_text, &base_path)?;
    let positive = |key: &str, v: Option<f64>| -> Result<Option<f64>> {
        match v {
            Some(x) if !(x.is_finite() && x > 0.0) => Err(Error::invalid(key, x, "must be a positive number")),
            other => Ok(other),
        }
    };
    let tokens = positive("tokens", file.tokens)?;
    let deadline_s = positive("deadline_days", file.deadline_days)?.map(|d| d * 86_400.0);
    let depreciation_years = positive("depreciation_years", file.depreciation_years)?.unwrap_or(DEPRECIATION_YEARS);
    let electricity = match file.electricity_usd_per_kwh {
        Some(x) if !(x.is_finite() && x >= 0.0) => return Err(Error::invalid("electricity_usd_per_kwh", x, "must be a price, at least 0")),
        Some(x) => x,
        None => ELECTRICITY_USD_PER_KWH,
    };
    // Each [[design]]: its name and scenario keys.
    let mut named = Vec::new();
    for (i, table) in file.design.unwrap_or_default().into_iter().enumerate() {
        let mut name = None;
        let mut sets = Vec::new();
        for (key, value) in table {
            if key == "name" {
                match value {
                    toml::Value::String(s) => name = Some(s),
                    other => return Err(Error::invalid(format!("design[{i}].name"), other, "must be a string")),
                }
            } else if key.contains('.') {
                sets.push(format!("{key}={value}"));
            } else {
                return Err(Error::invalid(format!("design[{i}].{key}"), value, "must be a scenario key with its section (\"cluster.gpus\") or name"));
            }
        }
        named.push(DesignSpec { name: name.unwrap_or_else(|| format!("design {}", i + 1)), family: i, sets });
    }
    if named.is_empty() {
        named.push(DesignSpec { name: "base".to_string(), family: 0, sets: Vec::new() });
    }
    // The axes, every combination (the last fastest), applied to every design.
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    for (key, values) in crate::sweep::axis_lists(file.axes.unwrap_or_default())? {
        if combos.len().saturating_mul(values.len()) > MAX_DESIGNS {
            return Err(Error::invalid("axes", format!("more than {MAX_DESIGNS} combinations"), "drop values: every design is a layout search"));
        }
        let (key, values) = (&key, &values);
        combos = combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![format!("{key}={v}")]].concat())).collect();
    }
    let designs: Vec<DesignSpec> = named
        .iter()
        .flat_map(|d| combos.iter().map(move |c| DesignSpec { name: d.name.clone(), family: d.family, sets: [d.sets.clone(), c.clone()].concat() }))
        .collect();
    if designs.len() > MAX_DESIGNS {
        return Err(Error::invalid("design", format!("{} designs", designs.len()), format!("at most {MAX_DESIGNS}: every design is a layout search")));
    }
    let name = file.name.unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let fidelity = file.fidelity.unwrap_or(crate::sweep::Fidelity::Event);
    Ok(Study { name, base_path, base: base_doc, tokens, deadline_s, depreciation_years, electricity_usd_per_kwh: electricity, fidelity, designs })
}

impl Study {
    /// Evaluates every design (in parallel), then ranks them.
    pub fn run(&self, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<StudyResult> {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicU64, Ordering};
        // The model and token budget come from the base itself (a design that does not
        // resolve is a row with its error, not the study's failure).
        let probe = self.space(&DesignSpec { name: String::new(), family: 0, sets: Vec::new() })?;
        let tokens = self.tokens.unwrap_or(probe.training.tokens);
        let model = probe.model_source.clone();
        let done = AtomicU64::new(0);
        let total = self.designs.len() as u64;
        let mut designs: Vec<DesignPoint> = self
            .designs
            .par_iter()
            .map(|d| {
                let point = match self.evaluate(d, tokens) {
                    Ok(r) => DesignPoint { name: d.name.clone(), family: d.family, sets: d.sets.clone(), error: None, result: Some(r) },
                    Err(e) => DesignPoint { name: d.name.clone(), family: d.family, sets: d.sets.clone(), error: Some(e.to_string()), result: None },
                };
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                point
            })
            .collect();
        let points: Vec<Option<(f64, f64)>> = designs.iter().map(|d| d.result.as_ref().map(|r| (r.time_to_train_s, r.usd_per_million_tokens))).collect();
        let pareto = pareto_front(&points);
        for &i in &pareto {
            if let Some(r) = designs[i].result.as_mut() {
                r.pareto = true;
            }
        }
        let ok = |i: &usize| designs[*i].result.is_some();
        let by = |f: &dyn Fn(&DesignResult) -> f64, filter: &dyn Fn(&DesignResult) -> bool| {
            (0..designs.len()).filter(ok).filter(|&i| designs[i].result.as_ref().is_some_and(filter)).min_by(|&a, &b| {
                let (x, y) = (designs[a].result.as_ref().map(f), designs[b].result.as_ref().map(f));
                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
            })
        };
        let fastest = by(&|r| r.time_to_train_s, &|_| true);
        let cheapest = by(&|r| r.usd_per_million_tokens, &|_| true);
        let cheapest_in_time = self.deadline_s.and_then(|_| by(&|r| r.usd_per_million_tokens, &|r| r.meets_deadline == Some(true)));
        let mut result = StudyResult {
            name: self.name.clone(),
            model,
            tokens,
            deadline_s: self.deadline_s,
            depreciation_years: self.depreciation_years,
            electricity_usd_per_kwh: self.electricity_usd_per_kwh,
            designs: Vec::new(),
            fastest,
            cheapest,
            cheapest_in_time,
            pareto,
            verdict: Vec::new(),
        };
        designs.shrink_to_fit();
        result.designs = designs;
        result.verdict = verdict(&result);
        Ok(result)
    }

    /// A design's scenario space: the base with the design's keys set.
    fn space(&self, d: &DesignSpec) -> Result<scenario::ScenarioSpace> {
        scenario::space_for_best_layout(&self.base, &self.base_path, &d.sets).0
    }

    /// The best layout of a design and its step: analytic search; with the event
    /// fidelity, its best few re-run on the fabric and the fastest there taken.
    fn best_layout(&self, space: &scenario::ScenarioSpace) -> Result<(scenario::Scenario, crate::search::Ranked, crate::report::StepReport)> {
        use crate::sweep::Fidelity;
        let top_n = if self.fidelity == Fidelity::Event { EVENT_CANDIDATES } else { 1 };
        let (sp, mut found) = scale::best_layouts(space, top_n)?;
        if self.fidelity == Fidelity::Event {
            crate::search::refine_with_event(&sp, &mut found);
        }
        let best = found.top.swap_remove(0);
        let s = best.scenario(&sp);
        let report = match (self.fidelity, best.event_step_time_s) {
            (Fidelity::Event, Some(_)) => crate::step::event::simulate_event(&s).map(|e| e.report).unwrap_or_else(|_| best.report.clone()),
            _ => best.report.clone(),
        };
        Ok((s, best, report))
    }

    /// One design: its best layout, goodput, bill of materials and costs.
    fn evaluate(&self, d: &DesignSpec, tokens: f64) -> Result<DesignResult> {
        let mut space = self.space(d)?;
        space.training.tokens = tokens;
        let bom = super::bom(&space.cluster)?;
        let (s, best, report) = self.best_layout(&space)?;
        let r = &report;
        let g = crate::reliability::goodput(&s, r.tokens_per_s);
        let ettr = g.ettr.max(1e-12);
        let time_to_train_s = g.useful_time_s / ettr;
        let hours = time_to_train_s / 3600.0;
        let energy_mwh = bom.power.facility_w * hours / 1e6;
        let energy_usd = energy_mwh * 1e3 * self.electricity_usd_per_kwh;
        let life_s = self.depreciation_years * 365.25 * 86_400.0;
        let capex_share_usd = bom.capex.total_usd * time_to_train_s / life_s;
        let run_cost_usd = capex_share_usd + energy_usd;
        Ok(DesignResult {
            gpus: s.cluster.gpus,
            gpu: s.cluster.gpu.id.clone(),
            layout: s.parallel.compact(),
            parallel: best.parallel.clone(),
            global_batch: best.parallel.global_batch,
            step_time_s: r.step_time_s,
            tokens_per_s: r.tokens_per_s,
            mfu: r.mfu,
            bubble_fraction: r.breakdown_s.bubble / r.step_time_s,
            comm_fraction: r.comm_fraction,
            ettr: g.ettr,
            time_to_train_s,
            capex_usd: bom.capex.total_usd,
            network_capex_usd: bom.capex.network_usd,
            it_power_w: bom.power.it_w,
            facility_power_w: bom.power.facility_w,
            energy_mwh,
            energy_usd,
            capex_share_usd,
            run_cost_usd,
            usd_per_million_tokens: run_cost_usd / tokens * 1e6,
            meets_deadline: self.deadline_s.map(|d| time_to_train_s <= d),
            pareto: false,
        })
    }
}

/// The points no other point beats on both time-to-train and cost per token (each
/// `(time, cost)`, `None` for a design that did not run), fastest first (ties: the
/// cheaper first).
pub fn pareto_front(points: &[Option<(f64, f64)>]) -> Vec<usize> {
    let mut ok: Vec<(usize, f64, f64)> = points.iter().enumerate().filter_map(|(i, p)| p.map(|(t, c)| (i, t, c))).collect();
    ok.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0)));
    let mut front = Vec::new();
    let mut best_cost = f64::INFINITY;
    for (i, _, cost) in ok {
        if cost < best_cost {
            front.push(i);
            best_cost = cost;
        }
    }
    front
}

/// The verdict: fastest, cheapest, the deadline, and for each design evaluated at
/// several GPU counts where more GPUs stop paying and why (as `wanka scale` says it).
fn verdict(r: &StudyResult) -> Vec<String> {
    let mut v = Vec::new();
    let days = |s: f64| s / 86_400.0;
    let describe = |i: usize| {
        let d = &r.designs[i];
        let x = d.result.as_ref().expect("ranked designs have results");
        let capex = if x.capex_usd >= 1e9 { format!("${:.2} B", x.capex_usd / 1e9) } else { format!("${:.0} M", x.capex_usd / 1e6) };
        format!("{} at {} GPUs ({:.0} days, ${:.2} per million tokens, {capex} capex)", d.name, x.gpus, days(x.time_to_train_s), x.usd_per_million_tokens)
    };
    match (r.fastest, r.cheapest) {
        (Some(f), Some(c)) if f == c => v.push(format!("Fastest and cheapest per token: {}.", describe(f))),
        (Some(f), Some(c)) => {
            v.push(format!("Fastest: {}.", describe(f)));
            v.push(format!("Cheapest per token: {}.", describe(c)));
        }
        _ => v.push("No design could be evaluated; each row says why.".to_string()),
    }
    if let Some(deadline) = r.deadline_s {
        match r.cheapest_in_time {
            Some(i) => v.push(format!("Cheapest that trains within {:.0} days: {}.", days(deadline), describe(i))),
            None => v.push(format!("No design trains within {:.0} days.", days(deadline))),
        }
    }
    // Per design name: the GPU-count series, and where it stops paying.
    let mut families: Vec<(usize, &str)> = r.designs.iter().map(|d| (d.family, d.name.as_str())).collect();
    families.dedup();
    for (family, name) in families {
        let mut series: Vec<ScalePoint> = r
            .designs
            .iter()
            .filter(|d| d.family == family)
            .filter_map(|d| d.result.as_ref())
            .map(|x| ScalePoint {
                gpus: x.gpus,
                parallel: x.parallel.clone(),
                global_batch: x.global_batch,
                step_time_s: x.step_time_s,
                tokens_per_s: x.tokens_per_s,
                mfu: x.mfu,
                ettr: x.ettr,
                time_to_train_s: x.time_to_train_s,
                gpu_hours: 0.0,
                energy_mwh: x.energy_mwh,
                cost_usd: x.run_cost_usd,
                speedup: 0.0,
                scaling_efficiency: 0.0,
                bubble_fraction: x.bubble_fraction,
                comm_fraction: x.comm_fraction,
            })
            .collect();
        series.sort_by_key(|p| p.gpus);
        series.dedup_by_key(|p| p.gpus);
        if series.len() < 2 {
            continue;
        }
        let knee_gpus = scale::knee(&series);
        let (first, last) = (&series[0], &series[series.len() - 1]);
        let ratio = last.gpus as f64 / first.gpus.max(1) as f64;
        let ratio = if (ratio - ratio.round()).abs() < 1e-9 { format!("{ratio:.0}") } else { format!("{ratio:.2}") };
        let head = format!(
            "{name}: {ratio}× the GPUs ({} → {}) train {:.2}× faster for {:.2}× the cost per token;",
            first.gpus,
            last.gpus,
            first.time_to_train_s / last.time_to_train_s,
            last.cost_usd / first.cost_usd,
        );
        v.push(format!("{head} {}", ScaleResult { points: series, knee_gpus }.verdict()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study(text: &str) -> Result<Study> {
        parse(text, &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/design.toml"))
    }

    #[test]
    fn designs_are_each_design_at_each_axis_combination() {
        let s = study(
            "base = \"llama3-405b-16k.toml\"\n[axes]\n\"cluster.gpus\" = [8192, 16384]\n[[design]]\nname = \"a\"\n\"cluster.routing\" = \"adaptive\"\n[[design]]\nname = \"b\"\n",
        )
        .unwrap();
        let got: Vec<(String, Vec<String>)> = s.designs.iter().map(|d| (d.name.clone(), d.sets.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), vec!["cluster.routing=\"adaptive\"".into(), "cluster.gpus=8192".into()]),
                ("a".into(), vec!["cluster.routing=\"adaptive\"".into(), "cluster.gpus=16384".into()]),
                ("b".into(), vec!["cluster.gpus=8192".into()]),
                ("b".into(), vec!["cluster.gpus=16384".into()]),
            ]
        );
    }

    /// A small study end to end: every design runs, the front is undominated, the
    /// fastest and cheapest are the minima, and the cost per token is the run's cost
    /// (capex share plus energy) over the tokens.
    #[test]
    fn a_study_ranks_its_designs() {
        let base = "[model]\npreset = \"llama3-8b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\n[parallel]\nglobal_batch = 256\n[training]\ntokens = 1e11\n";
        let text = "fidelity = \"analytic\"\ndeadline_days = 10\n[axes]\n\"cluster.gpus\" = [64, 256]\n[[design]]\nname = \"H100\"\n[[design]]\nname = \"B200\"\n\"cluster.gpu\" = \"b200\"\n";
        // A design that does not resolve, first: a row with its error.
        let broken = format!("{text}[[design]]\nname = \"broken\"\n\"cluster.gpu\" = \"h1000\"\n").replacen("[[design]]\nname = \"H100\"", "[[design]]\nname = \"broken first\"\n\"cluster.fabric\" = \"ring\"\n[[design]]\nname = \"H100\"", 1);
        let r = parse_with_base_text(&broken, Path::new("d.toml"), base, "base.toml".into()).unwrap().run(&|_, _| {}).unwrap();
        assert!(r.designs[0].error.is_some() && r.designs[0].result.is_none() && r.designs.iter().filter(|d| d.result.is_some()).count() == 4);
        let study = parse_with_base_text(text, Path::new("d.toml"), base, "base.toml".into()).unwrap();
        assert_eq!(study.designs.len(), 4);
        let r = study.run(&|_, _| {}).unwrap();
        let results: Vec<&DesignResult> = r.designs.iter().map(|d| d.result.as_ref().unwrap_or_else(|| panic!("{:?}", d.error))).collect();
        for x in &results {
            assert!((x.usd_per_million_tokens - x.run_cost_usd / 1e11 * 1e6).abs() < 1e-9);
            assert!((x.run_cost_usd - x.capex_share_usd - x.energy_usd).abs() < 1e-6);
            assert!(x.capex_share_usd < x.capex_usd && x.meets_deadline.is_some());
        }
        let min = |f: fn(&DesignResult) -> f64| results.iter().map(|x| f(x)).fold(f64::INFINITY, f64::min);
        assert_eq!(results[r.fastest.unwrap()].time_to_train_s, min(|x| x.time_to_train_s));
        assert_eq!(results[r.cheapest.unwrap()].usd_per_million_tokens, min(|x| x.usd_per_million_tokens));
        for &i in &r.pareto {
            let p = results[i];
            assert!(p.pareto);
            assert!(!results.iter().any(|x| x.time_to_train_s < p.time_to_train_s && x.usd_per_million_tokens < p.usd_per_million_tokens));
        }
        // More GPUs train faster; each design's series gets its sentence.
        assert!(results[1].time_to_train_s < results[0].time_to_train_s);
        assert!(r.verdict.iter().any(|v| v.starts_with("H100: 4× the GPUs")), "{:?}", r.verdict);
    }

    #[test]
    fn bad_files_name_the_key() {
        let e = |t: &str| study(t).unwrap_err().to_string();
        assert!(e("tokens = 1e12\n").starts_with("base is missing"));
        assert!(e("base = \"nope.toml\"\n").starts_with("base = \"nope.toml\""));
        assert!(e("base = \"llama3-405b-16k.toml\"\ntokens = -1\n").starts_with("tokens = -1"));
        assert!(e("base = \"llama3-405b-16k.toml\"\n[axes]\n\"cluster.gpus\" = 8\n").starts_with("axes.cluster.gpus"));
        assert!(e("base = \"llama3-405b-16k.toml\"\n[[design]]\ngpus = 8\n").starts_with("design[0].gpus"));
    }

    #[test]
    fn pareto_front_keeps_only_undominated_designs() {
        let points = [Some((10.0, 5.0)), Some((20.0, 3.0)), Some((15.0, 6.0)), None, Some((30.0, 3.0)), Some((5.0, 9.0))];
        assert_eq!(pareto_front(&points), vec![5, 0, 1]);
    }
}
