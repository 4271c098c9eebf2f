//! Goodput: failures, checkpoints and restarts over a whole training run.
//!
//! - Failure model: independent Poisson processes, one per cause and unit (GPU, node or
//!   job), rates from `catalog/failures.toml` (the Llama 3 cause table), overridable
//!   in `[reliability]`.
//! - Recovery: detection, restart (grows with the job), checkpoint reload, optional
//!   repair when there are no hot spares; lost work since the last completed checkpoint.
//! - Checkpoints: size from the model and optimizer state, write time from storage
//!   bandwidth (per node and in total), blocking, asynchronous or to peers' memory.
//! - Analysis: Daly's optimal interval, Daly's exact expected ETTR for exponential
//!   failures (closed form), and a seeded Monte Carlo of the whole run.

use crate::calibration as cal;
pub use crate::catalog::failures::{default_causes, Cause, Unit};
use crate::scenario::{ReliabilityConfig, Scenario};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Rate of one cause on a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseRate {
    pub cause: String,
    pub category: String,
    pub per_day: f64,
    pub share: f64,
}

/// p10 / p50 / p90 of a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
}

/// `wanka goodput --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoodputReport {
    pub gpus: u64,
    pub mean_time_between_interruptions_s: f64,
    pub interruptions_per_day: f64,
    pub checkpoint_bytes: f64,
    /// Time to write one checkpoint to storage (or peers).
    pub checkpoint_write_s: f64,
    /// Time training stops for each checkpoint (the write when blocking, the GPU→host
    /// copy when asynchronous).
    pub checkpoint_blocking_s: f64,
    /// Useful training time between two checkpoints.
    pub checkpoint_interval_s: f64,
    /// Time from a failure to training again: detection, restart, reload (mean over causes).
    pub restart_s: f64,
    /// Expected ETTR, closed form.
    pub ettr: f64,
    /// ETTR of the Monte Carlo (useful time / mean wall time).
    pub ettr_monte_carlo: f64,
    /// Useful (failure-free) training time for `training.tokens`.
    pub useful_time_s: f64,
    pub time_to_train_s: Percentiles,
    pub interruptions: Percentiles,
    pub monte_carlo_runs: u64,
    /// The Monte Carlo's time-to-train in 30 bins.
    pub time_to_train_histogram: Vec<Bin>,
    /// Daly's optimal useful time between checkpoints (Daly 2006, eq. 37).
    pub daly_interval_s: f64,
    /// Expected ETTR (closed form) against the useful time between checkpoints, from a
    /// sixteenth to 16 times the interval used, 33 points: the cost of checkpointing too
    /// often or too rarely.
    pub ettr_by_checkpoint_interval: Vec<(f64, f64)>,
    pub by_cause: Vec<CauseRate>,
}

/// Failure rates of the job, per cause, per second.
pub fn cause_rates(s: &Scenario) -> Vec<CauseRate> {
    let r = &s.reliability;
    let gpus = s.cluster.gpus as f64;
    let nodes = (s.cluster.gpus as f64 / s.cluster.gpus_per_node as f64).ceil();
    // The switches as the bill of materials counts them (a single ideal switch: one).
    let switches = wanka_net::Inventory::of(&crate::parallel::fabric_spec(&s.cluster)).map_or(1, |i| i.switches()) as f64;
    let per_day: Vec<(String, String, f64)> = r
        .causes
        .iter()
        .map(|c| {
            let units = match c.unit {
                Unit::Gpu => gpus,
                Unit::Node => nodes,
                Unit::Switch => switches,
                Unit::Job => 1.0,
            };
            (c.name.clone(), c.category.clone(), c.per_unit_per_day * units * r.scale)
        })
        .collect();
    let total: f64 = per_day.iter().map(|x| x.2).sum();
    per_day
        .into_iter()
        .map(|(cause, category, d)| CauseRate { cause, category, per_day: d, share: if total > 0.0 { d / total } else { 0.0 } })
        .collect()
}

/// Checkpoint costs of a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckpointCost {
    pub bytes: f64,
    /// Time until the checkpoint is safe (written to storage or to peers).
    pub write_s: f64,
    /// Time training stops for it.
    pub blocking_s: f64,
    /// Time to load it back after a failure.
    pub reload_s: f64,
}

