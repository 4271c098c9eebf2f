//! The analytic fidelity: closed forms for the pipeline schedule and for what overlaps.
//!
//! Step time = Σ micro-batches × (busiest stage's compute + its exposed TP/CP/EP)
//!           + pipeline bubble + exposed PP and DP communication + optimizer + overhead.

use super::layer::{attention_part, embedding_cost, head_cost, layer_cost_with, StageCost};
use crate::calibration as cal;
use crate::collective::CollectiveOp;
use crate::hardware::Device;
use crate::model::LayerParams;
use crate::parallel::memory::{memory_of, optimizer_step_bytes_per_param, stage_params, StageParams};
use crate::parallel::{self, stage_kinds, Groups, StageLayout};
use crate::report::{Breakdown, ExposedComm, StepReport};
use crate::scenario::{Precision, Recompute, Scenario, Schedule, Zero3Gather};
use wanka_net::Fabric;

/// Evaluates a scenario, building its fabric.
pub fn simulate(s: &Scenario) -> StepReport {
    let fabric = parallel::fabric(&s.cluster);
    evaluate(s, &fabric)
}

/// Bytes of a gradient or parameter on the wire (BF16).
const WIRE_BYTES: f64 = 2.0;

/// The cost per micro-batch of each kind of pipeline rank (`kinds`): per-layer costs,
/// once per layer kind, summed over the layers the rank holds, with the embedding and
/// the head where it holds them.
fn rank_costs(s: &Scenario, device: &Device, groups: &Groups, kinds: &[parallel::StageKind]) -> Vec<StageCost> {
    let m = &s.model;
    let attention = attention_part(s, device, groups);
    let dense = layer_cost_with(s, device, groups, &attention, false);
    let moe = if m.is_moe() { layer_cost_with(s, device, groups, &attention, true) } else { dense };
    // With `parallel.recompute_layers`, the layers full recomputation leaves alone.
    let plain = super::layer::unrecomputed_layer_costs(s, device, groups, &attention);
    let layout = plain.as_ref().map(|_| StageLayout::new(s));
    let head = head_cost(s, device, groups);
    let embed = embedding_cost(s, device);
    // DualPipe ranks hold two chunks and each micro-batch passes one of them: a rank's
    // work per micro-batch is half of what it holds.
    let share = if s.parallel.schedule == Schedule::Dualpipe { 0.5 } else { 1.0 };
    kinds
        .iter()
        .map(|k| {
            let mut c = StageCost::default();
            let recomputed = layout.as_ref().map_or(1.0, |l| parallel::recompute_share(s, l, k.rank));
            c.add_layers(s, &dense, recomputed * share * (k.layers - k.moe_layers));
            c.add_layers(s, &moe, recomputed * share * k.moe_layers);
            if let Some((plain_dense, plain_moe)) = &plain {
                c.add_layers(s, plain_dense, (1.0 - recomputed) * share * (k.layers - k.moe_layers));
                c.add_layers(s, plain_moe, (1.0 - recomputed) * share * k.moe_layers);
            }
            if k.embedding {
                c.add_scaled(&embed, share);
            }
            if k.head {
                c.add_scaled(&head, share);
            }
            c
        })
        .collect()
}

/// One kind of pipeline rank and what a micro-batch costs it (the step report's "per
/// pipeline-rank kind" view).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PipelineRank {
    /// The first rank of this kind, and how many ranks are alike.
    pub first_rank: u64,
    pub ranks: u64,
    /// Transformer layers it holds (MoE among them), the embedding, the LM head.
    pub layers: f64,
    pub moe_layers: f64,
    pub embedding: bool,
    pub head: bool,
    /// Per micro-batch: compute (forward, backward, recomputation), and the TP, CP and
    /// EP communication before overlap, and GPU idle while the host issues work.
    pub compute_s: f64,
    pub tp_s: f64,
    pub cp_s: f64,
    pub ep_s: f64,
    pub host_s: f64,
}

/// Each kind of pipeline rank of `s` with its cost per micro-batch.
pub fn pipeline_ranks(s: &Scenario) -> Vec<PipelineRank> {
    let fabric = parallel::fabric(&s.cluster);
    let device = Device::of(s);
    let groups = Groups::new(&fabric, &s.parallel, parallel::has_nvls(&s.cluster));
    let kinds = stage_kinds(s, &StageLayout::new(s));
    kinds
        .iter()
        .zip(rank_costs(s, &device, &groups, &kinds))
        .map(|(k, c)| PipelineRank {
            first_rank: k.rank,
            ranks: k.ranks,
            layers: k.layers,
            moe_layers: k.moe_layers,
            embedding: k.embedding,
            head: k.head,
            compute_s: c.compute_s,
            tp_s: c.tp_s,
            cp_s: c.cp_s,
            ep_s: c.ep_s,
            host_s: c.host_s,
        })
        .collect()
}

