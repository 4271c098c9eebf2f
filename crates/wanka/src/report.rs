//! The metrics a step evaluation returns, with the key names of SCENARIO.md.

use crate::parallel::memory::MemoryReport;
use serde::Serialize;

/// Exposed (not hidden behind compute) communication time per step, by group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ExposedComm {
    pub tp: f64,
    pub cp: f64,
    pub ep: f64,
    pub pp: f64,
    pub dp: f64,
}

impl ExposedComm {
    pub fn total(&self) -> f64 {
        self.tp + self.cp + self.ep + self.pp + self.dp
    }
}

/// Where the step time goes; the parts add up to `step_time_s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// Forward, backward and recomputation on the busiest stage, all micro-batches.
    pub compute: f64,
    /// Pipeline fill and drain.
    pub bubble: f64,
    pub exposed_comm: ExposedComm,
    /// The optimizer step (memory bound).
    pub optimizer: f64,
    /// Per-step cost outside the model (data loading, logging; calibration).
    pub overhead: f64,
    /// Waiting for the slowest GPU of the job and for host pauses (`crate::variability`).
    pub stragglers: f64,
    /// GPU idle while the CPU issues work: host-bound passes and host–device syncs
    /// (`step::host`), on the busiest stage, all micro-batches.
    pub host: f64,
}

impl Breakdown {
    pub fn total(&self) -> f64 {
        self.compute + self.bubble + self.exposed_comm.total() + self.optimizer + self.overhead + self.stragglers + self.host
    }
}

/// One training step, as `wanka simulate --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub step_time_s: f64,
    pub tokens_per_step: f64,
    pub tokens_per_s: f64,
    pub tokens_per_s_per_gpu: f64,
    /// Forward + backward matrix-product FLOPs per token (see `model`).
    pub model_flops_per_token: f64,
    pub model_tflops_per_gpu: f64,
    /// Model FLOP/s per GPU over the GPU's dense peak at the training precision.
    pub mfu: f64,
    /// FLOPs per token including recomputation.
    pub hardware_flops_per_token: f64,
    pub hardware_tflops_per_gpu: f64,
    pub hfu: f64,
    pub memory: MemoryReport,
    pub breakdown_s: Breakdown,
    /// Exposed communication over step time.
    pub comm_fraction: f64,
    /// Micro-batches per pipeline per step.
    pub microbatches: u64,
}