pub fn checkpoint_cost(s: &Scenario) -> CheckpointCost {
    let r = &s.reliability;
    let bytes = r.checkpoint_bytes.unwrap_or_else(|| s.model.params().total * cal::CHECKPOINT_BYTES_PER_PARAM);
    let gpus = s.cluster.gpus as f64;
    let nodes = (gpus / s.cluster.gpus_per_node as f64).ceil();
    let storage = (nodes * r.storage_bytes_per_s_per_node).min(r.storage_bytes_per_s);
    let storage_s = bytes / storage;
    if r.in_memory_checkpoint {
        // Each GPU copies its shard to a peer node's host memory over its NIC
        // (Gemini, Wang et al. SOSP'23); a restart reads it back the same way.
        let nic = s.cluster.nic_gbps * 1e9 / 8.0 * cal::NIC_EFFICIENCY;
        let peer_s = bytes / gpus / nic;
        let host_s = bytes / gpus / r.host_copy_bytes_per_s;
        return CheckpointCost { bytes, write_s: peer_s + host_s, blocking_s: host_s, reload_s: peer_s };
    }
    if r.async_checkpoint {
        let host_s = bytes / gpus / r.host_copy_bytes_per_s;
        CheckpointCost { bytes, write_s: host_s + storage_s, blocking_s: host_s, reload_s: storage_s }
    } else {
        CheckpointCost { bytes, write_s: storage_s, blocking_s: storage_s, reload_s: storage_s }
    }
}

/// Time from a failure to training again, for one cause.
fn recovery_s(s: &Scenario, ckpt: &CheckpointCost, unit: Unit) -> f64 {
    let r = &s.reliability;
    let repair = if !r.hot_spares && unit != Unit::Job { r.repair_s } else { 0.0 };
    r.detection_s + r.restart_s + r.restart_per_gpu_s * s.cluster.gpus as f64 + ckpt.reload_s + repair
}

/// Daly's expected wall time of one segment of `tau` useful seconds with checkpoint cost
/// `delta`, restart `restart` and failure rate `lambda` (Daly 2006, eq. 12; exact for
/// exponential failures, failures during restart included).
pub fn daly_segment_s(tau: f64, delta: f64, restart: f64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return tau + delta;
    }
    (lambda * restart).exp() * ((lambda * (tau + delta)).exp_m1()) / lambda
}

/// Daly's optimal useful time between checkpoints (Daly 2006, eq. 37), for checkpoint
/// cost `delta` and mean time between interruptions `mtbi`.
pub fn daly_interval_s(delta: f64, mtbi: f64) -> f64 {
    if delta >= 2.0 * mtbi {
        return mtbi;
    }
    let x = delta / (2.0 * mtbi);
    (2.0 * delta * mtbi).sqrt() * (1.0 + x.sqrt() / 3.0 + x / 9.0) - delta
}

/// The rollback an asynchronous checkpoint adds: a failure before the write completes
/// loses that checkpoint too; on average the write time.
fn extra_rollback_s(r: &ReliabilityConfig, ckpt: &CheckpointCost) -> f64 {
    if r.async_checkpoint || r.in_memory_checkpoint {
        ckpt.write_s - ckpt.blocking_s
    } else {
        0.0
    }
}

/// Everything `wanka goodput` reports; `tokens_per_s` comes from the step model.
pub fn goodput(s: &Scenario, tokens_per_s: f64) -> GoodputReport {
    let r = &s.reliability;
    let by_cause = cause_rates(s);
    let per_day: f64 = by_cause.iter().map(|c| c.per_day).sum();
    let lambda = per_day / 86_400.0;
    let mtbi = if lambda > 0.0 { 1.0 / lambda } else { f64::INFINITY };
    let ckpt = checkpoint_cost(s);
    // Mean recovery weighted by cause rates.
    let recoveries: Vec<f64> = r.causes.iter().map(|c| recovery_s(s, &ckpt, c.unit)).collect();
    let restart = if per_day > 0.0 {
        by_cause.iter().zip(&recoveries).map(|(c, rec)| c.share * rec).sum()
    } else {
        recoveries.first().copied().unwrap_or(0.0)
    };
    let rollback = extra_rollback_s(r, &ckpt);
    let min_interval = (ckpt.write_s - ckpt.blocking_s).max(1.0);
    let interval = r
        .checkpoint_interval_s
        .unwrap_or_else(|| if mtbi.is_finite() { daly_interval_s(ckpt.blocking_s, mtbi) } else { 86_400.0 })
        .max(min_interval);
    let ettr_at = |tau: f64| tau / daly_segment_s(tau, ckpt.blocking_s, restart + rollback, lambda);
    let ettr = ettr_at(interval);
    let daly = if mtbi.is_finite() { daly_interval_s(ckpt.blocking_s, mtbi).max(min_interval) } else { interval };
    let ettr_by_checkpoint_interval = (0..=32).map(|i| interval * 2f64.powf(i as f64 / 4.0 - 4.0)).filter(|t| *t >= min_interval).map(|t| (t, ettr_at(t))).collect();
    let useful_time_s = s.training.tokens / tokens_per_s;
    let mc = monte_carlo(
        &MonteCarloInput {
            useful_s: useful_time_s,
            interval_s: interval,
            blocking_s: ckpt.blocking_s,
            write_behind_s: rollback,
            lambda,
            cause_weights: by_cause.iter().map(|c| c.share).collect(),
            recovery_s: recoveries,
        },
        r.monte_carlo_runs,
        s.seed,
    );
    GoodputReport {
        gpus: s.cluster.gpus,
        mean_time_between_interruptions_s: mtbi,
        interruptions_per_day: per_day,
        checkpoint_bytes: ckpt.bytes,
        checkpoint_write_s: ckpt.write_s,
        checkpoint_blocking_s: ckpt.blocking_s,
        checkpoint_interval_s: interval,
        restart_s: restart,
        ettr,
        ettr_monte_carlo: useful_time_s / mc.mean_wall_s,
        useful_time_s,
        time_to_train_s: mc.wall_s,
        interruptions: mc.interruptions,
        monte_carlo_runs: mc.runs,
        time_to_train_histogram: mc.wall_histogram,
        daly_interval_s: daly,
        ettr_by_checkpoint_interval,
        by_cause,
    }
}

