//! The scenario file (SCENARIO.md): parsing, presets, `--set` overrides, Hugging Face
//! import and validation. The result, [`Scenario`], is fully resolved and valid: later
//! stages never re-check it.

pub mod hf;
mod parallel;
pub mod pipeline_layout;
mod cluster;
mod overrides;
mod training;
mod variability;

pub use cluster::{ClusterConfig, EcmpHash, Routing, SitesConfig, Transport, FIBER_S_PER_KM};
use cluster::{resolve_cluster, ClusterSection};
pub use training::{AttentionKernel, Fp8Gemms, Fp8Recipe, MomentType, Precision, RecomputeModules, TrainingConfig};
use training::{capacity_factor_choices, resolve_training, TrainingSection};
use overrides::{apply_override, resolve_with_fixes};
pub use overrides::{is_layout_override, parse_adjusting, parse_adjusting_from, resolve_but_layout, space_for_best_layout, Adjustment, ResolvedButLayout};
#[cfg(test)]
pub(crate) use overrides::apply_override_for_test;
pub use parallel::{ParallelChoice, ParallelConfig, ParallelSpace, RankOrder, Recompute, Schedule, Strides, Values, Zero3Gather, KEYS as PARALLEL_KEYS};

use crate::catalog;
use crate::error::{Error, Result};
use crate::model::Architecture;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use crate::error::MAX_INT;
pub(crate) use crate::error::at_most;
pub use crate::model::fields::ModelFields;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReliabilitySection {
    checkpoint_interval_s: Option<toml::Value>,
    scale: Option<f64>,
    detection_s: Option<f64>,
    restart_s: Option<f64>,
    restart_per_gpu_s: Option<f64>,
    hot_spares: Option<bool>,
    repair_s: Option<f64>,
    storage_bytes_per_s_per_node: Option<f64>,
    storage_bytes_per_s: Option<f64>,
    host_copy_bytes_per_s: Option<f64>,
    async_checkpoint: Option<bool>,
    in_memory_checkpoint: Option<bool>,
    checkpoint_bytes: Option<f64>,
    monte_carlo_runs: Option<u64>,
    causes: Option<std::collections::BTreeMap<String, CauseSection>>,
}

/// `[reliability.causes.NAME]`: override a default cause or add one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseSection {
    per_unit_per_day: Option<f64>,
    unit: Option<crate::catalog::failures::Unit>,
    category: Option<String>,
}

/// The resolved `[reliability]`; defaults in [`defaults`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityConfig {
    /// `None` = "auto" (Daly's optimum).
    pub checkpoint_interval_s: Option<f64>,
    /// Multiplies every cause's rate.
    pub scale: f64,
    /// Shared: every scenario a search or sweep builds from one file has the same.
    pub causes: std::sync::Arc<[crate::catalog::failures::Cause]>,
    pub detection_s: f64,
    /// Fixed part of a restart: scheduling, container and process start, data loader.
    pub restart_s: f64,
    /// Part of a restart that grows with the job (rendezvous, NCCL communicators).
    pub restart_per_gpu_s: f64,
    pub hot_spares: bool,
    /// Wait for a repair when there are no hot spares (hardware causes).
    pub repair_s: f64,
    pub storage_bytes_per_s_per_node: f64,
    pub storage_bytes_per_s: f64,
    pub host_copy_bytes_per_s: f64,
    pub async_checkpoint: bool,
    pub in_memory_checkpoint: bool,
    /// `None` = model parameters × 14 bytes.
    pub checkpoint_bytes: Option<f64>,
    pub monte_carlo_runs: u64,
}

/// A whole scenario: resolved, defaulted, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// The model preset id, or the config.json path, for reports.
    pub model_source: String,
    pub model: Architecture,
    pub cluster: ClusterConfig,
    pub parallel: ParallelConfig,
    pub training: TrainingConfig,
    pub reliability: ReliabilityConfig,
}

/// How one micro-batch meets one layer on one GPU: its tokens (after CP splits the
/// sequence), the TP shard of hidden-wide work, and the shard of what SP splits too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicroBatchShape {
    /// Tokens of the micro-batch on this GPU: micro_batch × seq_len / cp.
    pub tokens: f64,
    /// Tensor-parallel degree (weights and attention heads are split by it).
    pub tp: f64,
    /// What the replicated activations are split by: tp with sequence parallelism, else 1.
    pub sp: f64,
    pub hidden: f64,
}

