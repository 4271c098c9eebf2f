//! A cluster fabric described by its tiers, and where a group of ranks sits in it.
//!
//! GPUs are numbered 0..gpus. Consecutive GPUs share a node (`gpus_per_node`) and a
//! scale-up NVLink/NVSwitch domain (`nvlink_domain`, a multiple of the node size: 8 in
//! a DGX/HGX box, 72 in an NVL72 rack). Above the domain every GPU owns one NIC, wired
//! into a Clos of switch tiers. Line rates only: protocol efficiencies are applied by
//! the collective models that use this crate.
//!
//! A cluster may span several sites (buildings or campuses) of equal size: consecutive
//! GPUs share a site, and traffic between sites crosses each site's inter-site links
//! (one bundle per site and direction), the tier above the switch tiers.

use serde::Serialize;

/// The family of scale-out fabric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FabricKind {
    /// One non-blocking switch joins every NIC.
    SingleSwitch,
    /// Rail-optimised Clos: NIC `i` of every node in a group of nodes meets on rail
    /// switch `i` (NVIDIA SuperPOD, Meta, Alibaba HPN). A group of ranks with the same
    /// local index stays on its rail up to the spine.
    RailOptimized,
    /// Classic k-ary fat tree (Al-Fares et al. 2008): `k/2` NICs per edge switch,
    /// `(k/2)^2` per pod, `k^3/4` in all.
    FatTree,
}

/// What kind of hop a tier is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TierKind {
    /// The NVLink/NVSwitch scale-up domain.
    ScaleUp,
    /// A switch tier of the scale-out network (1 = leaf, 2 = spine, 3 = core).
    ScaleOut,
    /// The links between sites.
    InterSite,
}

/// Sites of equal size joined by inter-site links.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sites {
    pub count: u64,
    pub gpus_per_site: u64,
    /// Each site's inter-site capacity, one direction, line rate.
    pub bytes_per_s: f64,
    /// One-way latency added by the distance between sites.
    pub latency_s: f64,
    /// Collectives across sites run hierarchically: reduce (or gather) inside each
    /// site, exchange only each member's shard between sites, then spread it inside the
    /// site again. Otherwise the ring runs through the sites as through any tier.
    pub hierarchical: bool,
}

/// One level of the fabric: how many GPUs are reachable without climbing higher, and
/// the bandwidth one GPU has on links of this level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tier {
    pub kind: TierKind,
    /// GPUs under one switch (or domain) of this tier.
    pub domain_gpus: u64,
    /// Line rate per GPU, one direction, for traffic that climbs to this tier.
    pub bytes_per_s_per_gpu: f64,
    /// One-way latency of a message crossing this tier (wire, switch hops, NIC).
    pub latency_s: f64,
}

/// A whole fabric, as tiers from the NVLink domain up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fabric {
    pub kind: FabricKind,
    pub gpus: u64,
    pub gpus_per_node: u64,
    /// tiers[0] is the scale-up domain; tiers[1..] are switch tiers, the last one the top.
    pub tiers: Vec<Tier>,
    pub planes: u32,
    pub oversubscription: f64,
    /// Downlink:uplink ratio at the leaves of a three-tier fabric (1: non-blocking).
    pub leaf_oversubscription: f64,
    /// The sites, when there are more than one (their tier is the last of `tiers`).
    pub sites: Option<Sites>,
}

/// Physical description used to build a [`Fabric`].
#[derive(Debug, Clone, PartialEq)]
pub struct FabricSpec {
    pub kind: FabricKind,
    pub gpus: u64,
    pub gpus_per_node: u64,
    pub nvlink_domain: u64,
    /// NVLink bandwidth per GPU, one direction.
    pub nvlink_bytes_per_s: f64,
    /// NIC bandwidth per GPU, one direction, summed over planes.
    pub nic_bytes_per_s: f64,
    /// Switch tiers above the NICs (1..=3).
    pub tiers: u32,
    pub switch_radix: u64,
    /// Downlink:uplink bandwidth ratio at the top tier (1 = non-blocking).
    pub oversubscription: f64,
    /// The same at the leaves' uplinks when there are three tiers (the spines'
    /// downlinks); with two tiers the leaves' uplinks are the top's (`oversubscription`).
    pub leaf_oversubscription: f64,
    pub planes: u32,
    /// Sites (`None`: one).
    pub sites: Option<Sites>,
}