/// What the Monte Carlo needs, in plain numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarloInput {
    /// Failure-free training time to reach the token budget.
    pub useful_s: f64,
    /// Useful time between checkpoints.
    pub interval_s: f64,
    /// Stop per checkpoint.
    pub blocking_s: f64,
    /// Time after a checkpoint's stop until it is safe (asynchronous write).
    pub write_behind_s: f64,
    /// Total failure rate per second.
    pub lambda: f64,
    /// Probability that a failure has each cause.
    pub cause_weights: Vec<f64>,
    /// Recovery time of each cause.
    pub recovery_s: Vec<f64>,
}

/// One bin of a histogram: `count` values in `[low, high)` (the last bin includes its
/// high edge).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    pub low: f64,
    pub high: f64,
    pub count: u64,
}

/// `values` counted in `bins` equal bins from their minimum to their maximum (none for
/// no finite values; one bin when all are equal).
pub fn histogram(values: &[f64], bins: usize) -> Vec<Bin> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (Some(lo), Some(hi)) = (finite.iter().copied().reduce(f64::min), finite.iter().copied().reduce(f64::max)) else {
        return Vec::new();
    };
    if hi <= lo || bins <= 1 {
        return vec![Bin { low: lo, high: hi, count: finite.len() as u64 }];
    }
    let width = (hi - lo) / bins as f64;
    let mut out: Vec<Bin> = (0..bins).map(|i| Bin { low: lo + i as f64 * width, high: lo + (i + 1) as f64 * width, count: 0 }).collect();
    for v in finite {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        out[i].count += 1;
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarloResult {
    /// Time-to-train of the runs in 30 bins (what a report draws).
    pub wall_histogram: Vec<Bin>,
    pub wall_s: Percentiles,
    pub interruptions: Percentiles,
    pub mean_wall_s: f64,
    /// Runs simulated (fewer than asked when each run is very long; 0 when none can finish).
    pub runs: u64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i]
    };
    Percentiles { p10: at(0.1), p50: at(0.5), p90: at(0.9) }
}

/// Above this expected number of failures per recovery-plus-segment, a run essentially
/// never completes a segment (success probability e^-20 ≈ 2e-9 per try).
const MAX_LAMBDA_T: f64 = 20.0;
/// Failures the Monte Carlo simulates at most over all its runs.
const FAILURE_BUDGET: f64 = 2e7;
/// Runs kept however expensive each is.
const MIN_RUNS: u64 = 20;