impl Scenario {
    pub fn micro_batch_shape(&self) -> MicroBatchShape {
        let p = &self.parallel;
        let tp = p.tp as f64;
        MicroBatchShape {
            tokens: (p.micro_batch * self.model.seq_len / p.cp) as f64,
            tp,
            sp: if p.sequence_parallel { tp } else { 1.0 },
            hidden: self.model.hidden as f64,
        }
    }
}

/// A scenario before the parallel layout is fixed: what `search` enumerates.
#[derive(Debug, Clone)]
pub struct ScenarioSpace {
    pub name: String,
    pub seed: u64,
    pub model_source: String,
    pub model: Architecture,
    pub cluster: ClusterConfig,
    pub parallel: ParallelSpace,
    pub training: TrainingConfig,
    pub reliability: ReliabilityConfig,
    /// The routing capacities `training.moe_capacity_factor` lists (`None`: dropless);
    /// `training` holds the first. A search ranks each; `simulate` takes one.
    pub moe_capacity_factors: Vec<Option<f64>>,
}

/// Documented defaults (SCENARIO.md).
pub mod defaults {
    /// Switch ports (a 64-port 400G switch: NVIDIA Quantum-2 QM9700, fabric.md §1.6).
    pub const SWITCH_RADIX: u64 = 64;
    /// PUE of a modern AI data hall (fabric.md §5.1 cites 1.1–1.3); 1.2 as in SCENARIO.md.
    pub const PUE: f64 = 1.2;
    /// Racks in a row of the data hall (the bill of materials' cable lengths). A design
    /// choice, not a measurement: halls run rows of 10 to 30 racks.
    pub const RACKS_PER_ROW: u64 = 16;
    /// 15T tokens: the Llama 3 pre-training budget (Dubey et al. 2024, §3.1).
    pub const TRAINING_TOKENS: f64 = 15.6e12;
    /// 16M tokens per step: Llama 3 405B's largest batch (Dubey et al. 2024, §3.4.1).
    pub const MAX_GLOBAL_BATCH_TOKENS: f64 = 16.0 * 1024.0 * 1024.0;
    /// USD per GPU-hour: mid-range 2025 rental price for H100 (fabric.md §5.2 lists
    /// $1.8–5 per GPU-hour across providers).
    pub const GPU_HOUR_USD: f64 = 2.0;

    /// Seconds from a failure to the job noticing: most interruptions are crashes the
    /// job's health checks see within a minute; hangs wait for the NCCL watchdog
    /// (PyTorch default 10 min) and were 7 of Llama 3's 419. Estimate: 60 s.
    pub const DETECTION_S: f64 = 60.0;
    /// Fixed restart cost: rescheduling, container and process start, data-loader warm-up.
    /// Estimate: 2 minutes.
    pub const RESTART_S: f64 = 120.0;
    /// Restart cost that grows with the job: rendezvous and NCCL communicator set-up.
    /// MegaScale (Jiang et al. NSDI'24, §3.4) measured 1,047 s to initialise 2,048 GPUs
    /// before optimisation and under 30 s for >10k GPUs after; 5 ms per GPU (82 s at
    /// 16k GPUs) sits between. Estimate.
    pub const RESTART_PER_GPU_S: f64 = 0.005;
    /// Time to repair or replace a failed node when there are no hot spares. Estimate: 2 h.
    pub const REPAIR_S: f64 = 7200.0;
    /// Checkpoint write bandwidth one node reaches: a 100 Gb/s front-end NIC. Estimate.
    pub const STORAGE_BYTES_PER_S_PER_NODE: f64 = 12.5e9;
    /// Total storage bandwidth: Meta's Tectonic sustained 2 TB/s for Llama 3 (Dubey et
    /// al. 2024 §3.3.1; row llama3-checkpoint-storage).
    pub const STORAGE_BYTES_PER_S: f64 = 2e12;
    /// GPU→host copy for asynchronous checkpoints: pinned-memory PCIe Gen4/Gen5 copies
    /// reach ~25 GB/s per GPU. Estimate.
    pub const HOST_COPY_BYTES_PER_S: f64 = 25e9;
    /// Monte Carlo runs of `wanka goodput`.
    pub const MONTE_CARLO_RUNS: u64 = 1000;
}

/// Largest input file wanka reads (scenario, sweep, Hugging Face config): a file this
/// large is not one a person wrote, and `/dev/zero` must not be read forever.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads a text file of at most [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), reason: e.to_string() };
    let mut text = String::new();
    std::fs::File::open(path).map_err(io)?.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::Io { path: path.display().to_string(), reason: format!("larger than {MAX_FILE_BYTES} bytes; not a scenario") });
    }
    Ok(text)
}

