//! `wanka scale`: for a model and token budget, what each GPU count buys. For every
//! count, search the best layout under the batch ceiling, then add failures (goodput),
//! time-to-train, GPU-hours, energy and cost.

use crate::error::Result;
use crate::reliability;
use crate::scenario::{ParallelConfig, ScenarioSpace, Values};
use crate::search;
use serde::Serialize;

/// One GPU count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalePoint {
    pub gpus: u64,
    pub parallel: ParallelConfig,
    /// Sequences per step.
    pub global_batch: u64,
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    /// Effective training time ratio from the goodput model (closed form).
    pub ettr: f64,
    /// Wall-clock time for `training.tokens`, failures included.
    pub time_to_train_s: f64,
    pub gpu_hours: f64,
    /// GPU board power × PUE over the run (CPUs, NICs and switches not counted).
    pub energy_mwh: f64,
    pub cost_usd: f64,
    /// Time-to-train of the first point over this one's.
    pub speedup: f64,
    /// Speedup over the GPU-count ratio.
    pub scaling_efficiency: f64,
    /// Fractions of the step: pipeline bubble, exposed communication.
    pub bubble_fraction: f64,
    pub comm_fraction: f64,
}

/// The sweep, and the first GPU count past which a doubling buys less than 1.5×.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleResult {
    pub points: Vec<ScalePoint>,
    pub knee_gpus: Option<u64>,
}

/// The best layout for a space's model and cluster, every layout key of `[parallel]`
/// searched afresh (the file's layout is one candidate among all); the overlap switches
/// stay as written, and `order` too on one site (across sites both orders are tried); `dp` and `global_batch` follow from the layout and
/// the batch ceiling. What `scale` does at each GPU count and a sweep at each point.
pub fn best_layout(space: &ScenarioSpace) -> Result<(crate::scenario::Scenario, search::Ranked)> {
    let (sp, mut found) = best_layouts(space, 1)?;
    let best = found.top.swap_remove(0);
    Ok((best.scenario(&sp), best))
}

/// The `top_n` best layouts [`best_layout`] chooses among (at least one), with the space
/// they were searched in (every layout key "auto").
pub fn best_layouts(space: &ScenarioSpace, top_n: usize) -> Result<(ScenarioSpace, search::SearchResult)> {
    let mut sp = space.clone();
    sp.parallel.keys.remove("dp");
    sp.parallel.keys.remove("global_batch");
    for key in ["tp", "pp", "vpp", "cp", "ep", "zero", "sequence_parallel", "recompute", "micro_batch", "schedule"] {
        sp.parallel.keys.insert(key, Values::Auto);
    }
    // Across sites the rank order decides what crosses between them (DP or PP): both
    // are tried.
    if sp.cluster.sites.is_some() {
        sp.parallel.keys.insert("order", Values::Auto);
    }
    let found = search::search_with(&sp, top_n, &|_, _| {}, true)?;
    if found.top.is_empty() {
        return Err(crate::error::Error::invalid("parallel", "auto", "no layout of this model fits this cluster"));
    }
    Ok((sp, found))
}

/// Runs the sweep. Every layout key of `[parallel]` is searched afresh at each GPU count
/// (the file's layout is one candidate among all); `order` and the overlap switches stay
/// as written; `dp` and `global_batch` follow from the layout and the batch ceiling.
pub fn scale(space: &ScenarioSpace, gpu_counts: &[u64]) -> Result<ScaleResult> {
    scale_with_progress(space, gpu_counts, &|_, _| {})
}

