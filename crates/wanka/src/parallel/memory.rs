//! Memory per GPU: weights, gradients, optimizer state (by ZeRO stage), activations
//! (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
//! Models", §4, generalised to GQA/MLA, gated MLPs and MoE), in-flight micro-batches of
//! the pipeline schedule, and the runtime's own reservation.
//!
//! Bytes per parameter follow Megatron-LM's mixed-precision training
//! (`theoretical_memory_usage`): BF16 weights (2), FP32 main gradients (4; 2 when
//! `training.grad_reduce_in_fp32 = false`), FP32 master weights plus Adam's moments (12;
//! 8 with `training.adam_moments = "bf16"`). ZeRO-1 shards the optimizer over the
//! data-parallel ranks, ZeRO-2 also the gradients, ZeRO-3 also the weights.

use super::{stage_kinds, StageKind, StageLayout};
use crate::framework::SelectivePolicy;
use crate::calibration as cal;
use crate::model::{Activation, LayerParams};
use crate::scenario::{AttentionKernel, MicroBatchShape, Precision, Recompute, RecomputeModules, Scenario, Schedule};
use serde::Serialize;

pub const WEIGHT_BYTES: f64 = 2.0;
pub const GRAD_BYTES: f64 = 4.0;
/// FP32 master weights (4, none in pure-BF16 training) and Adam's two moments (4 each,
/// or 2 each in BF16).
pub fn optimizer_bytes_per_param(s: &Scenario) -> f64 {
    let master = match (s.training.master_weights, s.training.param_remainders) {
        (false, _) => 0.0,
        (true, true) => 2.0,
        (true, false) => 4.0,
    };
    master + 2.0 * s.training.adam_moments.bytes()
}

/// HBM bytes the optimizer step moves per parameter it updates: the calibration's
/// FP32 figure, less what BF16 moments save (m and v each read and written).
pub fn optimizer_step_bytes_per_param(s: &Scenario) -> f64 {
    // Without master weights the FP32 master is neither read nor written (8 bytes).
    let master = if s.training.master_weights { 0.0 } else { 8.0 };
    cal::OPTIMIZER_BYTES_PER_PARAM - 4.0 * (4.0 - s.training.adam_moments.bytes()) - master
}

/// Memory of the busiest GPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryReport {
    pub weights_bytes: f64,
    pub gradients_bytes: f64,
    pub optimizer_bytes: f64,
    pub activations_bytes: f64,
    /// PyTorch's peak allocated bytes (`torch.cuda.max_memory_allocated`): weights,
    /// gradients, optimizer state and activations.
    pub allocated_bytes: f64,
    /// PyTorch's peak reserved bytes (`torch.cuda.max_memory_reserved`): the allocated
    /// peak and the blocks its cache keeps beside it.
    pub torch_reserved_bytes: f64,
    /// Outside PyTorch's allocator: CUDA context, NCCL and library buffers.
    pub runtime_bytes: f64,
    /// What `nvidia-smi` shows: PyTorch's reserved bytes and the runtime's.
    pub total_bytes: f64,
    pub capacity_bytes: f64,
    /// The allocated peak fits beside the runtime: the step runs.
    pub fits: bool,
    /// PyTorch's reserved peak fits too. When it does not, the caching allocator frees
    /// its cached blocks and retries (`num_alloc_retries`) whenever a request misses,
    /// synchronising the device: the step runs, slower by an amount no published
    /// measurement pins down (one run of the Ultra-Scale Playbook near 80 GB measured a
    /// third of its neighbours' throughput).
    pub allocator_headroom: bool,
}

/// Parameters held by one GPU of a pipeline stage, split by how they are sharded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageParams {
    /// Dense parameters (attention, dense MLP, shared experts, router, norms,
    /// embedding/head) on this GPU after TP.
    pub dense: f64,
    /// Routed-expert parameters on this GPU after EP and TP.
    pub experts: f64,
}

impl StageParams {
    pub fn total(&self) -> f64 {
        self.dense + self.experts
    }
}