impl FabricSpec {
    /// A rail-optimised Clos of 64-port switches over 8-GPU HGX H100 nodes (450 GB/s
    /// NVLink, one 400 Gb/s NIC per GPU): the reference fabric of examples and tests.
    pub fn hgx_h100(gpus: u64, tiers: u32, oversubscription: f64) -> FabricSpec {
        FabricSpec {
            kind: FabricKind::RailOptimized,
            gpus,
            gpus_per_node: 8,
            nvlink_domain: 8,
            nvlink_bytes_per_s: 450e9,
            nic_bytes_per_s: 50e9,
            tiers,
            switch_radix: 64,
            oversubscription,
            leaf_oversubscription: 1.0,
            planes: 1,
            sites: None,
        }
    }
}

/// One-way latency of an NVLink/NVSwitch hop. NCCL's tuner models 0.6 µs per LL hop on
/// NVLink (src/graph/tuning.cc, see shared/reference/fabric.md §3.3).
pub const NVLINK_HOP_LATENCY_S: f64 = 0.6e-6;
/// NIC-to-NIC latency through one switch: IB HDR adapter-to-adapter 0.6 µs
/// (fabric.md §3.7, [S] ml-engineering) plus NCCL's 1 µs network-post floor.
pub const NIC_LATENCY_S: f64 = 1.6e-6;
/// Extra latency per switch tier climbed (port-to-port, "<400 ns" for NDR, fabric.md §3.7
/// takes the upper figure since sources disagree) times two hops (up and down).
pub const SWITCH_TIER_LATENCY_S: f64 = 0.8e-6;

/// GPUs one switch of tier `t` (1 = leaf) reaches in a Clos of `radix`-port switches;
/// `top`: the tier is the highest, all its ports face down. Single switch: unbounded.
pub fn tier_reach_gpus(kind: FabricKind, t: u32, top: bool, radix: u64, gpus_per_node: u64) -> u64 {
    let half = (radix / 2).max(1);
    match kind {
        FabricKind::SingleSwitch => u64::MAX,
        // A rail leaf serves `radix/2` nodes; every tier above multiplies the reach by
        // `radix/2`, the top tier (all ports down) by `radix`.
        FabricKind::RailOptimized => half.saturating_pow(t - 1).saturating_mul(if top { radix } else { half }).saturating_mul(gpus_per_node),
        // k-ary fat tree: k/2 hosts per edge, (k/2)^2 per pod, k^3/4 in all.
        FabricKind::FatTree => half.saturating_pow(t).saturating_mul(if top && t > 1 { 2 } else { 1 }),
    }
}

impl Fabric {
    /// Builds the tier stack of a fabric. The spec is assumed validated by the caller
    /// (positive sizes, `nvlink_domain` a multiple of `gpus_per_node`).
    pub fn new(spec: &FabricSpec) -> Fabric {
        let mut tiers = vec![Tier {
            kind: TierKind::ScaleUp,
            domain_gpus: spec.nvlink_domain.max(1),
            bytes_per_s_per_gpu: spec.nvlink_bytes_per_s,
            latency_s: NVLINK_HOP_LATENCY_S,
        }];
        let n_tiers = match spec.kind {
            FabricKind::SingleSwitch => 1,
            _ => spec.tiers.max(1),
        };
        for t in 1..=n_tiers {
            let top = t == n_tiers;
            let domain_gpus = match spec.kind {
                FabricKind::SingleSwitch => spec.gpus,
                kind => tier_reach_gpus(kind, t, top, spec.switch_radix, spec.gpus_per_node),
            };
            // What a GPU gets climbing to tier t: the NIC over every oversubscribed
            // uplink below it (the leaves' with three tiers, then the top's).
            let leaf = if n_tiers == 3 && t >= 2 { spec.leaf_oversubscription.max(1.0) } else { 1.0 };
            let oversub = leaf * if top { spec.oversubscription.max(1.0) } else { 1.0 };
            // The top switch tier joins every GPU; with several sites, one site's, and no
            // switch tier reaches beyond its site.
            let domain_gpus = match spec.sites.filter(|s| s.count > 1) {
                Some(s) if top => s.gpus_per_site,
                Some(s) => domain_gpus.min(s.gpus_per_site),
                None if top => domain_gpus.max(spec.gpus),
                None => domain_gpus,
            };
            tiers.push(Tier {
                kind: TierKind::ScaleOut,
                domain_gpus,
                bytes_per_s_per_gpu: spec.nic_bytes_per_s / oversub,
                latency_s: NIC_LATENCY_S + SWITCH_TIER_LATENCY_S * (t - 1) as f64,
            });
        }
        let sites = spec.sites.filter(|s| s.count > 1);
        if let Some(s) = sites {
            let below = tiers.last().map_or(0.0, |t| t.latency_s);
            tiers.push(Tier {
                kind: TierKind::InterSite,
                domain_gpus: spec.gpus,
                // Each GPU's share when every GPU of a site sends to another site at once.
                bytes_per_s_per_gpu: s.bytes_per_s / s.gpus_per_site.max(1) as f64,
                latency_s: below + SWITCH_TIER_LATENCY_S + s.latency_s,
            });
        }
        Fabric {
            kind: spec.kind,
            gpus: spec.gpus,
            gpus_per_node: spec.gpus_per_node,
            tiers,
            planes: spec.planes.max(1),
            oversubscription: spec.oversubscription,
            leaf_oversubscription: if n_tiers == 3 { spec.leaf_oversubscription.max(1.0) } else { 1.0 },
            sites,
        }
    }

