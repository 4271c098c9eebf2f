//! `wanka search`: enumerate every valid layout of a scenario's `[parallel]` space,
//! evaluate all with the analytic model in parallel, rank by throughput.
//!
//! A key written with one value is fixed; a list allows those values; "auto" (or a key
//! left out) allows every valid value:
//! - tp: divisors of the attention heads within the NVLink domain;
//! - pp: divisors of the GPUs whose stage count splits the layers evenly (or with the
//!   first and last stage one layer short);
//! - vpp: chunks per rank that split the layers the same way (interleaving, pp > 1);
//!   the interleaved schedule also needs the micro-batches to be a multiple of pp;
//! - cp: powers of two up to 16 that split the sequence; ep: divisors of the experts;
//! - zero 0–3, sequence parallelism on/off (TP > 1), recompute none/selective/full,
//!   micro-batch 1, 2, 4, 8, and every schedule the pipeline admits.
//!
//! Layouts whose busiest GPU does not fit its memory are dropped.

use crate::error::{Error, Result};
use crate::parallel;
use crate::report::StepReport;
use crate::scenario::{ParallelChoice, ParallelConfig, Recompute, ScenarioSpace, Schedule, Values};
use crate::step;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One ranked layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub parallel: ParallelConfig,
    pub step_time_s: f64,
    pub tokens_per_s_per_gpu: f64,
    pub mfu: f64,
    pub memory_total_bytes: f64,
    /// The event fidelity's step time, when the top layouts were re-evaluated with it
    /// (`null` where it cannot run the layout yet).
    pub event_step_time_s: Option<f64>,
    /// The range comparable published runs put around the prediction
    /// (`validate::bands`).
    pub band: Option<crate::validate::bands::Band>,
    /// What in this layout no validation row covers (MFU above the best published on
    /// the GPU, choices no row exercised).
    pub flags: Vec<String>,
    /// The routing capacity this layout ran at, when the space lists several
    /// (`training.moe_capacity_factor`; `null`: dropless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moe_capacity_factor: Option<Option<f64>>,
    #[serde(skip)]
    pub report: StepReport,
}

