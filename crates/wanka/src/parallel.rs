//! Parallelism: which ranks form which group and where they sit in the fabric
//! (placement), and how layers split into pipeline stages.
//!
//! Placement follows Megatron-LM's default rank order `tp-cp-ep-dp-pp`: a GPU's rank is
//! `tp + TP·(cp + CP·(dp + DP·pp))`. So TP groups are GPUs 1 apart, CP groups `TP` apart,
//! DP groups `TP·CP` apart, PP neighbours `TP·CP·DP` apart. Expert groups fold over the
//! same TP × CP × DP ranks (Megatron-Core's MoE parallel folding): expert TP fastest, EP
//! groups `ETP` apart, expert DP `ETP·EP` apart; with the default `etp = tp` and CP 1
//! that is EP over consecutive DP ranks. `parallel.order = "tp-cp-pp-dp"` (Llama 3's)
//! swaps DP and PP.

pub mod memory;

use crate::collective::Group;
use crate::framework::StageSplit;
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
        leaf_oversubscription: cluster.leaf_oversubscription,
        planes: cluster.planes,
        sites: cluster.sites.map(|s| wanka_net::fabric::Sites {
            count: s.count,
            gpus_per_site: cluster.gpus / s.count.max(1),
            bytes_per_s: s.gbps * 1e9 / 8.0,
            latency_s: s.km * crate::scenario::FIBER_S_PER_KM,
            hierarchical: s.hierarchical,
        }),
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
    /// Expert tensor parallel: the ranks splitting each expert's GEMMs.
    pub etp: Group<'a>,
    /// Expert data parallel: the ranks holding the same experts.
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
            etp: Group::new(fabric, p.etp, st.tp, nvls),
            expert_dp: Group::new(fabric, p.expert_dp(), st.expert_dp, nvls),
            pp: Group::new(fabric, if p.pp > 1 { 2 } else { 1 }, pp_stride, nvls),
        }
    }
}

/// Transformer layers on each pipeline rank (all its chunks), as the framework splits
/// them (`FrameworkFacts::stage_split`). Megatron's splits are a first, a middle and a
/// last count (no allocation: the analytic evaluator builds one per evaluation); other
/// splits list every rank.
#[derive(Debug, Clone, PartialEq)]
pub enum StageLayout {
    Edges { first: u64, middle: u64, last: u64, pp: u64 },
    PerStage(Vec<u64>),
    /// Each rank's model chunks as the user laid them out (`parallel.pipeline_layout`,
    /// `first_stage_layers`, `last_stage_layers`): `[rank][chunk]`.
    Chunks(Vec<Vec<u64>>),
}

impl StageLayout {
    pub fn new(s: &Scenario) -> StageLayout {
        let p = &s.parallel;
        let layers = s.model.layers;
        if let Some(chunks) = &p.chunk_layers {
            return StageLayout::Chunks(chunks.clone());
        }
        if p.pp <= 1 {
            return StageLayout::Edges { first: layers, middle: layers, last: layers, pp: 1 };
        }
        match s.training.framework.facts().stage_split {
            StageSplit::Megatron => Self::megatron(layers, p.pp, p.vpp),
            StageSplit::CostBalanced => Self::cost_balanced(s),
        }
    }

    /// Megatron: an even split when `pp·vpp` divides the layers; otherwise the first and
    /// last stage carry one layer fewer (its account-for-embedding/loss split).
    fn megatron(layers: u64, pp: u64, vpp: u64) -> StageLayout {
        let stages = pp * vpp;
        let edges = |first: u64, middle: u64, last: u64| StageLayout::Edges { first, middle, last, pp };
        if layers % stages == 0 {
            let per = layers / pp;
            edges(per, per, per)
        } else if (layers + 2) % stages == 0 {
            // (layers + 2) / stages per virtual stage; the first virtual stage of rank 0
            // and the last virtual stage of the last rank are one layer short.
            let per = (layers + 2) / stages * vpp;
            edges(per - 1, per, per - 1)
        } else {
            // Uneven: the middle ranks hold ceil(layers / stages) per virtual stage and the
            // first and last share what is left (DeepSeek-V3: 61 layers on 16 stages is
            // 3 + 14 × 4 + 2); when that would leave them nothing, the middle ranks hold
            // the floor and the first and last take the surplus.
            let split = |per: u64| -> Option<StageLayout> {
                let rest = layers.checked_sub(per * (pp - 2))?;
                let edge = rest.div_ceil(2);
                (rest - edge >= 1).then(|| edges(edge, per, rest - edge))
            };
            split(layers.div_ceil(stages) * vpp).or_else(|| split(layers / stages * vpp)).unwrap_or_else(|| edges(layers, 0, 0))
        }
    }

