//! What a fabric is made of, counted as it is bought: switches per tier (ports packed
//! into whole switches) and links per tier, for the bill of materials.
//!
//! The structure is the one [`crate::topology`] routes over: each rail (rail-optimised)
//! and each plane is its own folded Clos of `radix`-port switches; a switch below the
//! top gives half its ports to the tier below and half to the tier above (fewer above
//! when the top is oversubscribed); the top tier gives all its ports to the tier below.
//! The simulator may spread a partly filled tier over more, emptier switches (their
//! bandwidth is the same); here a tier has only as many switches as its links fill.
//!
//! For full fabrics these are the textbook counts: a k-ary fat tree has k²/2 edge,
//! k²/2 aggregation and k²/4 core switches (Al-Fares et al., SIGCOMM 2008), and the
//! DGX SuperPOD reference architectures' leaf/spine/core and cable counts come out
//! exactly (see the test in `wanka::design`).

use crate::fabric::{FabricKind, FabricSpec};
use serde::Serialize;

/// One switch tier: 1 = leaf, 2 = spine, 3 = core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SwitchTier {
    pub tier: u32,
    pub switches: u64,
    /// Ports in use, facing the tier below (NICs for the leaves).
    pub ports_down: u64,
    /// Ports in use, facing the tier above (0 at the top).
    pub ports_up: u64,
}

/// The links between one tier and the one below it: tier 1 joins NICs to leaves, tier 2
/// leaves to spines, tier 3 spines to cores. Every link is one port at each end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LinkTier {
    pub tier: u32,
    pub links: u64,
}

/// The counted parts of a scale-out fabric (the NVLink domain is not in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Independent copies of the Clos: one per rail (rail-optimised) times planes.
    pub rails: u64,
    pub planes: u64,
    /// NIC ports on the fabric: one per GPU per plane.
    pub nic_ports: u64,
    pub switch_tiers: Vec<SwitchTier>,
    pub link_tiers: Vec<LinkTier>,
}

impl Inventory {
    /// Counts the parts of the fabric `spec` describes. A single switch has no parts to
    /// count (it is an ideal crossbar): `None`.
    pub fn of(spec: &FabricSpec) -> Option<Inventory> {
        // Several sites: each its own fabric, the same one.
        if let Some(sites) = spec.sites.filter(|s| s.count > 1) {
            let one = Inventory::of(&FabricSpec { gpus: sites.gpus_per_site, sites: None, ..spec.clone() })?;
            let times = |n: u64| n * sites.count;
            return Some(Inventory {
                nic_ports: times(one.nic_ports),
                switch_tiers: one
                    .switch_tiers
                    .iter()
                    .map(|t| SwitchTier { switches: times(t.switches), ports_down: times(t.ports_down), ports_up: times(t.ports_up), ..*t })
                    .collect(),
                link_tiers: one.link_tiers.iter().map(|l| LinkTier { links: times(l.links), ..*l }).collect(),
                ..one
            });
        }
        let gpus = spec.gpus.max(1);
        let gpn = spec.gpus_per_node.max(1);
        let planes = spec.planes.max(1) as u64;
        let radix = spec.switch_radix.max(2);
        let half = radix / 2;
        let (rails, tiers) = match spec.kind {
            FabricKind::SingleSwitch => return None,
            FabricKind::FatTree => (1, spec.tiers.clamp(1, 3)),
            FabricKind::RailOptimized => (gpn.min(gpus), spec.tiers.clamp(1, 3)),
        };
        // NICs on one rail of one plane: one per node (rail-optimised) or every GPU's.
        let endpoints = if rails > 1 { gpus.div_ceil(gpn) } else { gpus };
        let top_uplinks = ((half as f64 / spec.oversubscription.max(1.0)).ceil() as u64).clamp(1, half);
        let copies = rails * planes;
        let tier = |tier: u32, per_copy: u64, down: u64, up: u64| SwitchTier {
            tier,
            switches: per_copy * copies,
            ports_down: down * copies,
            ports_up: up * copies,
        };
        let mut switch_tiers = Vec::new();
        let mut link_tiers = vec![LinkTier { tier: 1, links: endpoints * copies }];
        match tiers {
            1 => switch_tiers.push(tier(1, endpoints.div_ceil(radix), endpoints, 0)),
            2 => {
                let leaves = endpoints.div_ceil(half);
                let up = leaves * top_uplinks;
                switch_tiers.push(tier(1, leaves, endpoints, up));
                switch_tiers.push(tier(2, up.div_ceil(radix), up, 0));
                link_tiers.push(LinkTier { tier: 2, links: up * copies });
            }
            _ => {
                let leaves = endpoints.div_ceil(half);
                let per_leaf = ((half as f64 / spec.leaf_oversubscription.max(1.0)).ceil() as u64).clamp(1, half);
                let leaf_up = leaves * per_leaf;
                // A pod holds up to `half` leaves; its spines take every uplink of its
                // leaves on their lower half.
                let pods = leaves.div_ceil(half);
                let spines: u64 = (0..pods).map(|p| (leaves - p * half).min(half) * per_leaf).map(|l| l.div_ceil(half)).sum();
                let spine_up = spines * top_uplinks;
                switch_tiers.push(tier(1, leaves, endpoints, leaf_up));
                switch_tiers.push(tier(2, spines, leaf_up, spine_up));
                switch_tiers.push(tier(3, spine_up.div_ceil(radix), spine_up, 0));
                link_tiers.push(LinkTier { tier: 2, links: leaf_up * copies });
                link_tiers.push(LinkTier { tier: 3, links: spine_up * copies });
            }
        }
        Some(Inventory { rails, planes, nic_ports: gpus * planes, switch_tiers, link_tiers })
    }

