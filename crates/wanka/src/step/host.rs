//! The host side of a step: the CPU issues every kernel the GPU runs.
//!
//! In eager PyTorch each framework module costs the CPU tens to hundreds of
//! microseconds to issue (`calibration::HOST_MODULE_FWD_S`). The CPU normally runs ahead
//! of the GPU, so that cost hides behind the kernels it queued; a pass is *host-bound*
//! when issuing its work takes longer than running it, and the GPU idles for the
//! difference. A host–device synchronisation drains the queue: afterwards the GPU waits
//! while the CPU issues the next module. Megatron-Core's dropless MoE dispatcher copies
//! the tokens per expert to the host once per MoE layer in the forward pass
//! (`MoEAlltoAllTokenDispatcher.preprocess`, `_maybe_dtoh_and_synchronize`; TEGroupedMLP
//! needs the split sizes as a Python list). CUDA graphs replay a captured region with one
//! launch (`training.cuda_graphs`, Megatron-Core `--cuda-graph-impl`); dropless experts
//! and their dispatcher cannot be captured (Megatron-LM issue #1598) and stay eager.

use crate::calibration as cal;
use crate::scenario::{Recompute, Scenario};

/// CPU time to issue one layer's passes for one micro-batch, and the host–device
/// synchronisations in its forward.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerHost {
    pub fwd_s: f64,
    pub bwd_s: f64,
    /// Issued again by the recomputed forward.
    pub recompute_s: f64,
    pub syncs_fwd: f64,
    pub syncs_recompute: f64,
}

/// Framework modules a layer's forward calls that CUDA graphs can capture: the
/// attention side (norm + QKV, the core, the output projection; MLA's four projections
/// instead of QKV), one for the rotary embedding and residual adds (plain torch ops),
/// and the MLP (norm + fc1, fc2), or MoE's router and shared experts.
fn capturable_modules(s: &Scenario, moe_layer: bool) -> f64 {
    let m = &s.model;
    let attention = match m.mla {
        Some(mla) if mla.q_lora_rank > 0 => 6.0,
        Some(_) => 5.0,
        None => 3.0,
    };
    let mlp = if moe_layer { 1.0 + if m.moe.shared_ffn_hidden.max(m.moe.shared_experts) > 0 { 2.0 } else { 0.0 } } else { 2.0 };
    attention + 1.0 + mlp
}

/// The host's work for one layer and micro-batch.
pub fn layer_host(s: &Scenario, moe_layer: bool) -> LayerHost {
    let graphs = s.training.cuda_graphs;
    let captured = capturable_modules(s, moe_layer);
    // Captured modules: one graph for the attention side and one for the MLP/router.
    let captured_s = if graphs { 2.0 * cal::GRAPH_LAUNCH_S } else { captured * cal::HOST_MODULE_FWD_S };
    // Dropless experts stay eager: permute and all-to-all, the two grouped linears with
    // a GEMM per local expert, unpermute and combine.
    let experts_s = if moe_layer {
        let local = s.model.moe.experts as f64 / s.parallel.ep.max(1) as f64;
        4.0 * cal::HOST_MODULE_FWD_S + 2.0 * local * cal::HOST_EXPERT_GEMM_S
    } else {
        0.0
    };
    let fwd_s = captured_s + experts_s;
    let syncs = if moe_layer { 1.0 } else { 0.0 };
    let (recompute_s, syncs_recompute) = match s.parallel.recompute {
        Recompute::None => (0.0, 0.0),
        Recompute::Full => (fwd_s, syncs),
        Recompute::Selective => {
            let r = &s.training.recompute_modules;
            let eager_modules = [r.core_attn, r.layernorm, r.mla_up_proj && s.model.mla.is_some(), r.mlp && !moe_layer, r.moe_act && moe_layer, r.shared_experts && moe_layer]
                .iter()
                .filter(|&&b| b)
                .count() as f64;
            let moe = r.moe && moe_layer;
            (eager_modules * cal::HOST_MODULE_FWD_S + if moe { experts_s } else { 0.0 }, if moe { syncs } else { 0.0 })
        }
    };
    LayerHost { fwd_s, bwd_s: cal::HOST_BWD_OVER_FWD * fwd_s, recompute_s, syncs_fwd: syncs, syncs_recompute }
}

/// GPU idle time a segment adds because of its host: issuing outlasts running, and
/// after each synchronisation the GPU waits for the next module to be issued.
pub fn exposed_host_s(host_s: f64, gpu_s: f64, syncs: f64) -> f64 {
    (host_s - gpu_s).max(0.0) + syncs * cal::HOST_MODULE_FWD_S
}