/// Evaluates a scenario on a fabric built for its cluster (search reuses one fabric).
pub fn evaluate(s: &Scenario, fabric: &Fabric) -> StepReport {
    let p = &s.parallel;
    let m = &s.model;
    let device = Device::of(s);
    let groups = Groups::new(fabric, p, parallel::has_nvls(&s.cluster));
    let layout = StageLayout::new(s);

    let kinds = stage_kinds(s, &layout);
    let lp = m.layer_params();
    // The pipeline's ranks as (cost per micro-batch, how many ranks cost that).
    let stages: Vec<(StageCost, f64)> = kinds.iter().zip(rank_costs(s, &device, &groups, &kinds)).map(|(k, c)| (c, k.ranks as f64)).collect();
    let busiest = &stages.iter().max_by(|a, b| a.0.total_s().total_cmp(&b.0.total_s())).unwrap_or(&stages[0]).0;

    // A degraded NIC link anywhere in the job stretches every collective group that
    // leaves the NVLink domain (they all wait for the one crossing it): the expected
    // multiplier (`Variability::network_slowdown`), before any overlap.
    let network_slowdown = s.cluster.variability.network_slowdown(s.cluster.gpus);
    let link = |g: &crate::collective::Group| if g.span.domains > 1 { 1.0 + network_slowdown } else { 1.0 };

    // --- Pipeline ------------------------------------------------------------------
    // The busiest stage sets the pace of the steady state; filling and draining the
    // pipeline passes each micro-batch through every other stage once, so the bubble
    // is the sum over the other stages of the schedule's per-stage quantum, which is
    // (p − 1) quanta when the stages are equal.
    let mb = p.microbatches() as f64;
    let per_mb = busiest.total_s();
    let ppf = p.pp as f64;
    let fwd_s = |c: &StageCost| c.fwd_compute_s + 0.5 * (c.tp_s + c.cp_s + c.ep_s);
    let others = |quantum: &dyn Fn(&StageCost) -> f64| -> f64 {
        stages.iter().map(|(c, n)| n * quantum(c)).sum::<f64>() - quantum(busiest)
    };
    let mut ep_per_mb = busiest.ep_s * link(&groups.ep);
    let bubble = match p.schedule {
        Schedule::OneFOneB => others(&|c| c.total_s()),
        Schedule::Interleaved => others(&|c| c.total_s()) / p.vpp as f64,
        // ZB-H1 (Qi et al. 2024): (p−1)(F + B − W), with the backward split evenly
        // into input-gradient B and weight-gradient W.
        Schedule::ZeroBubble => others(&fwd_s),
        // DualPipe (DeepSeek-V3 Table 2): (PP/2 − 1)(F&B + B − 3W) ≈ (PP/2 − 1)·F, and the
        // EP all-to-all of one chunk hides behind the other chunk's compute.
        Schedule::Dualpipe => {
            // The communication kernels take SMs from the compute they hide behind
            // (DeepSeek-V3 §3.2.2: 20 of the H800's 132 SMs), as any overlap does here.
            ep_per_mb = super::layer::exposed_beside(busiest.ep_s * link(&groups.ep), busiest.compute_s);
            let mean_f = others(&fwd_s) / (ppf - 1.0).max(1.0);
            (ppf / 2.0 - 1.0).max(0.0) * mean_f
        }
    };
    if p.moe_a2a_overlap {
        // Megatron's combined 1F1B: the forward of micro-batch i + 1 beside the backward
        // of micro-batch i, so one's dispatch and combine run beside the other's compute;
        // the first rank's warm-up forwards (pp of them with the schedule's extra one;
        // the first forward without a pipeline) have no backward to pair with
        // (Megatron-LM docs, moe_a2a_overlap.md).
        let paired = ((mb - ppf) / mb).clamp(0.0, 1.0);
        let ep = busiest.ep_s * link(&groups.ep);
        ep_per_mb = paired * super::layer::exposed_beside(ep, busiest.compute_s) + (1.0 - paired) * ep;
    }
    let per_mb = per_mb - busiest.ep_s + ep_per_mb;
    let pipeline = mb * per_mb;

    // --- PP point-to-point -----------------------------------------------------------
    let pp_exposed = if p.pp > 1 {
        let act_bytes = super::layer::pipeline_send_bytes(s);
        let hop = groups.pp.time_s(CollectiveOp::SendRecv, act_bytes) * link(&groups.pp) + super::layer::pipeline_regather_s(s, &groups);
        // Fill and drain put 2(p−1) hops on the critical path; with blocking sends
        // (1F1B always, interleaving without p2p overlap) every pass of every chunk
        // also waits for its own send.
        let steady = match p.schedule {
            Schedule::Interleaved if p.overlap_p2p_comm => 0.0,
            Schedule::Interleaved => 2.0 * mb * p.vpp as f64 * hop,
            _ => 2.0 * mb * hop,
        };
        2.0 * (ppf - 1.0) * hop + steady
    } else {
        0.0
    };

    // --- DP gradients and parameters ------------------------------------------------
    let kind_params: Vec<StageParams> = kinds.iter().map(|k| stage_params(s, &lp, k)).collect();
    let params = kind_params.iter().copied().fold(StageParams { dense: 0.0, experts: 0.0 }, |a, b| if b.total() > a.total() { b } else { a });
    let dp_size = p.dp * p.cp;
    let (dp_exposed, optimizer_params) = data_parallel(s, &groups, params, busiest, layout.max_layers() as f64, dp_size, link(&groups.dp));

    // --- Optimizer -----------------------------------------------------------------------
    let optimizer = device.streaming_s(optimizer_params * optimizer_step_bytes_per_param(s), 4.0);

    // --- Stragglers ------------------------------------------------------------------
    // Every GPU meets the others each layer (TP), each micro-batch (PP) and each step
    // (DP): the job computes at its slowest GPU's pace, and waits through host pauses.
    let stragglers = stragglers_s(s, mb * busiest.compute_s, bubble * busiest.compute_s / per_mb.max(f64::MIN_POSITIVE));

    let breakdown = Breakdown {
        host: mb * busiest.host_s,
        compute: mb * busiest.compute_s,
        bubble,
        exposed_comm: ExposedComm {
            tp: mb * busiest.tp_s,
            cp: mb * busiest.cp_s,
            ep: mb * ep_per_mb,
            pp: pp_exposed,
            dp: dp_exposed,
        },
        optimizer,
        overhead: cal::STEP_OVERHEAD_S,
        stragglers,
    };
    let step_time_s = pipeline + bubble + pp_exposed + dp_exposed + optimizer + cal::STEP_OVERHEAD_S + stragglers;
    debug_assert!((breakdown.total() - step_time_s).abs() <= 1e-9 * step_time_s.max(1.0));

    // --- Throughput ----------------------------------------------------------------------
    let tokens_per_step = (p.global_batch * m.seq_len) as f64;
    let tokens_per_s = tokens_per_step / step_time_s;
    let gpus = s.cluster.gpus as f64;
    let tokens_per_s_per_gpu = tokens_per_s / gpus;
    let model_flops_per_token = m.model_flops_per_token();
    let forward_layers_flops = model_flops_per_token / 3.0 - m.lm_head_flops_per_token();
    let hardware_flops_per_token = model_flops_per_token
        + match p.recompute {
            Recompute::None => 0.0,
            Recompute::Selective => selective_recompute_flops_per_token(s, &lp),
            Recompute::Full => forward_layers_flops * recomputed_layer_share(s, &layout),
        };
    let peak = match s.training.precision {
        Precision::Fp8 => s.cluster.gpu.fp8_flops,
        _ => s.cluster.gpu.bf16_flops,
    };
    let model_flops_per_gpu = model_flops_per_token * tokens_per_s_per_gpu;
    let hardware_flops_per_gpu = hardware_flops_per_token * tokens_per_s_per_gpu;
    StepReport {
        step_time_s,
        tokens_per_step,
        tokens_per_s,
        tokens_per_s_per_gpu,
        model_flops_per_token,
        model_tflops_per_gpu: model_flops_per_gpu / 1e12,
        mfu: model_flops_per_gpu / peak,
        hardware_flops_per_token,
        hardware_tflops_per_gpu: hardware_flops_per_gpu / 1e12,
        hfu: hardware_flops_per_gpu / peak,
        memory: memory_of(s, &kinds, &kind_params),
        breakdown_s: breakdown,
        comm_fraction: breakdown.exposed_comm.total() / step_time_s,
        microbatches: p.microbatches(),
    }
}