/// [`scale`], telling `progress` (GPU counts done, of all) as each count is searched.
pub fn scale_with_progress(space: &ScenarioSpace, gpu_counts: &[u64], progress: &dyn Fn(u64, u64)) -> Result<ScaleResult> {
    let mut points: Vec<ScalePoint> = Vec::new();
    for (done, &gpus) in gpu_counts.iter().enumerate() {
        progress(done as u64, gpu_counts.len() as u64);
        let mut sp = space.clone();
        sp.cluster.gpus = gpus;
        let (s, best) = best_layout(&sp)?;
        let best = &best;
        let r = &best.report;
        let g = reliability::goodput(&s, r.tokens_per_s);
        let ettr = g.ettr.max(1e-12);
        let time_to_train_s = g.useful_time_s / ettr;
        let gpu_hours = gpus as f64 * time_to_train_s / 3600.0;
        let energy_mwh = gpus as f64 * s.cluster.gpu.tdp_w * s.cluster.pue * time_to_train_s / 3600.0 / 1e6;
        let first = points.first().map(|p| (p.gpus as f64, p.time_to_train_s));
        let (n0, t0) = first.unwrap_or((gpus as f64, time_to_train_s));
        let speedup = t0 / time_to_train_s;
        points.push(ScalePoint {
            gpus,
            global_batch: best.parallel.global_batch,
            parallel: best.parallel.clone(),
            step_time_s: r.step_time_s,
            tokens_per_s: r.tokens_per_s,
            mfu: r.mfu,
            ettr: g.ettr,
            time_to_train_s,
            gpu_hours,
            energy_mwh,
            cost_usd: gpu_hours * s.training.gpu_hour_usd,
            speedup,
            scaling_efficiency: speedup / (gpus as f64 / n0),
            bubble_fraction: r.breakdown_s.bubble / r.step_time_s,
            comm_fraction: r.comm_fraction,
        });
    }
    let knee_gpus = knee(&points);
    Ok(ScaleResult { points, knee_gpus })
}

/// The knee of a GPU-count series (ascending): the first point whose doubling (or step)
/// gives less than 1.5× per 2× in time-to-train.
pub fn knee(points: &[ScalePoint]) -> Option<u64> {
    points.windows(2).find_map(|w| {
        let gain = w[0].time_to_train_s / w[1].time_to_train_s;
        let ratio = w[1].gpus as f64 / w[0].gpus as f64;
        (gain < ratio.powf(0.585)).then_some(w[0].gpus) // 2^0.585 = 1.5
    })
}

impl ScaleResult {
    /// Where more GPUs stop paying, and why, in a sentence.
    pub fn verdict(&self) -> String {
        let r = self;
        match r.knee_gpus.and_then(|k| r.points.iter().position(|p| p.gpus == k)) {
            Some(i) if i + 1 < r.points.len() => {
                let (a, b) = (&r.points[i], &r.points[i + 1]);
                let mut causes = Vec::new();
                if b.global_batch * 2 <= a.global_batch * (b.gpus / a.gpus.max(1)) {
                    causes.push(if b.global_batch <= a.global_batch {
                        format!("the batch is at its ceiling ({} sequences), so each pipeline gets fewer micro-batches", b.global_batch)
                    } else {
                        format!("the batch grows less than the GPUs ({} → {} sequences)", a.global_batch, b.global_batch)
                    });
                }
                if b.bubble_fraction > a.bubble_fraction + 0.02 {
                    causes.push(format!("pipeline bubble {:.0}% → {:.0}%", 100.0 * a.bubble_fraction, 100.0 * b.bubble_fraction));
                }
                if b.comm_fraction > a.comm_fraction + 0.02 {
                    causes.push(format!("exposed communication {:.0}% → {:.0}%", 100.0 * a.comm_fraction, 100.0 * b.comm_fraction));
                }
                if b.ettr < a.ettr - 0.01 {
                    causes.push(format!("failures: ETTR {:.0}% → {:.0}%", 100.0 * a.ettr, 100.0 * b.ettr));
                }
                if b.mfu < a.mfu - 0.02 {
                    causes.push(format!("MFU {:.0}% → {:.0}%", 100.0 * a.mfu, 100.0 * b.mfu));
                }
                format!(
                    "beyond {} GPUs more GPUs stop paying: {}× the GPUs train only {:.2}× faster ({}).",
                    a.gpus,
                    b.gpus / a.gpus.max(1),
                    a.time_to_train_s / b.time_to_train_s,
                    if causes.is_empty() { "smaller gains everywhere".to_string() } else { causes.join("; ") }
                )
            }
            _ => "every step up in GPUs still pays (each doubling buys at least 1.5×).".to_string(),
        }
    }
}
