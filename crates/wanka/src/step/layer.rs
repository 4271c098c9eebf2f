//! Cost of one transformer layer for one micro-batch on one GPU: the GEMMs, attention,
//! element-wise kernels, and the TP / CP / EP collectives that belong to the layer.
//! Every byte count of a collective is computed here once; the evaluators read it.

use crate::calibration as cal;
use crate::collective::CollectiveOp;
use crate::hardware::Device;
use crate::model::Activation;
use crate::parallel::Groups;
use crate::scenario::{AttentionKernel, MicroBatchShape, Recompute, Scenario};

/// Bytes per element of activations on the wire and in HBM (BF16).
const ACT_BYTES: f64 = 2.0;

/// HBM bytes per logit of the cross entropy's forward and backward (see [`head_cost`]).
const CE_FWD_BYTES_PER_LOGIT: f64 = 38.0;
const CE_BWD_BYTES_PER_LOGIT: f64 = 14.0;

/// Time of one layer for one micro-batch, split by what can overlap with what.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerCost {
    /// Forward compute: GEMMs, attention and element-wise kernels.
    pub fwd_s: f64,
    /// Backward compute (data and weight gradients).
    pub bwd_s: f64,
    /// Forward recomputed inside backward (selective: attention core; full: everything).
    pub recompute_s: f64,
    /// Of `fwd_s`, the linear-layer GEMMs (what TP communication can hide behind).
    pub gemm_fwd_s: f64,
    /// Of `fwd_s`, the attention core (what the CP ring exchange can hide behind).
    pub attn_fwd_s: f64,
    /// Of `bwd_s`, the attention core's backward.
    pub attn_bwd_s: f64,
    /// TP collectives of the forward pass (a backward has the same).
    pub tp_fwd_s: f64,
    /// CP ring exchange of K/V in the forward pass; backward moves twice as much.
    pub cp_fwd_s: f64,
    /// EP dispatch + combine all-to-alls of the forward pass; backward the same.
    pub ep_fwd_s: f64,
    /// The forward work the backward pass recomputes first (its compute is
    /// `recompute_s`), with the collectives it repeats.
    pub recompute: PassCost,
    /// GPU idle per micro-batch while the host issues this layer (`step::host`), and
    /// the backward's share of it (spread over the passes by their issue time).
    pub host_exposed_s: f64,
    pub host_bwd_exposed_s: f64,
    /// What the host issues for this layer.
    pub host: super::host::LayerHost,
}

impl LayerCost {
    /// Exposed TP time of forward + backward (+ recomputed forward).
    pub fn tp_exposed_s(&self, s: &Scenario) -> f64 {
        let exposed = |comm: f64, gemm: f64| {
            if s.parallel.tp_comm_overlap {
                // Overlapped with the GEMMs of the same pass (userbuffers / TE comm-GEMM
                // overlap), each collective with the GEMM it feeds or drains.
                exposed_beside(comm, gemm)
            } else {
                comm
            }
        };
        let bwd = if s.training.framework.facts().tp_overlap_in_backward { exposed(self.tp_fwd_s, self.gemm_fwd_s) } else { self.tp_fwd_s };
        exposed(self.tp_fwd_s, self.gemm_fwd_s) + bwd + exposed(self.recompute.tp_s, self.recompute.tp_hide_s)
    }

    /// Exposed CP time: the ring exchange overlaps the attention core of its pass.
    pub fn cp_exposed_s(&self) -> f64 {
        exposed_beside(self.cp_fwd_s, self.attn_fwd_s)
            + exposed_beside(2.0 * self.cp_fwd_s, self.attn_bwd_s)
            + exposed_beside(self.recompute.cp_s, self.recompute.attn_s)
    }

    /// Exposed EP time (forward and backward; a recomputed forward repeats the dispatch).
    pub fn ep_exposed_s(&self) -> f64 {
        2.0 * self.ep_fwd_s + self.recompute.ep_s
    }

    /// The forward pass, the backward pass and the forward recomputed before the
    /// backward, as raw work: what the event fidelity lays out as tasks.
    pub fn passes(&self) -> [PassCost; 3] {
        let other_fwd = self.fwd_s - self.gemm_fwd_s - self.attn_fwd_s;
        let fwd = PassCost {
            gemm_s: self.gemm_fwd_s,
            tp_hide_s: self.gemm_fwd_s,
            attn_s: self.attn_fwd_s,
            other_s: other_fwd,
            tp_s: self.tp_fwd_s,
            cp_s: self.cp_fwd_s,
            ep_s: self.ep_fwd_s,
            host_issue_s: self.host.fwd_s,
            host_syncs: self.host.syncs_fwd,
        };
        let gemm_bwd = 2.0 * self.gemm_fwd_s;
        let bwd = PassCost {
            gemm_s: gemm_bwd,
            tp_hide_s: self.gemm_fwd_s,
            attn_s: self.attn_bwd_s,
            other_s: self.bwd_s - gemm_bwd - self.attn_bwd_s,
            tp_s: self.tp_fwd_s,
            // The backward ring moves K, V and their gradients: twice the forward.
            cp_s: 2.0 * self.cp_fwd_s,
            ep_s: self.ep_fwd_s,
            host_issue_s: self.host.bwd_s,
            host_syncs: 0.0,
        };
        let recompute = self.recompute;
        [fwd, bwd, recompute]
    }
}