/// Reads a text file wanka wrote itself (a sweep's output), of any size.
pub fn read_text_any(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.display().to_string(), reason: e.to_string() })
}

/// Reads and resolves a scenario file with `--set` overrides applied.
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario> {
    parse(&read_text(path)?, path, overrides)
}

/// Reads a scenario whose `[parallel]` keys may be lists or "auto".
pub fn load_space(path: &Path, overrides: &[String]) -> Result<ScenarioSpace> {
    parse_space(&read_text(path)?, path, overrides)
}

/// Parses scenario text; `path` names it in errors and anchors relative `hf_config` paths.
pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Scenario> {
    resolve_with_fixes(overrides, |o| parse_space(text, path, o)?.into_single())
}

fn parse_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parse { path: path.display().to_string(), message: e.to_string().trim_end().to_string() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    seed: Option<u64>,
    model: Option<toml::Table>,
    cluster: Option<ClusterSection>,
    #[serde(default)]
    parallel: toml::Table,
    #[serde(default)]
    training: TrainingSection,
    #[serde(default)]
    reliability: ReliabilitySection,
}

/// Deserialises one section, naming the key in the error: serde reports
/// "invalid type: …\nin `gpus`", which becomes "cluster.gpus: invalid type: …".
fn section<T: serde::de::DeserializeOwned>(path: &Path, name: &str, value: toml::Value) -> Result<T> {
    value.try_into::<T>().map_err(|e| serde_error(path, name, &e.to_string()))
}

pub(crate) fn serde_error(path: &Path, section: &str, message: &str) -> Error {
    let message = message.trim_end();
    match message.rsplit_once("\nin `") {
        Some((what, key)) => {
            let key = key.trim_end_matches('`');
            Error::Parse { path: path.display().to_string(), message: format!("{section}.{key}: {what}") }
        }
        None if section == "top level" => parse_error(path, message),
        None => parse_error(path, format!("[{section}]: {message}")),
    }
}

/// Parses scenario text whose `[parallel]` keys may be lists or "auto".
pub fn parse_space(text: &str, path: &Path, overrides: &[String]) -> Result<ScenarioSpace> {
    parse_space_doc(parse_document(text, path)?, path, overrides)
}

/// [`parse`] of a parsed document (what the Python package passes for a dict).
pub fn parse_doc(doc: &toml::Table, path: &Path, overrides: &[String]) -> Result<Scenario> {
    resolve_with_fixes(overrides, |o| parse_space_doc(doc.clone(), path, o)?.into_single())
}

/// A scenario file's TOML, not yet resolved (what a sweep parses once and varies).
pub fn parse_document(text: &str, path: &Path) -> Result<toml::Table> {
    toml::from_str(text).map_err(|e| parse_error(path, e))
}

/// The `[cluster]` of a scenario file alone, resolved (its name too: the `name` key or
/// the file's stem). The other sections are not read: `wanka design bom` needs none.
pub fn parse_cluster(text: &str, path: &Path, overrides: &[String]) -> Result<(String, ClusterConfig)> {
    parse_cluster_doc(parse_document(text, path)?, path, overrides)
}

