//! Built-in GPUs and models, kept as TOML data files compiled into the binary
//! (`catalog/gpus.toml`, `catalog/models.toml`; every figure there cites its source).

use crate::error::{Error, Result};
use crate::model::fields::ModelFields;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

pub mod failures;
pub mod parts;
pub use parts::parts;

const GPUS_TOML: &str = include_str!("../catalog/gpus.toml");
const MODELS_TOML: &str = include_str!("../catalog/models.toml");

/// One accelerator: peak rates, memory, links, power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub generation: String,
    /// Dense BF16 tensor FLOP/s.
    pub bf16_flops: f64,
    /// Dense FP8 tensor FLOP/s (0 = no FP8 tensor cores).
    pub fp8_flops: f64,
    pub hbm_bytes: f64,
    pub hbm_bytes_per_s: f64,
    /// Scale-up (NVLink) bandwidth per GPU, one direction.
    pub nvlink_bytes_per_s: f64,
    pub nvlink_domain: u64,
    pub nic_gbps: f64,
    pub tdp_w: f64,
    /// Best achievable big-GEMM fraction of `bf16_flops` (MAMF).
    pub matmul_peak_fraction: f64,
    /// The same for FP8.
    pub fp8_matmul_peak_fraction: f64,
    /// Streaming multiprocessors (NVIDIA) or compute units (AMD).
    pub sm_count: u32,
}

/// One catalog model: architecture plus its published parameter count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub name: String,
    pub published_params: f64,
    #[serde(default)]
    pub published_active_params: Option<f64>,
    /// Half a unit of the last digit the source prints.
    pub published_params_rounding: f64,
    /// The source's active count leaves out the input embedding (DeepSeek does).
    #[serde(default)]
    pub active_excludes_embedding: bool,
    pub source: String,
    pub arch: ModelFields,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GpuFile {
    gpu: Vec<GpuSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: Vec<ModelEntry>,
}

/// All built-in GPUs, in catalog order.
pub fn gpus() -> &'static [GpuSpec] {
    static GPUS: OnceLock<Vec<GpuSpec>> = OnceLock::new();
    GPUS.get_or_init(|| {
        // The file is part of the binary and covered by tests; a failure here is a bug.
        toml::from_str::<GpuFile>(GPUS_TOML).expect("catalog/gpus.toml is valid").gpu
    })
}

/// All built-in models, in catalog order.
pub fn models() -> &'static [ModelEntry] {
    static MODELS: OnceLock<Vec<ModelEntry>> = OnceLock::new();
    MODELS.get_or_init(|| toml::from_str::<ModelFile>(MODELS_TOML).expect("catalog/models.toml is valid").model)
}

fn id_list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    ids.collect::<Vec<_>>().join(", ")
}

/// Looks a GPU up by id; the error lists the valid ids.
pub fn gpu(key: &str, id: &str) -> Result<&'static GpuSpec> {
    gpus().iter().find(|g| g.id == id).ok_or_else(|| {
        Error::invalid(key, format!("{id:?}"), format!("unknown GPU; valid: {}", id_list(gpus().iter().map(|g| g.id.as_str()))))
    })
}

/// Looks a model up by id; the error lists the valid ids.
pub fn model(key: &str, id: &str) -> Result<&'static ModelEntry> {
    models().iter().find(|m| m.id == id).ok_or_else(|| {
        Error::invalid(key, format!("{id:?}"), format!("unknown model preset; valid: {}", id_list(models().iter().map(|m| m.id.as_str()))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_files_parse_and_ids_are_unique() {
        assert_eq!(gpus().len(), 11);
        let mut gpu_ids: Vec<_> = gpus().iter().map(|g| g.id.clone()).collect();
        gpu_ids.sort();
        gpu_ids.dedup();
        assert_eq!(gpu_ids.len(), gpus().len());
        let mut ids: Vec<_> = models().iter().map(|m| m.id.clone()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn required_gpus_present() {
        for id in ["a100-40g", "a100-80g", "h100-sxm", "h800", "h200", "b200", "b300", "gb200", "gb300", "mi300x"] {
            assert!(gpu("cluster.gpu", id).is_ok(), "{id}");
        }
    }

    #[test]
    fn unknown_gpu_lists_valid_ids() {
        let e = gpu("cluster.gpu", "h1000").unwrap_err().to_string();
        assert!(e.contains("cluster.gpu = \"h1000\"") && e.contains("h100-sxm"), "{e}");
    }

    #[test]
    fn every_model_matches_its_published_parameter_count() {
        for m in models() {
            let arch = m.arch.resolve("model").unwrap_or_else(|e| panic!("{}: {e}", m.id));
            let p = arch.params();
            let tol = (0.01 * m.published_params).max(m.published_params_rounding);
            assert!((p.total - m.published_params).abs() <= tol, "{}: {} vs published {}", m.id, p.total, m.published_params);
            if let Some(active) = m.published_active_params {
                let ours = if m.active_excludes_embedding { p.active - p.embedding } else { p.active };
                let tol = (0.01 * active).max(m.published_params_rounding);
                assert!((ours - active).abs() <= tol, "{}: active {} vs published {}", m.id, ours, active);
            }
        }
    }
}
