//! `[training]`: precision, the training software and its switches, what selective
//! recomputation recomputes, the optimizer's storage. Defaults come from the framework's
//! documented facts (`crate::framework`).

use super::{defaults, positive, ClusterConfig};
use crate::error::{Error, Result};
use crate::framework::Framework;
use crate::model::Architecture;
use serde::{Deserialize, Serialize};

/// Numeric precision of the matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    Bf16,
    /// FP16 with loss scaling: same tensor-core rate and bytes as BF16.
    Fp16,
    Fp8,
}

/// Attention implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionKernel {
    /// Fused, tiled (FlashAttention 2/3, cuDNN): no `s×s` tensor in memory.
    Flash,
    /// `QKᵀ`, softmax, dropout and `AV` as separate kernels with the `s×s` scores in HBM
    /// (Megatron-LM before FlashAttention, 2021).
    Materialized,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrainingSection {
    precision: Option<Precision>,
    tokens: Option<f64>,
    max_global_batch_tokens: Option<f64>,
    gpu_hour_usd: Option<f64>,
    attention_kernel: Option<AttentionKernel>,
    grad_reduce_in_fp32: Option<bool>,
    recompute_modules: Option<Vec<String>>,
    adam_moments: Option<MomentType>,
    fp8_activations: Option<bool>,
    framework: Option<Framework>,
    cuda_graphs: Option<bool>,
    master_weights: Option<bool>,
    compile: Option<bool>,
    loss_chunks: Option<u64>,
    optimizer_in_backward: Option<bool>,
    fp8_recipe: Option<Fp8Recipe>,
    fp8_gemms: Option<Fp8Gemms>,
    param_remainders: Option<bool>,
    fp8_params: Option<bool>,
    /// A number, or in a search a list of numbers and "dropless"
    /// ([`capacity_factor_choices`]).
    moe_capacity_factor: Option<toml::Value>,
    moe_pad_to_capacity: Option<bool>,
    moe_load_imbalance: Option<f64>,
    moe_max_nodes_per_token: Option<u64>,
}

/// The resolved `[training]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingConfig {
    pub precision: Precision,
    pub tokens: f64,
    pub max_global_batch_tokens: f64,
    pub gpu_hour_usd: f64,
    pub attention_kernel: AttentionKernel,
    /// Gradients accumulate and are reduced in FP32 (4 bytes) rather than the weights'
    /// 2-byte type. Megatron-LM forces it for BF16 ("bfloat16 requires gradient
    /// accumulation and all-reduce to be done in fp32", megatron/training/arguments.py);
    /// FP16 training keeps FP16 gradients. Default: true unless precision = "fp16".
    pub grad_reduce_in_fp32: bool,
    /// What `parallel.recompute = "selective"` recomputes (Megatron-Core's
    /// `recompute_modules`); default: the core attention.
    pub recompute_modules: RecomputeModules,
    /// Data type of Adam's two moments (DeepSeek-V3 §3.3.3 keeps them in BF16).
    pub adam_moments: MomentType,
    /// Every activation kept for backward that feeds an FP8 GEMM, the MLP's first
    /// GEMM outputs (the activation's input) included, is stored in FP8 (DeepSeek-V3
    /// §3.3.3); Transformer Engine alone keeps GEMM inputs in FP8 but its fc1 output in
    /// BF16, and frameworks without it (torchao) keep BF16 inputs.
    pub fp8_activations: bool,
    /// The training software, whose documented facts set the defaults of keys left out
    /// (`crate::framework`).
    pub framework: Framework,
    /// Captured regions replayed as CUDA graphs: the host issues each with one launch
    /// (`step::host`).
    pub cuda_graphs: bool,
    /// The optimizer keeps FP32 master weights (4 bytes per parameter); false for
    /// pure-BF16 training (torchtune's full fine-tune recipes), which updates the BF16
    /// weights in place.
    pub master_weights: bool,
    /// torch.compile fuses each chain of element-wise ops into one kernel; without it a
    /// framework whose model is plain PyTorch runs them op by op
    /// (`FrameworkFacts::eager`).
    pub compile: bool,
    /// The LM head and the loss run over this many chunks of the tokens, each upcast to
    /// FP32 on its own (torchtune's `CEWithChunkedOutputLoss`, 8 chunks); 1 = whole.
    pub loss_chunks: u64,
    /// Each parameter is stepped and its gradient freed as soon as backward produces it
    /// (torchtune's `optimizer_in_bwd`): no step-long gradient buffers; needs one
    /// micro-batch per step.
    pub optimizer_in_backward: bool,
    /// How FP8 GEMM operands are scaled (`precision = "fp8"` only).
    pub fp8_recipe: Fp8Recipe,
    /// Which GEMMs run in FP8 (`precision = "fp8"` only): all, only those outside the
    /// routed experts, or only the routed experts' (torchao converts dense linears and
    /// MoE grouped GEMMs separately).
    pub fp8_gemms: Fp8Gemms,
    /// The optimizer keeps only the low 16 bits of each FP32 master weight beside the
    /// BF16 weight (Megatron-Core's precision-aware optimizer, `store_param_remainders`;
    /// Apex's distributed Adam): 2 bytes per parameter instead of 4.
    pub param_remainders: bool,
    /// Weights stored in FP8 (Transformer Engine's `fp8_model_init`, Megatron's
    /// `--fp8-param-gather`): 1 byte per parameter; the FP32 master stays.
    pub fp8_params: bool,
    /// MoE routing with token drop: each expert takes at most this multiple of its
    /// balanced share (Megatron's `--moe-expert-capacity-factor`: capacity = tokens ·
    /// top_k · factor / experts); `None` is dropless.
    pub moe_capacity_factor: Option<f64>,
    /// Every expert's input padded to its capacity (`--moe-pad-expert-input-to-capacity`).
    pub moe_pad_to_capacity: bool,
    /// How far the busiest expert-parallel rank's tokens exceed the balanced share
    /// (max/mean − 1; the MaxVio of Wang et al. 2024). 0 is the forced balance NVIDIA's
    /// published benchmarks run with (`moe_router_force_load_balancing`).
    pub moe_load_imbalance: f64,
    /// Node-limited routing with deduplicated dispatch (DeepSeek-V3's M = 4, DeepEP):
    /// each token goes to experts on at most this many nodes and crosses the network
    /// once per node; `None` sends every copy on its own.
    pub moe_max_nodes_per_token: Option<u64>,
}