/// GPU idle per micro-batch for one layer with GPU work `gpu_fwd`, `gpu_bwd` and
/// `gpu_recompute` per pass. Without synchronisations the CPU carries its lead from
/// pass to pass (a backward that issues faster than it runs makes room for the next
/// forward), so the segment is the whole micro-batch; a synchronisation ends the
/// segment, and each pass stands alone.
pub fn exposed_per_microbatch_s(h: &LayerHost, gpu_fwd: f64, gpu_bwd: f64, gpu_recompute: f64) -> f64 {
    if h.syncs_fwd + h.syncs_recompute > 0.0 {
        exposed_host_s(h.fwd_s, gpu_fwd, h.syncs_fwd) + exposed_host_s(h.bwd_s, gpu_bwd, 0.0) + exposed_host_s(h.recompute_s, gpu_recompute, h.syncs_recompute)
    } else {
        exposed_host_s(h.fwd_s + h.bwd_s + h.recompute_s, gpu_fwd + gpu_bwd + gpu_recompute, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Llama 3 8B at TP 8 with 2K-token micro-batches: each GPU's share of a layer runs
    /// in about as long as the host takes to issue it.
    fn small(extra: &[&str]) -> Scenario {
        let text = "[model]\npreset = \"llama3-8b\"\nseq_len = 2048\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nrouting = \"spray\"\n[parallel]\ntp = 8\nglobal_batch = 64\n";
        let sets: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        crate::scenario::parse(text, Path::new("t.toml"), &sets).unwrap()
    }

    #[test]
    fn small_layers_are_host_bound_and_cuda_graphs_take_it_away() {
        let eager = crate::step::simulate(&small(&[]));
        let graphs = crate::step::simulate(&small(&["training.cuda_graphs=true"]));
        assert!(eager.breakdown_s.host > 0.05 * eager.step_time_s, "{:?}", eager.breakdown_s);
        assert_eq!(graphs.breakdown_s.host, 0.0);
        assert!(graphs.step_time_s < eager.step_time_s);
        // Big micro-batches hide the host behind the GPU.
        let big = crate::step::simulate(&small(&["model.seq_len=8192", "parallel.micro_batch=4"]));
        assert_eq!(big.breakdown_s.host, 0.0);
    }

    /// Both fidelities find the eager step host-bound and CUDA graphs faster; the event's
    /// CPU stream issues every part and is busy for the host time the analytic charges.
    /// The event saves less (18 ms against 48 here): while the compute stream waits for
    /// the CPU, the DP reduction's NCCL kernels, already issued, run, and the analytic
    /// still exposes the last gradient bucket.
    #[test]
    fn the_event_fidelity_runs_a_cpu_stream() {
        let (eager, graphs) = (small(&[]), small(&["training.cuda_graphs=true"]));
        let (a_eager, a_graphs) = (crate::step::simulate(&eager).step_time_s, crate::step::simulate(&graphs).step_time_s);
        let e = crate::step::event::simulate_event(&eager).unwrap();
        let e_graphs = crate::step::event::simulate_event(&graphs).unwrap().report.step_time_s;
        assert!(a_eager > a_graphs && e.report.step_time_s > e_graphs, "analytic {a_eager} / {a_graphs}, event {} / {e_graphs}", e.report.step_time_s);
        assert!((e.report.step_time_s / a_eager - 1.0).abs() < 0.12, "event {} vs analytic {a_eager}", e.report.step_time_s);
        let cpu = e.streams.iter().find(|st| st.stream == "stage 0 host (CPU issue)").expect("a CPU stream");
        let h = layer_host(&eager, false);
        let issued = eager.parallel.microbatches() as f64 * eager.model.layers as f64 * (h.fwd_s + h.bwd_s);
        assert!((cpu.busy_s / issued - 1.0).abs() < 0.01, "CPU busy {} vs issued {issued}", cpu.busy_s);
    }

    #[test]
    fn dropless_moe_syncs_once_per_layer_forward() {
        let s = small(&[]);
        let mut moe = s.clone();
        moe.model.moe.experts = 8;
        moe.model.moe.top_k = 2;
        moe.model.moe.expert_ffn_hidden = 14336;
        let dense = layer_host(&s, false);
        let h = layer_host(&moe, true);
        assert_eq!((dense.syncs_fwd, h.syncs_fwd), (0.0, 1.0));
        assert!(h.fwd_s > dense.fwd_s);
        // A sync costs the GPU a module's issue time even when the host keeps up.
        assert_eq!(exposed_host_s(0.0, 1.0, 1.0), cal::HOST_MODULE_FWD_S);
        assert_eq!(exposed_host_s(2.0, 1.0, 0.0), 1.0);
    }
}