/// Time per step spent waiting for stragglers: the slowest GPU's extra compute time over
/// the busiest stage's compute and the compute share of the bubble, plus the host pauses
/// the job waits through (`crate::variability`).
pub fn stragglers_s(s: &Scenario, compute_s: f64, bubble_compute_s: f64) -> f64 {
    let v = &s.cluster.variability;
    v.compute_slowdown(s.cluster.gpus, s.cluster.gpus_per_node) * (compute_s + bubble_compute_s) + v.host_pause_per_step_s(s.cluster.gpus)
}

/// Share of the model's layers full recomputation recomputes: all, or the first
/// `parallel.recompute_layers` of every model chunk of every pipeline rank.
fn recomputed_layer_share(s: &Scenario, layout: &StageLayout) -> f64 {
    if s.parallel.recompute_layers.is_none() {
        return 1.0;
    }
    let (mut all, mut recomputed) = (0.0, 0.0);
    for r in 0..s.parallel.pp {
        let kind = parallel::rank_kind(s, layout, r);
        all += kind.layers;
        recomputed += kind.layers * parallel::recompute_share(s, layout, r);
    }
    if all > 0.0 { recomputed / all } else { 0.0 }
}

/// Forward FLOPs per token that selective recomputation runs again, over all layers:
/// the modules of `training.recompute_modules` that do matrix products (norms and
/// activation functions are element-wise).
fn selective_recompute_flops_per_token(s: &Scenario, lp: &LayerParams) -> f64 {
    let m = &s.model;
    let r = &s.training.recompute_modules;
    let moe_layers = m.moe_layers() as f64;
    let dense_layers = m.layers as f64 - moe_layers;
    let mut per_layer = 0.0;
    if r.core_attn {
        per_layer += m.attention_core_flops_per_token();
    }
    if let (true, Some(mla)) = (r.mla_up_proj, m.mla) {
        let heads = m.heads as f64;
        let q_up = if mla.q_lora_rank > 0 { mla.q_lora_rank as f64 * heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim) as f64 } else { 0.0 };
        let kv_up = mla.kv_lora_rank as f64 * heads * (mla.qk_nope_head_dim + mla.v_head_dim) as f64;
        per_layer += 2.0 * (q_up + kv_up);
    }
    let mut total = m.layers as f64 * per_layer;
    if r.mlp {
        total += dense_layers * 2.0 * lp.dense_mlp;
    }
    if r.moe {
        total += moe_layers * 2.0 * (lp.router + m.moe.top_k as f64 * lp.expert);
    }
    if r.shared_experts {
        total += moe_layers * 2.0 * lp.shared;
    }
    total
}