impl TrainingConfig {
    /// Tokens the busiest expert-parallel rank's experts take, over the balanced share:
    /// it sets the pace of the expert GEMMs and of the all-to-all that feeds them.
    /// Dropless, the routing's imbalance; with a capacity factor, no more than the
    /// capacity (token drop), or exactly the capacity when padded.
    pub fn routed_load(&self) -> f64 {
        let busiest = 1.0 + self.moe_load_imbalance;
        match self.moe_capacity_factor {
            None => busiest,
            Some(c) if self.moe_pad_to_capacity => c,
            Some(c) => busiest.min(c),
        }
    }
}

/// Which GEMMs `precision = "fp8"` quantises. The LM head stays BF16 in every case
/// (`step::layer::head_cost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fp8Gemms {
    /// Every linear layer's GEMM.
    All,
    /// Every GEMM but the routed experts' (torchao's float8 or MX linears alone).
    Dense,
    /// Only the routed experts' grouped GEMMs (torchao's MoE training alone).
    Experts,
}

impl Fp8Gemms {
    pub fn name(self) -> &'static str {
        match self {
            Fp8Gemms::All => "all",
            Fp8Gemms::Dense => "dense",
            Fp8Gemms::Experts => "experts",
        }
    }
}

/// FP8 scaling recipe: what each GEMM's operands are quantised with, and so what the
/// backward pass must quantise again (`hardware::Device::fp8_backward_extra_s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fp8Recipe {
    /// One scale per tensor (Transformer Engine's delayed or current scaling, torchao's
    /// default): backward reuses the forward's FP8 copies, transposed.
    Tensorwise,
    /// One scale per row (torchao "rowwise"): backward scales along the other axis, so
    /// the input, the weight and a second copy of the output gradient are quantised
    /// again; forward GEMMs in a CUTLASS kernel instead of cuBLAS's, backward GEMMs in
    /// cuBLAS with unit scales and a rescaling kernel after each.
    Rowwise,
    /// Rowwise, with the weight-gradient GEMM in BF16 (torchao "rowwise_with_gw_hp").
    RowwiseGwHp,
    /// MX block scaling, 32 elements per scale (Blackwell's tensor cores): quantised
    /// along both axes like rowwise, native GEMM.
    Mxfp8,
}