impl Ranked {
    /// The scenario this layout is, in `space` (at its routing capacity).
    pub fn scenario(&self, space: &ScenarioSpace) -> crate::scenario::Scenario {
        match self.moe_capacity_factor {
            Some(capacity) => space.scenario_with_capacity(self.parallel.clone(), capacity),
            None => space.scenario(self.parallel.clone()),
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    /// Layouts that passed validation and were evaluated.
    pub evaluated: u64,
    /// Of those, layouts that fit in memory.
    pub feasible: u64,
    /// Candidate combinations enumerated before validation.
    pub candidates: u64,
    /// Candidates removed, by the key (or "memory") that removed them.
    pub removed: BTreeMap<String, u64>,
    pub top: Vec<Ranked>,
    /// Every layout that fits, as (memory per GPU in bytes, tokens/s per GPU), in rank
    /// order: what a report plots the front from.
    #[serde(skip)]
    pub landscape: Vec<(f64, f64)>,
}

/// Candidate values of each key.
#[derive(Debug, Clone)]
struct Axes {
    tp: Vec<u64>,
    pp: Vec<u64>,
    vpp: Vec<u64>,
    cp: Vec<u64>,
    ep: Vec<u64>,
    /// Expert TP: `None` is the default (= tp).
    etp: Vec<Option<u64>>,
    zero: Vec<u8>,
    sp: Vec<bool>,
    recompute: Vec<Recompute>,
    micro_batch: Vec<u64>,
    schedule: Vec<Option<Schedule>>,
    /// Rank order (`None`: the framework's); "auto" tries both, which decides what
    /// crosses between sites.
    order: Vec<Option<crate::scenario::RankOrder>>,
    /// Layers on the first and last pipeline ranks: the file's (`Fixed`, usually
    /// unset), or every balanced lighter edge (`Auto`, see [`edge_options`]).
    edges: Edges,
}

/// How the search treats `first_stage_layers` and `last_stage_layers`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Edges {
    Fixed(Option<u64>, Option<u64>),
    Auto,
}

/// The first- and last-rank layer counts worth trying at `pp` ranks of `vpp` chunks
/// (Megatron's `decoder_first/last_pipeline_num_layers`): the even split, and every
/// split whose middle ranks hold `m` layers per chunk while the two edges share the rest
/// as evenly as the chunks allow, each no more than a middle rank (the embedding and
/// the loss make the edges the heavy ranks), down to edges that hold only the
/// embedding and the loss. Middle counts from the even share up to two above it.
pub fn edge_options(layers: u64, pp: u64, vpp: u64) -> Vec<(Option<u64>, Option<u64>)> {
    let mut out = vec![(None, None)];
    if pp < 3 || vpp == 0 {
        return out;
    }
    let middle = (pp - 2) * vpp;
    let even = layers.div_ceil(pp * vpp);
    for m in even..=even + 2 {
        let Some(rest) = layers.checked_sub(middle * m) else { break };
        if rest % vpp != 0 || rest > 2 * m * vpp {
            continue;
        }
        let first = (rest / vpp / 2) * vpp;
        for (f, l) in [(first, rest - first), (rest - first, first)] {
            if !out.contains(&(Some(f), Some(l))) {
                out.push((Some(f), Some(l)));
            }
        }
    }
    out
}

/// Some pipeline depth splits `layers` into `v` chunks per rank (evenly, or with the
/// first and last chunk one layer short).
fn a_split_exists(layers: u64, v: u64) -> bool {
    layers % v == 0 || (layers + 2) % v == 0
}

fn divisors(n: u64) -> Vec<u64> {
    (1..=n).filter(|d| n % d == 0).collect()
}

/// The values a key may take: its list, or `auto` computed by `all`.
fn axis<T: serde::de::DeserializeOwned + Clone>(space: &ScenarioSpace, key: &str, all: impl FnOnce() -> Vec<T>) -> Result<Vec<T>> {
    match space.parallel.keys.get(key) {
        None | Some(Values::Auto) => Ok(all()),
        Some(Values::List(items)) => items
            .iter()
            .map(|v| {
                v.clone().try_into::<T>().map_err(|e| Error::invalid(format!("parallel.{key}"), v, e.to_string().trim_end().to_string()))
            })
            .collect(),
    }
}

fn axes(space: &ScenarioSpace) -> Result<Axes> {
    let m = &space.model;
    let c = &space.cluster;
    // Any depth up to one layer per stage: an uneven split puts the shortfall on the
    // first and last stages, as simulate does (DeepSeek-V3: 61 layers on 16 stages).
    let split = |stages: u64| stages <= m.layers;
    Ok(Axes {
        tp: axis(space, "tp", || divisors(m.heads).into_iter().filter(|t| *t <= c.nvlink_domain && c.gpus % t == 0).collect())?,
        pp: axis(space, "pp", || divisors(c.gpus).into_iter().filter(|p| split(*p)).collect())?,
        vpp: axis(space, "vpp", || (1..=m.layers).filter(|v| a_split_exists(m.layers, *v)).collect())?,
        cp: axis(space, "cp", || [1, 2, 4, 8, 16].into_iter().filter(|cp| m.seq_len % (2 * cp) == 0 || *cp == 1).collect())?,
        ep: axis(space, "ep", || if m.is_moe() { divisors(m.moe.experts) } else { vec![1] })?,
        // MoE parallel folding: experts at the attention's TP, or without TP (EP then
        // spans the TP ranks).
        etp: match space.parallel.keys.get("etp") {
            None | Some(Values::Auto) => {
                if m.is_moe() {
                    vec![None, Some(1)]
                } else {
                    vec![None]
                }
            }
            Some(_) => axis::<u64>(space, "etp", Vec::new)?.into_iter().map(Some).collect(),
        },
        zero: axis(space, "zero", || vec![0, 1, 2, 3])?,
        sp: axis(space, "sequence_parallel", || vec![true, false])?,
        recompute: axis(space, "recompute", || Recompute::ALL.to_vec())?,
        micro_batch: axis(space, "micro_batch", || vec![1, 2, 4, 8, 16])?,
        edges: {
            let auto = |k: &str| matches!(space.parallel.keys.get(k), Some(Values::Auto));
            if auto("first_stage_layers") || auto("last_stage_layers") {
                Edges::Auto
            } else {
                let one = |k: &str| -> Result<Option<u64>> {
                    match space.parallel.keys.get(k) {
                        Some(Values::List(items)) if items.len() == 1 => {
                            items[0].clone().try_into::<u64>().map(Some).map_err(|e| Error::invalid(format!("parallel.{k}"), &items[0], e.to_string().trim_end().to_string()))
                        }
                        Some(_) => Err(Error::invalid(format!("parallel.{k}"), "a list", "give one value, or \"auto\" to search the balanced lighter edges")),
                        None => Ok(None),
                    }
                };
                Edges::Fixed(one("first_stage_layers")?, one("last_stage_layers")?)
            }
        },
        order: match space.parallel.keys.get("order") {
            None => vec![None],
            Some(Values::Auto) => vec![Some(crate::scenario::RankOrder::DpInner), Some(crate::scenario::RankOrder::PpInner)],
            Some(Values::List(items)) => items
                .iter()
                .map(|v| {
                    v.clone()
                        .try_into::<crate::scenario::RankOrder>()
                        .map(Some)
                        .map_err(|e| Error::invalid("parallel.order", v, e.to_string().trim_end().to_string()))
                })
                .collect::<Result<_>>()?,
        },
        schedule: match space.parallel.keys.get("schedule") {
            None | Some(Values::Auto) => vec![None, Some(Schedule::ZeroBubble), Some(Schedule::Dualpipe)],
            Some(Values::List(items)) => items
                .iter()
                .map(|v| {
                    v.clone()
                        .try_into::<Schedule>()
                        .map(Some)
                        .map_err(|e| Error::invalid("parallel.schedule", v, e.to_string().trim_end().to_string()))
                })
                .collect::<Result<_>>()?,
        },
    })
}

/// The keys the search enumerates (`Axes`); every other `[parallel]` key is fixed.
const ENUMERATED: [&str; 14] = [
    "tp", "pp", "vpp", "cp", "ep", "etp", "zero", "sequence_parallel", "recompute", "micro_batch", "schedule", "order", "first_stage_layers", "last_stage_layers",
];

/// Fixed keys of the space (one value, not part of the enumeration).
fn fixed_choice(space: &ScenarioSpace) -> Result<ParallelChoice> {
    let mut t = toml::Table::new();
    for key in crate::scenario::PARALLEL_KEYS.iter().filter(|k| !ENUMERATED.contains(k)) {
        match space.parallel.keys.get(key) {
            Some(Values::List(items)) if items.len() == 1 => {
                t.insert(key.to_string(), items[0].clone());
            }
            Some(Values::List(_)) | Some(Values::Auto) => {
                return Err(Error::invalid(format!("parallel.{key}"), "a list or \"auto\"", "search enumerates the layout keys; give this key one value"))
            }
            None => {}
        }
    }
    toml::Value::Table(t)
        .try_into::<ParallelChoice>()
        .map_err(|e| Error::Parse { path: "[parallel]".into(), message: e.to_string().trim_end().to_string() })
}

/// Runs the search; `progress` is called with (done, total) now and then.
pub fn search(space: &ScenarioSpace, top_n: usize, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<SearchResult> {
    search_with(space, top_n, progress, false)
}

/// How layouts are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// By predicted throughput.
    Predicted,
    /// By the lower edge of the prediction's band: layouts outside what validation
    /// covers pay for it (`validate::bands`).
    Robust,
}

/// [`search`] with a choice of ranking; every ranked layout carries its band and flags.
pub fn search_ranked(space: &ScenarioSpace, top_n: usize, progress: &(dyn Fn(u64, u64) + Sync), ranking: Ranking) -> Result<SearchResult> {
    let keep = if ranking == Ranking::Robust { usize::MAX } else { top_n };
    let mut result = search_with(space, keep, progress, false)?;
    for r in &mut result.top {
        let s = r.scenario(space);
        r.flags = crate::validate::bands::flags(&s, &r.report);
        r.band = Some(crate::validate::bands::band(&s, &r.report, !r.flags.is_empty()));
    }
    if ranking == Ranking::Robust {
        // Lower edges equal to rounding (capped at the same best published MFU) tie.
        let low = |r: &Ranked| r.band.as_ref().map_or(0.0, |b| (b.low_tokens_per_s_per_gpu * 1e6).round());
        result.top.sort_by(|a, b| {
            low(b).total_cmp(&low(a)).then_with(|| b.tokens_per_s_per_gpu.total_cmp(&a.tokens_per_s_per_gpu)).then_with(|| a.memory_total_bytes.total_cmp(&b.memory_total_bytes))
        });
        result.top.truncate(top_n.max(1));
    }
    Ok(result)
}

/// The search, optionally dropping layouts whose batch exceeds
/// `training.max_global_batch_tokens` (what `scale` needs).
pub fn search_with(space: &ScenarioSpace, top_n: usize, progress: &(dyn Fn(u64, u64) + Sync), batch_ceiling: bool) -> Result<SearchResult> {
    let a = axes(space)?;
    let base = fixed_choice(space)?;
    // Every combination of the layout axes; dp follows from the rest.
    let mut combos = Vec::new();
    for &tp in &a.tp {
        for &pp in &a.pp {
            for &vpp in &a.vpp {
                if pp == 1 && vpp > 1 {
                    continue;
                }
                for &cp in &a.cp {
                    for (&ep, &etp) in a.ep.iter().flat_map(|ep| a.etp.iter().map(move |etp| (ep, etp))) {
                        if etp == Some(tp) && a.etp.contains(&None) {
                            continue; // the default already is etp = tp
                        }
                        for &zero in &a.zero {
                            for &sp in &a.sp {
                                if tp == 1 && !sp && a.sp.len() > 1 {
                                    continue; // SP is meaningless without TP: one of the two suffices
                                }
                                for &recompute in &a.recompute {
                                    for &mb in &a.micro_batch {
                                        for &schedule in &a.schedule {
                                            // Without a pipeline every schedule is the same.
                                            if pp == 1 && schedule.is_some() && a.schedule.len() > 1 && schedule != a.schedule[0] {
                                                continue;
                                            }
                                            let edges = match a.edges {
                                                Edges::Fixed(f, l) => vec![(f, l)],
                                                Edges::Auto => edge_options(space.model.layers, pp, vpp),
                                            };
                                            for edge in edges {
                                                for &capacity in &space.moe_capacity_factors {
                                                    for &order in &a.order {
                                                        combos.push((tp, pp, vpp, cp, ep, etp, zero, sp, recompute, mb, schedule, edge, capacity, order));
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let total = combos.len() as u64;
    let fabric = parallel::fabric(&space.cluster);
    let done = AtomicU64::new(0);
    let outcomes: Vec<std::result::Result<Ranked, String>> = combos
        .par_iter()
        .map(|&(tp, pp, vpp, cp, ep, etp, zero, sp, recompute, mb, schedule, (first, last), capacity, order)| {
            let mut choice = base.clone();
            if order.is_some() {
                choice.order = order;
            }
            choice.first_stage_layers = first;
            choice.last_stage_layers = last;
            choice.tp = Some(tp);
            choice.pp = Some(pp);
            choice.vpp = Some(vpp);
            choice.cp = Some(cp);
            choice.ep = Some(ep);
            choice.etp = etp;
            choice.zero = Some(zero);
            choice.sequence_parallel = Some(sp);
            choice.recompute = Some(recompute);
            // A fixed `recompute_layers` applies to the full-recomputation candidates.
            if recompute != crate::scenario::Recompute::Full {
                choice.recompute_layers = None;
            }
            choice.micro_batch = Some(mb);
            choice.schedule = schedule;
            let n = done.fetch_add(1, Ordering::Relaxed);
            if n % 4096 == 0 {
                progress(n, total);
            }
            let p = ParallelConfig::resolve(choice, &space.model, &space.cluster, &space.training)
                .map_err(|e| match e {
                    Error::Invalid { key, .. } | Error::Missing { key, .. } => key,
                    other => other.to_string(),
                })?;
            if batch_ceiling && (p.global_batch * space.model.seq_len) as f64 > space.training.max_global_batch_tokens {
                return Err("training.max_global_batch_tokens".to_string());
            }
            let listed = space.moe_capacity_factors.len() > 1;
            let s = if listed { space.scenario_with_capacity(p, capacity) } else { space.scenario(p) };
            let r = step::evaluate(&s, &fabric);
            if !r.memory.fits {
                return Err("memory".to_string());
            }
            Ok(Ranked {
                parallel: s.parallel.clone(),
                step_time_s: r.step_time_s,
                tokens_per_s_per_gpu: r.tokens_per_s_per_gpu,
                mfu: r.mfu,
                memory_total_bytes: r.memory.total_bytes,
                event_step_time_s: None,
                band: None,
                flags: Vec::new(),
                moe_capacity_factor: listed.then_some(capacity),
                report: r,
            })
        })
        .collect();
    progress(total, total);
    let mut removed: BTreeMap<String, u64> = BTreeMap::new();
    let mut feasible: Vec<Ranked> = Vec::new();
    let mut evaluated = 0;
    for o in outcomes {
        match o {
            Ok(r) => {
                evaluated += 1;
                feasible.push(r);
            }
            Err(key) => {
                if key == "memory" {
                    evaluated += 1;
                }
                *removed.entry(key).or_default() += 1;
            }
        }
    }
    if feasible.is_empty() {
        let (key, n) = removed.iter().max_by_key(|(_, n)| **n).map(|(k, n)| (k.clone(), *n)).unwrap_or_default();
        let why = if key == "memory" {
            "no valid layout fits in GPU memory (try recompute, ZeRO, more GPUs, or a GPU with more HBM)".to_string()
        } else {
            format!("{key} removed {n} of {total} candidates; widen it or the keys it must divide")
        };
        return Err(Error::invalid("[parallel]", format!("{total} candidate layouts"), format!("nothing left to rank: {why}")));
    }
    // Layouts with room for the allocator's cache first (the others run with allocator
    // retries, at a cost no model prices), then highest throughput; ties go to the
    // smaller memory, then the layout's text, so the order is fixed.
    feasible.sort_by(|a, b| {
        b.report
            .memory
            .allocator_headroom
            .cmp(&a.report.memory.allocator_headroom)
            .then_with(|| b.tokens_per_s_per_gpu.total_cmp(&a.tokens_per_s_per_gpu))
            .then_with(|| a.memory_total_bytes.total_cmp(&b.memory_total_bytes))
            .then_with(|| format!("{:?}", a.parallel).cmp(&format!("{:?}", b.parallel)))
    });
    let feasible_count = feasible.len() as u64;
    let landscape = feasible.iter().map(|r| (r.memory_total_bytes, r.tokens_per_s_per_gpu)).collect();
    feasible.truncate(top_n.max(1));
    Ok(SearchResult { evaluated, feasible: feasible_count, candidates: total, removed, top: feasible, landscape })
}


/// The layouts no other beats on both counts (less memory and more tokens/s per GPU),
/// from (memory, tokens/s) pairs, by memory: the trade-off a planner picks from.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f64, f64)> = points.iter().copied().filter(|(m, t)| m.is_finite() && t.is_finite()).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|last| p.1 > last.1) {
            front.push(p);
        }
    }
    front
}

/// Re-evaluates the ranked layouts with the event fidelity (contention and real overlap)
/// and re-ranks them by its step time where it can run them; the analytic figures stay.
pub fn refine_with_event(space: &ScenarioSpace, result: &mut SearchResult) {
    for r in &mut result.top {
        let s = r.scenario(space);
        r.event_step_time_s = step::event::simulate_event(&s).ok().map(|e| e.report.step_time_s);
    }
    let key = |r: &Ranked| r.event_step_time_s.unwrap_or(r.step_time_s) / r.report.tokens_per_step;
    result.top.sort_by(|a, b| key(a).total_cmp(&key(b)).then_with(|| a.memory_total_bytes.total_cmp(&b.memory_total_bytes)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Llama 3 405B's 126 layers on 16 ranks: the even split, 8 per middle rank with
    /// 7 on each edge, and 9 per middle rank with the edges holding only the embedding
    /// and the loss (Megatron's "Et|(tttttttt|)…L"-style layouts).
    #[test]
    fn edge_options_lighten_the_first_and_last_ranks() {
        let o = edge_options(126, 16, 1);
        assert_eq!(o[0], (None, None));
        assert!(o.contains(&(Some(7), Some(7))) && o.contains(&(Some(0), Some(0))), "{o:?}");
        for &(f, l) in &o[1..] {
            let (f, l) = (f.unwrap(), l.unwrap());
            assert_eq!((126 - f - l) % 14, 0);
            assert!(f <= (126 - f - l) / 14 && l <= (126 - f - l) / 14);
        }
        assert_eq!(edge_options(32, 2, 1), vec![(None, None)]);
    }

    /// `parallel.order = "auto"` tries both rank orders: on two sites joined by thin
    /// links, the best layout puts PP (not DP) across them.
    #[test]
    fn rank_order_is_searched_across_sites() {
        let text = include_str!("../../../examples/search-llama3-405b-16k.toml");
        let sets: Vec<String> = ["cluster.sites=2", "cluster.inter_site.gbps=3200", "parallel.order=\"auto\"", "parallel.tp=8", "parallel.cp=1", "parallel.zero=1", "parallel.micro_batch=1", "parallel.recompute=\"none\""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let run = |order: &str| {
            let mut sets = sets.clone();
            sets[2] = format!("parallel.order={order}");
            let space = crate::scenario::parse_space(text, Path::new("s.toml"), &sets).unwrap();
            search(&space, 5, &|_, _| {}).unwrap()
        };
        let (auto, dp_across) = (run("\"auto\""), run("\"tp-cp-pp-dp\""));
        let best = &auto.top[0];
        assert_eq!(best.parallel.order, crate::scenario::RankOrder::DpInner, "{:?}", best.parallel);
        assert!(best.step_time_s / best.report.tokens_per_step < dp_across.top[0].step_time_s / dp_across.top[0].report.tokens_per_step);
        assert_eq!(auto.evaluated, 2 * dp_across.evaluated);
    }

    /// A listed capacity factor is a search axis: each layout at each capacity, the
    /// capacity it ran at reported; simulate refuses the list.
    #[test]
    fn capacity_factors_are_ranked_when_listed() {
        let text = r#"
[model]
preset = "mixtral-8x7b"
seq_len = 4096
[cluster]
gpu = "h100-sxm"
gpus = 64
[parallel]
tp = 1
pp = 2
ep = 8
global_batch = 256
recompute = "selective"
micro_batch = 1
[training]
moe_load_imbalance = 0.3
moe_capacity_factor = [1.0, 1.25, "dropless"]
"#;
        let space = crate::scenario::parse_space(text, Path::new("t.toml"), &[]).unwrap();
        assert_eq!(space.moe_capacity_factors, vec![Some(1.0), Some(1.25), None]);
        let r = search(&space, usize::MAX, &|_, _| {}).unwrap();
        let seen: Vec<Option<Option<f64>>> = r.top.iter().map(|t| t.moe_capacity_factor).collect();
        assert!(seen.contains(&Some(Some(1.0))) && seen.contains(&Some(None)), "{seen:?}");
        assert_eq!(seen[0], Some(Some(1.0)), "the tightest capacity drops the most and runs fastest");
        // With an imbalance, dropping the busiest rank's excess is faster than dropless.
        let best = |c: Option<f64>| r.top.iter().find(|t| t.moe_capacity_factor == Some(c)).unwrap().tokens_per_s_per_gpu;
        assert!(best(Some(1.0)) > best(None));
        // The ranked layout's scenario carries its capacity.
        let t = r.top.iter().find(|t| t.moe_capacity_factor == Some(Some(1.25))).unwrap();
        assert_eq!(t.scenario(&space).training.moe_capacity_factor, Some(1.25));
        let e = crate::scenario::parse(text, Path::new("t.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("training.moe_capacity_factor") && e.contains("wanka search"), "{e}");
    }

    #[test]
    fn the_front_keeps_only_undominated_layouts() {
        let pts = [(10.0, 100.0), (20.0, 90.0), (20.0, 150.0), (30.0, 140.0), (40.0, 200.0), (5.0, 50.0)];
        assert_eq!(pareto_front(&pts), vec![(5.0, 50.0), (10.0, 100.0), (20.0, 150.0), (40.0, 200.0)]);
    }

    fn space(extra: &[&str]) -> ScenarioSpace {
        let text = r#"
[model]
preset = "llama3-8b"
[cluster]
gpu = "h100-sxm"
gpus = 64
[parallel]
global_batch = 256
"#;
        let sets: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        crate::scenario::parse_space(text, Path::new("t.toml"), &sets).unwrap()
    }

    /// Issue 12: search never shows a layout above the best MFU published on its GPU
    /// without saying so, on the trillion-parameter A100 example (recompute, SP, ZeRO and
    /// micro-batch free) and the Llama 3 405B 16k search space.
    #[test]
    fn layouts_above_published_mfu_are_flagged() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let free = ["parallel.recompute=\"auto\"", "parallel.sequence_parallel=\"auto\"", "parallel.zero=\"auto\"", "parallel.micro_batch=[1, 2]"];
        for (file, sets) in [("megatron-1t-3072.toml", &free[..]), ("search-llama3-405b-16k.toml", &[][..])] {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            let space = crate::scenario::load_space(&dir.join(file), &sets).unwrap();
            let result = search_ranked(&space, 20, &|_, _| {}, Ranking::Predicted).unwrap();
            let (best, _) = crate::validate::bands::best_published_mfu(&space.cluster.gpu.id).unwrap();
            for r in &result.top {
                assert!(r.band.is_some(), "{file}: every ranked layout has a band");
                if r.mfu > best {
                    assert!(r.flags.iter().any(|f| f.contains("above the best published")), "{file}: {:?} at MFU {:.3} > {best:.3} unflagged", r.parallel, r.mfu);
                }
            }
        }
    }

    #[test]
    fn search_ranks_and_respects_fixed_keys() {
        let r = search(&space(&["parallel.tp=[1, 2]", "parallel.recompute=\"none\""]), 5, &|_, _| {}).unwrap();
        assert!(r.feasible > 0 && r.evaluated >= r.feasible);
        assert!(r.top.windows(2).all(|w| w[0].tokens_per_s_per_gpu >= w[1].tokens_per_s_per_gpu));
        assert!(r.top.iter().all(|t| t.parallel.tp <= 2 && t.parallel.recompute == Recompute::None));
        // The winner beats (or ties) a plain layout evaluated on its own.
        let plain = space(&["parallel.tp=1", "parallel.pp=1", "parallel.cp=1", "parallel.zero=1", "parallel.micro_batch=1", "parallel.recompute=\"none\"", "parallel.sequence_parallel=false", "parallel.vpp=1", "parallel.schedule=\"1f1b\""]);
        let one = step::simulate(&plain.into_single().unwrap());
        assert!(r.top[0].tokens_per_s_per_gpu >= one.tokens_per_s_per_gpu);
    }

    /// Issue 6: for each published row, search over the same model, cluster and batch
    /// finds a layout at least as fast as the published one. Slow (47 full searches):
    /// run with `cargo test --release -p wanka -- --ignored published_layouts`.
    #[test]
    #[ignore = "slow: 47 full searches"]
    fn search_matches_or_beats_published_layouts() {
        let mut misses = Vec::new();
        for v in crate::validate::throughput_rows() {
            let Ok((published, text, _)) = crate::validate::row_scenario(&v) else { continue };
            let text: String = text.lines().filter(|l| !l.starts_with("dp = ")).map(|l| format!("{l}\n")).collect();
            let auto: Vec<String> = ["tp", "pp", "vpp", "cp", "ep", "zero", "sequence_parallel", "recompute", "micro_batch", "schedule"]
                .iter()
                .map(|k| format!("parallel.{k}=\"auto\""))
                .collect();
            let space = crate::scenario::parse_space(&text, Path::new("row.toml"), &auto).unwrap();
            let own = step::simulate(&published);
            let found = search(&space, 1, &|_, _| {});
            let best = found.as_ref().map(|r| r.top[0].tokens_per_s_per_gpu).unwrap_or(0.0);
            if best + 1e-9 < own.tokens_per_s_per_gpu {
                misses.push(format!("{} (published layout fits: {})", v["id"], own.memory.fits));
            } else if let Ok(r) = &found {
                let b = &r.top[0];
                let q = &b.parallel;
                eprintln!(
                    "{}: published {:.0} tok/s/GPU{} -> best {:.0} (+{:.0}%): tp{} pp{} vpp{} cp{} ep{} zero{} sp{} {:?} mb{} {:?}; bubble {:.0}%→{:.0}%, comm {:.0}%→{:.0}%",
                    v["id"].as_str().unwrap_or(""),
                    own.tokens_per_s_per_gpu,
                    if own.memory.fits { "" } else { " (does not fit)" },
                    best,
                    100.0 * (best / own.tokens_per_s_per_gpu - 1.0),
                    q.tp, q.pp, q.vpp, q.cp, q.ep, q.zero, q.sequence_parallel, q.recompute, q.micro_batch, q.schedule,
                    100.0 * own.breakdown_s.bubble / own.step_time_s,
                    100.0 * b.report.breakdown_s.bubble / b.step_time_s,
                    100.0 * own.comm_fraction,
                    100.0 * b.report.comm_fraction
                );
            }
        }
        // Every miss is a published layout wanka's memory model says does not fit.
        assert!(misses.iter().all(|m| m.ends_with("fits: false)")), "{misses:#?}");
        eprintln!("rows where search cannot reach the published layout: {misses:#?}");
    }

    #[test]
    fn empty_space_says_which_constraint_removed_everything() {
        let e = search(&space(&["parallel.tp=[3, 5]"]), 5, &|_, _| {}).unwrap_err().to_string();
        assert!(e.contains("parallel.tp"), "{e}");
        let e = search(&space(&["cluster.gpu=\"a100-40g\"", "model.preset=\"llama3-70b\"", "parallel.tp=1", "parallel.pp=1", "parallel.zero=0"]), 5, &|_, _| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory"), "{e}");
    }
}