    /// Where a group of `size` ranks whose members are `stride` GPUs apart sits.
    ///
    /// Placement is the Megatron convention: rank = tp + TP·(cp + CP·(dp + DP·pp)), so a
    /// group is an arithmetic progression of GPU ids.
    pub fn span(&self, size: u64, stride: u64) -> GroupSpan {
        let size = size.max(1);
        let stride = stride.max(1);
        let scale_up = self.tiers[0].domain_gpus;
        let ranks_per_domain = if stride >= scale_up { 1 } else { (scale_up / stride).clamp(1, size) };
        let domains = size.div_ceil(ranks_per_domain);
        let extent = (size - 1).saturating_mul(stride).saturating_add(1);
        // The lowest tier whose domain holds the whole extent of the group.
        let mut top_tier = 0;
        if domains > 1 {
            top_tier = self.tiers.len() - 1;
            for (i, tier) in self.tiers.iter().enumerate().skip(1) {
                if tier.domain_gpus >= extent {
                    top_tier = i;
                    break;
                }
            }
        }
        GroupSpan { size, ranks_per_domain, domains, top_tier, extent }
    }

    /// Line-rate bandwidth per rank of a ring that runs through the group: inside one
    /// scale-up domain the NVLink rate; across domains the ring leaves each domain
    /// through the NICs of the group's ranks there (NCCL uses one channel per NIC), so a
    /// rank gets `ranks_per_domain × NIC` shared by `ranks_per_domain` ranks' traffic,
    /// capped by NVLink; the highest tier climbed sets the NIC rate (oversubscription).
    ///
    /// At an oversubscribed top tier only the ring hops that cross it pay: each of the
    /// `concurrent` groups has one hop out of every top-tier domain (pod) it occupies,
    /// and those hops share the pod's uplinks, `pod GPUs × NIC / oversubscription`.
    pub fn ring_bytes_per_s(&self, span: &GroupSpan, concurrent: u64) -> f64 {
        let nvlink = self.tiers[0].bytes_per_s_per_gpu;
        if span.domains <= 1 {
            return nvlink;
        }
        let top = self.switch_top();
        // The highest switch tier the group climbs (a group across sites climbs them all).
        let climbs = span.top_tier.min(top);
        let nic = self.tiers[1.min(top)].bytes_per_s_per_gpu;
        let mut per_rank = (nic * span.ranks_per_domain as f64).min(nvlink);
        // At each oversubscribed uplink the group climbs past, only the ring hops that
        // cross it pay: each of the `concurrent` groups has one hop out of every domain
        // below it that it occupies, and those hops share the domain's uplinks.
        for t in 1..climbs {
            let ratio = if t + 1 == top { self.oversubscription } else if t == 1 && top == 3 { self.leaf_oversubscription } else { 1.0 };
            if ratio <= 1.0 {
                continue;
            }
            let domain = self.tiers[t].domain_gpus.min(self.gpus).max(1);
            let domains = self.gpus.div_ceil(domain).max(1);
            let spanned = span.extent.div_ceil(domain).clamp(1, domains);
            // A group leaves each domain it occupies once; it occupies at most `size`.
            let occupied = spanned.min(span.size);
            let crossing_per_domain = (concurrent.max(1) * occupied).div_ceil(domains).max(1);
            let uplinks = domain as f64 * self.tiers[t + 1].bytes_per_s_per_gpu;
            per_rank = per_rank.min(uplinks / crossing_per_domain as f64);
        }
        // Across sites, the same rule one level up: a ring leaves each site it occupies
        // once, and those hops share the site's inter-site links.
        if let Some(sites) = self.crossed_sites(span) {
            let spanned = span.extent.div_ceil(sites.gpus_per_site).clamp(1, sites.count);
            let crossing_per_site = (concurrent.max(1) * spanned.min(span.size)).div_ceil(sites.count).max(1);
            per_rank = per_rank.min(sites.bytes_per_s / crossing_per_site as f64);
        }
        per_rank
    }