impl Fp8Recipe {
    /// The key's value as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            Fp8Recipe::Tensorwise => "tensorwise",
            Fp8Recipe::Rowwise => "rowwise",
            Fp8Recipe::RowwiseGwHp => "rowwise-gw-hp",
            Fp8Recipe::Mxfp8 => "mxfp8",
        }
    }
}

/// Storage type of the optimizer's moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MomentType {
    Fp32,
    Bf16,
}

impl MomentType {
    pub fn bytes(self) -> f64 {
        match self {
            MomentType::Fp32 => 4.0,
            MomentType::Bf16 => 2.0,
        }
    }
}

/// Parts of a layer that selective recomputation recomputes in the backward pass
/// instead of keeping their outputs, by Megatron-Core's names (`recompute_modules` of
/// `TransformerConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecomputeModules {
    /// "core_attn": the attention core (scores, softmax, their dropout).
    pub core_attn: bool,
    /// "layernorm": both norms of the layer (their outputs feed the QKV and MLP GEMMs).
    pub layernorm: bool,
    /// "mla_up_proj": MLA's query and key/value up-projections and RoPE (keeps the
    /// compressed latents).
    pub mla_up_proj: bool,
    /// "mlp": the dense MLP of dense layers.
    pub mlp: bool,
    /// "moe_act": the routed experts' activation function (keeps its input).
    pub moe_act: bool,
    /// "moe": the whole MoE block: router, dispatch, experts, combine.
    pub moe: bool,
    /// "shared_experts": the MoE layer's shared experts.
    pub shared_experts: bool,
}