/// Exposed DP communication per step and the number of parameters this GPU's
/// optimizer updates.
///
/// - ZeRO 0: all-reduce of the gradients after the last micro-batch's backward.
/// - ZeRO 1/2 (Megatron distributed optimizer, FSDP SHARD_GRAD_OP): reduce-scatter of
///   the gradients once per step, all-gather of the updated parameters.
/// - ZeRO 3 (DeepSpeed/FSDP full sharding): per micro-batch, all-gather the parameters
///   before forward and again before backward, reduce-scatter the gradients.
///
/// With `overlap_grad_reduce` the gradient reduction hides behind the backward of the
/// last micro-batch; with `overlap_param_gather` the all-gather behind the next forward.
fn data_parallel(s: &Scenario, g: &Groups, params: StageParams, stage: &StageCost, stage_layers: f64, dp: u64, link: f64) -> (f64, f64) {
    let p = &s.parallel;
    if dp <= 1 && p.ep <= 1 {
        return (0.0, params.total());
    }
    // The last gradient bucket is reduced after the backward ends; it cannot overlap.
    let last_bucket = (cal::DP_BUCKET_PARAMS / params.total().max(1.0)).min(1.0);
    let expert_dp = p.expert_dp() as f64;
    let sharded_params = params.dense / dp as f64 + params.experts / expert_dp;
    let mb = p.microbatches() as f64;
    // Communication hidden behind `window` of compute: what sticks out, at least the last
    // bucket, plus the SMs the hidden part takes from the compute.
    // The windows: a pass's compute, and the time its compute stream waits for the host
    // (the collectives' kernels, already issued, run meanwhile).
    let (fwd_window, bwd_window) = (stage.fwd_compute_s + stage.host_s - stage.host_bwd_s, stage.bwd_compute_s + stage.host_bwd_s);
    let overlapped = |comm: f64, window: f64| -> f64 {
        let exposed = (comm - window).max(comm * last_bucket);
        exposed + (comm - exposed) * cal::COMM_SM_SHARE
    };
    match p.zero {
        0 => {
            let (ar, _) = dp_collective_times(s, g, params);
            let ar = ar * link;
            let exposed = if p.overlap_grad_reduce { overlapped(ar, bwd_window) } else { ar };
            (exposed, params.total())
        }
        1 | 2 => {
            let (rs, ag) = dp_collective_times(s, g, params);
            let (rs, ag) = (rs * link, ag * link);
            let rs_exposed = if p.overlap_grad_reduce { overlapped(rs, bwd_window) } else { rs };
            let ag_exposed = if p.overlap_param_gather { overlapped(ag, fwd_window) } else { ag };
            (rs_exposed + ag_exposed, sharded_params)
        }
        _ => {
            let (ag, rs, synchronous) = zero3_pass_times(s, g, params, stage_layers);
            let (ag, rs) = (ag * link, rs * link);
            // A recomputed forward gathers again (its share of the layers).
            let passes = if p.recompute == Recompute::Full && synchronous { 2.0 + recomputed_layer_share(s, &StageLayout::new(s)) } else { 2.0 };
            if synchronous {
                // Blocking per-tensor collectives: nothing overlaps; a recomputed forward
                // gathers again.
                (mb * (passes * ag + rs), sharded_params)
            } else {
                // Prefetching overlaps each gather with the compute of the same pass.
                let fwd = overlapped(ag, fwd_window);
                let bwd = overlapped(ag + rs, bwd_window);
                (mb * (fwd + bwd), sharded_params)
            }
        }
    }
}