/// Parameters on one GPU of a pipeline rank of the given kind.
pub fn stage_params(s: &Scenario, lp: &LayerParams, kind: &StageKind) -> StageParams {
    let m = &s.model;
    let p = &s.parallel;
    let tp = p.tp as f64;
    let moe = kind.moe_layers;
    let dense_layers = kind.layers - moe;
    let vocab_h = (m.vocab * m.hidden) as f64;
    let mut dense = dense_layers * (lp.attention + lp.dense_mlp) / tp
        + moe * (lp.attention + lp.shared + lp.router) / tp
        + kind.layers * lp.norms;
    if kind.embedding {
        dense += vocab_h / tp;
    }
    if kind.head && (!m.tied_embeddings || !kind.embedding) {
        dense += vocab_h / tp;
    }
    let experts = moe * m.moe.experts as f64 * lp.expert / (p.ep * p.etp) as f64;
    StageParams { dense, experts }
}

/// Activation bytes of one layer for one micro-batch on one GPU, stored for backward.
/// `recompute` is the policy to assume (the scenario's, or another for what-ifs).
pub fn layer_activation_bytes(s: &Scenario, moe_layer: bool, recompute: Recompute) -> f64 {
    let m = &s.model;
    let p = &s.parallel;
    let MicroBatchShape { tokens, tp, sp, hidden: h } = s.micro_batch_shape();
    if recompute == Recompute::Full {
        // Only each layer's input is kept (2·s·b·h, sharded by SP).
        return 2.0 * tokens * h / sp;
    }
    let q = m.q_width() as f64;
    let vw = m.v_width() as f64;
    let facts = s.training.framework.facts();
    if recompute == Recompute::Selective && facts.selective == SelectivePolicy::TorchtitanOps && !moe_layer {
        // torchtitan's op-level selective AC keeps the layer's input, the outputs of
        // the 1st, 3rd, 5th and 7th matmul (wq, wv, w1, w2 in Llama's order), and the
        // SDPA output with its FP32 log-sum-exp; norms, rotary, wk, wo, w3 and the
        // activation are recomputed.
        let kv = (m.kv_heads * m.head_dim) as f64;
        let heads = m.heads as f64 / tp;
        return tokens * (2.0 * h / sp + 2.0 * (q + kv + vw + m.ffn_hidden as f64) / tp + 2.0 * h + 4.0 * heads);
    }
    // What selective recomputation recomputes instead of keeping (Megatron-Core's
    // `recompute_modules`); without recomputation, nothing.
    let r = match recompute {
        Recompute::Selective => s.training.recompute_modules,
        _ => RecomputeModules { core_attn: false, ..RecomputeModules::DEFAULT },
    };
    // K and V as attention reads them: KV heads wide for MHA/GQA; MLA materialises
    // full-width K (heads × qk dim) and V (heads × v dim).
    let (k_w, v_w) = match m.mla {
        Some(_) => (q, vw),
        None => ((m.kv_heads * m.head_dim) as f64, (m.kv_heads * m.head_dim) as f64),
    };
    // Replicated across TP unless sequence parallel: the two norm inputs and their
    // outputs, the QKV and MLP inputs (Korthikanti eq. 1's 10·sbh without dropout
    // masks, which modern LLMs do not use). Recomputing the norms keeps only inputs.
    // Activations that feed FP8 GEMMs, kept in FP8 when `training.fp8_activations`
    // (the norm outputs, the attention output, the MLP intermediates, the routed tokens);
    // the residual stream and Q, K, V (attention runs in BF16) stay BF16.
    let fp8_cache = s.training.fp8_activations;
    // Transformer Engine under FP8 saves each GEMM's input quantised, 1 byte, instead of
    // BF16 (linear.py `saved_inputmat`, layernorm_linear.py `ln_out`, layernorm_mlp.py's
    // fc2 input, grouped_linear.py); LayerNormMLP's fc1 output, the activation's input,
    // stays BF16. torchao's Float8Linear saves the BF16 inputs and quantises again.
    let te_fp8 = s.training.precision == Precision::Fp8 && facts.transformer_engine;
    let gemm_in = if fp8_cache || te_fp8 { 1.0 } else { 2.0 };
    let fc1_out = if fp8_cache { 1.0 } else { 2.0 };
    let norm_outputs = if r.layernorm { 0.0 } else { 2.0 };
    let replicated = tokens * h * (2.0 * 2.0 + gemm_in * norm_outputs) / sp;
    // Attention: Q, K, V and the output-projection input (the attention output),
    // sharded by TP. Recomputing MLA's up-projections keeps the compressed latents
    // (query and key/value, plus the shared rotary key) instead of Q, K and V.
    let qkv = match m.mla {
        // Without a query LoRA there is no query up-projection: Q itself is kept.
        Some(mla) if r.mla_up_proj => {
            let q_kept = if mla.q_lora_rank > 0 { mla.q_lora_rank as f64 } else { q / tp };
            q_kept + (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64
        }
        _ => (q + k_w + v_w) / tp,
    };
    let mut attention = tokens * (2.0 * qkv + gemm_in * vw / tp);
    if facts.mha_keeps_qkv_and_kv_copies && m.mla.is_none() && m.kv_heads == m.heads && !r.core_attn {
        attention += tokens * 2.0 * (k_w + v_w) / tp;
    }
    let heads = m.heads as f64 / tp;
    let s_len = (m.seq_len / p.cp) as f64;
    match (s.training.attention_kernel, recompute, r.core_attn) {
        // Softmax output, dropout mask and dropout output over the s×s scores (5·a·s²·b),
        // unless the attention core is recomputed.
        (AttentionKernel::Materialized, Recompute::None | Recompute::Selective, false) => attention += 5.0 * heads * s_len * tokens,
        // Flash attention keeps the log-sum-exp (FP32) per row and head.
        (AttentionKernel::Flash, _, _) => attention += 4.0 * heads * tokens,
        _ => {}
    }
    let gated = m.activation == Activation::Swiglu;
    // Intermediate activations: gate and up outputs (gated) or fc1 output, and the
    // activation's output that feeds the second GEMM; recomputing the activation
    // keeps only its input.
    // Eager SwiGLU (`silu(gate) * up`) also keeps the silu output, which the product
    // saved for its backward.
    let eager_act = gated && !s.training.compile && facts.eager.act;
    let mlp = |f: f64, tok: f64, keep_act_output: bool| -> f64 {
        let inputs = if gated { 2.0 } else { 1.0 };
        let (output, silu) = if keep_act_output { (1.0, if eager_act { 1.0 } else { 0.0 }) } else { (0.0, 0.0) };
        tok * f * (fc1_out * inputs + gemm_in * output + 2.0 * silu) / tp
    };
    let mlp_bytes = if moe_layer {
        let top_k = m.moe.top_k as f64;
        let routed = if r.moe {
            0.0 // the block's input is already kept
        } else {
            // The experts' inputs: this GPU's routed tokens, gathered over expert TP.
            let routed = s.training.routed_load() * tokens * top_k;
            mlp(m.moe.expert_ffn_hidden as f64, routed, !r.moe_act) + gemm_in * routed * h * p.etp as f64 / sp
        };
        let shared_ffn = (m.moe.shared_ffn_hidden.max(m.moe.shared_experts * m.moe.expert_ffn_hidden)) as f64;
        // Megatron's "moe" recomputes the whole MoE layer, shared experts included.
        let shared = if r.shared_experts || r.moe { 0.0 } else { mlp(shared_ffn, tokens, true) };
        routed + shared
    } else if r.mlp {
        0.0
    } else {
        mlp(m.ffn_hidden as f64, tokens, true)
    };
    replicated + attention + mlp_bytes
}

/// Micro-batches' worth of activations pipeline rank `r` holds at its peak, in units
/// of one micro-batch through all of the rank's layers.
pub fn in_flight_microbatches(s: &Scenario, r: u64) -> f64 {
    let p = &s.parallel;
    let m = p.microbatches() as f64;
    let (pp, r, v) = (p.pp as f64, r as f64, p.vpp as f64);
    match p.schedule {
        // 1F1B: rank r runs pp − r forwards before its first backward.
        Schedule::OneFOneB | Schedule::ZeroBubble => (pp - r).min(m),
        // Interleaved: (pp − r − 1)·2 + (v − 1)·pp warm-up chunks plus the one in
        // steady state, each 1/v of the rank's layers: pp + (pp − 1)/v on the first
        // rank (Narayanan et al. 2021, §2.2.2; Korthikanti et al. 2022, §4.2.3).
        Schedule::Interleaved => (((pp - r - 1.0) * 2.0 + (v - 1.0) * pp + 1.0) / v).min(m),
        // DualPipe: PP + 1 micro-batches of one chunk (DeepSeek-V3 Table 2); a rank's
        // layers are two chunks.
        Schedule::Dualpipe => ((pp + 1.0) / 2.0).min(m),
    }
}

/// Whether torch.compile fuses the loss (`training.compile` under a framework that
/// compiles it with the model): the loss's memory and its time both follow.
pub fn loss_is_compiled(s: &Scenario) -> bool {
    s.training.compile && s.training.framework.facts().compile_covers_loss
}

/// Bytes per logit the loss holds at its peak: the framework's eager loss, or, when
/// torch.compile covers the loss, the BF16 logits it keeps and the BF16 gradient it
/// writes (the FP32 softmax stays in registers of the fused kernels).
pub fn loss_bytes_per_logit(s: &Scenario) -> f64 {
    let whole = if loss_is_compiled(s) { 2.0 * WEIGHT_BYTES } else { s.training.framework.facts().loss_bytes_per_logit };
    match s.training.loss_chunks {
        // Chunked, every chunk's BF16 logits wait for backward, one chunk at a time is
        // upcast.
        n if n > 1 => WEIGHT_BYTES + whole / n as f64,
        _ => whole,
    }
}

/// Memory of the busiest GPU: every kind of pipeline rank is costed, the largest wins.
pub fn memory(s: &Scenario) -> MemoryReport {
    let kinds = stage_kinds(s, &StageLayout::new(s));
    let lp = s.model.layer_params();
    let params: Vec<StageParams> = kinds.iter().map(|k| stage_params(s, &lp, k)).collect();
    memory_of(s, &kinds, &params)
}

/// [`memory`] for the pipeline's rank kinds and their parameters already worked out.
pub fn memory_of(s: &Scenario, kinds: &[StageKind], params: &[StageParams]) -> MemoryReport {
    let layers = LayerActivations::of(s);
    let mut busiest: Option<MemoryReport> = None;
    for (kind, sp) in kinds.iter().zip(params) {
        let m = memory_with(s, kind, *sp, &layers);
        if busiest.map_or(true, |b| m.total_bytes > b.total_bytes) {
            busiest = Some(m);
        }
    }
    busiest.unwrap_or_else(|| memory_with(s, &StageKind { rank: 0, ranks: 1, layers: 0.0, moe_layers: 0.0, embedding: false, head: false }, StageParams { dense: 0.0, experts: 0.0 }, &layers))
}

/// Activation bytes of one layer for one micro-batch, worked out once for every rank.
struct LayerActivations {
    dense: f64,
    moe: f64,
    /// With `parallel.recompute_layers`, a layer full recomputation leaves alone (dense,
    /// MoE), and the stage layout that says how many each rank holds.
    plain: Option<(f64, f64, crate::parallel::StageLayout)>,
    /// The layer being recomputed under full recomputation (dense, MoE).
    recomputing: (f64, f64),
}

impl LayerActivations {
    fn of(s: &Scenario) -> LayerActivations {
        let r = s.parallel.recompute;
        let dense = layer_activation_bytes(s, false, r);
        let moe = if s.model.is_moe() { layer_activation_bytes(s, true, r) } else { dense };
        let recomputing = if r == Recompute::Full {
            let dense = layer_activation_bytes(s, false, Recompute::None);
            (dense, if s.model.is_moe() { layer_activation_bytes(s, true, Recompute::None) } else { dense })
        } else {
            (0.0, 0.0)
        };
        let plain = s.parallel.recompute_layers.map(|_| (recomputing.0, recomputing.1, crate::parallel::StageLayout::new(s)));
        LayerActivations { dense, moe, plain, recomputing }
    }
}

/// Memory of one GPU of a pipeline rank of the given kind.
pub fn rank_memory(s: &Scenario, kind: &StageKind, sp: StageParams) -> MemoryReport {
    memory_with(s, kind, sp, &LayerActivations::of(s))
}

fn memory_with(s: &Scenario, kind: &StageKind, sp: StageParams, layers: &LayerActivations) -> MemoryReport {
    let p = &s.parallel;
    let facts = s.training.framework.facts();
    let dp_dense = (p.dp * p.cp) as f64;
    let dp_expert = p.expert_dp() as f64;
    let shard = |per_param: f64, stage_min: u8| -> f64 {
        if p.zero >= stage_min {
            per_param * (sp.dense / dp_dense + sp.experts / dp_expert)
        } else {
            per_param * sp.total()
        }
    };
    // Without FSDP some frameworks train in FP32: the parameters are the optimizer's
    // own, and the gradients FP32.
    let fp32_params = facts.fp32_params_without_fsdp && p.zero == 0;
    let weight_bytes = if s.training.fp8_params { 1.0 } else { WEIGHT_BYTES };
    let weights_bytes = if fp32_params { 4.0 * sp.total() } else { shard(weight_bytes, 3) };
    let grad_bytes = if s.training.grad_reduce_in_fp32 || fp32_params { GRAD_BYTES } else { WEIGHT_BYTES };
    let mut gradients_bytes = shard(grad_bytes, 2);
    if facts.pipeline_accumulates_unsharded_fp32_grads && p.pp > 1 && p.zero >= 2 && p.microbatches() > 1 {
        // FSDP2 under a pipeline schedule: the unsharded FP32 accumulation of every
        // parameter of the stage, beside the sharded gradient it is reduced into.
        gradients_bytes += GRAD_BYTES * sp.total();
    }
    if s.training.optimizer_in_backward {
        // Stepped as produced: one tensor's gradient at a time, the largest being the
        // embedding or an MLP projection.
        let m = &s.model;
        let up = if m.activation == Activation::Swiglu { 2.0 } else { 1.0 };
        let largest = ((m.vocab * m.hidden) as f64).max(up * (m.ffn_hidden * m.hidden) as f64) / p.tp as f64;
        gradients_bytes = grad_bytes * largest.min(sp.total());
    }
    let optimizer_per_param = if fp32_params { 2.0 * s.training.adam_moments.bytes() } else { optimizer_bytes_per_param(s) };
    let optimizer_bytes = shard(optimizer_per_param, 1);
    // Full recomputation keeps only each recomputed layer's input; with
    // `parallel.recompute_layers` the rank's other layers keep everything.
    // What the rank's unrecomputed layers keep of one micro-batch (none without
    // `parallel.recompute_layers`).
    let (per_mb, kept_one_mb) = match &layers.plain {
        Some((plain_dense, plain_moe, layout)) => {
            let share = crate::parallel::recompute_share(s, layout, kind.rank);
            let kept = (1.0 - share) * ((kind.layers - kind.moe_layers) * plain_dense + kind.moe_layers * plain_moe);
            (share * ((kind.layers - kind.moe_layers) * layers.dense + kind.moe_layers * layers.moe) + kept, kept)
        }
        None => ((kind.layers - kind.moe_layers) * layers.dense + kind.moe_layers * layers.moe, 0.0),
    };
    let mut activations_bytes = per_mb * in_flight_microbatches(s, kind.rank);
    // Under full recomputation the layer being recomputed holds its full activations
    // once, on a rank that holds layers. With Megatron's block method the recomputed
    // layers come first in the chunk, so backward reaches them last, when the
    // micro-batch's kept layers are already freed; spread through the stage
    // (`FrameworkFacts::recompute_layers_spread`), the last layer is one of them.
    if kind.layers > 0.0 {
        let recomputing = if kind.moe_layers > 0.0 { layers.recomputing.1 } else { layers.recomputing.0 };
        let freed = if facts.recompute_layers_spread { 0.0 } else { kept_one_mb };
        activations_bytes += (recomputing - freed).max(0.0);
    }
    if kind.head {
        // The loss's logits for one micro-batch (vocab sharded by TP), as the framework
        // holds them at its peak.
        let shape = s.micro_batch_shape();
        activations_bytes += loss_bytes_per_logit(s) * shape.tokens * s.model.vocab as f64 / shape.tp;
    }
    // Autograd's BF16 gradients beside the FP32 accumulation buffer (nanotron): alive
    // at the end of each micro-batch's backward, when that micro-batch's activations
    // are gone but the other in-flight ones are not.
    if s.training.grad_reduce_in_fp32 && facts.bf16_grads_beside_fp32 {
        let one_microbatch = per_mb.min(activations_bytes);
        gradients_bytes += (WEIGHT_BYTES * sp.total() - one_microbatch).max(0.0);
    }
    let allocated_bytes = weights_bytes + gradients_bytes + optimizer_bytes + activations_bytes;
    let torch_reserved_bytes = allocated_bytes + cal::ALLOCATOR_CACHE_FRACTION * activations_bytes;
    let runtime_bytes = cal::RUNTIME_RESERVED_BYTES;
    let total_bytes = torch_reserved_bytes + runtime_bytes;
    let capacity_bytes = s.cluster.gpu.hbm_bytes;
    MemoryReport {
        weights_bytes,
        gradients_bytes,
        optimizer_bytes,
        activations_bytes,
        allocated_bytes,
        torch_reserved_bytes,
        runtime_bytes,
        total_bytes,
        capacity_bytes,
        fits: allocated_bytes + runtime_bytes <= capacity_bytes,
        allocator_headroom: total_bytes <= capacity_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(text: &str, sets: &[&str]) -> Scenario {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::scenario::parse(text, Path::new("t.toml"), &sets).unwrap()
    }

    const GPT: &str = r#"
[model]
preset = "gpt3-175b"
[cluster]
gpu = "h100-sxm"
gpus = 64
[parallel]
tp = 8
pp = 8
sequence_parallel = true
global_batch = 64
"#;

    /// Korthikanti et al. 2022, eq. 2 (sequence parallel, no recomputation):
    /// s·b·h·(34/t + 5·a·s/(h·t)) per layer. Without dropout (two masks of s·b·h bytes
    /// gone) and with flash attention (no s×s terms) that is 32·s·b·h/t, plus the
    /// flash log-sum-exp.
    #[test]
    fn activations_follow_korthikanti_without_dropout_and_with_flash() {
        let s = scenario(GPT, &[]);
        let (sbh, t) = ((s.model.seq_len * s.model.hidden) as f64, 8.0);
        let lse = 4.0 * (s.model.heads as f64 / t) * s.model.seq_len as f64;
        let got = layer_activation_bytes(&s, false, Recompute::None) - lse;
        assert!((got / (32.0 * sbh / t) - 1.0).abs() < 1e-9, "{got}");
        // Full recomputation keeps each layer's input only: 2·s·b·h/t.
        let full = layer_activation_bytes(&s, false, Recompute::Full);
        assert!((full / (2.0 * sbh / t) - 1.0).abs() < 1e-9);
        // Materialised attention adds the 5·a·s²·b/t of the paper.
        let m = scenario(GPT, &["training.attention_kernel=\"materialized\""]);
        let extra = layer_activation_bytes(&m, false, Recompute::None) - got;
        let a = s.model.heads as f64;
        assert!((extra / (5.0 * a * (s.model.seq_len as f64).powi(2) / t) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn zero_stages_shard_optimizer_then_gradients_then_weights() {
        let at = |zero: &str| memory(&scenario(GPT, &[&format!("parallel.zero={zero}"), "parallel.pp=4", "parallel.tp=4"]));
        let (z0, z1, z2, z3) = (at("0"), at("1"), at("2"), at("3"));
        let dp = 4.0; // 64 / (4 · 4)
        assert!((z1.optimizer_bytes * dp / z0.optimizer_bytes - 1.0).abs() < 1e-9);
        assert_eq!(z1.gradients_bytes, z0.gradients_bytes);
        assert!((z2.gradients_bytes * dp / z1.gradients_bytes - 1.0).abs() < 1e-9);
        assert_eq!(z2.weights_bytes, z1.weights_bytes);
        assert!((z3.weights_bytes * dp / z2.weights_bytes - 1.0).abs() < 1e-9);
    }

    const LLAMA8B: &str = r#"
[model]
preset = "llama3-8b"
[cluster]
gpu = "h100-sxm"
gpus = 8
[parallel]
dp = 8
micro_batch = 1
global_batch = 8
"#;

    /// FSDP2 under a pipeline schedule keeps every stage parameter's FP32 gradient
    /// unsharded until the last micro-batch (pytorch#125191); Megatron's distributed
    /// optimizer does not.
    #[test]
    fn fsdp_under_pipelining_accumulates_unsharded_fp32_gradients() {
        let sets = ["parallel.pp=2", "parallel.dp=4", "parallel.zero=2", "parallel.global_batch=16"];
        let at = |fw: &str| {
            let mut v: Vec<&str> = sets.to_vec();
            let f = format!("training.framework=\"{fw}\"");
            v.push(&f);
            let s = scenario(LLAMA8B, &v);
            let kinds = stage_kinds(&s, &StageLayout::new(&s));
            let lp = s.model.layer_params();
            (rank_memory(&s, &kinds[0], stage_params(&s, &lp, &kinds[0])), stage_params(&s, &lp, &kinds[0]).total())
        };
        let ((titan, params), (mcore, _)) = (at("torchtitan"), at("megatron-core"));
        assert!((titan.gradients_bytes - mcore.gradients_bytes - 4.0 * params).abs() < 1e-3 * params, "{} {}", titan.gradients_bytes, mcore.gradients_bytes);
    }

    /// torch.compile covers torchtitan's loss (BF16 logits and gradient, 4 bytes per
    /// logit instead of the eager FP32 copies' 12); chunking the loss keeps the BF16
    /// logits and one chunk's FP32 work; stepping in backward frees the gradients.
    #[test]
    fn compiled_and_chunked_losses_and_optimizer_in_backward_save_memory() {
        let titan = |extra: &[&str]| {
            let mut v = vec!["training.framework=\"torchtitan\""];
            v.extend_from_slice(extra);
            scenario(LLAMA8B, &v)
        };
        assert_eq!(loss_bytes_per_logit(&titan(&[])), 12.0);
        assert_eq!(loss_bytes_per_logit(&titan(&["training.compile=true"])), 4.0);
        assert_eq!(loss_bytes_per_logit(&titan(&["training.framework=\"torchtitan-2025q1\"", "training.compile=true"])), 12.0);
        assert_eq!(loss_bytes_per_logit(&titan(&["training.loss_chunks=8"])), 2.0 + 12.0 / 8.0);
        let plain = memory(&titan(&[]));
        let in_bwd = memory(&titan(&["training.optimizer_in_backward=true"]));
        assert!(in_bwd.gradients_bytes < 0.1 * plain.gradients_bytes, "{} {}", in_bwd.gradients_bytes, plain.gradients_bytes);
        assert_eq!(in_bwd.optimizer_bytes, plain.optimizer_bytes);
    }

    /// PyTorch's counters nest: allocated ≤ reserved < what nvidia-smi shows; a layout
    /// fits on its allocated peak, and has headroom only when the cache fits too.
    #[test]
    fn allocated_reserved_and_nvidia_smi_nest() {
        let m = memory(&scenario(LLAMA8B, &[]));
        assert!(m.allocated_bytes < m.torch_reserved_bytes && m.torch_reserved_bytes < m.total_bytes);
        let cache = m.torch_reserved_bytes - m.allocated_bytes;
        assert!((cache - cal::ALLOCATOR_CACHE_FRACTION * m.activations_bytes).abs() < 1.0);
        assert_eq!(m.fits, m.allocated_bytes + m.runtime_bytes <= m.capacity_bytes);
        assert_eq!(m.allocator_headroom, m.total_bytes <= m.capacity_bytes);
    }

    /// Each recomputed module gives back memory and costs backward time. DeepSeek-V3's
    /// memory recipe (norms, MLA up-projections and the experts' SwiGLU recomputed, FP8
    /// activations, BF16 moments; §3.2.3, §3.3.3) fits the report's layout in 80 GB; the
    /// same layout keeping everything in BF16 does not.
    #[test]
    fn recompute_modules_trade_memory_for_time() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deepseek-v3-2048.toml");
        let load = |modules: &str| crate::scenario::load(&path, &[format!("training.recompute_modules={modules}")]).unwrap();
        let plain = crate::scenario::load(&path, &["training.recompute_modules=[]".into(), "training.fp8_activations=false".into(), "training.precision=\"bf16\"".into(), "training.adam_moments=\"fp32\"".into()]).unwrap();
        let deepseek = crate::scenario::load(&path, &[]).unwrap();
        assert!(!memory(&plain).fits, "{}", memory(&plain).total_bytes / 2f64.powi(30));
        assert!(memory(&deepseek).fits, "{}", memory(&deepseek).total_bytes / 2f64.powi(30));
        let none = load("[]");
        let fabric = crate::parallel::fabric(&none.cluster);
        let device = crate::hardware::Device::new(&none.cluster.gpu, none.training.precision);
        let groups = crate::parallel::Groups::new(&fabric, &none.parallel, crate::parallel::has_nvls(&none.cluster));
        let mut previous = (f64::INFINITY, 0.0);
        for modules in ["[]", r#"["layernorm"]"#, r#"["layernorm", "mla_up_proj"]"#, r#"["layernorm", "mla_up_proj", "moe_act"]"#, r#"["layernorm", "mla_up_proj", "moe"]"#] {
            let s = load(modules);
            let bytes = layer_activation_bytes(&s, true, Recompute::Selective);
            let cost = crate::step::layer::layer_cost(&s, &device, &groups, true);
            assert!(bytes < previous.0 || modules == "[]", "{modules}: {bytes}");
            assert!(cost.recompute_s > previous.1 || modules == "[]", "{modules}: {}", cost.recompute_s);
            previous = (bytes, cost.recompute_s);
        }
        // Recomputing the whole MoE block repeats its dispatch and combine.
        let moe = crate::step::layer::layer_cost(&load(r#"["moe"]"#), &device, &groups, true);
        assert_eq!(moe.recompute.ep_s, moe.ep_fwd_s);
    }

    /// `parallel.recompute_layers` recomputes the first N layers of each model chunk:
    /// memory and step time lie between none and full, in proportion to N, and N equal
    /// to a chunk's layers is full recomputation exactly.
    #[test]
    fn recompute_layers_blend_none_and_full() {
        let at = |sets: &[&str]| {
            let mut all = vec!["parallel.pp=4", "parallel.tp=4", "parallel.vpp=1", "parallel.schedule=\"1f1b\""];
            all.extend_from_slice(sets);
            let s = scenario(GPT, &all);
            let r = crate::step::simulate(&s);
            (r.memory.activations_bytes, r.step_time_s, r.hardware_flops_per_token)
        };
        let none = at(&["parallel.recompute=\"none\""]);
        let full = at(&["parallel.recompute=\"full\""]);
        // GPT-3 175B's 96 layers over 4 stages: 24 a stage.
        assert_eq!(at(&["parallel.recompute=\"full\"", "parallel.recompute_layers=24"]), full);
        let half = at(&["parallel.recompute=\"full\"", "parallel.recompute_layers=12"]);
        let quarter = at(&["parallel.recompute=\"full\"", "parallel.recompute_layers=6"]);
        for (a, b) in [(full, half), (half, quarter), (quarter, none)] {
            assert!(a.0 < b.0 && a.1 > b.1 && a.2 > b.2, "{a:?} {b:?}");
        }
        // Recomputed FLOPs scale with the layers recomputed.
        let recomputed = |x: (f64, f64, f64)| x.2 - none.2;
        assert!((recomputed(half) / recomputed(full) - 0.5).abs() < 1e-9);
    }
}
