//! The bill of materials of one cluster.
//!
//! 1. `wanka-net`'s [`Inventory`] counts the switches of each tier and the links between
//!    tiers, as they are bought (ports packed into whole switches).
//! 2. The catalog's parts fill each role: the server that holds the GPU, the NIC, the
//!    switch whose ports at the link speed are `cluster.switch_radix` (or the ones the
//!    file names), each speaking the transport's protocol.
//! 3. A floor plan (servers per rack, racks per row) gives each tier's longest cable run;
//!    the cheapest medium that reaches it (copper, then multimode, then single-mode
//!    fibre) sets the optics at both ends and the fibre.
//! 4. Capex and power are the parts' prices and power summed; facility power is IT
//!    power times the PUE.

use crate::catalog::parts::{self, LinkPart, Medium, NicPart, Protocol, ServerPart, SwitchPart};
use crate::error::{Error, Result};
use crate::scenario::{ClusterConfig, Routing};
use serde::Serialize;
use wanka_net::{FabricKind, Inventory};

/// Width of a rack: the standard 600 mm (a design assumption).
pub const RACK_WIDTH_M: f64 = 0.6;
/// From one row of racks to the next: a 1.2 m deep rack and a 1.2 m aisle (a design
/// assumption; hot/cold aisles run 1.2–1.8 m).
pub const ROW_PITCH_M: f64 = 2.4;
/// What a run between racks adds to its floor distance: up into the overhead tray and
/// down again at both ends, with service loops (a design assumption).
pub const RISE_AND_SLACK_M: f64 = 4.0;
/// A cable inside one rack (a design assumption).
pub const IN_RACK_M: f64 = 2.0;
/// Rack units a network rack gives to switches (42U less patch panels and PDUs).
pub const NETWORK_RACK_UNITS: u64 = 40;

/// One line of the bill: a part, how many, what they cost and draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub part: String,
    pub name: String,
    pub count: u64,
    pub unit_price_usd: f64,
    pub price_usd: f64,
    pub unit_power_w: f64,
    pub power_w: f64,
}

/// The switches of one tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchTierBom {
    /// 1 = leaf, 2 = spine, 3 = core.
    pub tier: u32,
    pub role: &'static str,
    /// Ports in use toward the tier below and the tier above.
    pub ports_down: u64,
    pub ports_up: u64,
    pub switches: Line,
}

/// The links between one tier and the one below.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkTierBom {
    pub tier: u32,
    /// "NIC–leaf", "leaf–spine" or "spine–core".
    pub between: &'static str,
    pub links: u64,
    pub link_gbps: f64,
    pub medium: Medium,
    /// Racks whose GPUs one switch of this tier reaches: what its cables span.
    pub span_racks: u64,
    /// Longest and mean cable run, metres (the floor plan's estimate).
    pub longest_m: f64,
    pub mean_m: f64,
    /// Copper: the cables. Fibre: the modules at the lower end (NIC or lower switch).
    pub lower: Line,
    /// Fibre: the modules at the upper switch.
    pub upper: Option<Line>,
    /// Fibre: the trunks.
    pub fiber: Option<Line>,
}

/// Racks on the floor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Racks {
    pub servers_per_rack: u64,
    pub gpu_racks: u64,
    pub network_racks: u64,
    pub racks_per_row: u64,
    pub rows: u64,
}

/// What the cluster draws, watts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Power {
    /// The GPUs alone (their TDP): part of `servers_w`.
    pub gpus_w: f64,
    /// The servers at full load, their GPUs included.
    pub servers_w: f64,
    pub nics_w: f64,
    pub switches_w: f64,
    /// Optical modules and active cables.
    pub optics_w: f64,
    /// Everything: servers, NICs, switches, optics.
    pub it_w: f64,
    pub pue: f64,
    /// IT power times the PUE: what the site must supply.
    pub facility_w: f64,
}

/// What the cluster costs to buy, USD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capex {
    pub servers_usd: f64,
    pub nics_usd: f64,
    pub switches_usd: f64,
    /// Optical modules and copper cables.
    pub optics_usd: f64,
    pub fiber_usd: f64,
    /// NICs, switches, optics and fibre.
    pub network_usd: f64,
    pub total_usd: f64,
    /// Network over total.
    pub network_share: f64,
    pub per_gpu_usd: f64,
}

