//! The event fidelity: one training step of one representative pipeline (every stage)
//! as a task graph on per-stage compute and communication streams, run by
//! [`crate::engine`]. Per-layer costs come from the same place as the analytic model's
//! ([`super::layer`]); the schedule ([`super::schedule`]: 1F1B, Megatron's interleaved
//! order, ZB-H1, DualPipe), each pass split per layer with its TP, CP and EP collectives on a
//! collective stream, pipeline sends, bucketed DP reduce-scatter overlapping the last
//! backward, the parameter all-gather overlapping the first forward, ZeRO-3 gathers,
//! and the optimizer are explicit tasks, so overlap and waiting are what the graph
//! makes of them rather than closed forms.

use super::analytic;
use super::schedule::{dualpipe_order, rank_order, with_ops, zb_h1_order, Op};
use super::layer::{attention_part, embedding_cost, head_cost, layer_cost_with, PassCost, StageCost};
use crate::calibration as cal;
use crate::collective::flows::{self, GroupLayout};
use crate::collective::CollectiveOp;
use crate::engine::Graph;
use crate::error::{Error, Result};
use crate::hardware::Device;
use crate::parallel::memory::{stage_params, StageParams};
use crate::parallel::{chunk_span, rank_kind};
use crate::parallel::{self, Groups, StageLayout};
use crate::report::StepReport;
use crate::scenario::{Scenario, Schedule};
use serde::Serialize;
use std::io::Write;

/// Busy and idle time of one stream over the step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamTime {
    pub stream: String,
    pub busy_s: f64,
    pub idle_s: f64,
}

/// The event fidelity's answer: the analytic report's keys with the event step time and
/// breakdown, plus per-stream busy and idle time, and the graph for a trace.
#[derive(Debug, Clone)]
pub struct EventStep {
    pub report: StepReport,
    pub streams: Vec<StreamTime>,
    pub graph: Graph,
    /// Pipeline stages simulated (each has the same set of streams).
    pub stages: usize,
}

/// DP gradient buckets the reduce-scatter is split into.
const DP_BUCKETS: usize = 4;