/// What communication of `comm` seconds adds to compute of `compute` seconds it runs
/// beside: the part that outlasts the compute, or, if that is less, the slowdown of the
/// compute from the SMs the collective takes while they overlap. The event fidelity
/// lays the same two tasks side by side and gets the same.
pub fn exposed_beside(comm: f64, compute: f64) -> f64 {
    let hidden = comm.min(compute);
    (comm - hidden).max(hidden * cal::COMM_SM_SHARE)
}

/// Raw work of one pass of one micro-batch, split by what its collectives can hide
/// behind: overlapped TP communication behind the GEMMs, the CP ring exchange behind
/// the attention core; EP dispatch and combine wait for and are waited on by compute.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassCost {
    pub gemm_s: f64,
    /// Of `gemm_s`, the GEMMs the TP collectives overlap with: each collective with
    /// the one GEMM it feeds or drains, a forward GEMM's worth in either pass.
    pub tp_hide_s: f64,
    pub attn_s: f64,
    /// Element-wise kernels, norms, the router, the loss.
    pub other_s: f64,
    pub tp_s: f64,
    pub cp_s: f64,
    pub ep_s: f64,
    /// CPU time to issue the pass, and the host–device synchronisations in it: what the
    /// event fidelity's host stream runs.
    pub host_issue_s: f64,
    pub host_syncs: f64,
}

impl PassCost {
    pub fn compute_s(&self) -> f64 {
        self.gemm_s + self.attn_s + self.other_s
    }

    /// This pass with its compute scaled by `k` (its communication kept).
    pub fn scale_compute(&self, k: f64) -> PassCost {
        PassCost { gemm_s: k * self.gemm_s, tp_hide_s: k * self.tp_hide_s, attn_s: k * self.attn_s, other_s: k * self.other_s, ..*self }
    }

    fn add_scaled(&mut self, b: &PassCost, k: f64) {
        self.gemm_s += k * b.gemm_s;
        self.tp_hide_s += k * b.tp_hide_s;
        self.attn_s += k * b.attn_s;
        self.other_s += k * b.other_s;
        self.tp_s += k * b.tp_s;
        self.cp_s += k * b.cp_s;
        self.ep_s += k * b.ep_s;
        self.host_issue_s += k * b.host_issue_s;
        self.host_syncs += k * b.host_syncs;
    }
}

/// Costs of one pipeline stage for one micro-batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageCost {
    /// Pure compute, forward + backward + recompute.
    pub compute_s: f64,
    pub fwd_compute_s: f64,
    pub bwd_compute_s: f64,
    pub tp_s: f64,
    pub cp_s: f64,
    pub ep_s: f64,
    /// Raw work of the forward pass, the backward pass and the forward recomputed
    /// before it (event fidelity).
    pub fwd: PassCost,
    pub bwd: PassCost,
    pub recompute: PassCost,
    /// GPU idle while the host issues work, all passes, and in the backward alone
    /// (other streams' collectives run meanwhile).
    pub host_s: f64,
    pub host_bwd_s: f64,
}

impl std::ops::AddAssign<&StageCost> for StageCost {
    fn add_assign(&mut self, b: &StageCost) {
        self.add_scaled(b, 1.0);
    }
}

impl StageCost {
    /// Adds `k` times `b`.
    pub fn add_scaled(&mut self, b: &StageCost, k: f64) {
        self.compute_s += k * b.compute_s;
        self.fwd_compute_s += k * b.fwd_compute_s;
        self.bwd_compute_s += k * b.bwd_compute_s;
        self.tp_s += k * b.tp_s;
        self.cp_s += k * b.cp_s;
        self.ep_s += k * b.ep_s;
        self.host_s += k * b.host_s;
        self.host_bwd_s += k * b.host_bwd_s;
        self.fwd.add_scaled(&b.fwd, k);
        self.bwd.add_scaled(&b.bwd, k);
        self.recompute.add_scaled(&b.recompute, k);
    }

    /// Everything one micro-batch keeps this stage busy for.
    pub fn total_s(&self) -> f64 {
        self.compute_s + self.tp_s + self.cp_s + self.ep_s + self.host_s
    }

    /// Adds `count` layers' totals (what the analytic fidelity needs).
    pub fn add_layers(&mut self, s: &Scenario, layer: &LayerCost, count: f64) {
        if count <= 0.0 {
            return;
        }
        self.fwd_compute_s += count * layer.fwd_s;
        self.bwd_compute_s += count * (layer.bwd_s + layer.recompute_s);
        self.compute_s += count * (layer.fwd_s + layer.bwd_s + layer.recompute_s);
        self.tp_s += count * layer.tp_exposed_s(s);
        self.cp_s += count * layer.cp_exposed_s();
        self.ep_s += count * layer.ep_exposed_s();
        self.host_s += count * layer.host_exposed_s;
        self.host_bwd_s += count * layer.host_bwd_exposed_s;
    }

    /// [`StageCost::add_layers`], plus the raw passes the event fidelity lays out.
    pub fn add_layers_with_passes(&mut self, s: &Scenario, layer: &LayerCost, count: f64) {
        if count <= 0.0 {
            return;
        }
        self.add_layers(s, layer, count);
        let [fwd, bwd, recompute] = layer.passes();
        self.fwd.add_scaled(&fwd, count);
        self.bwd.add_scaled(&bwd, count);
        self.recompute.add_scaled(&recompute, count);
    }
}

