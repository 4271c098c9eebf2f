//! The explicit network: every GPU's NVLink and NIC ports, every switch port of a
//! rail-optimised (or plain) folded Clos of 1–3 tiers, as directed links with
//! capacities, plus the routing of a flow onto them.
//!
//! Links are numbered arithmetically (no adjacency lists), so a fabric of 131,072 GPUs
//! costs one `f64` capacity per directed link and is built in milliseconds:
//!
//! | kind | count | between |
//! |---|---|---|
//! | NVLink up / down | 2 per GPU | GPU ↔ its NVSwitch domain |
//! | NIC up / down | 2 per GPU per plane | GPU's NIC ↔ leaf switch |
//! | leaf up / down | 2 × radix/2 per leaf | leaf ↔ spine (2 and 3 tiers) |
//! | spine up / down | 2 × radix/2 per spine | spine ↔ core (3 tiers) |
//! | bundles | 4 per leaf, 4 per pod | all up- (down-) links of a leaf or pod, for spraying |
//!
//! Structure (radix R, h = R/2): a leaf serves h nodes' NICs of one rail (rail-optimised)
//! or h NICs (fat tree) and has h uplinks, uplink j to spine j of its pod. With 2 tiers
//! the spines are the top (up to R leaves each); with 3 tiers a pod holds h leaves per
//! rail and h spines, spine j's uplink i goes to core (j, i), which reaches spine j of
//! every pod. Each rail and plane is its own Clos. Traffic between rails crosses NVLink
//! to the GPU on the destination's rail first (NCCL's PXN). Top-tier links carry
//! `1 / oversubscription` of the port rate. With several sites, a flow between two
//! sites also crosses its site's inter-site bundle out and the other site's in.

use crate::fabric::{FabricKind, FabricSpec};
use serde::Serialize;

/// How a flow picks among equal-cost paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// A hash of the flow (and the seed) picks one path: collisions as in real fabrics.
    Ecmp,
    /// Each flow, in order, takes the least-loaded uplink at each choice.
    Adaptive,
    /// Every flow is split evenly over all equal-cost paths (packet spraying).
    Spray,
}

/// One entry of a path: a link and the share of the flow's rate it carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hop {
    pub link: u32,
    pub weight: f32,
}

/// The explicit network of a fabric.
#[derive(Debug, Clone)]
pub struct Network {
    pub kind: FabricKind,
    pub gpus: u64,
    pub gpus_per_node: u64,
    pub nvlink_domain: u64,
    pub tiers: u32,
    pub planes: u64,
    /// Ports per switch / 2: NICs per leaf, uplinks per switch.
    pub half: u64,
    /// Rails (1 for a fat tree or a single switch).
    pub rails: u64,
    /// Leaves per rail and plane.
    pub groups: u64,
    /// Pods per rail and plane (3 tiers).
    pub pods: u64,
    /// Uplinks per switch into the top tier: `radix/2 / oversubscription`, rounded up
    /// (an oversubscribed tier has fewer uplinks, each at nearly the port rate).
    pub top_uplinks: u64,
    /// Uplinks per leaf (`radix/2`, fewer when the leaves are oversubscribed).
    pub leaf_uplinks: u64,
    /// Sites and the GPUs of each (one site: every GPU).
    pub sites: u64,
    pub gpus_per_site: u64,
    /// Capacity of every directed link, bytes/s.
    pub capacity: Vec<f64>,
    offsets: Offsets,
}

#[derive(Debug, Clone, Copy, Default)]
struct Offsets {
    nv_up: u64,
    nv_down: u64,
    nic_up: u64,
    nic_down: u64,
    leaf_up: u64,
    leaf_down: u64,
    spine_up: u64,
    spine_down: u64,
    leaf_up_bundle: u64,
    leaf_down_bundle: u64,
    pod_up_bundle: u64,
    pod_down_bundle: u64,
    site_up: u64,
    site_down: u64,
    end: u64,
}

/// Link capacities: the line rates times the achievable protocol efficiency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkRates {
    pub nvlink_efficiency: f64,
    pub nic_efficiency: f64,
}