/// The bill of materials of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bom {
    pub gpus: u64,
    pub gpu: String,
    pub fabric: FabricKind,
    pub tiers: u32,
    pub planes: u32,
    pub protocol: Protocol,
    pub servers: Line,
    /// NVLink switch trays of rack-scale systems (in the systems' price and power).
    pub nvlink_switch_trays: u64,
    pub nics: Line,
    pub switch_tiers: Vec<SwitchTierBom>,
    pub link_tiers: Vec<LinkTierBom>,
    pub racks: Racks,
    pub power: Power,
    pub capex: Capex,
    /// What the bill took for granted, in words.
    pub assumptions: Vec<String>,
}

impl Bom {
    /// Every switch of every tier.
    pub fn switches(&self) -> u64 {
        self.switch_tiers.iter().map(|t| t.switches.count).sum()
    }
}

/// The bill of materials of `c`.
pub fn bom(c: &ClusterConfig) -> Result<Bom> {
    let catalog = parts::parts();
    let mut assumptions = Vec::new();
    let protocol = match c.transport {
        Some(t) => t.protocol(),
        None => {
            assumptions.push("cluster.transport not set: InfiniBand parts, as NVIDIA's reference designs".to_string());
            Protocol::Infiniband
        }
    };
    let price = |id: &str, catalog_usd: f64| c.parts.prices.get(id).copied().unwrap_or(catalog_usd);
    let line = |id: &str, name: &str, count: u64, unit_price: f64, unit_power: f64| {
        let unit_price_usd = price(id, unit_price);
        Line {
            part: id.to_string(),
            name: name.to_string(),
            count,
            unit_price_usd,
            price_usd: unit_price_usd * count as f64,
            unit_power_w: unit_power,
            power_w: unit_power * count as f64,
        }
    };

    // --- Servers and racks --------------------------------------------------------
    let server = pick_server(c)?;
    let systems = c.gpus.div_ceil(server.gpus);
    if c.gpus % server.gpus != 0 {
        assumptions.push(format!("{} GPUs fill {systems} {} systems of {}; the last is partly empty", c.gpus, server.id, server.gpus));
    }
    let servers = line(&server.id, &server.name, systems, server.price_usd, server.power_w);
    let per_rack = c.parts.servers_per_rack.unwrap_or(server.per_rack);
    let gpus_per_rack = server.gpus * per_rack;
    let gpu_racks = systems.div_ceil(per_rack);

    // --- NICs -----------------------------------------------------------------------
    let nic = pick_nic(c, protocol)?;
    let nics = if server.nics_included {
        assumptions.push(format!("{} ships with its NICs: counted, at no extra price or power", server.id));
        Line { unit_price_usd: 0.0, price_usd: 0.0, unit_power_w: 0.0, power_w: 0.0, ..line(&nic.id, &nic.name, c.gpus, 0.0, 0.0) }
    } else {
        line(&nic.id, &nic.name, c.gpus, nic.price_usd, nic.power_w)
    };

    // --- Switches -------------------------------------------------------------------
    let spec = crate::parallel::fabric_spec(c);
    let Some(inventory) = Inventory::of(&spec) else {
        return Err(Error::invalid("cluster.fabric", "\"single-switch\"", "an ideal crossbar has no parts to count; a bill of materials needs \"rail-optimized\" or \"fat-tree\""));
    };
    let link_gbps = c.nic_gbps / c.planes as f64;
    let switch = pick_switch(c, protocol, link_gbps)?;
    const ROLES: [&str; 3] = ["leaf", "spine", "core"];
    let switch_tiers: Vec<SwitchTierBom> = inventory
        .switch_tiers
        .iter()
        .map(|t| SwitchTierBom {
            tier: t.tier,
            role: ROLES[(t.tier - 1) as usize],
            ports_down: t.ports_down,
            ports_up: t.ports_up,
            switches: line(&switch.id, &switch.name, t.switches, switch.price_usd, switch.power_w),
        })
        .collect();
    let switch_units: u64 = switch_tiers.iter().map(|t| t.switches.count * switch.rack_units).sum();

    // --- Links, optics, fibre -------------------------------------------------------
    let racks_per_row = c.parts.racks_per_row;
    let cage_links = switch.ports_at(link_gbps) / switch.cages;
    let mut link_tiers = Vec::new();
    for (i, l) in inventory.link_tiers.iter().enumerate() {
        let top = l.tier == c.tiers;
        // A switch reaches no further than its site.
        let joined = c.sites.map_or(c.gpus, |s| c.gpus / s.count.max(1));
        let reach = wanka_net::fabric::tier_reach_gpus(c.fabric, l.tier, top, c.switch_radix, c.gpus_per_node).min(joined);
        let span_racks = reach.div_ceil(gpus_per_rack).max(1);
        let (longest_m, mean_m) = cable_run_m(span_racks, racks_per_row);
        // Ports at each end: the lower end is a NIC (tier 1) or the tier below's uplinks.
        let lower_ports = if l.tier == 1 { l.links } else { inventory.switch_tiers[i - 1].ports_up };
        let upper_ports = inventory.switch_tiers[i].ports_down;
        let chosen = [Medium::Copper, Medium::Multimode, Medium::Singlemode].into_iter().find_map(|medium| {
            let lower_links = if l.tier == 1 { 1 } else { cage_links };
            let lower = pick_link(medium, link_gbps, lower_links, longest_m)?;
            if medium == Medium::Copper {
                return Some((medium, lower, None));
            }
            let upper = pick_link(medium, link_gbps, cage_links, longest_m)?;
            Some((medium, lower, Some(upper)))
        });
        let Some((medium, lower_part, upper_part)) = chosen else {
            return Err(Error::invalid(
                "cluster.nic_gbps",
                c.nic_gbps,
                format!(
                    "no catalog cable or optic carries {link_gbps} Gb/s links {longest_m:.0} m ({} links of the {} tier); catalog: {}",
                    l.links,
                    ROLES[(l.tier - 1) as usize],
                    catalog.link.iter().map(|p| format!("{} ({} Gb/s, {} m)", p.id, p.link_gbps, p.reach_m)).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let (lower, upper, fiber) = match upper_part {
            None => (line(&lower_part.id, &lower_part.name, l.links.div_ceil(lower_part.links), lower_part.price_usd, lower_part.power_w), None, None),
            Some(up) => {
                let fiber = catalog.fiber.iter().find(|f| f.medium == medium).map(|f| {
                    let unit = f.price_usd_per_link + f.price_usd_per_m * mean_m;
                    line(&f.id, &f.name, l.links, unit, 0.0)
                });
                (
                    line(&lower_part.id, &lower_part.name, lower_ports.div_ceil(lower_part.links), lower_part.price_usd, lower_part.power_w),
                    Some(line(&up.id, &up.name, upper_ports.div_ceil(up.links), up.price_usd, up.power_w)),
                    fiber,
                )
            }
        };
        link_tiers.push(LinkTierBom {
            tier: l.tier,
            between: ["NIC–leaf", "leaf–spine", "spine–core"][(l.tier - 1) as usize],
            links: l.links,
            link_gbps,
            medium,
            span_racks,
            longest_m,
            mean_m,
            lower,
            upper,
            fiber,
        });
    }

    // --- Totals -------------------------------------------------------------------------
    if let Some(sites) = c.sites {
        assumptions.push(format!("{} sites: each site's fabric is counted; the links between them ({} Gb/s each) and their optics are not", sites.count, sites.gbps));
    }
    let network_racks = switch_units.div_ceil(NETWORK_RACK_UNITS);
    let rows = (gpu_racks + network_racks).div_ceil(racks_per_row);
    let optics_lines = link_tiers.iter().flat_map(|t| std::iter::once(&t.lower).chain(t.upper.as_ref()));
    let (optics_usd, optics_w) = optics_lines.fold((0.0, 0.0), |(p, w), l| (p + l.price_usd, w + l.power_w));
    let fiber_usd: f64 = link_tiers.iter().filter_map(|t| t.fiber.as_ref()).map(|f| f.price_usd).sum();
    let switches_usd: f64 = switch_tiers.iter().map(|t| t.switches.price_usd).sum();
    let switches_w: f64 = switch_tiers.iter().map(|t| t.switches.power_w).sum();
    let network_usd = nics.price_usd + switches_usd + optics_usd + fiber_usd;
    let total_usd = servers.price_usd + network_usd;
    let it_w = servers.power_w + nics.power_w + switches_w + optics_w;
    Ok(Bom {
        gpus: c.gpus,
        gpu: c.gpu.id.clone(),
        fabric: c.fabric,
        tiers: c.tiers,
        planes: c.planes,
        protocol,
        nvlink_switch_trays: systems * server.nvlink_switch_trays,
        power: Power {
            gpus_w: c.gpus as f64 * c.gpu.tdp_w,
            servers_w: servers.power_w,
            nics_w: nics.power_w,
            switches_w,
            optics_w,
            it_w,
            pue: c.pue,
            facility_w: it_w * c.pue,
        },
        capex: Capex {
            servers_usd: servers.price_usd,
            nics_usd: nics.price_usd,
            switches_usd,
            optics_usd,
            fiber_usd,
            network_usd,
            total_usd,
            network_share: if total_usd > 0.0 { network_usd / total_usd } else { 0.0 },
            per_gpu_usd: total_usd / c.gpus as f64,
        },
        servers,
        nics,
        switch_tiers,
        link_tiers,
        racks: Racks { servers_per_rack: per_rack, gpu_racks, network_racks, racks_per_row, rows },
        assumptions,
    })
}

/// Longest and mean cable run from a switch at the middle of `racks` racks laid out in
/// rows of `racks_per_row` (Manhattan distance along the rows and across them, plus the
/// rise to the overhead tray and back). One rack: an in-rack cable.
pub fn cable_run_m(racks: u64, racks_per_row: u64) -> (f64, f64) {
    if racks <= 1 {
        return (IN_RACK_M, IN_RACK_M);
    }
    // From the first rack (or row) to the last: one pitch fewer than racks (or rows).
    let along = (racks.min(racks_per_row) - 1) as f64 * RACK_WIDTH_M;
    let across = (racks.div_ceil(racks_per_row) - 1) as f64 * ROW_PITCH_M;
    // From the middle the farthest rack is half the extent away on each axis; a rack
    // placed uniformly at random, a quarter on average.
    ((along + across) / 2.0 + RISE_AND_SLACK_M, (along + across) / 4.0 + RISE_AND_SLACK_M)
}

/// The system that holds the cluster's GPU: the one the file names, else the first in
/// the catalog.
fn pick_server(c: &ClusterConfig) -> Result<&'static ServerPart> {
    if let Some(s) = c.parts.server {
        return Ok(s);
    }
    let catalog = parts::parts();
    catalog.server.iter().find(|s| s.gpu == c.gpu.id).ok_or_else(|| {
        Error::invalid(
            "cluster.gpu",
            format!("{:?}", c.gpu.id),
            format!(
                "no catalog server holds it, so a bill of materials cannot be made; servers: {}",
                catalog.server.iter().map(|s| format!("{} ({})", s.id, s.gpu)).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// The NIC: the one the file names, else the first in the catalog that speaks the
/// protocol at `cluster.nic_gbps`.
fn pick_nic(c: &ClusterConfig, protocol: Protocol) -> Result<&'static NicPart> {
    if let Some(n) = c.parts.nic {
        if n.port_gbps < c.nic_gbps {
            return Err(Error::invalid("cluster.nic", format!("{:?}", n.id), format!("its port runs at {} Gb/s, below cluster.nic_gbps = {}", n.port_gbps, c.nic_gbps)));
        }
        return Ok(n);
    }
    let catalog = parts::parts();
    catalog.nic.iter().find(|n| n.protocols.contains(&protocol) && n.port_gbps == c.nic_gbps).ok_or_else(|| {
        Error::invalid(
            "cluster.nic_gbps",
            c.nic_gbps,
            format!(
                "no catalog NIC speaks {} at {} Gb/s; NICs: {}",
                protocol.name(),
                c.nic_gbps,
                catalog.nic.iter().map(|n| format!("{} ({} Gb/s, {})", n.id, n.port_gbps, n.protocols.iter().map(|p| p.name()).collect::<Vec<_>>().join("/"))).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// The switch: the one the file names, else the first in the catalog that speaks the
/// protocol, routes as `cluster.routing` asks and has `cluster.switch_radix` ports at
/// the link speed.
fn pick_switch(c: &ClusterConfig, protocol: Protocol, link_gbps: f64) -> Result<&'static SwitchPart> {
    let needs_adaptive = c.routing != Routing::Ecmp;
    if let Some(s) = c.parts.switch {
        if needs_adaptive && !s.adaptive_routing {
            return Err(Error::invalid("cluster.switch", format!("{:?}", s.id), "hashes each flow onto one path; cluster.routing = adaptive or spray needs a switch that routes per packet"));
        }
        return Ok(s);
    }
    let catalog = parts::parts();
    catalog
        .switch
        .iter()
        .find(|s| s.protocols.contains(&protocol) && (!needs_adaptive || s.adaptive_routing) && s.ports_at(link_gbps) == c.switch_radix)
        .ok_or_else(|| {
            Error::invalid(
                "cluster.switch_radix",
                c.switch_radix,
                format!(
                    "no catalog {} switch{} has {} ports at {link_gbps} Gb/s; name one with cluster.switch (it sets the radix): {}",
                    protocol.name(),
                    if needs_adaptive { " with per-packet routing" } else { "" },
                    c.switch_radix,
                    catalog
                        .switch
                        .iter()
                        .filter(|s| s.protocols.contains(&protocol) && s.ports_at(link_gbps) > 0)
                        .map(|s| format!("{} ({} ports)", s.id, s.ports_at(link_gbps)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

/// The part for one end of a link: `links` links per module (one per copper cable), the
/// medium, reaching `run_m`; the shortest-reach one that does (the cheapest class).
fn pick_link(medium: Medium, link_gbps: f64, links: u64, run_m: f64) -> Option<&'static LinkPart> {
    let fits = |p: &&LinkPart| p.medium == medium && p.link_gbps == link_gbps && p.reach_m >= run_m;
    let candidates = parts::parts().link.iter().filter(fits);
    let exact = candidates.clone().filter(|p| p.links == links).min_by(|a, b| a.reach_m.total_cmp(&b.reach_m));
    exact.or_else(|| candidates.filter(|p| p.links == 1).min_by(|a, b| a.reach_m.total_cmp(&b.reach_m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cluster(text: &str) -> ClusterConfig {
        crate::scenario::parse_cluster(text, Path::new("t.toml"), &[]).unwrap().1
    }

    /// NVIDIA, "NVIDIA DGX SuperPOD: Next Generation Scalable Infrastructure for AI
    /// Leadership, Reference Architecture Featuring NVIDIA DGX B200" (RA-11334-001),
    /// "DGX SuperPOD Architecture", table "Larger DGX SuperPOD component counts": per
    /// number of scalable units (32 DGX B200 each), the InfiniBand switches (leaf, spine,
    /// core) and cables (node–leaf, leaf–spine, spine–core) of the compute fabric.
    /// Two tiers up to 8 SUs, three from 16. wanka's bill must count exactly these.
    #[test]
    fn dgx_b200_superpod_counts_match_nvidia() {
        #[rustfmt::skip]
        let table: [(u64, u64, u64, [u64; 3], [u64; 3]); 6] = [
            // SUs, nodes, GPUs, [leaf, spine, core], [node–leaf, leaf–spine, spine–core]
            (2, 64, 512, [16, 8, 0], [512, 512, 0]),
            (4, 128, 1024, [32, 16, 0], [1024, 1024, 0]),
            (8, 256, 2048, [64, 32, 0], [2048, 2048, 0]),
            (16, 512, 4096, [128, 128, 64], [4096, 4096, 4096]),
            (32, 1024, 8192, [256, 256, 128], [8192, 8192, 8192]),
            (64, 2048, 16384, [512, 512, 256], [16384, 16384, 16384]),
        ];
        for (sus, nodes, gpus, switches, cables) in table {
            let tiers = if sus <= 8 { 2 } else { 3 };
            let c = cluster(&format!("[cluster]\ngpu = \"b200\"\ngpus = {gpus}\nserver = \"dgx-b200\"\ntransport = \"infiniband\"\ntiers = {tiers}\n"));
            let b = bom(&c).unwrap();
            assert_eq!(b.servers.count, nodes, "{sus} SUs");
            assert_eq!(b.switch_tiers.len() as u32, tiers);
            let got: Vec<u64> = (0..3).map(|i| b.switch_tiers.get(i).map_or(0, |t| t.switches.count)).collect();
            assert_eq!(got, switches, "{sus} SUs: leaf, spine, core switches");
            let got: Vec<u64> = (0..3).map(|i| b.link_tiers.get(i).map_or(0, |t| t.links)).collect();
            assert_eq!(got, cables, "{sus} SUs: node–leaf, leaf–spine, spine–core cables");
            assert!(b.switch_tiers.iter().all(|t| t.switches.part == "quantum-2-qm9700"));
        }
    }

    /// NVIDIA, DGX SuperPOD reference architecture featuring DGX B300 (busbar racks,
    /// docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300,
    /// "DGX SuperPOD Architecture", Table 3 "Larger DGX SuperPOD component counts"): 1 to
    /// 16 scalable units of 64 DGX B300, two tiers throughout, each rail its own leaves
    /// and spines (16 SUs: 256 leaves, 128 spines). wanka's per-rail Clos gives exactly
    /// these counts with its default tier count from 2 SUs on; one SU (64 nodes) fits
    /// under one leaf per rail, where NVIDIA builds the spines from the start for growth.
    #[test]
    fn dgx_b300_superpod_counts_match_nvidia() {
        #[rustfmt::skip]
        let table: [(u64, u64, u64, [u64; 2], [u64; 2]); 5] = [
            // SUs, nodes, GPUs, [leaf, spine], [node–leaf, leaf–spine]
            (1, 64, 512, [16, 8], [512, 512]),
            (2, 128, 1024, [32, 16], [1024, 1024]),
            (4, 256, 2048, [64, 32], [2048, 2048]),
            (8, 512, 4096, [128, 64], [4096, 4096]),
            (16, 1024, 8192, [256, 128], [8192, 8192]),
        ];
        for (sus, nodes, gpus, switches, cables) in table {
            let tiers = if sus == 1 { "tiers = 2\n" } else { "" };
            let c = cluster(&format!("[cluster]\ngpu = \"b300\"\ngpus = {gpus}\nnic_gbps = 400\nserver = \"dgx-b300\"\ntransport = \"infiniband\"\n{tiers}"));
            let b = bom(&c).unwrap();
            assert_eq!((b.servers.count, b.tiers), (nodes, 2), "{sus} SUs");
            let got: Vec<u64> = b.switch_tiers.iter().map(|t| t.switches.count).collect();
            assert_eq!(got, switches, "{sus} SUs: leaf, spine switches");
            let got: Vec<u64> = b.link_tiers.iter().map(|t| t.links).collect();
            assert_eq!(got, cables, "{sus} SUs: node–leaf, leaf–spine cables");
        }
    }

    /// Optics: every optical link has a module at each end; twin-port modules carry two
    /// of the switch's links; copper only inside a rack; longer runs than a medium
    /// reaches move to the next medium.
    #[test]
    fn optics_follow_the_runs() {
        let c = cluster("[cluster]\ngpu = \"h100-sxm\"\ngpus = 16384\ntransport = \"infiniband\"\ntiers = 3\n");
        let b = bom(&c).unwrap();
        let nic_leaf = &b.link_tiers[0];
        assert_eq!(nic_leaf.lower.count, 16384, "one NIC-side module per NIC");
        assert_eq!(nic_leaf.upper.as_ref().unwrap().count, 16384 / 2, "twin-port modules on the leaves");
        for t in &b.link_tiers {
            assert_ne!(t.medium, Medium::Copper);
            let reach = parts::parts().link.iter().find(|p| p.id == t.lower.part).unwrap().reach_m;
            assert!(t.longest_m <= reach, "{t:?}");
        }
        // Beyond multimode's 50 m (the top tier of 131,072 GPUs spans the whole hall):
        // single-mode.
        let big = bom(&cluster("[cluster]\ngpu = \"h100-sxm\"\ngpus = 131072\ntransport = \"infiniband\"\ntiers = 3\n")).unwrap();
        assert!(big.link_tiers[2].longest_m > 50.0 && big.link_tiers[2].medium == Medium::Singlemode, "{:?}", big.link_tiers[2]);
        assert_eq!(big.link_tiers[0].medium, Medium::Multimode);
        // A fat tree whose leaf serves one rack's GPUs: copper to the top of the rack.
        let tor = cluster("[cluster]\ngpu = \"h100-sxm\"\ngpus = 1024\nfabric = \"fat-tree\"\ntransport = \"infiniband\"\nswitch_radix = 64\nservers_per_rack = 4\n");
        let b = bom(&tor).unwrap();
        assert_eq!(b.link_tiers[0].span_racks, 1);
        assert_eq!(b.link_tiers[0].medium, Medium::Copper);
        assert!(b.link_tiers[0].upper.is_none() && b.link_tiers[0].fiber.is_none());
    }

    #[test]
    fn totals_add_up_and_prices_override() {
        let text = "[cluster]\ngpu = \"h100-sxm\"\ngpus = 2048\ntransport = \"infiniband\"\n";
        let b = bom(&cluster(text)).unwrap();
        let c = &b.capex;
        assert!((c.total_usd - (c.servers_usd + c.nics_usd + c.switches_usd + c.optics_usd + c.fiber_usd)).abs() < 1e-6);
        assert!(c.network_share > 0.0 && c.network_share < 0.5, "{}", c.network_share);
        assert!((b.power.facility_w / b.power.it_w - 1.2).abs() < 1e-12);
        assert!(b.power.gpus_w < b.power.servers_w);
        let cheap = bom(&cluster(&format!("{text}[cluster.prices]\ndgx-h100 = 100000\n"))).unwrap();
        assert_eq!(cheap.servers.unit_price_usd, 100000.0);
        assert!((c.servers_usd - cheap.capex.servers_usd - 256.0 * 250000.0).abs() < 1e-3);
    }

    #[test]
    fn refusals_name_the_key() {
        let e = |text: &str| bom(&cluster(text)).unwrap_err().to_string();
        let single = e("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nfabric = \"single-switch\"\n");
        assert!(single.starts_with("cluster.fabric"), "{single}");
        let radix = e("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nswitch_radix = 48\n");
        assert!(radix.starts_with("cluster.switch_radix = 48") && radix.contains("quantum-2-qm9700 (64 ports)"), "{radix}");
        let nic = e("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nnic_gbps = 100\n");
        assert!(nic.starts_with("cluster.nic_gbps = 100"), "{nic}");
        // Parts the file names are checked as it is read.
        let parse = |text: &str| crate::scenario::parse_cluster(text, Path::new("t.toml"), &[]).unwrap_err().to_string();
        let nic = parse("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\ntransport = \"spectrum-x\"\nnic = \"connectx-7-400g\"\n");
        assert!(nic.starts_with("cluster.nic = \"connectx-7-400g\"") && nic.contains("spectrum-x"), "{nic}");
        let switch = parse("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nswitch = \"quantum-2-qm9700\"\nswitch_radix = 32\n");
        assert!(switch.starts_with("cluster.switch_radix = 32") && switch.contains("64 ports"), "{switch}");
        let server = parse("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nserver = \"dgx-b200\"\n");
        assert!(server.starts_with("cluster.server = \"dgx-b200\""), "{server}");
        let hashing = e("[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\nrouting = \"spray\"\nswitch = \"arista-7060dx5-64s\"\n");
        assert!(hashing.starts_with("cluster.switch"), "{hashing}");
    }

    #[test]
    fn cable_runs_grow_with_the_span() {
        assert_eq!(cable_run_m(1, 16), (IN_RACK_M, IN_RACK_M));
        let (a, _) = cable_run_m(16, 16);
        let (b, _) = cable_run_m(160, 16);
        assert!(a < b && a < 50.0 && b > 15.0, "{a} {b}");
    }
}