/// With `parallel.recompute_layers`, the cost of a dense and of a MoE layer that full
/// recomputation leaves alone (no recomputation); `None` otherwise.
pub fn unrecomputed_layer_costs(s: &Scenario, d: &Device, g: &Groups, a: &AttentionPart) -> Option<(LayerCost, LayerCost)> {
    s.parallel.recompute_layers.map(|_| {
        let plain = crate::parallel::without_recompute(s);
        let dense = layer_cost_with(&plain, d, g, a, false);
        (dense, if s.model.is_moe() { layer_cost_with(&plain, d, g, a, true) } else { dense })
    })
}

/// Cost of one layer (dense or MoE) for one micro-batch on one GPU.
pub fn layer_cost(s: &Scenario, d: &Device, g: &Groups, moe_layer: bool) -> LayerCost {
    layer_cost_with(s, d, g, &attention_part(s, d, g), moe_layer)
}

/// The attention half of a layer, the same in dense and MoE layers: computed once,
/// shared by both (the analytic evaluator runs millions of times in a search).
#[derive(Debug, Clone, Copy)]
pub struct AttentionPart {
    /// QKV (or MLA's projections) and output-projection GEMMs, forward.
    gemm_s: f64,
    /// Of `gemm_s`, MLA's up-projections.
    up_proj_gemm_s: f64,
    /// What the FP8 recipe adds to those GEMMs' backward beyond twice their forward.
    gemm_bwd_extra_s: f64,
    attn_fwd_s: f64,
    attn_bwd_s: f64,
    /// Element-wise work over materialised scores (0 with flash attention).
    score_elements: f64,
    tp_fwd_s: f64,
    cp_fwd_s: f64,
}

/// The attention half of a layer for one micro-batch on one GPU.
pub fn attention_part(s: &Scenario, d: &Device, g: &Groups) -> AttentionPart {
    let m = &s.model;
    let p = &s.parallel;
    let MicroBatchShape { tokens, tp, hidden: h, .. } = s.micro_batch_shape();
    let q = m.q_width() as f64;
    let vw = m.v_width() as f64;
    let heads = m.heads as f64 / tp;
    let mut gemm = 0.0;
    let mut up_proj_gemm = 0.0;
    // Every linear's forward, and its backward beyond twice that.
    let mut extra = 0.0;
    if m.mla.is_none() {
        let kv = (m.kv_heads * m.head_dim) as f64;
        let (fwd, bwd_extra) = input_sharing_linears(s, d, tokens, &[q / tp, kv / tp, kv / tp], h);
        gemm += fwd;
        extra += bwd_extra;
    }
    let mut linear = |m: f64, n: f64, k: f64| -> f64 {
        extra += d.fp8_backward_extra_s(m, n, k);
        d.linear_gemm_s(m, n, k)
    };
    match m.mla {
        None => {}
        Some(mla) => {
            let qk = (mla.qk_nope_head_dim + mla.qk_rope_head_dim) as f64;
            if mla.q_lora_rank > 0 {
                let r = mla.q_lora_rank as f64;
                let q_up = linear(tokens, heads * qk, r);
                gemm += linear(tokens, r, h) + q_up;
                up_proj_gemm += q_up;
            } else {
                gemm += linear(tokens, heads * qk, h);
            }
            let r = mla.kv_lora_rank as f64;
            let kv_up = linear(tokens, heads * (mla.qk_nope_head_dim + mla.v_head_dim) as f64, r);
            gemm += linear(tokens, r + mla.qk_rope_head_dim as f64, h) + kv_up;
            up_proj_gemm += kv_up;
        }
    }
    gemm += linear(tokens, h, vw / tp);

    // --- Attention core ----------------------------------------------------------
    let qk_dim = m.qk_head_dim() as f64;
    let v_dim = (m.v_width() / m.heads) as f64;
    let seq = m.seq_len as f64;
    let (attn_fwd, attn_bwd, score_elements) = match s.training.attention_kernel {
        AttentionKernel::Flash => {
            // Causal: each query sees on average half the keys (CP splits are load-balanced);
            // windowed layers fewer, the kernel skipping the blocks outside the window.
            let _ = seq;
            let flops = 2.0 * tokens * m.attended_keys_per_query() * heads * (qk_dim + v_dim);
            // FlashAttention's backward does 5 matmuls to the forward's 2.
            (d.flash_attention_s(flops, qk_dim), d.flash_attention_s(2.5 * flops, qk_dim), 0.0)
        }
        AttentionKernel::Materialized => {
            // Batched GEMMs over the full s×s scores, then softmax, dropout, and their
            // element-wise passes over the scores (≈ 11 bytes per score).
            let batch = p.micro_batch as f64 * heads;
            let rows = seq / p.cp as f64;
            // In BF16 under FP8 training too, as fused attention runs.
            let bf16 = d.bf16();
            let fwd = bf16.grouped_gemm_s(batch, rows, seq, qk_dim) + bf16.grouped_gemm_s(batch, rows, v_dim, seq);
            let scores = batch * rows * seq;
            (fwd, 2.0 * fwd, 11.0 * scores)
        }
    };

    // --- TP collectives (two per pass: around attention and around the MLP) ---------
    let tensor = tokens * h * ACT_BYTES;
    // The all-gathers carry FP8 where the framework casts before gathering (the
    // backward's gathers of output gradients too); the reduce-scatters stay 16-bit.
    let gathered = if fp8_tp_all_gather(s) { tensor / ACT_BYTES } else { tensor };
    let tp_fwd_s = if p.tp > 1 {
        if p.sequence_parallel {
            2.0 * (g.tp.time_s(CollectiveOp::AllGather, gathered) + g.tp.time_s(CollectiveOp::ReduceScatter, tensor))
        } else {
            2.0 * g.tp.time_s(CollectiveOp::AllReduce, tensor)
        }
    } else {
        0.0
    };

    // --- CP ring exchange of K and V ----------------------------------------------
    let cp_fwd_s = if p.cp > 1 { (p.cp - 1) as f64 * g.cp.time_s(CollectiveOp::SendRecv, cp_ring_bytes(s)) } else { 0.0 };
    AttentionPart {
        gemm_s: gemm,
        up_proj_gemm_s: up_proj_gemm,
        gemm_bwd_extra_s: extra,
        attn_fwd_s: attn_fwd,
        attn_bwd_s: attn_bwd,
        score_elements,
        tp_fwd_s,
        cp_fwd_s,
    }
}

