//! Stragglers: a synchronous step waits for its slowest member.
//!
//! Every GPU of a training job meets the others at every TP collective, every pipeline
//! hand-off and the step's DP reduction, so the job computes at the pace of its slowest
//! GPU, and a host that pauses holds up everyone who waits for it. Two mechanisms, each
//! a closed form here (the analytic fidelity) and a seeded draw (the event fidelity):
//!
//! - **GPU speed spread.** Identical GPUs of one SKU run at different speeds under the
//!   same load (manufacturing variation and power management): Sinha et al., SC'22,
//!   "Not All GPUs Are Created Equal", measured "8% (max 22%) average performance
//!   variation" over >90% of the GPUs of five clusters (arXiv 2208.11035 v3, abstract).
//!   Speeds are modelled as normal with coefficient of variation `gpu_speed_cv`; the
//!   expected slowest of N is [`expected_max_std_normal`] standard deviations out.
//!   Optionally a fraction of whole nodes is persistently slower (MegaScale, NSDI'24
//!   §5.1/§6.3: ~0.5% of machines, ~10% slower forward computation, evicted once found),
//!   and a fraction of NIC links runs degraded (a what-if: no source gives a rate);
//!   every concurrent collective group then waits for the one crossing it.
//! - **Host pauses** (Python garbage collection and other CPU stalls; Lin et al., OSDI'25,
//!   "Understanding Stragglers in Large Model Training": synchronised "planned GC" gave
//!   +12.6% on a 128-rank job; torchtitan PR #148: +1.5% per iteration on 512 GPUs).
//!   A rank pausing stalls everyone who waits for it: unaligned pauses on N ranks cost a
//!   pause whenever any of them pauses in a step; aligned ones (Megatron's `--manual-gc`)
//!   cost one pause per interval.
//!
//! Not modelled: sequence-length imbalance (the validation runs pack fixed-length
//! sequences) and pipeline-stage imbalance, which the step model already costs rank by
//! rank (embedding, LM head, dense and MoE layers).

use serde::Serialize;

/// The straggler model of a cluster (`[cluster.variability]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Variability {
    /// Standard deviation of a GPU's compute speed over its mean, across GPUs.
    pub gpu_speed_cv: f64,
    /// Fraction of nodes that are persistently slow (0: the operator evicts them).
    pub slow_node_fraction: f64,
    /// How much slower a slow node computes (0.10 = 10% more time).
    pub slow_node_slowdown: f64,
    /// Fraction of GPUs whose NIC link runs degraded (0: none).
    pub slow_link_fraction: f64,
    /// A degraded link's rate over its line rate (0.5: half).
    pub slow_link_rate: f64,
    /// Length of one host pause on one rank, seconds (0: none).
    pub host_pause_s: f64,
    /// Each rank pauses once every this many steps on average.
    pub host_pause_every_steps: f64,
    /// All ranks pause at the same step (Megatron's `--manual-gc-interval`).
    pub host_pauses_aligned: bool,
}

/// Coefficient of variation of GPU compute speed. Sinha et al. (SC'22) report an average
/// variation of 8% per cluster across identical GPUs; read as the range (slowest to
/// fastest) of some 10⁴ GPUs, whose expected range is 2 × 3.9 standard deviations
/// ([`expected_max_std_normal`] of 16,384 is 3.96), that is σ ≈ 8% / 7.9 ≈ 1.0%. Derived
/// (the paper's box plots show the spread; the range reading is the conservative one).
pub const GPU_SPEED_CV: f64 = 0.01;

/// How much slower a persistently slow machine computes: "approximately 10% more time
/// to execute the same forward computations" (MegaScale, NSDI'24, §6.3).
pub const SLOW_NODE_SLOWDOWN: f64 = 0.10;

impl Variability {
    /// Every GPU at its catalog speed, no pauses.
    pub const OFF: Variability = Variability {
        gpu_speed_cv: 0.0,
        slow_node_fraction: 0.0,
        slow_node_slowdown: SLOW_NODE_SLOWDOWN,
        slow_link_fraction: 0.0,
        slow_link_rate: 1.0,
        host_pause_s: 0.0,
        host_pause_every_steps: 1.0,
        host_pauses_aligned: false,
    };

    /// What an absent `[cluster.variability]` means: the measured spread of healthy GPUs;
    /// slow nodes evicted and no host pauses (no source gives a pause length).
    pub const DEFAULT: Variability = Variability { gpu_speed_cv: GPU_SPEED_CV, ..Variability::OFF };

    /// Expected fractional slowdown of the job's compute pace: the slowest of `gpus`
    /// GPUs (Blom's expected maximum × σ), or a slow node's slowdown when the job holds
    /// one (probability 1 − (1 − f)^nodes), whichever is larger.
    pub fn compute_slowdown(&self, gpus: u64, gpus_per_node: u64) -> f64 {
        let healthy = self.gpu_speed_cv * expected_max_std_normal(gpus);
        let nodes = gpus.div_ceil(gpus_per_node.max(1)) as f64;
        let any_slow = 1.0 - (1.0 - self.slow_node_fraction).powf(nodes);
        any_slow * healthy.max(self.slow_node_slowdown) + (1.0 - any_slow) * healthy
    }