/// Simulates one step with the event engine.
pub fn simulate_event(s: &Scenario) -> Result<EventStep> {
    let p = &s.parallel;
    // DualPipe (DeepSeek-V3 §3.2.1): two pipelines in opposite directions share the
    // ranks; rank r holds stage r of the first and stage pp − 1 − r of the second, and half
    // the micro-batches enter from each end. Here: chunk 0 and chunk 1 of each rank.
    let dual = p.schedule == Schedule::Dualpipe;
    let fabric = parallel::fabric(&s.cluster);
    let analytic = analytic::evaluate(s, &fabric);
    let device = Device::of(s);
    let groups = Groups::new(&fabric, p, parallel::has_nvls(&s.cluster));
    let layout = StageLayout::new(s);
    let net = FlowTimer::new(s, &fabric);
    let m = &s.model;
    let (pp, vpp, mb) = (p.pp as usize, p.vpp as usize, p.microbatches() as usize);

    // Cost of each (rank, chunk): its layers, plus the embedding on the first virtual
    // stage and the LM head on the last.
    let attention = attention_part(s, &device, &groups);
    let dense = layer_cost_with(s, &device, &groups, &attention, false);
    let moe = if m.is_moe() { layer_cost_with(s, &device, &groups, &attention, true) } else { dense };
    // With `parallel.recompute_layers`, the layers full recomputation leaves alone.
    let plain = super::layer::unrecomputed_layer_costs(s, &device, &groups, &attention);
    let head = head_cost(s, &device, &groups);
    let embed = embedding_cost(s, &device);
    // TP, CP and EP collectives that leave the NVLink domain: every group at once on
    // the fabric; the layer's time for them scales by flow time over analytic time.
    // (Inside one NVLink domain groups do not share links: the analytic time holds.)
    let strides = p.strides();
    let ratio = |size: u64, stride: u64, op: CollectiveOp, bytes: f64, analytic: f64| -> f64 {
        match net.time(s, GroupLayout::covering(s.cluster.gpus, size, stride), op, bytes) {
            Some(flow) if analytic > 0.0 => flow / analytic,
            _ => 1.0,
        }
    };
    let ep_ratio = if m.is_moe() && p.ep > 1 {
        let bytes = super::layer::ep_dispatch_bytes(s);
        ratio(p.ep, strides.ep, CollectiveOp::AllToAll, bytes, groups.ep.time_s(CollectiveOp::AllToAll, bytes))
    } else {
        1.0
    };
    // The CP ring passes K and V around all cp ranks: an all-gather's traffic.
    let shape = s.micro_batch_shape();
    let cp_ratio = if p.cp > 1 {
        let bytes = super::layer::cp_ring_bytes(s) * p.cp as f64;
        ratio(p.cp, strides.cp, CollectiveOp::AllGather, bytes, groups.cp.time_s(CollectiveOp::AllGather, bytes))
    } else {
        1.0
    };
    let tp_ratio = if p.tp > 1 {
        let bytes = shape.tokens * shape.hidden * 2.0;
        ratio(p.tp, strides.tp, CollectiveOp::AllGather, bytes, groups.tp.time_s(CollectiveOp::AllGather, bytes))
    } else {
        1.0
    };
    let chunks = if dual { 2 } else { vpp };
    let mut chunk = vec![vec![StageCost::default(); chunks]; pp];
    // First layer and layer count of each (rank, chunk), for the trace's span names.
    let mut chunk_layers = vec![vec![(0u64, 0u64); chunks]; pp];
    // Share of each (rank, chunk)'s layers full recomputation recomputes.
    let mut chunk_recomputed = vec![vec![0.0f64; chunks]; pp];
    for (r, row) in chunk.iter_mut().enumerate() {
        for (c, cost) in row.iter_mut().enumerate() {
            // DualPipe's second chunk is the mirrored stage; with interleaving, chunk c
            // is virtual stage c·pp + r.
            let span = chunk_span(s, &layout, r as u64, c as u64);
            // The chunk's first `recompute_layers` layers are recomputed, the rest not
            // (dense and MoE layers in proportion).
            let recomputed = if plain.is_some() && span.layers > 0.0 { parallel::recomputed_in_chunk(s, span.layers) / span.layers } else { 1.0 };
            chunk_recomputed[r][c] = if p.recompute == crate::scenario::Recompute::Full { recomputed } else { 0.0 };
            cost.add_layers_with_passes(s, &dense, recomputed * (span.layers - span.moe_layers));
            cost.add_layers_with_passes(s, &moe, recomputed * span.moe_layers);
            if let Some((plain_dense, plain_moe)) = &plain {
                cost.add_layers_with_passes(s, plain_dense, (1.0 - recomputed) * (span.layers - span.moe_layers));
                cost.add_layers_with_passes(s, plain_moe, (1.0 - recomputed) * span.moe_layers);
            }
            let stage = if dual && c == 1 { pp - 1 - r } else { r };
            let first_virtual = if dual { stage == 0 } else { r == 0 && c == 0 };
            let last_virtual = if dual { stage == pp - 1 } else { r == pp - 1 && c == vpp - 1 };
            if first_virtual {
                *cost += &embed;
            }
            if last_virtual {
                *cost += &head;
            }
            cost.ep_s *= ep_ratio;
            cost.cp_s *= cp_ratio;
            cost.tp_s *= tp_ratio;
            for pass in [&mut cost.fwd, &mut cost.bwd, &mut cost.recompute] {
                pass.ep_s *= ep_ratio;
                pass.cp_s *= cp_ratio;
                pass.tp_s *= tp_ratio;
            }
            chunk_layers[r][c] = (span.first.round() as u64, span.layers.round().max(1.0) as u64);
        }
    }
    // Stragglers: this pipeline is the job's slowest replica; each stage computes at
    // its drawn pace (the stage holding the job's slowest GPU slowest of all).
    let draw = crate::variability::draw_pipeline(&s.cluster.variability, s.seed, s.cluster.gpus, s.cluster.gpus_per_node, pp, p.tp * p.cp);
    let stage_compute: Vec<f64> = chunk.iter().map(|row| row.iter().map(|c| c.fwd.compute_s() + c.bwd.compute_s() + c.recompute.compute_s()).sum()).collect();
    let nominal_pace = stage_compute.iter().cloned().fold(0.0, f64::max);
    let drawn_pace = stage_compute.iter().zip(&draw.stage_factor).map(|(c, f)| c * f).fold(0.0, f64::max);
    let pace_slowdown = if nominal_pace > 0.0 { drawn_pace / nominal_pace - 1.0 } else { 0.0 };
    for (row, &f) in chunk.iter_mut().zip(&draw.stage_factor) {
        for cost in row.iter_mut() {
            cost.fwd = cost.fwd.scale_compute(f);
            cost.bwd = cost.bwd.scale_compute(f);
            cost.recompute = cost.recompute.scale_compute(f);
        }
    }
    let half = mb / 2;
    // The last micro-batch each chunk sees (DualPipe: each direction has half).
    let last_of = |c: usize| if dual && c == 0 { half.max(1) - 1 } else { mb - 1 };
    // How a pass's collectives overlap its compute: TP behind the GEMMs when the
    // framework overlaps them; under DualPipe one direction's all-to-all behind the
    // other direction's compute (DeepSeek-V3 §3.2.1), here behind the pass itself.
    let tp_name = if p.sequence_parallel { "tp all-gather/reduce-scatter" } else { "tp all-reduce" };
    let overlap = Overlap { tp: p.tp_comm_overlap, ep: dual || p.moe_a2a_overlap, tp_name };
    let overlap_bwd = Overlap { tp: p.tp_comm_overlap && s.training.framework.facts().tp_overlap_in_backward, ..overlap };

    // Pipeline send of one micro-batch's activations (or gradients) to the next stage.
    let act_bytes = super::layer::pipeline_send_bytes(s);
    let hop = if pp > 1 {
        net.pp_hop(s, act_bytes).unwrap_or_else(|| groups.pp.time_s(CollectiveOp::SendRecv, act_bytes)) + super::layer::pipeline_regather_s(s, &groups)
    } else {
        0.0
    };

    let mut g = Graph::new();
    // Each compute stream says its drawn pace, so the trace shows who others wait for.
    let compute: Vec<usize> = (0..pp)
        .map(|r| {
            let pace = 100.0 * (draw.stage_factor[r] - 1.0);
            g.stream(match () {
                _ if r == draw.slowest_stage && pace > 0.0 => format!("stage {r} compute (pace +{pace:.1}%: the job's slowest GPU)"),
                _ if pace > 0.0 => format!("stage {r} compute (pace +{pace:.1}%)"),
                _ => format!("stage {r} compute"),
            })
        })
        .collect();
    // Pipeline sends and data-parallel collectives run on their own streams (their own
    // NCCL communicators), as in Megatron-LM.
    let comm: Vec<usize> = (0..pp).map(|r| g.stream(format!("stage {r} pp comm"))).collect();
    let dp_comm: Vec<usize> = (0..pp).map(|r| g.stream(format!("stage {r} dp comm"))).collect();
    // TP, CP and EP collectives of the passes: one stream per stage (their kernels
    // run beside the compute kernels; a pass waits for the ones it needs).
    let coll: Vec<usize> = (0..pp).map(|r| g.stream(format!("stage {r} tp/cp/ep comm"))).collect();
    // The CPU that issues the stage's kernels (step::host): it runs ahead of the GPU
    // until a host-device synchronisation makes it wait.
    let host: Vec<usize> = (0..pp).map(|r| g.stream(format!("stage {r} host (CPU issue)"))).collect();
    let pass_streams = |r: usize| PassStreams { compute: compute[r], coll: coll[r], host: host[r] };

    // DP: per rank, gradient reduction and parameter all-gather times. Across NVLink
    // domains they run on the explicit fabric: every DP group at once, with the
    // scenario's routing (ECMP collisions and oversubscription show up here).
    // What each rank holds, and its parameters (both chunks under DualPipe).
    let lp = m.layer_params();
    let rank_params: Vec<(f64, StageParams)> = (0..pp)
        .map(|r| {
            let kind = rank_kind(s, &layout, r as u64);
            (kind.layers, stage_params(s, &lp, &kind))
        })
        .collect();
    // A degraded NIC link (drawn) stretches the inter-node collectives of the stage
    // whose groups cross it.
    let slow_link = |r: usize, group: &crate::collective::Group| match draw.slow_link {
        Some((sr, f)) if sr == r && group.span.domains > 1 => f,
        _ => 1.0,
    };
    let dp_times: Vec<(f64, f64)> = rank_params
        .iter()
        .enumerate()
        .map(|(r, &(_, params))| {
            let analytic_times = analytic::dp_collective_times(s, &groups, params);
            let (rs, ag) = net.dp_times(s, &groups, params).unwrap_or(analytic_times);
            let f = slow_link(r, &groups.dp);
            (rs * f, ag * f)
        })
        .collect();

    // ZeRO-3: every pass of every chunk gathers its parameters first (prefetched one op
    // ahead on the DP stream, or blocking on the compute stream in tensor mode), and
    // every backward reduce-scatters its gradients.
    let zero3: Vec<Option<(f64, f64, bool)>> = rank_params
        .iter()
        .map(|&(layers, params)| {
            (p.zero >= 3 && p.dp * p.cp > 1).then(|| {
                let (ag, rs, sync) = analytic::zero3_pass_times(s, &groups, params, layers);
                (ag / chunks as f64, rs / chunks as f64, sync)
            })
        })
        .collect();
    let mut last_compute: Vec<Vec<usize>> = vec![Vec::new(); pp];
    // The tasks that ended each rank's previous pass: a pass starts after them, since
    // the framework issues a pass's kernels (and its blocking collectives) in order on
    // one stream.
    let mut prev_pass: Vec<Vec<usize>> = vec![Vec::new(); pp];
    let mut pending_rs: Vec<Vec<(String, f64, usize)>> = vec![Vec::new(); pp];

    // Parameter all-gather at the start (distributed optimizer): the first forward waits
    // for the first bucket when overlapped, for all of it otherwise.
    let mut gather_gate: Vec<Option<usize>> = vec![None; pp];
    for r in 0..pp {
        if p.zero >= 3 {
            continue;
        }
        let (_, ag) = dp_times[r];
        if ag > 0.0 {
            let buckets = if p.overlap_param_gather { DP_BUCKETS } else { 1 };
            let mut first = None;
            for k in 0..buckets {
                let t = g.add(dp_comm[r], format!("dp all-gather bucket {k}"), ag / buckets as f64, &[]);
                first.get_or_insert(t);
            }
            gather_gate[r] = first;
        }
    }

    // Megatron's non-interleaved 1F1B sends and receives synchronously (the compute
    // stream waits); the interleaved schedule overlaps them on their own stream unless
    // `overlap_p2p_comm` is off (Megatron-LM 2021). The
    // analytic model charges the same.
    let send_stream: Vec<usize> = if p.schedule == Schedule::Interleaved && p.overlap_p2p_comm { comm.clone() } else { compute.clone() };

    // Task ids of forward/backward per (rank, chunk, micro-batch).
    let idx = |c: usize, j: usize| c * mb + j;
    // Per (rank, chunk, micro-batch): the tasks that end each pass and its send (empty:
    // not issued yet).
    let mut f_task: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); chunks * mb]; pp];
    let mut b_task: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); chunks * mb]; pp];
    let mut f_send: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); chunks * mb]; pp];
    let mut b_send: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); chunks * mb]; pp];
    let orders: Vec<Vec<(Op, usize, usize)>> = (0..pp)
        .map(|r| match p.schedule {
            Schedule::Dualpipe => dualpipe_order(r, pp, mb),
            Schedule::ZeroBubble => zb_h1_order(r, pp, mb),
            _ => with_ops(rank_order(r, pp, vpp, mb)),
        })
        .collect();
    // This step's host pause, if one was drawn: before the op at that point of the
    // stage's order.
    let pause_at = draw.pause.map(|(r, at, secs)| (r, (at * orders[r].len() as f64) as usize, secs));
    let mut paused = false;
    // Issue tasks in waves so every dependency exists before its dependant is added:
    // repeatedly take, on each rank, the next op whose inputs are already issued.
    let mut cursor = vec![0usize; pp];
    let total_ops: usize = orders.iter().map(|o| o.len()).sum();
    let mut issued = 0;
    while issued < total_ops {
        let mut progressed = false;
        for r in 0..pp {
            while cursor[r] < orders[r].len() {
                if let (Some((pr, at, secs)), false) = (pause_at, paused) {
                    if pr == r && cursor[r] >= at {
                        // The whole rank (and so its TP group) stops; whoever needs it waits.
                        let t = g.add(compute[r], format!("host pause {secs:.3} s (stage {r})"), secs, &prev_pass[r]);
                        prev_pass[r] = vec![t];
                        paused = true;
                    }
                }
                let (op, c, j) = orders[r][cursor[r]];
                let mut deps = Vec::new();
                if op == Op::W {
                    // Weight gradients: after the chunk's input-gradient pass, on the
                    // same stream; the last micro-batch's releases the DP reduction.
                    let b = &b_task[r][idx(c, j)];
                    if b.is_empty() {
                        break;
                    }
                    let (l0, n) = chunk_layers[r][c];
                    let t = g.add(compute[r], format!("wgrad mb{j} {}", layer_range(l0, n)), chunk[r][c].bwd.compute_s() * W_SHARE, b);
                    if j == last_of(c) && dp_times[r].0 > 0.0 {
                        let share = dp_times[r].0 / chunks as f64;
                        g.add(dp_comm[r], format!("dp reduce-scatter chunk{c}"), share, &[t]);
                    }
                } else if op == Op::F {
                    // Input from the previous virtual stage.
                    let prev = if dual {
                        match c {
                            0 => (r > 0).then(|| (r - 1, 0)),
                            _ => (r + 1 < pp).then(|| (r + 1, 1)),
                        }
                    } else if r > 0 {
                        Some((r - 1, c))
                    } else if c > 0 {
                        Some((pp - 1, c - 1))
                    } else {
                        None
                    };
                    if let Some((pr, pc)) = prev {
                        let t = &f_send[pr][idx(pc, j)];
                        if t.is_empty() {
                            break;
                        }
                        deps.extend(t);
                    } else if let (Some(gate), 0) = (gather_gate[r], j) {
                        deps.push(gate);
                    }
                    if let Some((ag, _, sync)) = zero3[r] {
                        let gather = zero3_gather(&mut g, &last_compute[r], if sync { compute[r] } else { dp_comm[r] }, ag, format!("zero3 all-gather fwd mb{j} chunk{c}"));
                        deps.push(gather);
                        for (name, rs, after) in pending_rs[r].drain(..) {
                            g.add(dp_comm[r], name, rs, &[after]);
                        }
                    }
                    let (l0, n) = chunk_layers[r][c];
                    let pass = &chunk[r][c].fwd;
                    let segments = pass_segments(pass, n, 1);
                    deps.extend(&prev_pass[r]);
                    // Combined 1F1B pairs a forward with a backward: the warm-up
                    // forwards of rank r (pp − r of them, with the extra one) have none.
                    let warmup = p.moe_a2a_overlap && !dual && (j as u64) < p.pp - r as u64;
                    let fwd_overlap = if warmup { Overlap { ep: false, ..overlap } } else { overlap };
                    let ends = emit_pass(&mut g, pass_streams(r), &format!("fwd mb{j}"), (l0, n), pass, segments, &deps, fwd_overlap);
                    let end = ends.last().cloned().unwrap_or_default();
                    prev_pass[r] = end.clone();
                    last_compute[r].push(end[0]);
                    let is_last = if dual { (c == 0 && r == pp - 1) || (c == 1 && r == 0) } else { r == pp - 1 && c == vpp - 1 };
                    f_send[r][idx(c, j)] = if is_last || pp == 1 { end.clone() } else { vec![g.add(send_stream[r], format!("pp send fwd mb{j} chunk{c}"), hop * slow_link(r, &groups.pp), &end)] };
                    f_task[r][idx(c, j)] = end;
                } else {
                    // Gradient from the next virtual stage, and this chunk's own forward.
                    let next = if dual {
                        match c {
                            0 => (r + 1 < pp).then(|| (r + 1, 0)),
                            _ => (r > 0).then(|| (r - 1, 1)),
                        }
                    } else if r + 1 < pp {
                        Some((r + 1, c))
                    } else if c + 1 < vpp {
                        Some((0, c + 1))
                    } else {
                        None
                    };
                    if let Some((nr, nc)) = next {
                        let t = &b_send[nr][idx(nc, j)];
                        if t.is_empty() {
                            break;
                        }
                        deps.extend(t);
                    }
                    let own = &f_task[r][idx(c, j)];
                    if own.is_empty() {
                        break;
                    }
                    deps.extend(own);
                    if let Some((ag, _, sync)) = zero3[r] {
                        // Backward (and its recomputed forward) needs the parameters again.
                        // Blocking per-tensor gathers fetch again for the recomputed forward;
                        // prefetching per layer (FSDP) gathers once for both.
                        let passes = if sync { 1.0 + chunk_recomputed[r][c] } else { 1.0 };
                        let gather = zero3_gather(&mut g, &last_compute[r], if sync { compute[r] } else { dp_comm[r] }, ag * passes, format!("zero3 all-gather bwd mb{j} chunk{c}"));
                        deps.push(gather);
                        for (name, rs, after) in pending_rs[r].drain(..) {
                            g.add(dp_comm[r], name, rs, &[after]);
                        }
                    }
                    // A chunk's last backward completes its gradients: its share of the
                    // stage's DP reduction can start (bucket by bucket when overlapped:
                    // each finished part of the pass releases its bucket). Under
                    // zero-bubble the weight-gradient task does that instead.
                    let split = op == Op::Bi;
                    let last_mb = j == last_of(c) && !split;
                    // Each chunk reduces its share of the rank's gradients (DualPipe's two
                    // chunks are whole stages: the rank holds parameters twice).
                    let dp_share = dp_times[r].0 / chunks as f64;
                    let (l0, n) = chunk_layers[r][c];
                    // The forward recomputed first (full or selective recomputation),
                    // then the backward proper.
                    deps.extend(&prev_pass[r]);
                    let recompute = &chunk[r][c].recompute;
                    if recompute.compute_s() > 0.0 {
                        let ends = emit_pass(&mut g, pass_streams(r), &format!("recompute mb{j}"), (l0, n), recompute, pass_segments(recompute, n, 1), &deps, overlap);
                        deps = ends.last().cloned().unwrap_or_default();
                    }
                    let pass = if split { chunk[r][c].bwd.scale_compute(1.0 - W_SHARE) } else { chunk[r][c].bwd };
                    let bucketed = last_mb && dp_share > 0.0 && p.overlap_grad_reduce;
                    let segments = pass_segments(&pass, n, if bucketed { DP_BUCKETS } else { 1 });
                    let label = if split { format!("dgrad mb{j}") } else { format!("bwd mb{j}") };
                    let ends = emit_pass(&mut g, pass_streams(r), &label, (l0, n), &pass, segments, &deps, overlap_bwd);
                    if bucketed {
                        for (k, e) in ends.iter().enumerate() {
                            g.add(dp_comm[r], format!("dp reduce-scatter chunk{c} bucket {k}"), dp_share / segments as f64, e);
                        }
                    }
                    let end = ends.last().cloned().unwrap_or_default();
                    prev_pass[r] = end.clone();
                    if last_mb && dp_share > 0.0 && !bucketed {
                        g.add(dp_comm[r], format!("dp reduce-scatter chunk{c}"), dp_share, &end);
                    }
                    let t = end[0];
                    last_compute[r].push(t);
                    if let Some((_, rs, sync)) = zero3[r] {
                        // Gathers and reduce-scatters share the NIC, so they share one
                        // stream; a reduce-scatter is issued after the next op's gather
                        // (prefetch first), or at once when blocking.
                        let name = format!("zero3 reduce-scatter mb{j} chunk{c}");
                        if sync {
                            g.add(compute[r], name, rs, &end);
                        } else {
                            pending_rs[r].push((name, rs, t));
                        }
                    }
                    let is_first = if dual { (c == 0 && r == 0) || (c == 1 && r == pp - 1) } else { r == 0 && c == 0 };
                    b_send[r][idx(c, j)] = if is_first || pp == 1 { end.clone() } else { vec![g.add(send_stream[r], format!("pp send bwd mb{j} chunk{c}"), hop * slow_link(r, &groups.pp), &end)] };
                    b_task[r][idx(c, j)] = end;
                }
                cursor[r] += 1;
                issued += 1;
                progressed = true;
            }
        }
        if !progressed {
            return Err(Error::invalid("parallel.schedule", format!("{:?}", p.schedule), "the schedule's order deadlocks (a bug in wanka)"));
        }
    }
    for r in 0..pp {
        for (name, rs, after) in std::mem::take(&mut pending_rs[r]) {
            g.add(dp_comm[r], name, rs, &[after]);
        }
    }
    // Optimizer after the stage's gradients are reduced; then the step's fixed overhead.
    let optimizer_s = analytic.breakdown_s.optimizer;
    for r in 0..pp {
        let mut deps: Vec<usize> = Vec::new();
        for st in [compute[r], comm[r], dp_comm[r], coll[r]] {
            if let Some(t) = g.streams[st].last() {
                deps.push(*t);
            }
        }
        g.add(compute[r], "optimizer", optimizer_s, &deps);
    }
    let end = g.run().map_err(|d| Error::invalid("parallel", "layout", format!("event graph stalled after {} of {} tasks", d.finished, d.total)))?;
    let step_time_s = end + cal::STEP_OVERHEAD_S;

    // Report: the analytic keys with the event step time; the breakdown rescaled so its
    // parts (compute, communication and optimizer as simulated) still add up, the
    // remainder being pipeline idle time (bubble and waits).
    let mut report = analytic.clone();
    let scale = analytic.step_time_s / step_time_s;
    report.step_time_s = step_time_s;
    report.tokens_per_s = report.tokens_per_step / step_time_s;
    report.tokens_per_s_per_gpu = report.tokens_per_s / s.cluster.gpus as f64;
    report.model_tflops_per_gpu *= scale;
    report.hardware_tflops_per_gpu *= scale;
    report.mfu *= scale;
    report.hfu *= scale;
    let b = &mut report.breakdown_s;
    // The TP, CP and EP time the graph ran with (flow-timed where they leave NVLink).
    b.exposed_comm.ep *= ep_ratio;
    b.exposed_comm.cp *= cp_ratio;
    b.exposed_comm.tp *= tp_ratio;
    // Stragglers as drawn: the pipeline's pace against the catalog's, and the pause.
    b.stragglers = pace_slowdown * (b.compute + b.bubble) + if paused { draw.pause.map_or(0.0, |p| p.2) } else { 0.0 };
    let mut known = b.compute + b.exposed_comm.tp + b.exposed_comm.cp + b.exposed_comm.ep + b.optimizer + b.overhead + b.stragglers + b.host;
    if known > step_time_s && known > b.overhead {
        // The graph overlapped more than the closed forms assume: the parts shrink
        // together so that they still add up to the step.
        let f = ((step_time_s - b.overhead) / (known - b.overhead)).max(0.0);
        b.compute *= f;
        b.exposed_comm.tp *= f;
        b.exposed_comm.cp *= f;
        b.exposed_comm.ep *= f;
        b.optimizer *= f;
        b.stragglers *= f;
        b.host *= f;
        known = step_time_s;
    }
    let rest = (step_time_s - known).max(0.0);
    let comm_rest = b.exposed_comm.pp + b.exposed_comm.dp;
    let analytic_rest = b.bubble + comm_rest;
    let k = if analytic_rest > 0.0 { rest / analytic_rest } else { 0.0 };
    b.bubble = if analytic_rest > 0.0 { b.bubble * k } else { rest };
    b.exposed_comm.pp *= k;
    b.exposed_comm.dp *= k;
    report.comm_fraction = b.exposed_comm.total() / step_time_s;
    let busy = g.busy_s();
    let streams = g
        .stream_names
        .iter()
        .zip(&busy)
        .map(|(n, b)| StreamTime { stream: n.clone(), busy_s: *b, idle_s: (end - b).max(0.0) })
        .collect();
    Ok(EventStep { report, streams, graph: g, stages: pp })
}