/// Whether TP's all-gathers carry FP8: FP8 training with tensorwise scaling in a
/// framework that casts before gathering (`FrameworkFacts::fp8_tp_all_gather`).
fn fp8_tp_all_gather(s: &Scenario) -> bool {
    s.training.precision == crate::scenario::Precision::Fp8
        && s.training.fp8_gemms != crate::scenario::Fp8Gemms::Experts
        && s.training.fp8_recipe == crate::scenario::Fp8Recipe::Tensorwise
        && s.training.framework.facts().fp8_tp_all_gather
}

/// Forward time, and backward time beyond twice that, of linears that read one input
/// `(m×k)` with outputs `ns` wide: one GEMM where the framework fuses them
/// (`FrameworkFacts::fused_input_projections`), else one each. Compiled, the separate
/// linears quantise their shared input once (Inductor computes an identical cast of
/// one tensor once); eager, each `Float8Linear` casts it again.
fn input_sharing_linears(s: &Scenario, d: &Device, m: f64, ns: &[f64], k: f64) -> (f64, f64) {
    if s.training.framework.facts().fused_input_projections {
        let n: f64 = ns.iter().sum();
        return (d.linear_gemm_s(m, n, k), d.fp8_backward_extra_s(m, n, k));
    }
    let fwd: f64 = ns.iter().map(|&n| d.linear_gemm_s(m, n, k)).sum();
    let bwd_extra: f64 = ns.iter().map(|&n| d.fp8_backward_extra_s(m, n, k)).sum();
    let repeats = ns.len().saturating_sub(1) as f64;
    if s.training.compile {
        // Backward = 2 × forward + extra: the forward's saving carries into the first
        // term; the extra holds only the backward's own re-cast.
        let (cast_fwd, recast) = d.fp8_input_cast_s(m, k);
        (fwd - repeats * cast_fwd, bwd_extra - repeats * recast)
    } else {
        (fwd, bwd_extra)
    }
}