/// [`parse_cluster`] of a parsed document (what the Python package passes for a dict).
pub fn parse_cluster_doc(mut doc: toml::Table, path: &Path, overrides: &[String]) -> Result<(String, ClusterConfig)> {
    for item in overrides {
        apply_override(&mut doc, item)?;
    }
    let name = match doc.get("name") {
        Some(toml::Value::String(n)) => n.clone(),
        _ => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let cluster: ClusterSection = match doc.remove("cluster") {
        Some(v @ toml::Value::Table(_)) => section(path, "cluster", v)?,
        _ => return Err(Error::missing("cluster", "a [cluster] section with at least gpu and gpus")),
    };
    Ok((name, resolve_cluster(cluster)?))
}

/// [`parse_space`] from a parsed document.
pub fn parse_space_doc(mut doc: toml::Table, path: &Path, overrides: &[String]) -> Result<ScenarioSpace> {
    for item in overrides {
        apply_override(&mut doc, item)?;
    }
    // Check top-level keys and section types first, then each section on its own so an
    // error names the section. The sections are taken out (an empty table stands in for
    // the top-level check) rather than copied: a sweep resolves a document per point.
    let mut take = |name: &str| -> Option<toml::Value> {
        if !matches!(doc.get(name), Some(toml::Value::Table(_))) {
            return None;
        }
        doc.insert(name.to_string(), toml::Value::Table(toml::Table::new()))
    };
    let (cluster_v, training_v, reliability_v) = (take("cluster"), take("training"), take("reliability"));
    let raw: RawScenario = section(path, "top level", toml::Value::Table(doc))?;
    let cluster: ClusterSection = match cluster_v {
        Some(v) => section(path, "cluster", v)?,
        None => return Err(Error::missing("cluster", "a [cluster] section with at least gpu and gpus")),
    };
    let training: TrainingSection = training_v.map(|v| section(path, "training", v)).transpose()?.unwrap_or_default();
    let reliability: ReliabilitySection = reliability_v.map(|v| section(path, "reliability", v)).transpose()?.unwrap_or_default();
    let _ = (raw.cluster, raw.training, raw.reliability);

    let (model_source, model) = resolve_model(path, raw.model)?;
    let aligned_gc = cluster.variability.as_ref().and_then(|v| v.host_pauses_aligned);
    let mut cluster = resolve_cluster(cluster)?;
    let moe_capacity_factors = capacity_factor_choices(&training, &model)?;
    let training = resolve_training(training, &cluster, &model)?;
    // Whether host pauses line up across ranks is the software's doing.
    cluster.variability.host_pauses_aligned = aligned_gc.unwrap_or(training.framework.facts().aligned_gc);
    let reliability = resolve_reliability(reliability)?;
    let parallel = ParallelSpace::parse(&raw.parallel)?;
    Ok(ScenarioSpace {
        name: raw.name.unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()),
        seed: raw.seed.unwrap_or(1),
        model_source,
        model,
        cluster,
        parallel,
        training,
        reliability,
        moe_capacity_factors,
    })
}

fn resolve_model(path: &Path, table: Option<toml::Table>) -> Result<(String, Architecture)> {
    let Some(mut table) = table else {
        return Err(Error::missing("model", "a [model] section with a preset, an hf_config or the architecture keys"));
    };
    let take_string = |t: &mut toml::Table, k: &str| -> Result<Option<String>> {
        match t.remove(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Error::invalid(format!("model.{k}"), v, "expected a string")),
        }
    };
    let preset = take_string(&mut table, "preset")?;
    let hf_config = take_string(&mut table, "hf_config")?;
    let explicit: ModelFields = section(path, "model", toml::Value::Table(table))?;
    let (source, base) = match (&preset, &hf_config) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "model.hf_config",
                format!("{:?}", hf_config.clone().unwrap_or_default()),
                "give either model.preset or model.hf_config, not both",
            ))
        }
        (Some(p), None) => (p.clone(), catalog::model("model.preset", p)?.arch.clone()),
        (None, Some(file)) => {
            let file_path: PathBuf = path.parent().unwrap_or(Path::new(".")).join(file);
            let fields = hf::load(&file_path).map_err(|e| match e {
                Error::Io { path, reason } => Error::invalid("model.hf_config", format!("{file:?}"), format!("cannot read {path}: {reason}")),
                other => other,
            })?;
            (file.clone(), fields)
        }
        (None, None) => ("custom".to_string(), ModelFields::default()),
    };
    Ok((source, base.overlay(&explicit).resolve("model")?))
}

pub(crate) fn positive(key: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::invalid(key, v, "must be a positive number"))
    }
}

fn non_negative(key: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::invalid(key, v, "must be a number >= 0"))
    }
}

/// What an empty `[reliability]` section means: every default, every failure cause of
/// the catalog (`wanka catalog reliability` prints it).
pub fn default_reliability() -> ReliabilityConfig {
    resolve_reliability(ReliabilitySection::default()).expect("the defaults are valid")
}