    /// The highest switch tier (the sites' tier, when there is one, is above it).
    pub fn switch_top(&self) -> usize {
        self.tiers.len() - 1 - usize::from(self.sites.is_some())
    }

    /// The sites, when the group's traffic crosses between them.
    pub fn crossed_sites(&self, span: &GroupSpan) -> Option<&Sites> {
        self.sites.as_ref().filter(|_| span.top_tier > self.switch_top())
    }

    /// Sites a group's members occupy (1 when it stays in one, or there is one).
    pub fn sites_spanned(&self, span: &GroupSpan) -> u64 {
        self.crossed_sites(span).map_or(1, |s| span.extent.div_ceil(s.gpus_per_site).clamp(1, s.count).min(span.size))
    }

    /// A group across sites as its hierarchical parts, when the sites run collectives
    /// hierarchically and the group's members split evenly over the sites it spans:
    /// (members per site, the site-local group's span, the cross-site peers' span).
    pub fn hierarchical_parts(&self, span: &GroupSpan) -> Option<(u64, GroupSpan, GroupSpan)> {
        let sites = self.crossed_sites(span).filter(|s| s.hierarchical)?;
        let k = span.extent.div_ceil(sites.gpus_per_site).clamp(1, sites.count);
        if k < 2 || span.size % k != 0 || span.size < 2 {
            return None;
        }
        let stride = (span.extent - 1) / (span.size - 1);
        let m = span.size / k;
        if m < 2 {
            return None; // one member per site: the ring between the sites is all there is
        }
        let local = self.span(m, stride);
        (self.crossed_sites(&local).is_none()).then(|| (m, local, self.span(k, stride * m)))
    }

    /// NIC bandwidth per rank for traffic that leaves the scale-up domain: the rate of
    /// the highest switch tier climbed; across sites no more than `crossing` flows per
    /// site (each group's `crossings` hops between sites, `concurrent` groups) share
    /// the site's links.
    pub fn nic_bytes_per_s(&self, span: &GroupSpan, concurrent: u64, crossings: u64) -> f64 {
        let nic = self.tiers[span.top_tier.min(self.switch_top())].bytes_per_s_per_gpu;
        match self.crossed_sites(span) {
            Some(sites) => {
                let per_site = (concurrent.max(1) * crossings.max(1)).div_ceil(sites.count).max(1);
                nic.min(sites.bytes_per_s / per_site as f64)
            }
            None => nic,
        }
    }

    /// Bandwidth per rank for traffic that goes from every rank to every other rank
    /// (all-to-all): the share of peers outside the domain leaves through the rank's
    /// own NIC, the rest goes over NVLink; the slower of the two decides.
    pub fn all_to_all_bytes_per_s(&self, span: &GroupSpan) -> f64 {
        let nvlink = self.tiers[0].bytes_per_s_per_gpu;
        if span.domains <= 1 || span.size <= 1 {
            return nvlink;
        }
        let n = span.size as f64;
        let outside = (span.size - span.ranks_per_domain) as f64 / (n - 1.0);
        let inside = 1.0 - outside;
        let nic = self.tiers[span.top_tier.min(self.switch_top())].bytes_per_s_per_gpu;
        // time per byte = max(outside / nic, inside / nvlink); bandwidth is its inverse.
        let mut t = (outside / nic).max(inside / nvlink);
        // Across sites, the share of peers in other sites leaves through the site's
        // links, which every GPU of the site shares.
        if let Some(sites) = self.crossed_sites(span) {
            let spanned = span.extent.div_ceil(sites.gpus_per_site).clamp(1, sites.count) as f64;
            let other_sites = (n - n / spanned) / (n - 1.0);
            t = t.max(other_sites / self.tiers[self.tiers.len() - 1].bytes_per_s_per_gpu);
        }
        1.0 / t
    }

    /// One-way latency of one step of a collective on this group.
    pub fn step_latency_s(&self, span: &GroupSpan) -> f64 {
        self.tiers[span.top_tier].latency_s
    }
}