    /// nanotron (`models/base.py build_model`, `LlamaModel.get_block_compute_costs`):
    /// blocks in order (embedding, layers, final norm, LM head, loss) with costs 0,
    /// 4h² + 3·h·ffn per layer (its formula ignores GQA), 0, V·h, 0; rank r's threshold
    /// is total·(r + 1)/pp, and the block whose cost crosses it stays on rank r. The LM
    /// head may so end up alone on the last rank.
    fn cost_balanced(s: &Scenario) -> StageLayout {
        let m = &s.model;
        let pp = s.parallel.pp as usize;
        let (h, ffn) = (m.hidden as f64, m.ffn_hidden as f64);
        let layer = 4.0 * h * h + 3.0 * h * ffn;
        let head = (m.vocab * m.hidden) as f64;
        let total = m.layers as f64 * layer + head;
        let mut per_stage = vec![0u64; pp];
        let (mut rank, mut cumulative) = (0usize, 0.0);
        for _ in 0..m.layers {
            per_stage[rank] += 1;
            cumulative += layer;
            if cumulative > total * (rank + 1) as f64 / pp as f64 && rank + 1 < pp {
                rank += 1;
            }
        }
        StageLayout::PerStage(per_stage)
    }

    pub fn max_layers(&self) -> u64 {
        match self {
            StageLayout::Edges { first, middle, last, .. } => (*first).max(*middle).max(*last),
            StageLayout::PerStage(v) => v.iter().copied().max().unwrap_or(0),
            StageLayout::Chunks(c) => c.iter().map(|r| r.iter().sum()).max().unwrap_or(0),
        }
    }

    /// Transformer layers on the stages before `stage`.
    pub fn layers_before(&self, stage: u64) -> u64 {
        match self {
            StageLayout::Edges { first, middle, last, pp } => match stage {
                0 => 0,
                _ if *pp == 1 => *first,
                s => first + (s - 1).min(pp.saturating_sub(2)) * middle + if s >= *pp { *last } else { 0 },
            },
            StageLayout::PerStage(v) => v.iter().take(stage as usize).sum(),
            StageLayout::Chunks(c) => c.iter().take(stage as usize).flatten().sum(),
        }
    }

    /// Transformer layers of pipeline stage `stage` (0-based; all its chunks).
    pub fn stage_layers(&self, stage: u64) -> u64 {
        match self {
            StageLayout::Edges { first, middle, last, pp } => {
                if *pp == 1 || stage == 0 {
                    *first
                } else if stage == pp - 1 {
                    *last
                } else {
                    *middle
                }
            }
            StageLayout::PerStage(v) => v.get(stage as usize).copied().unwrap_or(0),
            StageLayout::Chunks(c) => c.get(stage as usize).map_or(0, |r| r.iter().sum()),
        }
    }

    /// Whether every rank between the first and the last holds the same layers (then
    /// one middle rank stands for all of them).
    pub fn middle_uniform(&self) -> bool {
        match self {
            StageLayout::Edges { .. } => true,
            StageLayout::PerStage(v) => v.len() <= 3 || v[1..v.len() - 1].windows(2).all(|w| w[0] == w[1]),
            StageLayout::Chunks(c) => c.len() <= 3 || c[1..c.len() - 1].windows(2).all(|w| w[0] == w[1]),
        }
    }