/// Seeded Monte Carlo of whole runs. It jumps from failure to failure: between two
/// failures, every checkpoint that completed is progress kept; the rest is lost.
pub fn monte_carlo(input: &MonteCarloInput, runs: u64, seed: u64) -> MonteCarloResult {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let period = input.interval_s + input.blocking_s;
    let mut walls = Vec::with_capacity(runs as usize);
    let mut counts = Vec::with_capacity(runs as usize);
    let cumulative: Vec<f64> = input
        .cause_weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    let exp = |rng: &mut ChaCha8Rng| -> f64 {
        if input.lambda <= 0.0 {
            f64::INFINITY
        } else {
            -(1.0 - rng.gen::<f64>()).ln() / input.lambda
        }
    };
    // A run that cannot finish (recovery much longer than the time between failures:
    // e^{λR} astronomically large) is reported as never finishing, not simulated.
    let worst_recovery = input.recovery_s.iter().cloned().fold(0.0, f64::max);
    if input.lambda * (worst_recovery + period) > MAX_LAMBDA_T {
        let never = Percentiles { p10: f64::INFINITY, p50: f64::INFINITY, p90: f64::INFINITY };
        return MonteCarloResult { wall_histogram: Vec::new(), wall_s: never, interruptions: never, mean_wall_s: f64::INFINITY, runs: 0 };
    }
    // Bound the work: expected failures per run ≈ segments × (e^{λ(R+T)} − 1). Runs
    // past the budget are dropped (at least MIN_RUNS kept) so hopeless regimes stay fast.
    let expected_failures = (input.useful_s / input.interval_s).ceil() * (input.lambda * (worst_recovery + period)).exp_m1();
    let runs = if expected_failures * runs as f64 > FAILURE_BUDGET {
        ((FAILURE_BUDGET / expected_failures.max(1.0)) as u64).clamp(MIN_RUNS.min(runs), runs)
    } else {
        runs
    };
    for _ in 0..runs {
        let mut t = 0.0;
        let mut progress = 0.0;
        let mut interruptions = 0u64;
        loop {
            let remaining = input.useful_s - progress;
            // Full segments then the tail; no checkpoint after the last piece of work.
            let mut full = (remaining / input.interval_s).floor();
            let mut tail = remaining - full * input.interval_s;
            if tail <= 0.0 && full > 0.0 {
                full -= 1.0;
                tail = input.interval_s;
            }
            let finish = full * period + tail;
            let x = exp(&mut rng);
            if x >= finish {
                t += finish;
                break;
            }
            // Checkpoints whose write completed before the failure are kept.
            let safe = ((x - input.write_behind_s) / period).floor().max(0.0).min(full);
            progress += safe * input.interval_s;
            t += x;
            interruptions += 1;
            // Recover; a failure during recovery starts it again.
            loop {
                let u: f64 = rng.gen::<f64>() * cumulative.last().copied().unwrap_or(1.0);
                let cause = cumulative.iter().position(|c| u < *c).unwrap_or(0);
                let recovery = input.recovery_s.get(cause).copied().unwrap_or(0.0);
                let y = exp(&mut rng);
                if y >= recovery {
                    t += recovery;
                    break;
                }
                t += y;
                interruptions += 1;
            }
        }
        walls.push(t);
        counts.push(interruptions as f64);
    }
    let mean_wall_s = walls.iter().sum::<f64>() / walls.len().max(1) as f64;
    let wall_histogram = histogram(&walls, 30);
    MonteCarloResult { wall_histogram, wall_s: percentiles(walls), interruptions: percentiles(counts), mean_wall_s, runs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_every_value_once() {
        let h = histogram(&[1.0, 2.0, 2.5, 4.0, f64::INFINITY], 3);
        assert_eq!(h.iter().map(|b| b.count).collect::<Vec<_>>(), vec![1, 2, 1]);
        assert_eq!((h[0].low, h[2].high), (1.0, 4.0));
        assert_eq!(histogram(&[3.0, 3.0], 10), vec![Bin { low: 3.0, high: 3.0, count: 2 }]);
        assert!(histogram(&[], 5).is_empty());
    }

    #[test]
    fn default_causes_reproduce_the_llama3_table() {
        let causes = default_causes();
        assert_eq!(causes.len(), 19);
        // On 16,384 GPUs / 2,048 nodes over 54 days the counts come back.
        let total: f64 = causes
            .iter()
            .map(|c| {
                let units = match c.unit {
                    Unit::Gpu => 16384.0,
                    Unit::Node => 2048.0,
                    Unit::Switch => unreachable!("no default cause scales per switch"),
                    Unit::Job => 1.0,
                };
                c.per_unit_per_day * units * 54.0
            })
            .sum();
        assert!((total - 466.0).abs() < 1e-6, "{total}");
    }

    /// Monte Carlo ETTR matches Daly's closed form within 1% (absolute) across a grid
    /// of failure rates and checkpoint costs (blocking checkpoints, one recovery time).
    #[test]
    fn monte_carlo_matches_closed_form() {
        for mtbi_h in [0.5, 2.0, 8.0, 48.0] {
            for delta in [5.0, 60.0, 600.0] {
                for restart in [60.0, 900.0] {
                    let mtbi = mtbi_h * 3600.0;
                    let lambda = 1.0 / mtbi;
                    let interval = daly_interval_s(delta, mtbi);
                    let closed = interval / daly_segment_s(interval, delta, restart, lambda);
                    let useful = 30.0 * 86_400.0;
                    let mc = monte_carlo(
                        &MonteCarloInput {
                            useful_s: useful,
                            interval_s: interval,
                            blocking_s: delta,
                            write_behind_s: 0.0,
                            lambda,
                            cause_weights: vec![1.0],
                            recovery_s: vec![restart],
                        },
                        100,
                        7,
                    );
                    let ettr = useful / mc.mean_wall_s;
                    assert!((ettr - closed).abs() < 0.01, "mtbi {mtbi_h} h, δ {delta}, R {restart}: MC {ettr:.4} vs closed {closed:.4}");
                }
            }
        }
    }

    #[test]
    fn no_failures_means_only_checkpoint_overhead() {
        let mc = monte_carlo(
            &MonteCarloInput {
                useful_s: 1000.0,
                interval_s: 100.0,
                blocking_s: 10.0,
                write_behind_s: 0.0,
                lambda: 0.0,
                cause_weights: vec![1.0],
                recovery_s: vec![0.0],
            },
            3,
            1,
        );
        // 9 checkpoints (none after the last segment) of 10 s.
        assert!((mc.mean_wall_s - 1090.0).abs() < 1e-9, "{}", mc.mean_wall_s);
        assert_eq!(mc.interruptions.p90, 0.0);
    }

    #[test]
    fn daly_interval_is_near_young_for_cheap_checkpoints() {
        let young = (2.0_f64 * 10.0 * 36000.0).sqrt();
        let daly = daly_interval_s(10.0, 36000.0);
        assert!((daly / young - 1.0).abs() < 0.02);
    }
}

/// One GPU count of a goodput sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    pub gpus: u64,
    pub interruptions_per_day: f64,
    pub mean_time_between_interruptions_s: f64,
    /// ETTR with the scenario's checkpointing as written.
    pub ettr: f64,
    pub ettr_blocking: f64,
    pub ettr_async: f64,
    pub ettr_in_memory: f64,
    /// In-memory checkpoints and a restart ten times faster.
    pub ettr_in_memory_fast_restart: f64,
    /// Monte Carlo median time-to-train with the scenario's checkpointing.
    pub time_to_train_p50_s: f64,
}

