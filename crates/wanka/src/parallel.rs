//! Parallelism: which ranks form which group and where they sit in the fabric
//! (placement), and how layers split into pipeline stages.
//!
//! Placement follows Megatron-LM's default rank order `tp-cp-ep-dp-pp`: a GPU's rank is
//! `tp + TP·(cp + CP·(dp + DP·pp))`, expert-parallel groups are consecutive DP ranks.
//! So TP groups are GPUs 1 apart, CP groups `TP` apart, DP and EP groups `TP·CP` apart,
//! PP neighbours `TP·CP·DP` apart. `parallel.order = "tp-cp-pp-dp"` (Llama 3's) swaps
//! DP and PP.

pub mod memory;

use crate::collective::Group;
use crate::scenario::{ClusterConfig, ParallelConfig, Scenario};
use wanka_net::{Fabric, FabricSpec};

/// Builds the fabric of a cluster.
pub fn fabric(cluster: &ClusterConfig) -> Fabric {
    Fabric::new(&fabric_spec(cluster))
}

/// The physical description of a cluster's fabric.
pub fn fabric_spec(cluster: &ClusterConfig) -> FabricSpec {
    FabricSpec {
        kind: cluster.fabric,
        gpus: cluster.gpus,
        gpus_per_node: cluster.gpus_per_node,
        nvlink_domain: cluster.nvlink_domain,
        nvlink_bytes_per_s: cluster.gpu.nvlink_bytes_per_s,
        nic_bytes_per_s: cluster.nic_gbps * 1e9 / 8.0,
        tiers: cluster.tiers,
        switch_radix: cluster.switch_radix,
        oversubscription: cluster.oversubscription,
        planes: cluster.planes,
    }
}

/// Whether the GPU can reduce inside its NVSwitch (NVLS): Hopper and later NVIDIA parts.
pub fn has_nvls(cluster: &ClusterConfig) -> bool {
    cluster.gpu.vendor == "nvidia" && cluster.gpu.generation != "ampere"
}

/// The communication groups of one layout on one fabric.
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    pub tp: Group<'a>,
    pub cp: Group<'a>,
    /// Data parallel over DP×CP (dense gradients are reduced over both).
    pub dp: Group<'a>,
    pub ep: Group<'a>,
    /// Expert data parallel: the DP×CP ranks holding the same experts.
    pub expert_dp: Group<'a>,
    /// A pipeline neighbour pair.
    pub pp: Group<'a>,
}

impl<'a> Groups<'a> {
    pub fn new(fabric: &'a Fabric, p: &ParallelConfig, nvls: bool) -> Groups<'a> {
        let st = p.strides();
        // The dense-gradient group is DP×CP. With DP inner, CP and DP ranks are adjacent
        // (one progression of stride TP); with DP outermost its DP part sets the pace.
        let (dp_size, dp_stride) = match p.order {
            crate::scenario::RankOrder::DpInner => (p.dp * p.cp, st.cp),
            crate::scenario::RankOrder::PpInner => (p.dp, st.dp),
        };
        let pp_stride = st.pp;
        Groups {
            tp: Group::new(fabric, p.tp, st.tp, nvls),
            cp: Group::new(fabric, p.cp, st.cp, nvls),
            dp: Group::new(fabric, dp_size, dp_stride, nvls),
            ep: Group::new(fabric, p.ep, st.ep, nvls),
            expert_dp: Group::new(fabric, (p.dp * p.cp / p.ep).max(1), st.dp * p.ep, nvls),
            pp: Group::new(fabric, if p.pp > 1 { 2 } else { 1 }, pp_stride, nvls),
        }
    }
}

/// How the layers of the model fall on pipeline stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLayout {
    /// Transformer layers on the busiest stage that also holds the embedding (first).
    pub first_stage_layers: u64,
    /// Transformer layers on a middle stage.
    pub middle_stage_layers: u64,
    /// Transformer layers on the last stage (which also holds the LM head).
    pub last_stage_layers: u64,
}

impl StageLayout {
    /// Even split when `pp·vpp` divides the layers; otherwise the first and last stage
    /// carry one layer fewer (Megatron's account-for-embedding/loss split).
    pub fn new(s: &Scenario) -> StageLayout {
        let p = &s.parallel;
        let stages = p.pp * p.vpp;
        let layers = s.model.layers;
        if p.pp == 1 {
            return StageLayout { first_stage_layers: layers, middle_stage_layers: layers, last_stage_layers: layers };
        }
        if layers % stages == 0 {
            let per = layers / p.pp;
            StageLayout { first_stage_layers: per, middle_stage_layers: per, last_stage_layers: per }
        } else if (layers + 2) % stages == 0 {
            // (layers + 2) / stages per virtual stage; the first virtual stage of rank 0
            // and the last virtual stage of the last rank are one layer short.
            let per_virtual = (layers + 2) / stages;
            let per = per_virtual * p.vpp;
            StageLayout { first_stage_layers: per - 1, middle_stage_layers: per, last_stage_layers: per - 1 }
        } else {
            // Uneven: the busiest ranks hold ceil(layers / stages) per virtual stage; the
            // first and last take the remainder's shortfall.
            let per = layers.div_ceil(stages) * p.vpp;
            let rest = layers.saturating_sub(per * (p.pp - 2).max(0));
            let edge = rest.div_ceil(2).min(per);
            StageLayout { first_stage_layers: edge, middle_stage_layers: per, last_stage_layers: rest - edge }
        }
    }

    pub fn max_layers(&self) -> u64 {
        self.first_stage_layers.max(self.middle_stage_layers).max(self.last_stage_layers)
    }
}

/// Of the `stage_layers` layers starting at global layer `first`, how many are MoE.
pub fn moe_layers_in(s: &Scenario, first: u64, stage_layers: u64) -> u64 {
    if !s.model.is_moe() {
        return 0;
    }
    let dense_end = s.model.moe.dense_layers;
    let last = first + stage_layers;
    last.saturating_sub(first.max(dense_end))
}