/// Cost of one layer (dense or MoE) given its attention half.
pub fn layer_cost_with(s: &Scenario, d: &Device, g: &Groups, a: &AttentionPart, moe_layer: bool) -> LayerCost {
    let m = &s.model;
    let p = &s.parallel;
    let MicroBatchShape { tokens, tp, sp, hidden: h } = s.micro_batch_shape();
    let q = m.q_width() as f64;
    let mut gemm = a.gemm_s;
    let up_proj_gemm = a.up_proj_gemm_s;
    let (attn_fwd, attn_bwd, attn_elem_bytes) = (a.attn_fwd_s, a.attn_bwd_s, a.score_elements);
    let (mut tp_fwd_s, cp_fwd_s) = (a.tp_fwd_s, a.cp_fwd_s);
    // GEMM time of the parts selective recomputation can redo (routed experts with
    // their router, shared experts, dense MLP).
    let (mut moe_gemm, mut shared_gemm, mut dense_mlp_gemm) = (0.0, 0.0, 0.0);
    // Intermediate elements of the routed, shared and dense MLPs (element-wise work).
    let (mut routed_elems, mut shared_elems, mut dense_elems) = (0.0, 0.0, 0.0);
    let gated = m.activation == Activation::Swiglu;
    let up = if gated { 2.0 } else { 1.0 };
    // An MLP's GEMMs (gate and up, then down): their forward time, and what the FP8
    // recipe adds to their backward beyond twice that.
    let mlp = |tok: f64, f: f64| -> (f64, f64) {
        let projections = [f / tp, f / tp];
        let (up_fwd, up_extra) = input_sharing_linears(s, d, tok, &projections[..if gated { 2 } else { 1 }], h);
        (up_fwd + d.linear_gemm_s(tok, h, f / tp), up_extra + d.fp8_backward_extra_s(tok, h, f / tp))
    };
    let mut gemm_bwd_extra = a.gemm_bwd_extra_s;
    let mut ep_fwd_s = 0.0;
    let mut etp_fwd_s = 0.0;
    if moe_layer {
        let e = m.moe.experts as f64;
        let top_k = m.moe.top_k as f64;
        let fe = m.moe.expert_ffn_hidden as f64;
        let local_experts = e / p.ep as f64;
        let etp = p.etp as f64;
        // Balanced routing over the folded expert groups: the EP × ETP ranks of a group
        // hold ep·etp·tokens/tp distinct tokens (tokens are split or replicated over TP),
        // each routed to top_k of the e experts; each ETP rank computes its 1/etp of
        // every expert's width for all of its experts' tokens.
        let load = s.training.routed_load();
        let per_expert = load * tokens / tp * top_k * p.ep as f64 * etp / e;
        let de = d.experts_of(s);
        moe_gemm = d.linear_gemm_s(tokens / sp, e, h) // router
            + de.expert_gemms_s(local_experts, per_expert, up * fe / etp, h)
            + de.expert_gemms_s(local_experts, per_expert, h, fe / etp);
        routed_elems = load * tokens * top_k * fe / tp;
        gemm_bwd_extra += d.fp8_backward_extra_s(tokens / sp, e, h)
            + local_experts * (de.fp8_backward_extra_s(per_expert, up * fe / etp, h) + de.fp8_backward_extra_s(per_expert, h, fe / etp));
        let shared = m.moe.shared_ffn_hidden.max(m.moe.shared_experts * m.moe.expert_ffn_hidden) as f64;
        if shared > 0.0 {
            let (fwd, bwd_extra) = mlp(tokens, shared);
            shared_gemm = fwd;
            gemm_bwd_extra += bwd_extra;
            shared_elems = tokens * shared / tp;
        }
        gemm += moe_gemm + shared_gemm;
        // Dispatch and combine: every token's hidden state goes to top_k experts and back;
        // with expert TP the received tokens are all-gathered over ETP before the experts
        // and reduce-scattered after (Megatron's alltoall dispatcher).
        let a2a_bytes = ep_dispatch_bytes(s);
        ep_fwd_s = 2.0
            * match s.training.moe_max_nodes_per_token {
                Some(m) => g.ep.node_limited_all_to_all_s(a2a_bytes, top_k, m),
                None => g.ep.time_s(CollectiveOp::AllToAll, a2a_bytes),
            };
        if p.etp > 1 {
            let gathered = a2a_bytes * etp;
            etp_fwd_s = g.etp.time_s(CollectiveOp::AllGather, gathered) + g.etp.time_s(CollectiveOp::ReduceScatter, gathered);
        }
        // The attention half's TP collectives stay; the MLP half's serve only the shared
        // experts, which run as a dense MLP over TP; the routed experts' are the
        // dispatcher's expert-TP gather and scatter.
        if shared <= 0.0 {
            tp_fwd_s -= a.tp_fwd_s / 2.0;
        }
        tp_fwd_s += etp_fwd_s;
    } else {
        let (fwd, bwd_extra) = mlp(tokens, m.ffn_hidden as f64);
        dense_mlp_gemm = fwd;
        gemm_bwd_extra += bwd_extra;
        dense_elems = tokens * m.ffn_hidden as f64 / tp;
        gemm += dense_mlp_gemm;
    }

    // --- Element-wise kernels ----------------------------------------------------
    // Two norms (read + write), two residual adds (read 2, write 1), rotary on Q and K,
    // the MLP activation (gated: read 2, write 1; plain: read 1, write 1).
    let kv_w = match m.mla {
        Some(_) => q,
        None => (m.kv_heads * m.head_dim) as f64,
    };
    let passes = ElementwisePasses::of(s, gated);
    let norm_resid = (2.0 * passes.norm + 2.0 * 3.0) * tokens * h / sp;
    let rope = passes.rope * tokens * (q + kv_w) / tp;
    let act_passes = passes.act;
    let act = act_passes * (routed_elems + shared_elems + dense_elems);
    // MoE token plumbing (Megatron's all-to-all dispatcher): permute, sort by local
    // expert, unsort and unpermute each read and write every routed token's hidden
    // state (8 passes of T·k·h); the router writes and reads FP32 logits T·E a few
    // times (≈ 4 passes of 4 bytes, counted here as 8 BF16-sized passes).
    let moe_permute = if moe_layer {
        8.0 * tokens * m.moe.top_k as f64 * h / sp + 8.0 * tokens * m.moe.experts as f64 / sp
    } else {
        0.0
    };
    let elem_fwd_bytes = ACT_BYTES * (norm_resid + rope + act + moe_permute) + ACT_BYTES * attn_elem_bytes / 2.0;
    let elem_fwd = d.streaming_s(elem_fwd_bytes, passes.kernels);
    let elem_bwd = d.streaming_s(2.0 * elem_fwd_bytes, 2.0 * passes.kernels);

    let fwd_s = gemm + attn_fwd + elem_fwd;

    // --- Recomputation -------------------------------------------------------------
    // What the backward pass runs again first: nothing, the modules selective
    // recomputation names (Megatron-Core's `recompute_modules`), or the whole forward
    // with its TP and EP collectives.
    let elementwise = |elements: f64, kernels: f64| d.streaming_s(ACT_BYTES * elements, kernels);
    let recompute = match p.recompute {
        Recompute::None => PassCost::default(),
        Recompute::Full => PassCost {
            gemm_s: gemm,
            tp_hide_s: gemm,
            attn_s: attn_fwd,
            other_s: elem_fwd,
            tp_s: tp_fwd_s,
            cp_s: cp_fwd_s,
            ep_s: ep_fwd_s,
            ..Default::default()
        },
        Recompute::Selective if s.training.framework.facts().selective == crate::framework::SelectivePolicy::TorchtitanOps && !moe_layer => {
            // torchtitan's op-level SAC recomputes wk, wo and w3 (every other matmul),
            // the norms, rotary and the activation, and the all-gathers feeding them.
            let kv = (m.kv_heads * m.head_dim) as f64;
            let (qf, vwf, ffn) = (q, m.v_width() as f64, m.ffn_hidden as f64);
            let share = (kv + vwf + ffn) / (qf + 2.0 * kv + vwf + 3.0 * ffn);
            PassCost { gemm_s: share * gemm, tp_hide_s: share * gemm, other_s: elem_fwd, tp_s: tp_fwd_s / 2.0, ..Default::default() }
        }
        Recompute::Selective => {
            let r = &s.training.recompute_modules;
            let mut c = PassCost::default();
            if r.core_attn {
                // The attention core again, with its CP ring exchange.
                c.attn_s += attn_fwd;
                c.cp_s += cp_fwd_s;
                c.other_s += elementwise(attn_elem_bytes / 2.0, if attn_elem_bytes > 0.0 { 2.0 } else { 0.0 });
            }
            if r.layernorm {
                c.other_s += elementwise(2.0 * passes.norm * tokens * h / sp, 2.0);
            }
            if r.mla_up_proj && m.mla.is_some() {
                c.gemm_s += up_proj_gemm;
                c.other_s += elementwise(rope, 1.0);
            }
            if r.mlp && !moe_layer {
                c.gemm_s += dense_mlp_gemm;
                c.other_s += elementwise(act_passes * dense_elems, 1.0);
                c.tp_s += tp_fwd_s / 2.0;
            }
            if r.moe && moe_layer {
                c.gemm_s += moe_gemm;
                c.other_s += elementwise(act_passes * routed_elems + moe_permute, 5.0);
                c.ep_s += ep_fwd_s;
            } else if r.moe_act && moe_layer {
                c.other_s += elementwise(act_passes * routed_elems, 1.0);
            }
            if (r.shared_experts || r.moe) && moe_layer {
                c.gemm_s += shared_gemm;
                c.other_s += elementwise(act_passes * shared_elems, 1.0);
            }
            c.tp_hide_s = c.gemm_s;
            c
        }
    };
    let mut recompute = recompute;
    let bwd_s = 2.0 * gemm + gemm_bwd_extra + attn_bwd + elem_bwd;
    // The host issues each pass while the GPU runs the ones before; what it cannot
    // issue in time leaves the GPU idle (step::host).
    let host = super::host::layer_host(s, moe_layer);
    let gpu_fwd = fwd_s + tp_fwd_s + cp_fwd_s + ep_fwd_s;
    let gpu_bwd = bwd_s + tp_fwd_s + 2.0 * cp_fwd_s + ep_fwd_s;
    let gpu_recompute = recompute.compute_s() + recompute.tp_s + recompute.cp_s + recompute.ep_s;
    let host_exposed_s = super::host::exposed_per_microbatch_s(&host, gpu_fwd, gpu_bwd, gpu_recompute);
    let issued = host.fwd_s + host.bwd_s + host.recompute_s;
    let host_bwd_exposed_s = if issued > 0.0 { host_exposed_s * (host.bwd_s + host.recompute_s) / issued } else { 0.0 };
    recompute.host_issue_s = host.recompute_s;
    recompute.host_syncs = host.syncs_recompute;
    let recompute_s = recompute.compute_s();
    LayerCost {
        fwd_s,
        bwd_s,
        recompute_s,
        gemm_fwd_s: gemm,
        attn_fwd_s: attn_fwd,
        attn_bwd_s: attn_bwd,
        tp_fwd_s,
        cp_fwd_s,
        ep_fwd_s,
        recompute,
        host_exposed_s,
        host_bwd_exposed_s,
        host,
    }
}