/// Where a group of ranks sits in the fabric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GroupSpan {
    pub size: u64,
    /// Ranks of the group inside one scale-up domain.
    pub ranks_per_domain: u64,
    /// Scale-up domains the group touches.
    pub domains: u64,
    /// Highest tier its traffic climbs: 0 = NVLink only, 1 = leaf, 2 = spine, 3 = core.
    pub top_tier: usize,
    /// GPU ids from the first member to the last.
    pub extent: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h100_rail(gpus: u64, oversub: f64) -> Fabric {
        Fabric::new(&FabricSpec::hgx_h100(gpus, 3, oversub))
    }

    #[test]
    fn tp_group_inside_node_uses_nvlink() {
        let f = h100_rail(16384, 1.0);
        let s = f.span(8, 1);
        assert_eq!(s.domains, 1);
        assert_eq!(s.top_tier, 0);
        assert_eq!(f.ring_bytes_per_s(&s, 1), 450e9);
    }

    #[test]
    fn dp_group_across_nodes_uses_one_nic_per_rank() {
        let f = h100_rail(16384, 1.0);
        let s = f.span(128, 8);
        assert_eq!(s.ranks_per_domain, 1);
        assert_eq!(s.domains, 128);
        assert_eq!(f.ring_bytes_per_s(&s, 1), 50e9);
        // 128 ranks 8 apart span 1017 GPUs: beyond a 256-GPU leaf, inside an 8192-GPU pod.
        assert_eq!(s.top_tier, 2);
    }

    #[test]
    fn whole_node_groups_aggregate_nics() {
        let f = h100_rail(1024, 1.0);
        let s = f.span(64, 1);
        assert_eq!(s.ranks_per_domain, 8);
        assert_eq!(f.ring_bytes_per_s(&s, 1), 400e9);
    }

    #[test]
    fn oversubscription_only_slows_the_top_tier() {
        let f = h100_rail(65536, 7.0);
        let inside_pod = f.span(128, 8);
        assert_eq!(f.ring_bytes_per_s(&inside_pod, 512), 50e9);
        // Every GPU in a pair across pods: all traffic crosses, a seventh of the rate.
        let pairs = f.span(2, 32768);
        assert!((f.ring_bytes_per_s(&pairs, 32768) - 50e9 / 7.0).abs() < 1.0);
        // 4,096 rings of 16 ranks over all 8 pods: every pod sends 4,096 crossing hops
        // through 8,192 × 50/7 GB/s of uplinks: 14.3 GB/s each.
        let ring = f.span(16, 4096);
        let expected = 8192.0 * 50e9 / 7.0 / 4096.0;
        assert!((f.ring_bytes_per_s(&ring, 4096) - expected).abs() < 1.0);
        // 64 rings of 1,024 ranks one node apart: each leaves its pod once.
        let long = f.span(1024, 64);
        assert_eq!(f.ring_bytes_per_s(&long, 64), 50e9);
    }

    #[test]
    fn tier_reach_of_a_radix_64_rail_clos() {
        let f = h100_rail(131072, 1.0);
        assert_eq!(f.tiers[1].domain_gpus, 32 * 8);
        assert_eq!(f.tiers[2].domain_gpus, 32 * 32 * 8);
        assert!(f.tiers[3].domain_gpus >= 131072);
    }

    /// Oversubscribed leaves (three tiers) slow only the ring hops that leave a leaf:
    /// a ring inside each leaf keeps the NIC rate; rings whose every hop leaves its leaf
    /// get the leaf's uplinks' share, the NIC over the ratio.
    #[test]
    fn oversubscribed_leaves_slow_only_traffic_leaving_them() {
        let f = Fabric::new(&FabricSpec { leaf_oversubscription: 2.0, ..FabricSpec::hgx_h100(16384, 3, 1.0) });
        assert_eq!(f.tiers[2].bytes_per_s_per_gpu, 25e9);
        let inside = f.span(32, 8); // 32 nodes of one rail leaf
        assert_eq!(f.ring_bytes_per_s(&inside, 512), 50e9);
        // 8,192 pairs, each member in another leaf of the same pod: every hop leaves.
        let pairs = f.span(2, 256);
        assert!((f.ring_bytes_per_s(&pairs, 8192) - 25e9).abs() < 1.0);
        // The two ratios compound above the spines.
        let both = Fabric::new(&FabricSpec { leaf_oversubscription: 2.0, ..FabricSpec::hgx_h100(16384, 3, 4.0) });
        assert_eq!(both.tiers[3].bytes_per_s_per_gpu, 50e9 / 8.0);
    }

    #[test]
    fn all_to_all_inside_and_across_domains() {
        let f = h100_rail(1024, 1.0);
        assert_eq!(f.all_to_all_bytes_per_s(&f.span(8, 1)), 450e9);
        // 16 ranks over two nodes: 8 of 15 peers are remote -> NIC limited.
        let s = f.span(16, 1);
        let bw = f.all_to_all_bytes_per_s(&s);
        assert!((bw - 50e9 * 15.0 / 8.0).abs() < 1e3, "{bw}");
    }
}
