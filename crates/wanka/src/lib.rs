//! wanka (万卡): a simulator and planner for training large language models on clusters
//! of 1,000 to 1,000,000 GPUs.
//!
//! Data flow (shared/ARCHITECTURE.md): a scenario file is parsed and resolved
//! ([`scenario`]), the model becomes per-layer operations ([`model`], [`step`]), the
//! layout places groups on the fabric ([`parallel`], [`collective`]), and an evaluator
//! turns it into a [`report::StepReport`]. [`validate`] compares predictions with
//! published runs.

pub mod calibration;
pub mod catalog;
pub mod collective;
pub mod design;
pub mod engine;
pub mod error;
pub mod framework;
pub mod hardware;
pub mod json;
pub mod model;
pub mod parallel;
pub mod reliability;
pub mod render;
pub mod report;
pub mod scale;
pub mod scenario;
pub mod search;
pub mod step;
pub mod sweep;
pub mod validate;
pub mod variability;

pub use error::{Error, Result};

/// The fabric crate, for callers that describe fabrics (the CLI's catalog).
pub use wanka_net as net;