/// Passes over its elements (reads plus writes, in BF16 units of 2 bytes) that each
/// element-wise op of a layer makes in the forward, and the kernels a layer launches
/// for them.
///
/// Fused (Transformer Engine, Triton, torch.compile): one read and one write per norm
/// and per rotary tensor; the gated activation reads gate and up and writes one.
/// Eager PyTorch, as torchtitan's Llama writes them (models/llama3/model.py):
/// - RMSNorm `(x.float() * rsqrt(x.pow(2).mean(-1) + eps)).type_as(x) * weight`: the
///   FP32 up-cast (read 2 B, write 4 B), pow (4 + 4), mean (4), the product (4 + 4),
///   `type_as` (4 + 2) and the weight (2 + 2): 36 bytes, 18 passes;
/// - rotary through complex views: up-cast (2 + 4), complex product (4 + 4), down-cast
///   (4 + 2): 20 bytes, 10 passes;
/// - SwiGLU `silu(gate) * up`: silu (2 + 2), product (4 + 2): 10 bytes, 5 passes
///   (a plain activation: 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElementwisePasses {
    pub norm: f64,
    pub rope: f64,
    pub act: f64,
    pub kernels: f64,
}

impl ElementwisePasses {
    pub fn of(s: &Scenario, gated: bool) -> ElementwisePasses {
        let eager = if s.training.compile { crate::framework::EagerOps::FUSED } else { s.training.framework.facts().eager };
        let pick = |eager: bool, unfused: f64, fused: f64| if eager { unfused } else { fused };
        ElementwisePasses {
            norm: pick(eager.norm, 18.0, 2.0),
            rope: pick(eager.rope, 10.0, 2.0),
            act: if gated { pick(eager.act, 5.0, 3.0) } else { 2.0 },
            // Two norms, two residual adds, rotary on Q and K, the activation; eager:
            // six kernels per norm, four per rotary tensor, two for SwiGLU.
            kernels: 8.0 + pick(eager.norm, 10.0, 0.0) + pick(eager.rope, 6.0, 0.0) + pick(eager.act && gated, 1.0, 0.0),
        }
    }
}

