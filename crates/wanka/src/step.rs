//! One training step: per-layer costs of compute and communication on one GPU, then the
//! analytic evaluation (pipeline schedule, overlap rules, optimizer).

pub mod analytic;
pub mod event;
pub mod host;
pub mod layer;
pub mod schedule;

pub use analytic::{evaluate, pipeline_ranks, simulate, PipelineRank};
pub use layer::{ep_dispatch_bytes, LayerCost, PassCost, StageCost};
