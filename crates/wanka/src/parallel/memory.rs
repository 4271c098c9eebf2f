//! Memory per GPU: weights, gradients, optimizer state (by ZeRO stage), activations
//! (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
//! Models", §4, generalised to GQA/MLA, gated MLPs and MoE), in-flight micro-batches of
//! the pipeline schedule, and the runtime's own reservation.
//!
//! Bytes per parameter follow Megatron-LM's mixed-precision training
//! (`theoretical_memory_usage`): BF16 weights (2), FP32 main gradients (4; 2 when
//! `training.grad_reduce_in_fp32 = false`), FP32 master weights plus Adam's moments (12). ZeRO-1 shards the optimizer over the data-parallel
//! ranks, ZeRO-2 also the gradients, ZeRO-3 also the weights.

use super::{moe_layers_in, StageLayout};
use crate::calibration as cal;
use crate::model::Activation;
use crate::scenario::{AttentionKernel, Precision, Recompute, Scenario, Schedule};
use serde::Serialize;

pub const WEIGHT_BYTES: f64 = 2.0;
pub const GRAD_BYTES: f64 = 4.0;
pub const OPTIMIZER_BYTES: f64 = 12.0;

/// Memory of the busiest GPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryReport {
    pub weights_bytes: f64,
    pub gradients_bytes: f64,
    pub optimizer_bytes: f64,
    pub activations_bytes: f64,
    /// CUDA context, NCCL and library buffers, fragmentation (calibration).
    pub reserved_bytes: f64,
    pub total_bytes: f64,
    pub capacity_bytes: f64,
    pub fits: bool,
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

/// Parameters on one GPU of a stage holding `layers` layers from global layer `first`,
/// with the embedding and/or LM head.
pub fn stage_params(s: &Scenario, first: u64, layers: u64, embedding: bool, head: bool) -> StageParams {
    let m = &s.model;
    let p = &s.parallel;
    let tp = p.tp as f64;
    let lp = m.layer_params();
    let moe = moe_layers_in(s, first, layers) as f64;
    let dense_layers = layers as f64 - moe;
    let vocab_h = (m.vocab * m.hidden) as f64;
    let mut dense = dense_layers * (lp.attention + lp.dense_mlp) / tp
        + moe * (lp.attention + lp.shared + lp.router) / tp
        + layers as f64 * lp.norms;
    if embedding {
        dense += vocab_h / tp;
    }
    if head && (!m.tied_embeddings || p.pp > 1) {
        dense += vocab_h / tp;
    }
    let experts = moe * m.moe.experts as f64 * lp.expert / (p.ep as f64 * tp);
    StageParams { dense, experts }
}

/// Activation bytes of one layer for one micro-batch on one GPU, stored for backward.
/// `recompute` is the policy to assume (the scenario's, or another for what-ifs).
pub fn layer_activation_bytes(s: &Scenario, moe_layer: bool, recompute: Recompute) -> f64 {
    let m = &s.model;
    let p = &s.parallel;
    let tokens = (p.micro_batch * m.seq_len / p.cp) as f64;
    let tp = p.tp as f64;
    let sp = if p.sequence_parallel { tp } else { 1.0 };
    let h = m.hidden as f64;
    if recompute == Recompute::Full {
        // Only each layer's input is kept (2·s·b·h, sharded by SP).
        return 2.0 * tokens * h / sp;
    }
    let q = m.q_width() as f64;
    let vw = m.v_width() as f64;
    // K and V as attention reads them: KV heads wide for MHA/GQA; MLA materialises
    // full-width K (heads × qk dim) and V (heads × v dim).
    let (k_w, v_w) = match m.mla {
        Some(_) => (q, vw),
        None => ((m.kv_heads * m.head_dim) as f64, (m.kv_heads * m.head_dim) as f64),
    };
    // Replicated across TP unless sequence parallel: two norm inputs, the QKV input and
    // the MLP input (Korthikanti eq. 1's 10·sbh without dropout masks, which modern
    // LLMs do not use).
    let replicated = 2.0 * tokens * h * 4.0 / sp;
    // Attention: Q, K, V and the output-projection input (the attention output),
    // sharded by TP.
    let mut attention = 2.0 * tokens * (q + k_w + v_w + vw) / tp;
    let heads = m.heads as f64 / tp;
    let s_len = (m.seq_len / p.cp) as f64;
    match (s.training.attention_kernel, recompute) {
        // Softmax output, dropout mask and dropout output over the s×s scores (5·a·s²·b).
        (AttentionKernel::Materialized, Recompute::None) => attention += 5.0 * heads * s_len * tokens,
        // Flash attention keeps the log-sum-exp (FP32) per row and head.
        (AttentionKernel::Flash, _) => attention += 4.0 * heads * tokens,
        _ => {}
    }
    let gated = m.activation == Activation::Swiglu;
    let mlp = |f: f64, tok: f64| -> f64 {
        // Intermediate activations: gate and up outputs (gated) or fc1 output, and the
        // activation's output that feeds the second GEMM.
        if gated {
            2.0 * tok * f * 3.0 / tp
        } else {
            2.0 * tok * f * 2.0 / tp
        }
    };
    let mlp_bytes = if moe_layer {
        let top_k = m.moe.top_k as f64;
        let routed = mlp(m.moe.expert_ffn_hidden as f64, tokens * top_k) + 2.0 * tokens * top_k * h / sp;
        let shared_ffn = (m.moe.shared_ffn_hidden.max(m.moe.shared_experts * m.moe.expert_ffn_hidden)) as f64;
        routed + mlp(shared_ffn, tokens)
    } else {
        mlp(m.ffn_hidden as f64, tokens)
    };
    let mut total = replicated + attention + mlp_bytes;
    if s.training.precision == Precision::Fp8 {
        // Transformer Engine also keeps FP8 copies of GEMM inputs (≈ half the BF16 ones).
        total += 0.5 * (replicated + 2.0 * tokens * vw / tp);
    }
    total
}