/// Forward and backward of the LM head and loss on the last stage (plus the final norm).
pub fn head_cost(s: &Scenario, d: &Device, g: &Groups) -> StageCost {
    let m = &s.model;
    let p = &s.parallel;
    let MicroBatchShape { tokens, tp, hidden: h, .. } = s.micro_batch_shape();
    let v = m.vocab as f64 / tp;
    // BF16 under FP8 training too: Megatron-Core's output layer is a plain
    // ColumnParallelLinear, not a Transformer Engine module; torchtitan's configs leave
    // "output" out of float8 (`filter_fqns`), as its MX converter does by default.
    let gemm = d.bf16().linear_gemm_s(tokens, v, h);
    // Megatron-Core's vocab-parallel cross entropy (tensor_parallel/cross_entropy.py,
    // the unfused default), in HBM bytes per logit: forward casts the BF16 logits to
    // FP32 (2 + 4), takes the max (4), subtracts it (4 + 4), exponentiates (4 + 4),
    // sums (4) and normalises to the softmax it keeps (4 + 4): 38; backward scales the
    // softmax by the loss gradient (4 + 4) and casts it to BF16 for the head's GEMM
    // (4 + 2): 14.
    // Compiled with the model (`FrameworkFacts::compile_covers_loss`), one kernel reads
    // the BF16 logits (2) forward, and one reads them and writes the BF16 gradient
    // (2 + 2) backward.
    let logits = tokens * v;
    let compiled = crate::parallel::memory::loss_is_compiled(s);
    let (fwd_bytes, bwd_bytes) = if compiled { (2.0, 4.0) } else { (CE_FWD_BYTES_PER_LOGIT, CE_BWD_BYTES_PER_LOGIT) };
    let ce_fwd = d.streaming_s(fwd_bytes * logits, if compiled { 1.0 } else { 6.0 });
    let ce_bwd = d.streaming_s(bwd_bytes * logits, if compiled { 1.0 } else { 3.0 });
    let tensor = tokens * h * ACT_BYTES;
    let tp_s = if p.tp > 1 {
        if p.sequence_parallel {
            g.tp.time_s(CollectiveOp::AllGather, tensor) + g.tp.time_s(CollectiveOp::ReduceScatter, tensor)
        } else {
            2.0 * g.tp.time_s(CollectiveOp::AllReduce, tensor)
        }
    } else {
        0.0
    };
    let fwd = gemm + ce_fwd;
    let bwd = 2.0 * gemm + ce_bwd;
    StageCost {
        compute_s: fwd + bwd,
        fwd_compute_s: fwd,
        bwd_compute_s: bwd,
        tp_s,
        fwd: PassCost { gemm_s: gemm, tp_hide_s: gemm, other_s: ce_fwd, tp_s: tp_s / 2.0, ..Default::default() },
        bwd: PassCost { gemm_s: 2.0 * gemm, tp_hide_s: gemm, other_s: ce_bwd, tp_s: tp_s / 2.0, ..Default::default() },
        ..Default::default()
    }
}

/// The embedding lookup and its gradient on the first stage.
pub fn embedding_cost(s: &Scenario, d: &Device) -> StageCost {
    let shape = s.micro_batch_shape();
    let bytes = shape.tokens * shape.hidden * ACT_BYTES;
    let fwd = d.streaming_s(2.0 * bytes, 1.0);
    let bwd = d.streaming_s(3.0 * bytes, 1.0);
    StageCost {
        compute_s: fwd + bwd,
        fwd_compute_s: fwd,
        bwd_compute_s: bwd,
        fwd: PassCost { other_s: fwd, ..Default::default() },
        bwd: PassCost { other_s: bwd, ..Default::default() },
        ..Default::default()
    }
}

/// Bytes one GPU sends in one EP dispatch (or combine) of one MoE layer and micro-batch:
/// every routed token's hidden state, once per chosen expert (nccl-tests' S).
pub fn ep_dispatch_bytes(s: &Scenario) -> f64 {
    let shape = s.micro_batch_shape();
    s.training.routed_load() * shape.tokens / shape.sp * s.model.moe.top_k as f64 * shape.hidden * ACT_BYTES
}

/// Bytes one GPU sends to the next pipeline stage per micro-batch: the activations
/// (or their gradient), BF16, split over the TP ranks by SP or by the scatter/gather
/// optimisation.
pub fn pipeline_send_bytes(s: &Scenario) -> f64 {
    let shape = s.micro_batch_shape();
    let split = if s.parallel.pp_scatter_gather { shape.tp } else { shape.sp };
    shape.tokens * shape.hidden * ACT_BYTES / split
}

/// What the receiving stage adds to a pipeline hop: with the scatter/gather
/// optimisation and no SP, the all-gather of the slices over the TP group (NVLink).
pub fn pipeline_regather_s(s: &Scenario, g: &Groups) -> f64 {
    let shape = s.micro_batch_shape();
    if s.parallel.pp_scatter_gather && shape.sp == 1.0 && shape.tp > 1.0 {
        g.tp.time_s(CollectiveOp::AllGather, shape.tokens * shape.hidden * ACT_BYTES)
    } else {
        0.0
    }
}