/// ETTR against GPU count, and what asynchronous or in-memory checkpoints and a faster
/// restart buy back. Throughput per GPU is held at the scenario's (the `scale` command
/// answers how it really changes).
pub fn sweep(s: &Scenario, tokens_per_s_per_gpu: f64, gpu_counts: &[u64]) -> Vec<SweepPoint> {
    sweep_with_progress(s, tokens_per_s_per_gpu, gpu_counts, &|_, _| {})
}

/// [`sweep`], telling `progress` (GPU counts done, of all) as each is simulated.
pub fn sweep_with_progress(s: &Scenario, tokens_per_s_per_gpu: f64, gpu_counts: &[u64], progress: &dyn Fn(u64, u64)) -> Vec<SweepPoint> {
    gpu_counts
        .iter()
        .enumerate()
        .map(|(done, &gpus)| {
            progress(done as u64, gpu_counts.len() as u64);
            let mut base = s.clone();
            base.cluster.gpus = gpus;
            let tokens_per_s = tokens_per_s_per_gpu * gpus as f64;
            let with = |f: &dyn Fn(&mut Scenario)| -> GoodputReport {
                let mut v = base.clone();
                f(&mut v);
                goodput(&v, tokens_per_s)
            };
            let written = with(&|_| {});
            let blocking = with(&|v| {
                v.reliability.async_checkpoint = false;
                v.reliability.in_memory_checkpoint = false;
            });
            let asynchronous = with(&|v| {
                v.reliability.async_checkpoint = true;
                v.reliability.in_memory_checkpoint = false;
            });
            let in_memory = with(&|v| v.reliability.in_memory_checkpoint = true);
            let fast = with(&|v| {
                v.reliability.in_memory_checkpoint = true;
                v.reliability.detection_s /= 10.0;
                v.reliability.restart_s /= 10.0;
                v.reliability.restart_per_gpu_s /= 10.0;
            });
            SweepPoint {
                gpus,
                interruptions_per_day: written.interruptions_per_day,
                mean_time_between_interruptions_s: written.mean_time_between_interruptions_s,
                ettr: written.ettr,
                ettr_blocking: blocking.ettr,
                ettr_async: asynchronous.ettr,
                ettr_in_memory: in_memory.ettr,
                ettr_in_memory_fast_restart: fast.ettr,
                time_to_train_p50_s: written.time_to_train_s.p50,
            }
        })
        .collect()
}