/// Raw DP collective times of one stage per step, before any overlap: (gradient
/// reduction, parameter all-gather). ZeRO 0 all-reduces gradients and gathers nothing;
/// ZeRO 1/2 reduce-scatter gradients and all-gather parameters once per step.
pub fn dp_collective_times(s: &Scenario, g: &Groups, params: StageParams) -> (f64, f64) {
    let p = &s.parallel;
    if p.dp * p.cp <= 1 && p.ep <= 1 {
        return (0.0, 0.0);
    }
    let grad_wire = if s.training.grad_reduce_in_fp32 { 4.0 } else { WIRE_BYTES };
    let time = |op: CollectiveOp, per_param: f64| g.dp.time_s(op, params.dense * per_param) + g.expert_dp.time_s(op, params.experts * per_param);
    match p.zero {
        0 => (time(CollectiveOp::AllReduce, grad_wire), 0.0),
        _ => (time(CollectiveOp::ReduceScatter, grad_wire), time(CollectiveOp::AllGather, WIRE_BYTES)),
    }
}

/// ZeRO-3 per pass of one micro-batch over one stage: (parameter all-gather, gradient
/// reduce-scatter, synchronous). Layer mode: one collective per layer, each paying its
/// latency; tensor mode: one per parameter tensor plus a copy kernel per rank, blocking.
pub fn zero3_pass_times(s: &Scenario, g: &Groups, params: StageParams, stage_layers: f64) -> (f64, f64, bool) {
    let grad_wire = if s.training.grad_reduce_in_fp32 { 4.0 } else { WIRE_BYTES };
    let ag = g.dp.time_s(CollectiveOp::AllGather, params.dense * WIRE_BYTES)
        + g.expert_dp.time_s(CollectiveOp::AllGather, params.experts * WIRE_BYTES);
    let rs = g.dp.time_s(CollectiveOp::ReduceScatter, params.dense * grad_wire)
        + g.expert_dp.time_s(CollectiveOp::ReduceScatter, params.experts * grad_wire);
    match s.parallel.zero3_gather {
        Zero3Gather::Layer => {
            let extra = (stage_layers - 1.0).max(0.0);
            (ag + extra * g.dp.latency_s(CollectiveOp::AllGather), rs + extra * g.dp.latency_s(CollectiveOp::ReduceScatter), false)
        }
        Zero3Gather::Tensor => {
            let tensors = s.model.tensors_per_layer() * stage_layers;
            let copies = g.dp.size() as f64 * cal::KERNEL_OVERHEAD_S;
            // Memory traffic around each blocking collective (DeepSpeed 2021,
            // partition_parameters.py): a gather zero-fills the full parameter buffer
            // (write S), NCCL gathers into a flat buffer and the per-rank chunks are
            // copied into place (read S, write S); a reduce-scatter first copies the
            // gradient into per-rank input chunks (read S, write S).
            let hbm = Device::of(s);
            let param_bytes = params.total() * WIRE_BYTES;
            let grad_bytes = params.total() * grad_wire;
            (
                ag + tensors * (g.dp.latency_s(CollectiveOp::AllGather) + copies) + hbm.streaming_s(3.0 * param_bytes, 0.0),
                rs + tensors * g.dp.latency_s(CollectiveOp::ReduceScatter) + hbm.streaming_s(2.0 * grad_bytes, 0.0),
                true,
            )
        }
    }
}