    /// The first layer and the layer count of rank `r`'s chunk `c`, when the user laid
    /// them out: chunk `c` of every rank comes after all ranks' chunks before it.
    fn user_chunk(&self, r: u64, c: u64) -> Option<(u64, u64)> {
        let StageLayout::Chunks(chunks) = self else { return None };
        let (r, c) = (r as usize, c as usize);
        let before: u64 = chunks.iter().map(|row| row.iter().take(c).sum::<u64>()).sum::<u64>()
            + chunks.iter().take(r).map(|row| row.get(c).copied().unwrap_or(0)).sum::<u64>();
        Some((before, chunks.get(r)?.get(c).copied().unwrap_or(0)))
    }
}

/// A span of consecutive layers: where it starts, how many, how many are MoE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerSpan {
    pub first: f64,
    pub layers: f64,
    pub moe_layers: f64,
}

/// Chunk `c` of pipeline rank `r`: DualPipe's chunk 1 is the mirrored stage
/// pp − 1 − r; with interleaving, chunk c is virtual stage c·pp + r (Megatron's order),
/// each virtual stage holding its rank's layers over vpp.
pub fn chunk_span(s: &Scenario, layout: &StageLayout, r: u64, c: u64) -> LayerSpan {
    let p = &s.parallel;
    let dual = p.schedule == crate::scenario::Schedule::Dualpipe;
    let (first, layers) = if let Some((first, layers)) = layout.user_chunk(r, c) {
        (first as f64, layers as f64)
    } else if dual || p.vpp <= 1 {
        let stage = if dual && c == 1 { p.pp - 1 - r } else { r };
        (layout.layers_before(stage) as f64, layout.stage_layers(stage) as f64)
    } else {
        // c full rounds over all ranks, then ranks 0..r of round c.
        let v = p.vpp as f64;
        let round = s.model.layers as f64 / v;
        (c as f64 * round + layout.layers_before(r) as f64 / v, layout.stage_layers(r) as f64 / v)
    };
    LayerSpan { first, layers, moe_layers: moe_layers_between(s, first, first + layers) }
}

/// Layers of a model chunk of `layers` layers that full recomputation recomputes: the
/// first `parallel.recompute_layers` of it (Megatron's block method), or all of them.
pub fn recomputed_in_chunk(s: &Scenario, layers: f64) -> f64 {
    match (s.parallel.recompute, s.parallel.recompute_layers) {
        (crate::scenario::Recompute::Full, Some(n)) => layers.min(n as f64),
        (crate::scenario::Recompute::Full, None) => layers,
        _ => 0.0,
    }
}

/// Share of pipeline rank `r`'s layers that full recomputation recomputes (1 without
/// `parallel.recompute_layers`, 0 without full recomputation).
pub fn recompute_share(s: &Scenario, layout: &StageLayout, r: u64) -> f64 {
    if s.parallel.recompute_layers.is_none() {
        return if s.parallel.recompute == crate::scenario::Recompute::Full { 1.0 } else { 0.0 };
    }
    let dual = s.parallel.schedule == crate::scenario::Schedule::Dualpipe;
    let chunks = if dual { 2 } else { s.parallel.vpp.max(1) };
    let (mut all, mut recomputed) = (0.0, 0.0);
    for c in 0..chunks {
        let layers = chunk_span(s, layout, r, c).layers;
        all += layers;
        recomputed += recomputed_in_chunk(s, layers);
    }
    if all > 0.0 { recomputed / all } else { 0.0 }
}

/// The scenario as the layers full recomputation leaves alone run: no recomputation.
pub fn without_recompute(s: &Scenario) -> Scenario {
    let mut plain = s.clone();
    plain.parallel.recompute = crate::scenario::Recompute::None;
    plain.parallel.recompute_layers = None;
    plain
}

/// MoE layers among layers [from, to) (fractions count for chunks of uneven splits).
fn moe_layers_between(s: &Scenario, from: f64, to: f64) -> f64 {
    if !s.model.is_moe() {
        return 0.0;
    }
    let dense_end = s.model.moe.dense_layers as f64;
    (to - from.max(dense_end)).max(0.0)
}