fn resolve_reliability(r: ReliabilitySection) -> Result<ReliabilityConfig> {
    use crate::catalog::failures::{default_causes, Cause};
    let checkpoint_interval_s = match r.checkpoint_interval_s {
        None => None,
        Some(toml::Value::String(s)) if s == "auto" => None,
        Some(toml::Value::Integer(i)) if i > 0 => Some(i as f64),
        Some(toml::Value::Float(f)) if f.is_finite() && f > 0.0 => Some(f),
        Some(v) => {
            return Err(Error::invalid("reliability.checkpoint_interval_s", v, "must be \"auto\" or a positive number of seconds"))
        }
    };
    let mut causes: Vec<Cause> = default_causes().to_vec();
    for (name, c) in r.causes.unwrap_or_default() {
        let key = format!("reliability.causes.{name}");
        let rate = c.per_unit_per_day.map(|v| non_negative(&format!("{key}.per_unit_per_day"), v)).transpose()?;
        match causes.iter_mut().find(|x| x.name == name) {
            Some(existing) => {
                if let Some(v) = rate {
                    existing.per_unit_per_day = v;
                }
                if let Some(u) = c.unit {
                    existing.unit = u;
                }
                if let Some(cat) = c.category {
                    existing.category = cat;
                }
            }
            None => {
                let (Some(unit), Some(rate)) = (c.unit, rate) else {
                    let valid: Vec<&str> = default_causes().iter().map(|c| c.name.as_str()).collect();
                    return Err(Error::invalid(
                        &key,
                        "{…}",
                        format!(
                            "unknown cause; valid: {}; to add a new cause give both unit (\"gpu\", \"node\", \"switch\" or \"job\") and per_unit_per_day",
                            valid.join(", ")
                        ),
                    ));
                };
                causes.push(Cause { name, category: c.category.unwrap_or_else(|| "other".into()), unit, per_unit_per_day: rate });
            }
        }
    }
    let runs = r.monte_carlo_runs.unwrap_or(defaults::MONTE_CARLO_RUNS);
    if runs == 0 || runs > 1_000_000 {
        return Err(Error::invalid("reliability.monte_carlo_runs", runs, "must be between 1 and 1000000"));
    }
    let checkpoint_bytes = r.checkpoint_bytes.map(|v| positive("reliability.checkpoint_bytes", v)).transpose()?;
    Ok(ReliabilityConfig {
        checkpoint_interval_s,
        scale: non_negative("reliability.scale", r.scale.unwrap_or(1.0))?,
        causes: causes.into(),
        detection_s: non_negative("reliability.detection_s", r.detection_s.unwrap_or(defaults::DETECTION_S))?,
        restart_s: non_negative("reliability.restart_s", r.restart_s.unwrap_or(defaults::RESTART_S))?,
        restart_per_gpu_s: non_negative("reliability.restart_per_gpu_s", r.restart_per_gpu_s.unwrap_or(defaults::RESTART_PER_GPU_S))?,
        hot_spares: r.hot_spares.unwrap_or(true),
        repair_s: non_negative("reliability.repair_s", r.repair_s.unwrap_or(defaults::REPAIR_S))?,
        storage_bytes_per_s_per_node: positive(
            "reliability.storage_bytes_per_s_per_node",
            r.storage_bytes_per_s_per_node.unwrap_or(defaults::STORAGE_BYTES_PER_S_PER_NODE),
        )?,
        storage_bytes_per_s: positive("reliability.storage_bytes_per_s", r.storage_bytes_per_s.unwrap_or(defaults::STORAGE_BYTES_PER_S))?,
        host_copy_bytes_per_s: positive(
            "reliability.host_copy_bytes_per_s",
            r.host_copy_bytes_per_s.unwrap_or(defaults::HOST_COPY_BYTES_PER_S),
        )?,
        async_checkpoint: r.async_checkpoint.unwrap_or(false),
        in_memory_checkpoint: r.in_memory_checkpoint.unwrap_or(false),
        checkpoint_bytes,
        monte_carlo_runs: runs,
    })
}

impl ScenarioSpace {
    /// The single scenario when every `[parallel]` key has one value.
    pub fn into_single(self) -> Result<Scenario> {
        if self.moe_capacity_factors.len() > 1 {
            return Err(Error::invalid(
                "training.moe_capacity_factor",
                format!("a list of {}", self.moe_capacity_factors.len()),
                "simulate needs one value; use `wanka search` to rank a list",
            ));
        }
        let parallel = self.parallel.single()?;
        self.with_parallel(parallel)
    }

    /// A scenario with this layout, validated against the model and cluster.
    pub fn with_parallel(&self, parallel: parallel::ParallelChoice) -> Result<Scenario> {
        let parallel = ParallelConfig::resolve(parallel, &self.model, &self.cluster, &self.training)?;
        Ok(self.scenario(parallel))
    }

    /// The scenario of an already validated layout at one of the listed routing
    /// capacities.
    pub fn scenario_with_capacity(&self, parallel: ParallelConfig, capacity: Option<f64>) -> Scenario {
        let mut s = self.scenario(parallel);
        s.training.moe_capacity_factor = capacity;
        s
    }

    /// The scenario of an already validated layout.
    pub fn scenario(&self, parallel: ParallelConfig) -> Scenario {
        Scenario {
            name: self.name.clone(),
            seed: self.seed,
            model_source: self.model_source.clone(),
            model: self.model.clone(),
            cluster: self.cluster.clone(),
            parallel,
            training: self.training.clone(),
            reliability: self.reliability.clone(),
        }
    }
}