/// Micro-batches whose activations the busiest stage holds at once.
pub fn in_flight_microbatches(s: &Scenario) -> f64 {
    let p = &s.parallel;
    let m = p.microbatches() as f64;
    let pp = p.pp as f64;
    let base = pp.min(m);
    match p.schedule {
        Schedule::OneFOneB | Schedule::ZeroBubble => base,
        // Interleaving holds (1 + (p−1)/(p·v)) × p micro-batches' worth on the first stage
        // (Narayanan et al. 2021, §2.2.2; Korthikanti et al. 2022, §4.2.3).
        Schedule::Interleaved => base * (1.0 + (pp - 1.0) / (pp * p.vpp as f64)),
        // DualPipe: each rank holds two chunks and PP + 1 micro-batches (DeepSeek-V3 Table 2).
        Schedule::Dualpipe => (pp + 1.0).min(2.0 * m),
    }
}

/// Memory of the busiest GPU (the first or the last pipeline stage).
pub fn memory(s: &Scenario) -> MemoryReport {
    let p = &s.parallel;
    let layout = StageLayout::new(s);
    let last_first_layer = s.model.layers - layout.last_stage_layers;
    let first = stage_params(s, 0, layout.first_stage_layers, true, p.pp == 1);
    let last = stage_params(s, last_first_layer, layout.last_stage_layers, p.pp == 1, true);
    // DualPipe places two mirrored chunks on each rank (DeepSeek-V3 §3.2.1): 2× params.
    let dualpipe = if p.schedule == crate::scenario::Schedule::Dualpipe { 2.0 } else { 1.0 };
    let dp_dense = (p.dp * p.cp) as f64;
    let dp_expert = dp_dense / p.ep as f64;
    let bytes = |sp: StageParams| -> (f64, f64, f64) {
        let shard = |per_param: f64, stage_min: u8| -> f64 {
            if p.zero >= stage_min {
                per_param * (sp.dense / dp_dense + sp.experts / dp_expert)
            } else {
                per_param * sp.total()
            }
        };
        let weights = shard(WEIGHT_BYTES, 3) * dualpipe;
        let grad_bytes = if s.training.grad_reduce_in_fp32 { GRAD_BYTES } else { WEIGHT_BYTES };
        let grads = shard(grad_bytes, 2) * dualpipe;
        let optimizer = shard(OPTIMIZER_BYTES, 1) * dualpipe;
        (weights, grads, optimizer)
    };
    let in_flight = in_flight_microbatches(s);
    let act = |first_layer: u64, layers: u64, head: bool, in_flight: f64| -> f64 {
        let moe = moe_layers_in(s, first_layer, layers) as f64;
        let dense = layers as f64 - moe;
        let per_mb = dense * layer_activation_bytes(s, false, p.recompute) + moe * layer_activation_bytes(s, true, p.recompute);
        let mut total = per_mb * in_flight;
        if p.recompute == Recompute::Full {
            // The layer being recomputed holds its full activations once.
            total += layer_activation_bytes(s, s.model.is_moe(), Recompute::Selective);
        }
        if head {
            // FP32 logits and their gradient for one micro-batch (vocab sharded by TP).
            let tokens = (p.micro_batch * s.model.seq_len / p.cp) as f64;
            total += 2.0 * 4.0 * tokens * s.model.vocab as f64 / p.tp as f64;
        }
        total
    };
    let first_act = act(0, layout.first_stage_layers, p.pp == 1, in_flight);
    // The last stage runs each micro-batch's backward right after its forward: one in flight.
    let last_in_flight = if p.pp > 1 { 1.0 } else { in_flight };
    let last_act = act(last_first_layer, layout.last_stage_layers, true, last_in_flight);
    let (w1, g1, o1) = bytes(first);
    let (w2, g2, o2) = bytes(last);
    let total1 = w1 + g1 + o1 + first_act;
    let total2 = w2 + g2 + o2 + last_act;
    let (weights_bytes, gradients_bytes, optimizer_bytes, activations_bytes) =
        if total1 >= total2 { (w1, g1, o1, first_act) } else { (w2, g2, o2, last_act) };
    let reserved_bytes = cal::RUNTIME_RESERVED_BYTES;
    let total_bytes = weights_bytes + gradients_bytes + optimizer_bytes + activations_bytes + reserved_bytes;
    let capacity_bytes = s.cluster.gpu.hbm_bytes;
    MemoryReport {
        weights_bytes,
        gradients_bytes,
        optimizer_bytes,
        activations_bytes,
        reserved_bytes,
        total_bytes,
        capacity_bytes,
        fits: total_bytes <= capacity_bytes,
    }
}
