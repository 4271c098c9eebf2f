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

/// GPU idle time a pass adds because of its host: issuing outlasts running, and after
/// each synchronisation the GPU waits for the next module to be issued.
pub fn exposed_host_s(host_s: f64, gpu_s: f64, syncs: f64) -> f64 {
    (host_s - gpu_s).max(0.0) + syncs * cal::HOST_MODULE_FWD_S
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

    /// What CUDA graphs save is the same in both fidelities: the event lays the host
    /// time out as spans before each part of a pass.
    #[test]
    fn the_event_fidelity_lays_out_the_same_host_time() {
        let (eager, graphs) = (small(&[]), small(&["training.cuda_graphs=true"]));
        let analytic = crate::step::simulate(&eager).step_time_s - crate::step::simulate(&graphs).step_time_s;
        let e = crate::step::event::simulate_event(&eager).unwrap();
        let event = e.report.step_time_s - crate::step::event::simulate_event(&graphs).unwrap().report.step_time_s;
        // The event saves a little less: while the compute stream waits for the host,
        // the DP reduction's NCCL kernels already issued keep running.
        assert!(analytic > 0.0 && (event / analytic - 1.0).abs() < 0.15, "saved: event {event}, analytic {analytic}");
        let laid_out: f64 = e.graph.tasks.iter().filter(|t| t.name.ends_with("host-bound") && t.stream == 0).map(|t| t.duration_s).sum();
        let expected = crate::step::simulate(&eager).breakdown_s.host;
        assert!((laid_out / expected - 1.0).abs() < 0.01, "laid out {laid_out} vs {expected}");
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