impl RecomputeModules {
    pub const NAMES: [&'static str; 7] = ["core_attn", "layernorm", "mla_up_proj", "mlp", "moe_act", "moe", "shared_experts"];

    /// Megatron-Core's default: the core attention only.
    pub const DEFAULT: RecomputeModules = RecomputeModules {
        core_attn: true,
        layernorm: false,
        mla_up_proj: false,
        mlp: false,
        moe_act: false,
        moe: false,
        shared_experts: false,
    };

    fn parse(names: &[String], model: &Architecture) -> Result<RecomputeModules> {
        let key = "training.recompute_modules";
        let mut m = RecomputeModules { core_attn: false, ..RecomputeModules::DEFAULT };
        for n in names {
            let flag = match n.as_str() {
                "core_attn" => &mut m.core_attn,
                "layernorm" => &mut m.layernorm,
                "mla_up_proj" => &mut m.mla_up_proj,
                "mlp" => &mut m.mlp,
                "moe_act" => &mut m.moe_act,
                "moe" => &mut m.moe,
                "shared_experts" => &mut m.shared_experts,
                _ => return Err(Error::invalid(key, format!("{n:?}"), format!("each must be one of {}", RecomputeModules::NAMES.join(", ")))),
            };
            if *flag {
                return Err(Error::invalid(key, format!("{n:?}"), "is listed twice"));
            }
            *flag = true;
            let needs = match n.as_str() {
                "mla_up_proj" if model.mla.is_none() => Some("model.attention = \"mla\""),
                "moe_act" | "moe" if !model.is_moe() => Some("a MoE model (model.experts > 0)"),
                "shared_experts" if model.moe.shared_experts == 0 && model.moe.shared_ffn_hidden == 0 => {
                    Some("a MoE model with shared experts")
                }
                _ => None,
            };
            if let Some(needs) = needs {
                return Err(Error::invalid(key, format!("{n:?}"), format!("needs {needs}")));
            }
        }
        Ok(m)
    }
}

/// The routing capacities a scenario allows: `training.moe_capacity_factor` as one
/// factor (left out: dropless), or, for a search to rank, a list of factors and
/// "dropless". A capacity below what the tokens need drops them (a quality cost the
/// search does not price; the list is the user's to give).
pub(super) fn capacity_factor_choices(t: &TrainingSection, model: &Architecture) -> Result<Vec<Option<f64>>> {
    const KEY: &str = "training.moe_capacity_factor";
    let Some(v) = &t.moe_capacity_factor else { return Ok(vec![None]) };
    if !model.is_moe() {
        return Err(Error::invalid(KEY, v, "routes tokens to experts: needs a MoE model"));
    }
    let factor = |v: &toml::Value| -> Result<Option<f64>> {
        let c = match v {
            toml::Value::Float(c) => *c,
            toml::Value::Integer(i) => *i as f64,
            toml::Value::String(s) if s == "dropless" => return Ok(None),
            other => return Err(Error::invalid(KEY, other, "must be a number in (0, 1000] (or, in a search's list, \"dropless\"); leave it out for dropless routing")),
        };
        if !(c.is_finite() && c > 0.0 && c <= 1e3) {
            return Err(Error::invalid(KEY, c, "must be a number in (0, 1000]; leave it out for dropless routing"));
        }
        Ok(Some(c))
    };
    match v {
        toml::Value::Array(items) if items.is_empty() => Err(Error::invalid(KEY, v, "an empty list allows nothing; give at least one factor or \"dropless\"")),
        toml::Value::Array(items) => items.iter().map(factor).collect(),
        toml::Value::String(_) => Err(Error::invalid(KEY, v, "must be a number in (0, 1000]; leave it out for dropless routing (\"dropless\" only in a search's list)")),
        one => Ok(vec![factor(one)?]),
    }
}

pub(super) fn resolve_training(t: TrainingSection, cluster: &ClusterConfig, model: &Architecture) -> Result<TrainingConfig> {
    let capacity = capacity_factor_choices(&t, model)?;
    let precision = t.precision.unwrap_or(Precision::Bf16);
    let framework = t.framework.unwrap_or(Framework::MegatronCore);
    let facts = framework.facts();
    if precision == Precision::Fp8 && cluster.gpu.fp8_flops <= 0.0 {
        return Err(Error::invalid(
            "training.precision",
            "\"fp8\"",
            format!("{} has no FP8 tensor cores; use \"bf16\"", cluster.gpu.id),
        ));
    }
    Ok(TrainingConfig {
        precision,
        tokens: positive("training.tokens", t.tokens.unwrap_or(defaults::TRAINING_TOKENS))?,
        max_global_batch_tokens: positive(
            "training.max_global_batch_tokens",
            t.max_global_batch_tokens.unwrap_or(defaults::MAX_GLOBAL_BATCH_TOKENS),
        )?,
        gpu_hour_usd: match t.gpu_hour_usd {
            Some(v) if !(v.is_finite() && v >= 0.0) => {
                return Err(Error::invalid("training.gpu_hour_usd", v, "must be a number >= 0"))
            }
            v => v.unwrap_or(defaults::GPU_HOUR_USD),
        },
        attention_kernel: t.attention_kernel.unwrap_or(if facts.flash_attention { AttentionKernel::Flash } else { AttentionKernel::Materialized }),
        // FP16 reduces in FP16 everywhere (loss scaling); BF16 and FP8 as the framework does.
        grad_reduce_in_fp32: t.grad_reduce_in_fp32.unwrap_or(precision != Precision::Fp16 && facts.bf16_grad_reduce_fp32),
        framework,
        cuda_graphs: t.cuda_graphs.unwrap_or(false),
        master_weights: t.master_weights.unwrap_or(true),
        compile: t.compile.unwrap_or(false),
        loss_chunks: match t.loss_chunks {
            Some(0) => return Err(Error::invalid("training.loss_chunks", 0, "must be a positive integer (1 = the whole sequence at once)")),
            Some(n) if n > model.seq_len => {
                return Err(Error::invalid("training.loss_chunks", n, format!("at most model.seq_len = {}", model.seq_len)))
            }
            v => v.unwrap_or(1),
        },
        optimizer_in_backward: t.optimizer_in_backward.unwrap_or(false),
        param_remainders: match t.param_remainders {
            Some(true) if t.master_weights == Some(false) => {
                return Err(Error::invalid("training.param_remainders", "true", "keeps part of the FP32 master weights: needs training.master_weights = true"))
            }
            v => v.unwrap_or(false),
        },
        fp8_params: match t.fp8_params {
            Some(true) if precision != Precision::Fp8 => {
                return Err(Error::invalid("training.fp8_params", "true", "needs training.precision = \"fp8\""))
            }
            v => v.unwrap_or(false),
        },
        moe_capacity_factor: capacity[0],
        moe_pad_to_capacity: match t.moe_pad_to_capacity {
            Some(true) if capacity.contains(&None) => {
                return Err(Error::invalid("training.moe_pad_to_capacity", "true", "pads to the experts' capacity: needs training.moe_capacity_factor"))
            }
            v => v.unwrap_or(false),
        },
        moe_load_imbalance: match t.moe_load_imbalance {
            Some(_) if !model.is_moe() => return Err(Error::invalid("training.moe_load_imbalance", t.moe_load_imbalance.unwrap_or(0.0), "needs a MoE model")),
            Some(v) if !(v.is_finite() && (0.0..=100.0).contains(&v)) => {
                return Err(Error::invalid("training.moe_load_imbalance", v, "must be a number in [0, 100]: the busiest rank's tokens over the balanced share, minus 1"))
            }
            v => v.unwrap_or(0.0),
        },
        moe_max_nodes_per_token: match t.moe_max_nodes_per_token {
            Some(m) if !model.is_moe() => return Err(Error::invalid("training.moe_max_nodes_per_token", m, "routes tokens to experts: needs a MoE model")),
            Some(0) => return Err(Error::invalid("training.moe_max_nodes_per_token", 0, "must be a positive integer (DeepSeek-V3: 4)")),
            Some(m) if m > model.moe.top_k => {
                return Err(Error::invalid("training.moe_max_nodes_per_token", m, format!("at most model.top_k = {}: a token reaches no more nodes than experts", model.moe.top_k)))
            }
            v => v,
        },
        fp8_recipe: match t.fp8_recipe {
            Some(r) if precision != Precision::Fp8 => {
                return Err(Error::invalid("training.fp8_recipe", format!("\"{}\"", r.name()), "needs training.precision = \"fp8\""))
            }
            Some(Fp8Recipe::Mxfp8) if !cluster.gpu.generation.starts_with("blackwell") => {
                return Err(Error::invalid(
                    "training.fp8_recipe",
                    "\"mxfp8\"",
                    format!("MX block scaling needs Blackwell tensor cores; {} is {}: use \"tensorwise\" or \"rowwise\"", cluster.gpu.id, cluster.gpu.generation),
                ))
            }
            r => r.unwrap_or(Fp8Recipe::Tensorwise),
        },
        fp8_gemms: match t.fp8_gemms {
            Some(g) if precision != Precision::Fp8 => {
                return Err(Error::invalid("training.fp8_gemms", format!("\"{}\"", g.name()), "needs training.precision = \"fp8\""))
            }
            Some(g @ (Fp8Gemms::Dense | Fp8Gemms::Experts)) if !model.is_moe() => {
                return Err(Error::invalid("training.fp8_gemms", format!("\"{}\"", g.name()), "splits the GEMMs at the routed experts: needs a MoE model (or \"all\")"))
            }
            Some(g @ (Fp8Gemms::Dense | Fp8Gemms::Experts)) if facts.transformer_engine => {
                return Err(Error::invalid(
                    "training.fp8_gemms",
                    format!("\"{}\"", g.name()),
                    format!("splits FP8 as torchao converts linears and grouped GEMMs apart; {} quantises every Transformer Engine GEMM: use \"all\" (or a torchao framework: torchtitan, fsdp)", framework.name()),
                ))
            }
            Some(g @ (Fp8Gemms::Dense | Fp8Gemms::Experts)) if t.fp8_params == Some(true) || t.fp8_activations == Some(true) => {
                return Err(Error::invalid(
                    "training.fp8_gemms",
                    format!("\"{}\"", g.name()),
                    "keeps half the GEMMs in BF16, whose weights and activations stay BF16: leave training.fp8_params and training.fp8_activations out (or use \"all\")",
                ))
            }
            g => g.unwrap_or(Fp8Gemms::All),
        },
        recompute_modules: match &t.recompute_modules {
            None => RecomputeModules::DEFAULT,
            Some(names) => RecomputeModules::parse(names, model)?,
        },
        adam_moments: t.adam_moments.unwrap_or(MomentType::Fp32),
        fp8_activations: match t.fp8_activations {
            Some(true) if precision != Precision::Fp8 => {
                return Err(Error::invalid("training.fp8_activations", "true", "needs training.precision = \"fp8\""))
            }
            v => v.unwrap_or(false),
        },
    })
}