/// Bytes one GPU passes to its CP neighbour per ring step of one layer's forward: its
/// K and V (K is KV heads × head dim wide; V the same for MHA/GQA, heads × v_head_dim
/// for MLA, which materialises full-width K and V), TP-sharded.
pub fn cp_ring_bytes(s: &Scenario) -> f64 {
    let m = &s.model;
    let shape = s.micro_batch_shape();
    let (k_w, v_w) = match m.mla {
        Some(_) => (m.q_width() as f64, m.v_width() as f64),
        None => ((m.kv_heads * m.head_dim) as f64, (m.kv_heads * m.head_dim) as f64),
    };
    shape.tokens * (k_w + v_w) / shape.tp * ACT_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn llama8b(sets: &[&str]) -> Scenario {
        let text = "[model]\npreset = \"llama3-8b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 8\n[parallel]\ndp = 8\nmicro_batch = 1\nglobal_batch = 8\n";
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::scenario::parse(text, Path::new("t.toml"), &sets).unwrap()
    }

    /// `training.fp8_gemms` splits FP8 at the routed experts: each half saves part of
    /// what all-FP8 saves, and the LM head stays BF16 whatever the precision.
    #[test]
    fn fp8_gemms_split_at_the_routed_experts() {
        let text = "[model]\npreset = \"mixtral-8x7b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 8\n[parallel]\nep = 8\nmicro_batch = 1\nglobal_batch = 8\n[training]\nframework = \"torchtitan\"\n";
        let at = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            let s = crate::scenario::parse(text, Path::new("t.toml"), &sets).unwrap();
            let fabric = crate::parallel::fabric(&s.cluster);
            let groups = crate::parallel::Groups::new(&fabric, &s.parallel, crate::parallel::has_nvls(&s.cluster));
            let d = Device::of(&s);
            (layer_cost(&s, &d, &groups, true), head_cost(&s, &d, &groups))
        };
        let (bf16, bf16_head) = at(&[]);
        let (all, all_head) = at(&["training.precision=\"fp8\""]);
        let (dense, _) = at(&["training.precision=\"fp8\"", "training.fp8_gemms=\"dense\""]);
        let (experts, _) = at(&["training.precision=\"fp8\"", "training.fp8_gemms=\"experts\""]);
        let t = |c: &LayerCost| c.fwd_s + c.bwd_s;
        for half in [&dense, &experts] {
            assert!(t(&all) < t(half) && t(half) < t(&bf16), "{} {} {}", t(&all), t(half), t(&bf16));
        }
        // The two halves' savings add up to all-FP8's (the casts of a shared input aside).
        let saved = |c: &LayerCost| t(&bf16) - t(c);
        assert!((saved(&dense) + saved(&experts) - saved(&all)).abs() < 0.02 * saved(&all));
        assert_eq!(bf16_head.compute_s, all_head.compute_s);
    }

    /// Plain-PyTorch models run their norms, rotary and SwiGLU op by op (torchtitan's
    /// Llama): more HBM passes than fused kernels, which torch.compile restores.
    /// Megatron-Core's kernels are fused either way.
    #[test]
    fn eager_elementwise_ops_cost_until_compiled() {
        let cost = |sets: &[&str]| {
            let s = llama8b(sets);
            let fabric = crate::parallel::fabric(&s.cluster);
            let groups = crate::parallel::Groups::new(&fabric, &s.parallel, crate::parallel::has_nvls(&s.cluster));
            layer_cost(&s, &Device::of(&s), &groups, false)
        };
        let eager = cost(&["training.framework=\"torchtitan\""]);
        let compiled = cost(&["training.framework=\"torchtitan\"", "training.compile=true"]);
        let mcore = cost(&[]);
        let mcore_compiled = cost(&["training.compile=true"]);
        assert!(eager.fwd_s > compiled.fwd_s && eager.bwd_s > compiled.bwd_s);
        assert_eq!(mcore.fwd_s, mcore_compiled.fwd_s);
        let p = ElementwisePasses::of(&llama8b(&["training.framework=\"torchtitan\""]), true);
        assert_eq!((p.norm, p.rope, p.act), (18.0, 10.0, 5.0));
        let f = ElementwisePasses::of(&llama8b(&[]), true);
        assert_eq!((f.norm, f.rope, f.act), (2.0, 2.0, 3.0));
    }

    /// torchtitan runs Q, K and V (and gate and up) as separate GEMMs, Megatron-Core as
    /// one; under torch.compile the separate FP8 linears quantise their shared input
    /// once, eager each casts it again.
    #[test]
    fn separate_projections_are_separate_gemms_sharing_compiled_casts() {
        let s = llama8b(&["training.framework=\"torchtitan\"", "training.precision=\"fp8\"", "training.compile=true"]);
        let d = Device::of(&s);
        let (m, h) = (8192.0, 4096.0);
        let qkv = [4096.0, 1024.0, 1024.0];
        let (fwd, _) = input_sharing_linears(&s, &d, m, &qkv, h);
        let gemms: f64 = qkv.iter().map(|&n| d.linear_gemm_s(m, n, h)).sum();
        let (cast, _) = d.fp8_input_cast_s(m, h);
        assert!(cast > 0.0);
        assert!((fwd - (gemms - 2.0 * cast)).abs() < 1e-12);
        let eager = llama8b(&["training.framework=\"torchtitan\"", "training.precision=\"fp8\""]);
        assert!((input_sharing_linears(&eager, &d, m, &qkv, h).0 - gemms).abs() < 1e-12);
        let mcore = llama8b(&["training.precision=\"fp8\""]);
        let fused = input_sharing_linears(&mcore, &Device::of(&mcore), m, &qkv, h);
        assert_eq!(fused.0, Device::of(&mcore).linear_gemm_s(m, 6144.0, h));
        // In BF16, thin separate GEMMs run below the fused one's rate.
        let bf16 = llama8b(&["training.framework=\"torchtitan\""]);
        let (sep, fus) = (input_sharing_linears(&bf16, &Device::of(&bf16), m, &qkv, h).0, input_sharing_linears(&llama8b(&[]), &Device::of(&bf16), m, &qkv, h).0);
        assert!(sep > fus, "{sep} {fus}");
    }
}