/// What one pipeline rank holds: its layers over all its chunks, how many are MoE,
/// whether it holds the embedding or the LM head, and how many ranks look the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageKind {
    /// The first rank of this kind.
    pub rank: u64,
    pub ranks: u64,
    pub layers: f64,
    pub moe_layers: f64,
    pub embedding: bool,
    pub head: bool,
}

/// The pipeline's ranks, grouped by what they hold (usually the first, the middle
/// ones, the last; more when dense layers lead a MoE model or stages are uneven).
pub fn stage_kinds(s: &Scenario, layout: &StageLayout) -> Vec<StageKind> {
    let p = &s.parallel;
    let mut kinds: Vec<StageKind> = Vec::with_capacity(4);
    let mut add = |k: StageKind, ranks: u64| {
        match kinds.iter_mut().find(|x| x.layers == k.layers && x.moe_layers == k.moe_layers && x.embedding == k.embedding && x.head == k.head) {
            Some(x) => x.ranks += ranks,
            None => kinds.push(StageKind { ranks, ..k }),
        }
    };
    // Past the dense prefix of a MoE model (or at once for a dense one) the middle ranks
    // are all alike: cost one and count the rest. A rank is past it when its earliest
    // chunk starts there.
    let dense_end = if s.model.is_moe() { s.model.moe.dense_layers as f64 } else { 0.0 };
    let past_prefix = |r: u64| chunk_span(s, layout, r, 0).first >= dense_end && layout.middle_uniform();
    if p.schedule == crate::scenario::Schedule::Dualpipe {
        // Rank r and rank pp − 1 − r hold the same two stages.
        let half = p.pp / 2;
        for r in 0..half {
            let k = rank_kind(s, layout, r);
            if r > 0 && past_prefix(r) {
                add(k, p.pp - 2 * r);
                break;
            }
            add(k, 2);
        }
    } else {
        add(rank_kind(s, layout, 0), 1);
        let mut r = 1;
        while r + 1 < p.pp {
            let k = rank_kind(s, layout, r);
            if past_prefix(r) {
                add(k, p.pp - 1 - r);
                break;
            }
            add(k, 1);
            r += 1;
        }
        if p.pp > 1 {
            add(rank_kind(s, layout, p.pp - 1), 1);
        }
    }
    kinds
}