/// Where a GPU's NIC sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Port {
    rail: u64,
    group: u64,
}

/// A stable 64-bit mix (SplitMix64), the ECMP hash.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Network {
    /// Builds the link table. `spec` must be valid (positive sizes; the fabric must be
    /// able to hold the GPUs: callers check [`Network::max_gpus`]).
    pub fn new(spec: &FabricSpec, rates: LinkRates) -> Network {
        let gpus = spec.gpus.max(1);
        let gpn = spec.gpus_per_node.max(1);
        let planes = spec.planes.max(1) as u64;
        let (rails, half, tiers) = match spec.kind {
            FabricKind::SingleSwitch => (1, gpus, 1),
            FabricKind::FatTree => (1, (spec.switch_radix / 2).max(1), spec.tiers.clamp(1, 3)),
            FabricKind::RailOptimized => (gpn.min(gpus), (spec.switch_radix / 2).max(1), spec.tiers.clamp(1, 3)),
        };
        let endpoints_per_rail = if rails > 1 { gpus.div_ceil(gpn) } else { gpus };
        let groups = endpoints_per_rail.div_ceil(half).max(1);
        let pods = if tiers == 3 { groups.div_ceil(half).max(1) } else { 1 };
        let leaves = planes * rails * groups;
        let oversub = spec.oversubscription.max(1.0);
        let top_uplinks = ((half as f64 / oversub).ceil() as u64).clamp(1, half);
        // With three tiers the leaves may be oversubscribed too: fewer uplinks, to the
        // first spines of the pod, each at nearly the port rate.
        let leaf_oversub = if tiers == 3 { spec.leaf_oversubscription.max(1.0) } else { 1.0 };
        let leaf_uplinks = ((half as f64 / leaf_oversub).ceil() as u64).clamp(1, half);
        let leaf_up_count = if tiers == 2 { top_uplinks } else { leaf_uplinks };
        let spines = if tiers == 3 { planes * rails * pods * half } else { planes * rails * half };
        let mut o = Offsets::default();
        let mut at = 0u64;
        let mut take = |n: u64| {
            let start = at;
            at += n;
            start
        };
        o.nv_up = take(gpus);
        o.nv_down = take(gpus);
        o.nic_up = take(gpus * planes);
        o.nic_down = take(gpus * planes);
        let leaf_links = if tiers >= 2 { leaves * leaf_up_count } else { 0 };
        o.leaf_up = take(leaf_links);
        o.leaf_down = take(leaf_links);
        let spine_links = if tiers == 3 { spines * top_uplinks } else { 0 };
        o.spine_up = take(spine_links);
        o.spine_down = take(spine_links);
        let leaf_bundles = if tiers >= 2 { leaves } else { 0 };
        o.leaf_up_bundle = take(leaf_bundles);
        o.leaf_down_bundle = take(leaf_bundles);
        let pod_bundles = if tiers == 3 { planes * rails * pods } else { 0 };
        o.pod_up_bundle = take(pod_bundles);
        o.pod_down_bundle = take(pod_bundles);
        let (sites, gpus_per_site) = match spec.sites.filter(|s| s.count > 1) {
            Some(s) => (s.count, s.gpus_per_site.max(1)),
            None => (1, gpus),
        };
        let site_links = if sites > 1 { sites } else { 0 };
        o.site_up = take(site_links);
        o.site_down = take(site_links);
        o.end = at;

        let nvlink = spec.nvlink_bytes_per_s * rates.nvlink_efficiency;
        let port = spec.nic_bytes_per_s / planes as f64 * rates.nic_efficiency;
        // Top-tier links: fewer, sized so the tier carries exactly 1/oversubscription.
        let top_port = port * (half as f64 / oversub) / top_uplinks as f64;
        let mut capacity = vec![0.0; o.end as usize];
        let mut fill = |from: u64, n: u64, v: f64| capacity[from as usize..(from + n) as usize].fill(v);
        fill(o.nv_up, gpus, nvlink);
        fill(o.nv_down, gpus, nvlink);
        fill(o.nic_up, gpus * planes, port);
        fill(o.nic_down, gpus * planes, port);
        let leaf_port = if tiers == 2 { top_port } else { port * (half as f64 / leaf_oversub) / leaf_uplinks as f64 };
        fill(o.leaf_up, leaf_links, leaf_port);
        fill(o.leaf_down, leaf_links, leaf_port);
        fill(o.spine_up, spine_links, top_port);
        fill(o.spine_down, spine_links, top_port);
        fill(o.leaf_up_bundle, leaf_bundles, leaf_port * leaf_up_count as f64);
        fill(o.leaf_down_bundle, leaf_bundles, leaf_port * leaf_up_count as f64);
        // A pod climbs through the spines its leaves reach (all of them unless the leaves
        // are oversubscribed).
        fill(o.pod_up_bundle, pod_bundles, top_port * (leaf_up_count * top_uplinks) as f64);
        fill(o.pod_down_bundle, pod_bundles, top_port * (leaf_up_count * top_uplinks) as f64);
        let site_rate = spec.sites.map_or(0.0, |s| s.bytes_per_s * rates.nic_efficiency);
        fill(o.site_up, site_links, site_rate);
        fill(o.site_down, site_links, site_rate);
        Network {
            kind: spec.kind,
            gpus,
            gpus_per_node: gpn,
            nvlink_domain: spec.nvlink_domain.max(1),
            tiers,
            planes,
            half,
            rails,
            groups,
            pods,
            top_uplinks,
            leaf_uplinks: leaf_up_count,
            sites,
            gpus_per_site,
            capacity,
            offsets: o,
        }
    }

    /// The most GPUs a fabric of this kind, radix and tier count can hold.
    pub fn max_gpus(kind: FabricKind, radix: u64, tiers: u32, gpus_per_node: u64) -> u64 {
        let half = (radix / 2).max(1);
        let per_rail = match tiers {
            1 => radix,
            2 => radix * half,
            _ => radix * half * half,
        };
        match kind {
            FabricKind::SingleSwitch => u64::MAX,
            FabricKind::FatTree => per_rail,
            FabricKind::RailOptimized => per_rail.saturating_mul(gpus_per_node),
        }
    }

    /// Which switch tier a single switch-to-switch link climbs to: 2 for leaf↔spine,
    /// 3 for spine↔core; `None` for NIC, NVLink and bundle links.
    pub fn switch_tier(&self, link: u32) -> Option<u8> {
        let l = link as u64;
        if l >= self.offsets.leaf_up && l < self.offsets.spine_up {
            Some(2)
        } else if l >= self.offsets.spine_up && l < self.offsets.leaf_up_bundle {
            Some(3)
        } else {
            None
        }
    }

    /// Whether a link joins two switches (single links or a sprayed flow's bundles):
    /// a flow that crosses one leaves its leaf.
    pub fn is_switch_to_switch(&self, link: u32) -> bool {
        (self.offsets.leaf_up..self.offsets.end).contains(&(link as u64))
    }

    pub fn links(&self) -> usize {
        self.capacity.len()
    }

    fn port(&self, gpu: u64) -> Port {
        if self.rails > 1 {
            let node = gpu / self.gpus_per_node;
            Port { rail: gpu % self.gpus_per_node, group: node / self.half }
        } else {
            Port { rail: 0, group: gpu / self.half }
        }
    }

    fn leaf(&self, plane: u64, p: Port) -> u64 {
        (plane * self.rails + p.rail) * self.groups + p.group
    }

    /// The path of a flow from `src` to `dst` GPU. `choose(options, first)` picks among
    /// `options` equal-cost uplinks, the links `first..first + options` of one switch
    /// (ECMP hash or adaptive); spraying uses bundles.
    pub fn route(&self, src: u64, dst: u64, routing: Routing, choose: &mut dyn FnMut(u64, u32) -> u64, path: &mut Vec<Hop>) {
        path.clear();
        let o = self.offsets;
        let one = |link: u64| Hop { link: link as u32, weight: 1.0 };
        if src == dst {
            return;
        }
        if src / self.nvlink_domain == dst / self.nvlink_domain {
            path.push(one(o.nv_up + src));
            path.push(one(o.nv_down + dst));
            return;
        }
        let mut a = src;
        if self.rails > 1 {
            let (rail_a, rail_b) = (a % self.gpus_per_node, dst % self.gpus_per_node);
            if rail_a != rail_b {
                // PXN: hop over NVLink to the GPU of the destination's rail in this node.
                let relay = a - rail_a + rail_b;
                path.push(one(o.nv_up + a));
                path.push(one(o.nv_down + relay));
                a = relay;
            }
        }
        let (pa, pb) = (self.port(a), self.port(dst));
        // One pass per plane a sprayed flow uses; ECMP and adaptive pick one plane.
        let (planes, w) = if routing == Routing::Spray {
            (0..self.planes, 1.0 / self.planes as f32)
        } else if self.planes > 1 {
            let p = choose(self.planes, (o.nic_up + a * self.planes) as u32);
            (p..p + 1, 1.0)
        } else {
            (0..1, 1.0)
        };
        for plane in planes {
            let hop = |link: u64| Hop { link: link as u32, weight: w };
            path.push(hop(o.nic_up + a * self.planes + plane));
            if pa.group != pb.group && self.tiers >= 2 {
                let (la, lb) = (self.leaf(plane, pa), self.leaf(plane, pb));
                let pod_a = pa.group / self.half;
                let pod_b = pb.group / self.half;
                let cross_pod = self.tiers == 3 && pod_a != pod_b;
                if routing == Routing::Spray {
                    path.push(hop(o.leaf_up_bundle + la));
                    if cross_pod {
                        let rail_plane = plane * self.rails + pa.rail;
                        path.push(hop(o.pod_up_bundle + rail_plane * self.pods + pod_a));
                        path.push(hop(o.pod_down_bundle + rail_plane * self.pods + pod_b));
                    }
                    path.push(hop(o.leaf_down_bundle + lb));
                } else {
                    let up = if self.tiers == 2 { self.top_uplinks } else { self.leaf_uplinks };
                    let j = choose(up, (o.leaf_up + la * up) as u32);
                    path.push(hop(o.leaf_up + la * up + j));
                    if cross_pod {
                        let rail_plane = plane * self.rails + pa.rail;
                        let t = self.top_uplinks;
                        let spine_a = (rail_plane * self.pods + pod_a) * self.half + j;
                        let spine_b = (rail_plane * self.pods + pod_b) * self.half + j;
                        let i = choose(t, (o.spine_up + spine_a * t) as u32);
                        path.push(hop(o.spine_up + spine_a * t + i));
                        path.push(hop(o.spine_down + spine_b * t + i));
                    }
                    path.push(hop(o.leaf_down + lb * up + j));
                }
            }
            path.push(hop(o.nic_down + dst * self.planes + plane));
        }
        let (site_a, site_b) = (a / self.gpus_per_site, dst / self.gpus_per_site);
        if self.sites > 1 && site_a != site_b {
            path.push(one(o.site_up + site_a));
            path.push(one(o.site_down + site_b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(gpus: u64, tiers: u32, oversub: f64) -> FabricSpec {
        FabricSpec::hgx_h100(gpus, tiers, oversub)
    }

    const LINE: LinkRates = LinkRates { nvlink_efficiency: 1.0, nic_efficiency: 1.0 };

    fn path(n: &Network, a: u64, b: u64, r: Routing) -> Vec<Hop> {
        let mut p = Vec::new();
        let mut first = |_: u64, _: u32| 0;
        n.route(a, b, r, &mut first, &mut p);
        p
    }

    #[test]
    fn paths_by_distance() {
        let n = Network::new(&spec(16384, 3, 1.0), LINE);
        assert_eq!(path(&n, 0, 7, Routing::Ecmp).len(), 2); // NVLink
        assert_eq!(path(&n, 0, 8, Routing::Ecmp).len(), 2); // same leaf: NIC up, NIC down
        assert_eq!(path(&n, 0, 8 * 32, Routing::Ecmp).len(), 4); // another leaf, same pod
        assert_eq!(path(&n, 0, 8 * 1024, Routing::Ecmp).len(), 6); // another pod
        assert_eq!(path(&n, 1, 8 * 1024, Routing::Ecmp).len(), 8); // another rail: PXN first
    }

    #[test]
    fn every_link_on_a_path_exists_and_has_capacity() {
        let n = Network::new(&spec(16384, 3, 7.0), LINE);
        for (a, b) in [(0, 9000), (5, 16383), (8191, 8192), (100, 3)] {
            for r in [Routing::Ecmp, Routing::Spray] {
                for h in path(&n, a, b, r) {
                    assert!((h.link as usize) < n.links());
                    assert!(n.capacity[h.link as usize] > 0.0);
                }
            }
        }
    }

    #[test]
    fn oversubscription_is_on_the_top_tier_only() {
        let n = Network::new(&spec(16384, 3, 8.0), LINE);
        // 32 / 8 = 4 core uplinks per spine, each at the port rate.
        assert_eq!(n.top_uplinks, 4);
        let p = path(&n, 0, 8 * 1024, Routing::Ecmp);
        let caps: Vec<f64> = p.iter().map(|h| n.capacity[h.link as usize]).collect();
        assert_eq!(caps, vec![50e9, 50e9, 50e9, 50e9, 50e9, 50e9]);
        // A ratio that does not divide: 5 uplinks of 32/7/5 of the port rate.
        let n = Network::new(&spec(16384, 3, 7.0), LINE);
        assert_eq!(n.top_uplinks, 5);
        let p = path(&n, 0, 8 * 1024, Routing::Ecmp);
        let top = n.capacity[p[2].link as usize];
        assert!((top - 50e9 * 32.0 / 7.0 / 5.0).abs() < 1.0);
    }

    /// Between sites a flow also crosses both sites' inter-site bundles; inside a site it
    /// does not.
    #[test]
    fn flows_between_sites_cross_the_site_links() {
        let sites = crate::fabric::Sites { count: 2, gpus_per_site: 8192, bytes_per_s: 1e12, latency_s: 1e-4, hierarchical: false };
        let n = Network::new(&FabricSpec { sites: Some(sites), ..spec(16384, 3, 1.0) }, LINE);
        let inside = path(&n, 0, 8191, Routing::Ecmp);
        let across = path(&n, 0, 8192, Routing::Ecmp);
        assert_eq!(across.len(), path(&Network::new(&spec(16384, 3, 1.0), LINE), 0, 8192, Routing::Ecmp).len() + 2);
        let caps = |p: &[Hop]| p.iter().filter(|h| n.capacity[h.link as usize] == 1e12).count();
        assert_eq!((caps(&inside), caps(&across)), (0, 2));
    }

    /// Oversubscribed leaves have fewer uplinks whose capacity adds up to the ports
    /// over the ratio; the spines above them see the same totals as the fabric's tiers.
    #[test]
    fn oversubscribed_leaves_have_fewer_uplinks() {
        let n = Network::new(&FabricSpec { leaf_oversubscription: 3.0, ..spec(16384, 3, 1.0) }, LINE);
        assert_eq!(n.leaf_uplinks, 11); // ceil(32 / 3)
        let p = path(&n, 0, 8 * 32, Routing::Ecmp); // another leaf of the pod
        let up = n.capacity[p[1].link as usize];
        assert!((up * 11.0 - 50e9 * 32.0 / 3.0).abs() < 1.0, "{up}");
        for r in [Routing::Ecmp, Routing::Spray] {
            for h in path(&n, 5, 16383, r) {
                assert!(n.capacity[h.link as usize] > 0.0);
            }
        }
    }

    #[test]
    fn building_131k_gpus_is_compact() {
        let n = Network::new(&spec(131072, 3, 1.0), LINE);
        let per_gpu = (n.links() * std::mem::size_of::<f64>()) as f64 / 131072.0;
        assert!(per_gpu < 128.0, "{per_gpu} bytes per GPU");
    }
}