    /// Expected extra fraction of the time of collectives that leave the NVLink domain:
    /// every concurrent group waits for the slowest, so one degraded link anywhere in the
    /// job (probability 1 − (1 − f)^gpus, one NIC link per GPU) stretches them by
    /// 1/rate − 1.
    pub fn network_slowdown(&self, gpus: u64) -> f64 {
        if self.slow_link_fraction <= 0.0 || self.slow_link_rate >= 1.0 {
            return 0.0;
        }
        any_of(self.slow_link_fraction, gpus) * (1.0 / self.slow_link_rate.max(1e-6) - 1.0)
    }

    /// Expected host-pause time per step that the whole job waits through, on `ranks`
    /// processes. Aligned: one pause every `host_pause_every_steps`. Unaligned: a pause
    /// whenever any rank pauses in the step, probability 1 − (1 − 1/k)^ranks (two ranks
    /// pausing in one step overlap; counted once).
    pub fn host_pause_per_step_s(&self, ranks: u64) -> f64 {
        self.host_pause_s * self.any_rank_pauses(ranks)
    }

    /// Probability that some rank of `ranks` pauses in a given step.
    pub fn any_rank_pauses(&self, ranks: u64) -> f64 {
        if self.host_pause_s <= 0.0 {
            0.0
        } else if self.host_pauses_aligned {
            (1.0 / self.host_pause_every_steps).min(1.0)
        } else {
            any_of((1.0 / self.host_pause_every_steps).min(1.0), ranks)
        }
    }
}

/// One seeded draw of the straggler model for the event fidelity's representative
/// pipeline. The pipeline simulated is the job's slowest replica, the one the step
/// waits for: one of its stages holds the job's slowest GPU (drawn as the maximum of all
/// the job's GPUs, at a stage drawn uniformly); every other stage runs at the slowest
/// GPU of its own TP × CP group. A GPU faster than the catalog's mean never shortens
/// the step (its group waits for the others), so no stage runs faster than the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineDraw {
    /// Compute time multiplier per stage (≥ 1).
    pub stage_factor: Vec<f64>,
    /// The stage holding the job's slowest GPU.
    pub slowest_stage: usize,
    /// A host pause in this step: (stage, where in the stage's op order as a fraction
    /// in [0, 1), seconds).
    pub pause: Option<(usize, f64, f64)>,
    /// The stage whose inter-node collectives cross a degraded link, and their time
    /// multiplier.
    pub slow_link: Option<(usize, f64)>,
}

/// Draws per-stage speeds and this step's host pause from `seed`.
pub fn draw_pipeline(v: &Variability, seed: u64, gpus: u64, gpus_per_node: u64, stages: usize, gpus_per_stage: u64) -> PipelineDraw {
    use rand::{Rng, SeedableRng};
    // A stream of its own: the same seed drives the goodput Monte Carlo.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5354_5241_4747_4c45);
    let stages = stages.max(1);
    let slowest_stage = rng.gen_range(0..stages);
    let job_max = sample_max_std_normal(gpus, rng.gen::<f64>());
    let nodes = gpus.div_ceil(gpus_per_node.max(1));
    let slow_node = rng.gen::<f64>() < any_of(v.slow_node_fraction, nodes);
    let stage_factor = (0..stages)
        .map(|r| {
            let z = if r == slowest_stage { job_max } else { sample_max_std_normal(gpus_per_stage, rng.gen::<f64>()).min(job_max) };
            let mut f = 1.0 + v.gpu_speed_cv * z.max(0.0);
            if slow_node && r == slowest_stage {
                f = f.max(1.0 + v.slow_node_slowdown);
            }
            f
        })
        .collect();
    let pause = (rng.gen::<f64>() < v.any_rank_pauses(gpus)).then(|| (rng.gen_range(0..stages), rng.gen::<f64>(), v.host_pause_s));
    let slow_link = (v.slow_link_rate < 1.0 && rng.gen::<f64>() < any_of(v.slow_link_fraction, gpus)).then(|| (rng.gen_range(0..stages), 1.0 / v.slow_link_rate.max(1e-6)));
    PipelineDraw { stage_factor, slowest_stage, pause, slow_link }
}

/// 1 − (1 − p)^n, computed without cancellation for small p.
fn any_of(p: f64, n: u64) -> f64 {
    if p >= 1.0 {
        return 1.0;
    }
    -((n as f64) * (-p).ln_1p()).exp_m1()
}