    /// Every switch of every tier.
    pub fn switches(&self) -> u64 {
        self.switch_tiers.iter().map(|t| t.switches).sum()
    }

    /// Every link of every tier.
    pub fn links(&self) -> u64 {
        self.link_tiers.iter().map(|t| t.links).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FabricKind, gpus: u64, tiers: u32, radix: u64) -> FabricSpec {
        FabricSpec { kind, switch_radix: radix, ..FabricSpec::hgx_h100(gpus, tiers, 1.0) }
    }

    /// A full k-ary fat tree: k³/4 hosts, k²/2 edge and aggregation switches, k²/4 core
    /// switches, k³/4 links per tier (Al-Fares et al., "A Scalable, Commodity Data
    /// Center Network Architecture", SIGCOMM 2008, §3).
    #[test]
    fn k_ary_fat_tree_counts() {
        for k in [4u64, 16, 48, 64] {
            let inv = Inventory::of(&spec(FabricKind::FatTree, k * k * k / 4, 3, k)).unwrap();
            let counts: Vec<u64> = inv.switch_tiers.iter().map(|t| t.switches).collect();
            assert_eq!(counts, vec![k * k / 2, k * k / 2, k * k / 4], "k = {k}");
            assert!(inv.link_tiers.iter().all(|l| l.links == k * k * k / 4));
        }
    }

    /// Leaves oversubscribed 2:1 have half the uplinks, so a pod needs half the spines
    /// and the core half the ports.
    #[test]
    fn oversubscribed_leaves_halve_the_spines() {
        let k = 64;
        let full = Inventory::of(&spec(FabricKind::FatTree, k * k * k / 4, 3, k)).unwrap();
        let half = Inventory::of(&FabricSpec { leaf_oversubscription: 2.0, ..spec(FabricKind::FatTree, k * k * k / 4, 3, k) }).unwrap();
        let counts = |i: &Inventory| i.switch_tiers.iter().map(|t| t.switches).collect::<Vec<u64>>();
        assert_eq!(counts(&half), vec![k * k / 2, k * k / 4, k * k / 8]);
        assert_eq!(counts(&full), vec![k * k / 2, k * k / 2, k * k / 4]);
    }

    /// Every used port has a link at its other end, and no switch has more used ports
    /// than it has.
    #[test]
    fn ports_match_links_and_fit_the_switches() {
        for kind in [FabricKind::FatTree, FabricKind::RailOptimized] {
            for (gpus, tiers) in [(8, 1), (64, 1), (512, 2), (1000, 2), (4096, 3), (24576, 3), (131072, 3)] {
                for oversub in [1.0, 3.0] {
                    let s = FabricSpec { kind, oversubscription: oversub, planes: 2, ..FabricSpec::hgx_h100(gpus, tiers, 1.0) };
                    let inv = Inventory::of(&s).unwrap();
                    for (i, t) in inv.switch_tiers.iter().enumerate() {
                        assert!(t.ports_down + t.ports_up <= t.switches * s.switch_radix, "{kind:?} {gpus} {t:?}");
                        assert_eq!(t.ports_down, inv.link_tiers[i].links);
                        if let Some(above) = inv.link_tiers.get(i + 1) {
                            assert_eq!(t.ports_up, above.links);
                        }
                    }
                    assert_eq!(inv.link_tiers[0].links, if kind == FabricKind::FatTree { gpus * 2 } else { inv.rails * 2 * gpus.div_ceil(8) });
                }
            }
        }
    }

    #[test]
    fn a_single_switch_has_no_parts() {
        assert!(Inventory::of(&FabricSpec { kind: FabricKind::SingleSwitch, ..FabricSpec::hgx_h100(64, 1, 1.0) }).is_none());
    }
}