/// What pipeline rank `r` holds (over all its chunks).
pub fn rank_kind(s: &Scenario, layout: &StageLayout, r: u64) -> StageKind {
    let p = &s.parallel;
    let dual = p.schedule == crate::scenario::Schedule::Dualpipe;
    let chunks = if dual { 2 } else { p.vpp.max(1) };
    let (mut layers, mut moe_layers) = (0.0, 0.0);
    for c in 0..chunks {
        let span = chunk_span(s, layout, r, c);
        layers += span.layers;
        moe_layers += span.moe_layers;
    }
    let mirror = if dual { p.pp - 1 - r } else { r };
    StageKind { rank: r, ranks: 1, layers, moe_layers, embedding: r == 0 || mirror == 0, head: r == p.pp - 1 || mirror == p.pp - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Two sites whose links grow without bound are one site: Llama 3 405B with its
    /// DP outermost (every DP ring crosses between the sites), in both fidelities. With
    /// links of realistic size the DP reduction pays for them and PP placed across the
    /// sites (Megatron's default order, PP outermost) pays far less.
    #[test]
    fn two_sites_converge_to_one_as_their_links_grow() {
        let text = include_str!("../../../examples/llama3-405b-16k.toml");
        let at = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            crate::scenario::parse(text, Path::new("llama3-405b-16k.toml"), &sets).unwrap()
        };
        let one = at(&[]);
        let fast = at(&["cluster.sites=2", "cluster.inter_site.gbps=1e12"]);
        let slow = at(&["cluster.sites=2", "cluster.inter_site.gbps=6400", "cluster.inter_site.km=10"]);
        let pp_across = |gbps: &str| at(&["cluster.sites=2", &format!("cluster.inter_site.gbps={gbps}"), "cluster.inter_site.km=10", "parallel.order=\"tp-cp-dp-pp\""]);
        let analytic = |s: &crate::scenario::Scenario| crate::step::simulate(s).step_time_s;
        let event = |s: &crate::scenario::Scenario| crate::step::event::simulate_event(s).unwrap().report.step_time_s;
        for (name, f) in [("analytic", &analytic as &dyn Fn(&crate::scenario::Scenario) -> f64), ("event", &event)] {
            let (a, b) = (f(&one), f(&fast));
            assert!((b / a - 1.0).abs() < 0.005, "{name}: one site {a}, two with unbounded links {b}");
            assert!(f(&slow) > 1.05 * a, "{name}: 6.4 Tb/s between the sites costs the DP reduction");
            let (dp_cross, pp_cross) = (f(&slow) - a, f(&pp_across("6400")) - f(&at(&["parallel.order=\"tp-cp-dp-pp\""])));
            assert!(pp_cross < 0.25 * dp_cross, "{name}: PP across the sites {pp_cross} s, DP {dp_cross} s");
        }
    }

    /// MoE parallel folding (Megatron-Core): expert groups laid over the attention's
    /// TP × CP × DP ranks. Mixtral's 8 experts on one 8-GPU node with attention TP 8:
    /// before folding EP had to divide DP × CP = 1; folded, EP 8 with expert TP 1 spans
    /// the TP ranks (1 apart, on NVLink), each GPU holds one whole expert — the same
    /// expert bytes as expert TP 8 — and trades the expert-TP gathers for all-to-alls.
    #[test]
    fn experts_fold_over_the_attention_ranks() {
        let base = "[model]\npreset = \"mixtral-8x7b\"\nseq_len = 4096\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 8\n[parallel]\ntp = 8\nglobal_batch = 8\n";
        let at = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            crate::scenario::parse(base, Path::new("t.toml"), &sets)
        };
        let tp_experts = at(&[]).unwrap();
        let folded = at(&["parallel.ep=8", "parallel.etp=1"]).unwrap();
        let st = folded.parallel.strides();
        assert_eq!((st.ep, folded.parallel.expert_dp()), (1, 1));
        let lp = folded.model.layer_params();
        let kinds = stage_kinds(&folded, &StageLayout::new(&folded));
        let (a, b) = (memory::stage_params(&tp_experts, &lp, &kinds[0]), memory::stage_params(&folded, &lp, &kinds[0]));
        assert!((a.experts / b.experts - 1.0).abs() < 1e-12);
        let (ra, rb) = (crate::step::simulate(&tp_experts), crate::step::simulate(&folded));
        assert!(rb.breakdown_s.exposed_comm.ep > 0.0 && ra.breakdown_s.exposed_comm.ep == 0.0);
        // Expert groups must tile the attention's ranks.
        let e = at(&["parallel.ep=8", "parallel.etp=2"]).unwrap_err().to_string();
        assert!(e.contains("ep × etp = 8 × 2 must divide tp × cp × dp"), "{e}");
        let e = at(&["model.preset=\"llama3-8b\"", "parallel.etp=1"]).unwrap_err().to_string();
        assert!(e.contains("needs a MoE model"), "{e}");
    }

    /// Dropless routing runs at its busiest rank's load; a capacity factor caps it (and
    /// pads to it when asked); overlapping the all-to-alls with the other micro-batch's
    /// compute (Megatron's combined 1F1B) cuts the exposed EP time of cross-node EP.
    #[test]
    fn routing_and_all_to_all_overlap_set_the_expert_pace() {
        let base = "[model]\npreset = \"qwen3-30b-a3b\"\nseq_len = 4096\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\n[parallel]\ntp = 1\npp = 4\nvpp = 2\nep = 16\nglobal_batch = 256\n";
        let step = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            crate::step::simulate(&crate::scenario::parse(base, Path::new("t.toml"), &sets).unwrap())
        };
        let balanced = step(&[]);
        let skewed = step(&["training.moe_load_imbalance=0.3"]);
        let capped = step(&["training.moe_load_imbalance=0.3", "training.moe_capacity_factor=1.1"]);
        let padded = step(&["training.moe_capacity_factor=1.1", "training.moe_pad_to_capacity=true"]);
        assert!(skewed.step_time_s > capped.step_time_s && capped.step_time_s > balanced.step_time_s);
        assert!((capped.step_time_s / padded.step_time_s - 1.0).abs() < 1e-9);
        // EP 16 spans two nodes: overlapped, its all-to-all mostly hides.
        let overlapped = step(&["parallel.moe_a2a_overlap=true"]);
        let (plain_ep, hidden_ep) = (balanced.breakdown_s.exposed_comm.ep, overlapped.breakdown_s.exposed_comm.ep);
        assert!(hidden_ep < 0.5 * plain_ep, "{hidden_ep} vs {plain_ep}");
    }

    /// DeepSeek-V3's node-limited routing (§2.1.2, §3.2.2): a token goes to experts on at
    /// most 4 nodes and crosses IB once per node, NVLink forwarding it to the experts
    /// there. On its layout (EP 64 over 8 nodes, top-8) a token's IB copies drop from
    /// 8 × 56/63 ≈ 7.1 to at most 4 × 7/8 = 3.5, and the exposed all-to-all with them.
    #[test]
    fn node_limited_routing_cuts_inter_node_bytes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deepseek-v3-2048.toml");
        // The example routes node-limited; without its line, every copy travels alone.
        let text = std::fs::read_to_string(&path).unwrap().replace("moe_max_nodes_per_token = 4", "");
        let load = |sets: &[&str]| crate::scenario::parse(&text, &path, &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let s = load(&["parallel.schedule=\"1f1b\""]);
        let fabric = fabric(&s.cluster);
        let groups = Groups::new(&fabric, &s.parallel, has_nvls(&s.cluster));
        assert_eq!(groups.ep.span.domains, 8);
        let bytes = crate::step::layer::ep_dispatch_bytes(&s);
        let k = s.model.moe.top_k as f64;
        let (flat, limited) = (groups.ep.dispatch_nic_bytes(bytes, k, None), groups.ep.dispatch_nic_bytes(bytes, k, Some(4)));
        assert!((flat / (bytes / k) - 8.0 * 56.0 / 63.0).abs() < 1e-9);
        assert!((limited / (bytes / k) - 3.5).abs() < 1e-9);
        let plain = crate::step::simulate(&s);
        let node_limited = crate::step::simulate(&load(&["parallel.schedule=\"1f1b\"", "training.moe_max_nodes_per_token=4"]));
        assert!(node_limited.breakdown_s.exposed_comm.ep < 0.75 * plain.breakdown_s.exposed_comm.ep);
    }

    /// A layout string that spells out Megatron's even split gives the same step and
    /// memory; one that moves a layer off the first and last ranks (Llama 3's
    /// "one fewer Transformer layer" on each) lightens them and lets pp × vpp exceed
    /// the layer count when the embedding and loss are stages of their own.
    #[test]
    fn user_layouts_place_layers_where_they_say() {
        let base = "[model]\npreset = \"llama3-8b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 32\n[parallel]\ntp = 8\npp = 4\nglobal_batch = 32\n";
        let at = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            crate::scenario::parse(base, Path::new("t.toml"), &sets).unwrap()
        };
        let even = at(&["parallel.vpp=2"]);
        let spelled = at(&["parallel.pipeline_layout=\"Et*4|(t*4|)*6,t*4L\""]);
        assert_eq!(spelled.parallel.vpp, 2);
        let (a, b) = (crate::step::simulate(&even), crate::step::simulate(&spelled));
        assert!((a.step_time_s / b.step_time_s - 1.0).abs() < 1e-9, "{} {}", a.step_time_s, b.step_time_s);
        assert!((a.memory.total_bytes / b.memory.total_bytes - 1.0).abs() < 1e-9);
        // The embedding and the loss alone on stages of their own: 10 stages of 32 layers.
        let edges = at(&["parallel.pp=2", "parallel.pipeline_layout=\"E|(t*8|)*4,L\"", "parallel.global_batch=16"]);
        assert_eq!(edges.parallel.vpp, 3);
        let layout = StageLayout::new(&edges);
        assert_eq!((layout.stage_layers(0), layout.stage_layers(1)), (16, 16));
        assert_eq!(chunk_span(&edges, &layout, 0, 0).layers, 0.0);
        assert_eq!(chunk_span(&edges, &layout, 1, 0).first, 0.0);
        assert_eq!(chunk_span(&edges, &layout, 0, 1).first, 8.0);
        // first/last stage counts.
        let uneven = at(&["parallel.first_stage_layers=6", "parallel.last_stage_layers=6"]);
        let layout = StageLayout::new(&uneven);
        assert_eq!((0..4).map(|r| layout.stage_layers(r)).collect::<Vec<_>>(), vec![6, 10, 10, 6]);
    }

    /// nanotron splits by cost with the LM head weighing V·h: the playbook's 3B model
    /// (28 layers, h 3072, ffn 8192, V 131,072) on 8 ranks puts 4 layers on each of the
    /// first seven and the LM head alone on the last.
    #[test]
    fn nanotron_splits_by_cost() {
        let text = "[model]\nlayers = 28\nhidden = 3072\nffn_hidden = 8192\nheads = 32\nvocab = 131072\nseq_len = 4096\ntied_embeddings = true\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 8\n[parallel]\npp = 8\nglobal_batch = 64\n[training]\nframework = \"nanotron\"\n";
        let s = crate::scenario::parse(text, Path::new("t.toml"), &[]).unwrap();
        let layout = StageLayout::new(&s);
        let per: Vec<u64> = (0..8).map(|r| layout.stage_layers(r)).collect();
        assert_eq!(per, [4, 4, 4, 4, 4, 4, 4, 0]);
        let kinds = stage_kinds(&s, &layout);
        assert_eq!(kinds.iter().map(|k| k.ranks as f64 * k.layers).sum::<f64>(), 28.0);
        // Megatron's split of the same model: one layer fewer on the first and last rank.
        let m = crate::scenario::parse(&text.replace("nanotron", "megatron-core"), Path::new("t.toml"), &[]).unwrap();
        let per: Vec<u64> = (0..8).map(|r| StageLayout::new(&m).stage_layers(r)).collect();
        assert_eq!(per.iter().sum::<u64>(), 28);
    }

    /// Every layer lands on exactly one rank (twice under DualPipe, which holds the
    /// model twice), MoE layers included, whatever the split and the schedule.
    #[test]
    fn stage_kinds_cover_every_layer_once() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deepseek-v3-2048.toml");
        for (sets, copies) in [
            (vec![], 2.0),
            (vec!["parallel.schedule=\"1f1b\""], 1.0),
            (vec!["parallel.schedule=\"interleaved\"", "parallel.vpp=3", "parallel.pp=4", "parallel.ep=8", "parallel.global_batch=16384"], 1.0),
            (vec!["parallel.schedule=\"1f1b\"", "parallel.pp=32", "parallel.ep=8"], 1.0),
        ] {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            let s = crate::scenario::load(&path, &sets).unwrap();
            let kinds = stage_kinds(&s, &StageLayout::new(&s));
            let layers: f64 = kinds.iter().map(|k| k.ranks as f64 * k.layers).sum();
            let moe: f64 = kinds.iter().map(|k| k.ranks as f64 * k.moe_layers).sum();
            assert!((layers - copies * s.model.layers as f64).abs() < 1e-9, "{sets:?}: {layers}");
            assert!((moe - copies * s.model.moe_layers() as f64).abs() < 1e-9, "{sets:?}: {moe}");
            assert_eq!(kinds.iter().map(|k| k.ranks).sum::<u64>(), s.parallel.pp);
            // DeepSeek-V3's first three layers are dense: the ranks holding them are not
            // the ones with the most expert parameters.
            let most_moe = kinds.iter().map(|k| k.moe_layers).fold(0.0, f64::max);
            assert!(kinds.iter().any(|k| k.moe_layers == most_moe && k.rank > 0), "{sets:?}");
        }
    }
}