/// Expected maximum of `n` independent standard normal variables, by Blom's (1958)
/// approximation Φ⁻¹((n − 0.375)/(n + 0.25)) (David & Nagaraja, "Order Statistics",
/// 2003). Within 0.03 of the exact integral from 2 to 16,384 (0.589 against 0.564 at 2,
/// 1.434 against 1.424 at 8, 3.956 against 3.971 at 16,384; a test integrates); exactly
/// 0 for one variable.
pub fn expected_max_std_normal(n: u64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    inverse_normal_cdf((n - 0.375) / (n + 0.25))
}

/// A draw of the maximum of `n` standard normals from a uniform `u` in (0, 1): the
/// maximum's distribution function is Φ(x)ⁿ, so x = Φ⁻¹(u^(1/n)).
pub fn sample_max_std_normal(n: u64, u: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let u = u.clamp(1e-300, 1.0 - 1e-16);
    // u^(1/n) = exp(ln u / n), kept as 1 − tail for precision when n is large.
    let tail = -(u.ln() / n as f64).exp_m1();
    inverse_normal_cdf(1.0 - tail)
}

/// Φ⁻¹, the standard normal quantile.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p.clamp(1e-300, 1.0 - 1e-16))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E[max of n] = ∫ x · n φ(x) Φ(x)ⁿ⁻¹ dx, by the trapezoid rule.
    fn exact_expected_max(n: u64) -> f64 {
        use statrs::distribution::{Continuous, ContinuousCDF, Normal};
        let d = Normal::standard();
        let (a, b, steps) = (-10.0, 10.0, 200_000);
        let h = (b - a) / steps as f64;
        (0..=steps)
            .map(|i| {
                let x = a + i as f64 * h;
                let w = if i == 0 || i == steps { 0.5 } else { 1.0 };
                w * x * n as f64 * d.pdf(x) * d.cdf(x).powf(n as f64 - 1.0)
            })
            .sum::<f64>()
            * h
    }

    #[test]
    fn blom_is_close_to_the_exact_expected_maximum() {
        for n in [2u64, 8, 64, 1024, 16384] {
            let (blom, exact) = (expected_max_std_normal(n), exact_expected_max(n));
            assert!((blom - exact).abs() < 0.03, "n = {n}: Blom {blom}, exact {exact}");
        }
        assert_eq!(expected_max_std_normal(1), 0.0);
    }

    #[test]
    fn sampled_maxima_average_to_the_expected_maximum() {
        for n in [2u64, 64, 16384, 1 << 20] {
            let draws = 20_000;
            let mean: f64 = (0..draws).map(|i| sample_max_std_normal(n, (i as f64 + 0.5) / draws as f64)).sum::<f64>() / draws as f64;
            assert!((mean - expected_max_std_normal(n)).abs() < 0.03, "n = {n}: {mean}");
        }
    }

    #[test]
    fn slowdown_grows_with_the_job_and_is_zero_when_off() {
        let v = Variability::DEFAULT;
        let sizes = [8u64, 64, 1024, 16384, 1 << 20];
        let slow: Vec<f64> = sizes.iter().map(|&n| v.compute_slowdown(n, 8)).collect();
        assert!(slow.windows(2).all(|w| w[1] > w[0]), "{slow:?}");
        assert!(slow[3] > 0.03 && slow[3] < 0.05, "16k GPUs: {}", slow[3]);
        assert_eq!(Variability::OFF.compute_slowdown(16384, 8), 0.0);
    }

    #[test]
    fn slow_nodes_dominate_once_the_job_is_likely_to_hold_one() {
        let v = Variability { slow_node_fraction: 0.005, ..Variability::DEFAULT };
        // 8 nodes: 4% chance of a slow node; 2,048 nodes: almost certain.
        assert!(v.compute_slowdown(64, 8) < 0.03);
        assert!((v.compute_slowdown(16384, 8) - SLOW_NODE_SLOWDOWN).abs() < 1e-3);
    }

    #[test]
    fn one_slow_link_in_a_big_job_stretches_its_collectives() {
        let v = Variability { slow_link_fraction: 1e-4, slow_link_rate: 0.5, ..Variability::DEFAULT };
        assert!(v.network_slowdown(64) < 0.01);
        assert!((v.network_slowdown(131072) - 1.0).abs() < 1e-3);
        assert_eq!(Variability::DEFAULT.network_slowdown(131072), 0.0);
    }

    #[test]
    fn unaligned_pauses_grow_with_ranks_and_aligned_ones_do_not() {
        let v = Variability { host_pause_s: 0.2, host_pause_every_steps: 100.0, ..Variability::DEFAULT };
        assert!((v.host_pause_per_step_s(1) - 0.002).abs() < 1e-12);
        assert!(v.host_pause_per_step_s(16384) > 0.199);
        let aligned = Variability { host_pauses_aligned: true, ..v };
        assert!((aligned.host_pause_per_step_s(16384) - 0.002).abs() < 1e-12);
    }
}