/// Times collectives that leave the NVLink domain by running all their concurrent
/// instances as flows on the explicit network, once per shape.
struct FlowTimer<'a> {
    fabric: &'a wanka_net::Fabric,
    net: wanka_net::Network,
    /// Memo by shape (size, stride, op): a ring collective's time is affine in its
    /// bytes, so two sizes give it for all.
    memo: std::cell::RefCell<FlowMemo>,
}

/// (size, stride, op) → (time at zero bytes, seconds per byte).
type FlowMemo = std::collections::HashMap<(u64, u64, u8), (f64, f64)>;

impl<'a> FlowTimer<'a> {
    fn new(s: &Scenario, fabric: &'a wanka_net::Fabric) -> FlowTimer<'a> {
        let spec = parallel::fabric_spec(&s.cluster);
        FlowTimer { fabric, net: wanka_net::Network::new(&spec, flows::link_rates()), memo: Default::default() }
    }

    fn time(&self, s: &Scenario, layout: GroupLayout, op: CollectiveOp, bytes: f64) -> Option<f64> {
        if layout.size <= 1 || bytes <= 0.0 || !layout.tiles(s.cluster.gpus) || self.fabric.span(layout.size, layout.stride).domains <= 1 {
            return None;
        }
        // Across sites that run collectives hierarchically: inside every site on the
        // whole array, then between the sites on each member's shard.
        if matches!(op, CollectiveOp::AllReduce | CollectiveOp::ReduceScatter | CollectiveOp::AllGather) {
            if let Some((m, local, across)) = self.fabric.hierarchical_parts(&self.fabric.span(layout.size, layout.stride)) {
                // A part the flows cannot time (inside one NVLink domain) sends the whole
                // collective back to the analytic model, which times both parts.
                let part = |span: wanka_net::GroupSpan, stride: u64, b: f64| self.time(s, GroupLayout::covering(s.cluster.gpus, span.size, stride), op, b);
                return Some(part(local, layout.stride, bytes)? + part(across, layout.stride * m, bytes / m as f64)?);
            }
        }
        let key = (layout.size, layout.stride, op as u8);
        let cached = self.memo.borrow().get(&key).copied();
        let (t0, slope) = match cached {
            Some(v) => v,
            None => {
                // One flow phase, timed at two sizes (the phase itself is solved once).
                const A: f64 = 1e9;
                const B: f64 = 2e9;
                let c = flows::Collective {
                    layout,
                    op,
                    fr: flows::FlowRouting::of(&s.cluster, s.cluster.routing.into()),
                    seed: s.seed,
                    // As many channels as NCCL opens for the op.
                    channels: flows::nccl_channels(s, self.fabric, layout, op),
                    nvls: parallel::has_nvls(&s.cluster),
                };
                let rows = flows::collective_rows(self.fabric, &self.net, &c, &[A, B]);
                let (ta, tb) = (rows[0].time_s, rows[1].time_s);
                let slope = (tb - ta) / (B - A);
                let v = (ta - slope * A, slope);
                self.memo.borrow_mut().insert(key, v);
                v
            }
        };
        Some(t0 + slope * bytes)
    }

    /// (gradient reduction, parameter all-gather) of the dense parameters over DP.
    fn dp_times(&self, s: &Scenario, g: &Groups, params: crate::parallel::memory::StageParams) -> Option<(f64, f64)> {
        let p = &s.parallel;
        if p.ep > 1 || g.dp.size() <= 1 {
            return None; // expert-parallel layouts keep the analytic DP costs for now
        }
        let stride = match p.order {
            crate::scenario::RankOrder::DpInner => p.strides().cp,
            crate::scenario::RankOrder::PpInner => p.strides().dp,
        };
        let layout = GroupLayout::covering(s.cluster.gpus, g.dp.size(), stride);
        let grad_wire = if s.training.grad_reduce_in_fp32 { 4.0 } else { 2.0 };
        let grad_op = if p.zero == 0 { CollectiveOp::AllReduce } else { CollectiveOp::ReduceScatter };
        let grads = self.time(s, layout, grad_op, params.dense * grad_wire)?;
        let gather = if p.zero == 0 { 0.0 } else { self.time(s, layout, CollectiveOp::AllGather, params.dense * 2.0)? };
        Some((grads, gather))
    }

    /// One pipeline send, all stage boundaries of all pipelines at once.
    fn pp_hop(&self, s: &Scenario, bytes: f64) -> Option<f64> {
        let stride = s.parallel.strides().pp;
        self.time(s, GroupLayout::covering(s.cluster.gpus, 2, stride), CollectiveOp::SendRecv, bytes)
    }
}

/// How a pass's collectives overlap its compute.
#[derive(Debug, Clone, Copy)]
struct Overlap {
    /// TP collectives run beside the GEMMs (TE / userbuffers comm-GEMM overlap).
    tp: bool,
    /// EP all-to-alls run beside the compute (DualPipe).
    ep: bool,
    /// What the TP collectives are, for span names.
    tp_name: &'static str,
}

/// Parts a pass is laid out in: one per layer when it has collectives to interleave
/// (at most [`MAX_SEGMENTS`]), at least `min` (gradient buckets to release).
fn pass_segments(pass: &PassCost, layers: u64, min: usize) -> usize {
    let comm = pass.tp_s + pass.cp_s + pass.ep_s > 0.0;
    let per_layer = if comm { (layers as usize).clamp(1, MAX_SEGMENTS) } else { 1 };
    per_layer.max(min)
}

/// Most parts one pass is split into; layers beyond that share a part.
const MAX_SEGMENTS: usize = 8;

/// "L12" or "L12-19".
fn layer_range(first: u64, count: u64) -> String {
    if count <= 1 {
        format!("L{first}")
    } else {
        format!("L{first}-{}", first + count - 1)
    }
}

/// The streams a pass's tasks go on.
#[derive(Debug, Clone, Copy)]
struct PassStreams {
    compute: usize,
    coll: usize,
    host: usize,
}

/// Lays one pass out as tasks, in `segments` equal parts (a layer or a few each). Per
/// part: the attention core and element-wise work with the CP ring exchange beside it;
/// then the GEMMs, with the TP collectives beside them (overlapped) or after them; then
/// the EP dispatch and combine, which the next part waits for (or, under DualPipe,
/// beside the part). Communication hidden behind compute slows it by the SMs NCCL
/// takes. The CPU stream issues each part first (`step::host`). Returns, per part, the
/// tasks that end it.
#[allow(clippy::too_many_arguments)]
fn emit_pass(g: &mut Graph, st: PassStreams, label: &str, layers: (u64, u64), pass: &PassCost, segments: usize, deps: &[usize], overlap: Overlap) -> Vec<Vec<usize>> {
    let PassStreams { compute, coll, host } = st;
    let n = segments.max(1);
    let k = 1.0 / n as f64;
    let (gemm, attn, other) = (k * pass.gemm_s, k * pass.attn_s, k * pass.other_s);
    let hide = (k * pass.tp_hide_s).min(gemm);
    let (tp, cp, ep) = (k * pass.tp_s, k * pass.cp_s, k * pass.ep_s);
    let sm = cal::COMM_SM_SHARE;
    let (first, count) = layers;
    let mut prev: Vec<usize> = deps.to_vec();
    let mut out = Vec::with_capacity(n);
    let (issue, syncs) = (k * pass.host_issue_s, k * pass.host_syncs);
    for part in 0..n {
        // The layers this part covers, for the span names.
        let a = first + (count * part as u64) / n as u64;
        let b = (first + (count * (part as u64 + 1)) / n as u64).max(a + 1);
        let name = format!("{label} {}", layer_range(a, b - a));
        // The CPU issues the part: its first module, which the GPU waits for, then the
        // rest, which the GPU cannot finish ahead of. After a host-device sync the CPU
        // first waits for the GPU to drain (step::host).
        let mut host_rest = None;
        if issue > 0.0 {
            let head = cal::HOST_MODULE_FWD_S.min(issue);
            let wait: &[usize] = if syncs > 0.0 { &prev } else { &[] };
            let first_issue = g.add(host, format!("issue {name}"), head, wait);
            if issue > head {
                host_rest = Some(g.add(host, format!("issue {name} (rest)"), issue - head, &[first_issue]));
            }
            prev.push(first_issue);
            if syncs > 1.0 {
                // Further syncs inside the part: each costs the GPU a module's issue time.
                prev = vec![g.add(compute, format!("{name} host syncs"), (syncs - 1.0) * cal::HOST_MODULE_FWD_S, &prev)];
            }
        }
        let ep_beside = (overlap.ep && ep > 0.0).then(|| g.add(coll, format!("ep dispatch+combine {name}"), ep, &prev));
        if ep_beside.is_some() {
            // The all-to-all's kernels take SMs from the compute beside it.
            let work = gemm + attn + other;
            if work > 0.0 {
                prev = vec![g.add(compute, format!("{name} SMs lent to the all-to-all"), sm * ep.min(work), &prev)];
            }
        }
        // The attention core, with the CP ring exchange beside it.
        let (mut deps_now, mut pending) = (prev.clone(), 0.0);
        if cp > 0.0 {
            let ring = g.add(coll, format!("cp ring exchange {name}"), cp, &prev);
            let a = g.add(compute, format!("{name} attention"), attn + sm * cp.min(attn), &prev);
            deps_now = vec![a, ring];
        } else {
            pending = attn; // runs in the next compute task
        }
        let mut ends = if overlap.tp && tp > 0.0 {
            // Element-wise work (and attention), then the GEMMs the TP collectives
            // overlap with, beside them, then the rest of the GEMMs.
            if pending + other > 0.0 {
                let label = if pending > 0.0 { "attention" } else { "element-wise" };
                deps_now = vec![g.add(compute, format!("{name} {label}"), pending + other, &deps_now)];
            }
            let t = g.add(coll, format!("{} {name} (overlapped)", overlap.tp_name), tp, &deps_now);
            let gm = g.add(compute, format!("{name} gemm"), hide + sm * tp.min(hide), &deps_now);
            if gemm > hide {
                vec![g.add(compute, format!("{name} wgrad gemm"), gemm - hide, &[gm, t])]
            } else {
                vec![gm, t]
            }
        } else {
            let label = if cp > 0.0 { format!("{name} gemm") } else { name.clone() };
            let c = g.add(compute, label, pending + other + gemm, &deps_now);
            if tp > 0.0 {
                vec![g.add(coll, format!("{} {name}", overlap.tp_name), tp, &[c])]
            } else {
                vec![c]
            }
        };
        if ep > 0.0 {
            match ep_beside {
                Some(e) => ends.push(e),
                None => ends = vec![g.add(coll, format!("ep dispatch+combine {name}"), ep, &ends)],
            }
        }
        if let Some(rest) = host_rest {
            // The part is not done before the CPU has issued all of it.
            ends.push(rest);
            ends = vec![g.add(compute, format!("{name} waits for host"), 0.0, &ends)];
        }
        prev = ends.clone();
        out.push(ends);
    }
    out
}

/// Issues a ZeRO-3 gather on `stream`, prefetched one compute op ahead: it may start
/// once the op before the previous one has finished.
fn zero3_gather(g: &mut Graph, done: &[usize], stream: usize, seconds: f64, name: String) -> usize {
    let deps: Vec<usize> = done.len().checked_sub(2).map(|i| vec![done[i]]).unwrap_or_default();
    g.add(stream, name, seconds, &deps)
}

/// Share of a backward pass that computes weight gradients (the rest computes input
/// gradients); ZB-H1 defers it. Half, as the analytic model assumes (Qi et al. 2024
/// take B ≈ W).
const W_SHARE: f64 = 0.5;

/// Writes the step as Chrome trace-event JSON (ui.perfetto.dev opens it): one process
/// per pipeline stage, one thread per stream (compute, pp comm, dp comm, tp/cp/ep comm),
/// a complete event ("X") per task.
pub fn write_trace(step: &EventStep, out: &mut dyn Write) -> std::io::Result<()> {
    let g = &step.graph;
    let mut events = Vec::with_capacity(g.tasks.len() + 2 * g.streams.len());
    for (s, name) in g.stream_names.iter().enumerate() {
        let pid = s % step.stages.max(1);
        events.push(serde_json::json!({"ph": "M", "name": "process_name", "pid": pid, "tid": s, "args": {"name": format!("stage {pid}")}}));
        events.push(serde_json::json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": s, "args": {"name": name}}));
    }
    for t in &g.tasks {
        let pid = t.stream % step.stages.max(1);
        events.push(serde_json::json!({
            "ph": "X", "name": t.name, "pid": pid, "tid": t.stream,
            "ts": t.start_s * 1e6, "dur": t.duration_s * 1e6,
        }));
    }
    let doc = serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"});
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(extra: &[&str]) -> Scenario {
        let text = r#"
[model]
preset = "llama3-70b"
[cluster]
gpu = "h100-sxm"
gpus = 64
fabric = "rail-optimized"
routing = "spray"
[parallel]
tp = 8
global_batch = 128
"#;
        let sets: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        crate::scenario::parse(text, Path::new("t.toml"), &sets).unwrap()
    }

    fn agree(extra: &[&str]) {
        let s = scenario(extra);
        let a = analytic::simulate(&s);
        let e = simulate_event(&s).unwrap();
        let diff = e.report.step_time_s / a.step_time_s - 1.0;
        assert!(diff.abs() < 0.05, "{extra:?}: event {} vs analytic {} ({:+.1}%)", e.report.step_time_s, a.step_time_s, 100.0 * diff);
    }

    #[test]
    fn event_agrees_with_analytic_when_uncongested() {
        agree(&["parallel.pp=1"]); // TP + DP/ZeRO-1 in one stage
        agree(&["parallel.pp=4", "parallel.schedule=\"1f1b\""]);
        agree(&["parallel.pp=4", "parallel.vpp=2"]);
        agree(&["parallel.pp=4", "parallel.recompute=\"full\"", "parallel.recompute_layers=8"]);
        agree(&["parallel.pp=4", "parallel.vpp=2", "parallel.tp_comm_overlap=true"]);
        agree(&["parallel.pp=2", "parallel.cp=2"]);
        agree(&["parallel.pp=1", "parallel.zero=0"]);
        agree(&["parallel.pp=2", "parallel.recompute=\"full\""]);
        agree(&["parallel.pp=4", "parallel.schedule=\"zero-bubble\""]);
        agree(&["parallel.pp=4", "parallel.schedule=\"dualpipe\""]);
        agree(&["parallel.pp=1", "parallel.tp=8", "parallel.zero=3"]);
        // Expert parallelism: Mixtral 8x7B, 8 experts over 8 GPUs of a node.
        agree(&["model.preset=\"mixtral-8x7b\"", "model.seq_len=4096", "parallel.tp=1", "parallel.pp=2", "parallel.ep=8"]);
        // MoE parallel folding: EP over the attention's TP ranks, and expert TP.
        agree(&["model.preset=\"mixtral-8x7b\"", "model.seq_len=4096", "parallel.tp=4", "parallel.pp=2", "parallel.ep=8", "parallel.etp=1"]);
        agree(&["model.preset=\"mixtral-8x7b\"", "model.seq_len=4096", "parallel.tp=4", "parallel.pp=2", "parallel.ep=4", "parallel.etp=2"]);
        // Megatron's 1F1B all-to-all overlap.
        agree(&["model.preset=\"mixtral-8x7b\"", "model.seq_len=4096", "parallel.tp=1", "parallel.pp=2", "parallel.vpp=2", "parallel.ep=8", "parallel.moe_a2a_overlap=true"]);
        // Node-limited routing with deduplicated (hierarchical) dispatch, EP over nodes.
        agree(&["model.preset=\"qwen3-30b-a3b\"", "model.seq_len=4096", "parallel.tp=1", "parallel.pp=2", "parallel.ep=16", "training.moe_max_nodes_per_token=2"]);
        // DualPipe over a MoE model: one direction's all-to-all beside the other's compute.
        agree(&["model.preset=\"qwen3-30b-a3b\"", "model.seq_len=4096", "parallel.tp=1", "parallel.pp=4", "parallel.ep=16", "parallel.schedule=\"dualpipe\""]);
        // Capacity factor with padding, and dropless routing with an imbalance.
        agree(&["model.preset=\"mixtral-8x7b\"", "model.seq_len=4096", "parallel.tp=1", "parallel.pp=2", "parallel.ep=8", "training.moe_capacity_factor=1.25", "training.moe_pad_to_capacity=true"]);
    }

    /// Llama 3 405B on 16,384 H100s (the example, DP outermost): with ECMP the DP
    /// collectives collide on leaf uplinks and the step is longer than with spraying.
    #[test]
    fn ecmp_step_is_slower_than_spray_on_the_llama3_example() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let step = |routing: &str| {
            let s = crate::scenario::load(&path, &[format!("cluster.routing=\"{routing}\"")]).unwrap();
            simulate_event(&s).unwrap().report
        };
        let (ecmp, spray) = (step("ecmp"), step("spray"));
        assert!(ecmp.step_time_s > spray.step_time_s * 1.01, "{} vs {}", ecmp.step_time_s, spray.step_time_s);
        assert!(ecmp.breakdown_s.exposed_comm.dp > spray.breakdown_s.exposed_comm.dp);
    }

    /// Stragglers on the 16k-GPU Llama 3 example: the step is no faster with
    /// variability than without, for every seed; the trace names the stage holding the
    /// job's slowest GPU and the stages that wait for it idle longer; a host pause shows
    /// as its own span.
    #[test]
    fn variability_slows_the_16k_step_and_the_trace_shows_who_waited() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let run = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            simulate_event(&crate::scenario::load(&path, &sets).unwrap()).unwrap()
        };
        let off = run(&["cluster.variability.enabled=false", "cluster.routing=\"spray\""]);
        assert_eq!(off.report.breakdown_s.stragglers, 0.0);
        for seed in 1..=3 {
            let seed = format!("seed={seed}");
            let on = run(&[&seed, "cluster.routing=\"spray\""]);
            assert!(on.report.step_time_s >= off.report.step_time_s, "{seed}: {} < {}", on.report.step_time_s, off.report.step_time_s);
            assert!(on.report.breakdown_s.stragglers > 0.0);
            let slowest = on.streams.iter().find(|st| st.stream.contains("the job's slowest GPU")).expect("the slowest stage is named");
            assert!(slowest.stream.starts_with("stage "), "{}", slowest.stream);
            // Everyone else idles at least as long as without stragglers, on average.
            let idle = |e: &EventStep| e.streams.iter().filter(|st| st.stream.contains("compute")).map(|st| st.idle_s).sum::<f64>();
            assert!(idle(&on) > idle(&off));
        }
        let paused = run(&["cluster.variability.host_pause_s=0.3", "cluster.variability.host_pause_every_steps=100", "cluster.routing=\"spray\""]);
        let pauses: Vec<&str> = paused.graph.tasks.iter().map(|t| t.name.as_str()).filter(|n| n.starts_with("host pause")).collect();
        assert_eq!(pauses.len(), 1, "16,384 ranks pausing once in 100 steps: some rank pauses in almost every step");
        assert!(paused.report.step_time_s > run(&["cluster.routing=\"spray\""]).report.step_time_s + 0.1);
    }

    /// A degraded NIC link somewhere in a 16k-GPU job: both fidelities are no faster,
    /// the analytic one (every inter-node group waits for it) slower.
    #[test]
    fn a_slow_link_never_speeds_the_step_up() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let sets = |slow: bool| -> Vec<String> {
            let mut v = vec!["cluster.routing=\"spray\"".to_string()];
            if slow {
                v.extend(["cluster.variability.slow_link_fraction=0.001".to_string(), "cluster.variability.slow_link_rate=0.5".to_string()]);
            }
            v
        };
        let (base, slow) = (crate::scenario::load(&path, &sets(false)).unwrap(), crate::scenario::load(&path, &sets(true)).unwrap());
        assert!(analytic::simulate(&slow).step_time_s > 1.02 * analytic::simulate(&base).step_time_s);
        assert!(simulate_event(&slow).unwrap().report.step_time_s >= simulate_event(&base).unwrap().report.step_time_s);
    }

    /// The expected slowdown grows with the job: the analytic straggler time per step of
    /// the same per-replica layout, over 1k to 128k GPUs.
    #[test]
    fn straggler_slowdown_grows_with_gpu_count() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let share: Vec<f64> = [1024u64, 4096, 16384, 131072]
            .iter()
            .map(|&gpus| {
                let dp = gpus / 128;
                let sets = [format!("cluster.gpus={gpus}"), format!("parallel.dp={dp}"), format!("parallel.global_batch={}", dp * 16)];
                let r = analytic::simulate(&crate::scenario::load(&path, &sets).unwrap());
                r.breakdown_s.stragglers / r.step_time_s
            })
            .collect();
        assert!(share.windows(2).all(|w| w[1] > w[0]), "{share:?}");
        assert!(share[0] > 0.01 && share[3] < 0.08, "{share:?}");
    }

    /// Blocking interleaved sends (Megatron-LM 2021) cost time in both fidelities; the
    /// scatter/gather optimisation sends a 1/tp slice per rank.
    #[test]
    fn blocking_pipeline_sends_cost_time_and_scatter_gather_slices_them() {
        let base = ["parallel.pp=4", "parallel.vpp=2", "parallel.sequence_parallel=false"];
        let with = |extra: &[&str]| scenario(&[&base[..], extra].concat());
        let overlapped = with(&[]);
        let blocking = with(&["parallel.overlap_p2p_comm=false"]);
        assert!(analytic::simulate(&blocking).step_time_s > analytic::simulate(&overlapped).step_time_s);
        assert!(simulate_event(&blocking).unwrap().report.step_time_s > simulate_event(&overlapped).unwrap().report.step_time_s);
        let sliced = with(&["parallel.pp_scatter_gather=true"]);
        let full = super::super::layer::pipeline_send_bytes(&overlapped);
        assert_eq!(super::super::layer::pipeline_send_bytes(&sliced) * 8.0, full);
    }

    #[test]
    fn dualpipe_runs_and_beats_1f1b() {
        let dual = simulate_event(&scenario(&["parallel.pp=8", "parallel.global_batch=64", "parallel.schedule=\"dualpipe\""])).unwrap();
        let f1b = simulate_event(&scenario(&["parallel.pp=8", "parallel.global_batch=64", "parallel.schedule=\"1f1b\""])).unwrap();
        assert!(dual.report.step_time_s < f1b.report.step_time_s, "{} vs {}", dual.report.step_time_s, f1b.report.step_time_s);
    }

    #[test]
    fn zero_bubble_beats_1f1b_in_the_event_engine() {
        let zb = simulate_event(&scenario(&["parallel.pp=8", "parallel.global_batch=64", "parallel.schedule=\"zero-bubble\""])).unwrap();
        let f1b = simulate_event(&scenario(&["parallel.pp=8", "parallel.global_batch=64", "parallel.schedule=\"1f1b\""])).unwrap();
        assert!(zb.report.step_time_s < f1b.report.step_time_s, "{} vs {}", zb.report.step_time_s, f1b.report.step_time_s);
    }

    #[test]
    fn trace_is_valid_and_streams_never_overlap() {
        let s = scenario(&["parallel.pp=4", "parallel.vpp=2"]);
        let e = simulate_event(&s).unwrap();
        let mut buf = Vec::new();
        write_trace(&e, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let events = v["traceEvents"].as_array().unwrap();
        let spans: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(spans.len(), e.graph.tasks.len());
        // Spans on one stream never overlap.
        for stream in &e.graph.streams {
            for w in stream.windows(2) {
                assert!(e.graph.tasks[w[1]].start_s >= e.graph.tasks[w[0]].end_s - 1e-12);
            }
        }
        // Every dependency ends before its dependant starts.
        for (t, task) in e.graph.tasks.iter().enumerate() {
            for d in e.graph.deps(t) {
                assert!(e.graph.tasks[*d].end_s <= task.start_s + 1e-12);
            }
        }
        // Passes are named by micro-batch and layers; TP collectives are spans of their
        // own on each stage's collective stream, and every forward pass waits for its
        // own TP collectives (its next part, or the pass after, starts after them).
        let names: Vec<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
        assert!(names.contains(&"fwd mb0 L0"), "{:?}", &names[..10]);
        let coll = e.graph.stream_names.iter().position(|n| n == "stage 0 tp/cp/ep comm").unwrap();
        let tp_tasks: Vec<usize> = e.graph.streams[coll].clone();
        assert!(!tp_tasks.is_empty());
        for t in tp_tasks {
            assert!(e.graph.tasks[t].name.starts_with("tp all-gather/reduce-scatter "), "{}", e.graph.tasks[t].name);
            let waited_on = e.graph.tasks.iter().enumerate().any(|(i, _)| e.graph.deps(i).contains(&t));
            assert!(waited_on, "nothing waits for {}", e.graph.tasks[t].name);
        }
    }
}
