//! `[cluster]`: the GPUs, the scale-up domain, the scale-out fabric and its transport,
//! resolved from what the file says and the catalog's defaults.

use super::{at_most, defaults, positive, variability, MAX_INT};
use crate::catalog::{self, GpuSpec};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use wanka_net::FabricKind;

/// `[cluster]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClusterSection {
    gpu: Option<String>,
    gpus: Option<u64>,
    gpus_per_node: Option<u64>,
    nvlink_domain: Option<u64>,
    nic_gbps: Option<f64>,
    fabric: Option<FabricName>,
    tiers: Option<toml::Value>,
    switch_radix: Option<toml::Value>,
    oversubscription: Option<toml::Value>,
    transport: Option<Transport>,
    routing: Option<Routing>,
    ecmp_hash: Option<EcmpHash>,
    qps_per_connection: Option<u64>,
    planes: Option<u32>,
    pue: Option<f64>,
    server: Option<String>,
    nic: Option<String>,
    switch: Option<String>,
    servers_per_rack: Option<u64>,
    racks_per_row: Option<u64>,
    prices: Option<std::collections::BTreeMap<String, f64>>,
    sites: Option<toml::Value>,
    inter_site: Option<InterSiteSection>,
    pub(super) variability: Option<super::variability::VariabilitySection>,
}

/// `[cluster.inter_site]`: what joins the sites.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InterSiteSection {
    gbps: Option<f64>,
    km: Option<f64>,
    collectives: Option<SiteCollectives>,
}

/// How collectives cross between sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SiteCollectives {
    /// NCCL's ring (or tree) through the sites as through any tier.
    Ring,
    /// Reduce inside each site, exchange only shards between sites, spread them again.
    Hierarchical,
}

/// One-way time light takes through a kilometre of single-mode fibre: group index ~1.468
/// at 1310–1550 nm (Corning SMF-28 data sheet), so 1,000 m / (c / 1.468) = 4.9 µs.
pub const FIBER_S_PER_KM: f64 = 1.468e3 / 299_792_458.0;

/// Sites of equal size and what joins them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SitesConfig {
    pub count: u64,
    /// Each site's inter-site capacity, one direction, Gb/s.
    pub gbps: f64,
    /// Distance between the sites (fibre route), km.
    pub km: f64,
    /// Collectives across the sites run hierarchically.
    pub hierarchical: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum FabricName {
    RailOptimized,
    FatTree,
    SingleSwitch,
}

/// How flows pick among equal-cost paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    Ecmp,
    Adaptive,
    Spray,
}

/// How ECMP switches hash a flow onto one of their equal-cost uplinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EcmpHash {
    /// Each switch hashes the flow's 5-tuple with its own seed, as switches are
    /// configured to: the choices at successive tiers are independent.
    PerSwitch,
    /// Every switch shares one hash: a flow that collides at the leaf collides again at
    /// the spine (hash polarization; wanka's behaviour before per-switch hashing).
    Polarized,
}

impl From<Routing> for wanka_net::Routing {
    fn from(r: Routing) -> wanka_net::Routing {
        match r {
            Routing::Ecmp => wanka_net::Routing::Ecmp,
            Routing::Adaptive => wanka_net::Routing::Adaptive,
            Routing::Spray => wanka_net::Routing::Spray,
        }
    }
}


/// The transport the NICs and switches speak: what routing the fabric can do.
///
/// Leaving it out keeps every routing open (`cluster.routing` alone decides). Naming it
/// sets the routing it runs by default and refuses the routings it cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// InfiniBand: credit-based, lossless links; the subnet manager's static routes or
    /// NVIDIA Quantum adaptive routing, whose out-of-order packets ConnectX-5 and later
    /// NICs place without retransmitting (NVIDIA, "Adaptive Routing" in the MLNX_OFED
    /// documentation). Every routing; ECMP-like static routes by default.
    Infiniband,
    /// RoCEv2 on standard Ethernet switches (PFC-lossless, DCQCN or none): each switch
    /// hashes a flow's 5-tuple onto one path (ECMP). No spraying: packets of one QP
    /// taking several paths arrive out of order, and RoCE's go-back-N resends everything
    /// after a gap (selective-repeat RoCE measured 7× its throughput under multipath,
    /// Lu et al., "SACK-RoCE", IAEAC 2022). More QPs per connection are Meta's answer
    /// (Gangidi et al., SIGCOMM 2024: ECMP with QP scaling).
    Roce,
    /// NVIDIA Spectrum-X: per-packet adaptive routing in Spectrum-4 switches, packets
    /// put back in order by the BlueField-3 SuperNIC ("95% data throughput" on xAI's
    /// 100k-GPU Colossus against "60%" for standard Ethernet's flow collisions, NVIDIA,
    /// Oct 2024). Adaptive by default; spraying too.
    SpectrumX,
    /// Ultra Ethernet (UEC 1.0): packet spraying over every path with a transport that
    /// tolerates reordering. Spraying by default; adaptive too.
    Uec,
}

impl Transport {
    /// What its NICs and switches must speak.
    pub fn protocol(self) -> catalog::parts::Protocol {
        use catalog::parts::Protocol;
        match self {
            Transport::Infiniband => Protocol::Infiniband,
            Transport::Roce => Protocol::Ethernet,
            Transport::SpectrumX => Protocol::SpectrumX,
            Transport::Uec => Protocol::Uec,
        }
    }

    /// The routing a fabric of this transport runs when `cluster.routing` is left out.
    pub fn default_routing(self) -> Routing {
        match self {
            Transport::Infiniband | Transport::Roce => Routing::Ecmp,
            Transport::SpectrumX => Routing::Adaptive,
            Transport::Uec => Routing::Spray,
        }
    }

    /// Why this transport cannot run `routing`, if it cannot.
    pub fn refuses(self, routing: Routing) -> Option<&'static str> {
        match (self, routing) {
            (Transport::Roce, Routing::Spray) => Some(
                "RoCE on standard Ethernet switches keeps a flow on one path: sprayed packets arrive out of order and go-back-N resends them; use routing = \"ecmp\" (more cluster.qps_per_connection spread it), or transport = \"spectrum-x\" or \"uec\"",
            ),
            (Transport::Roce, Routing::Adaptive) => Some(
                "standard Ethernet switches hash each flow onto one path; per-packet adaptive routing needs transport = \"spectrum-x\" or \"infiniband\"",
            ),
            _ => None,
        }
    }
}

/// The parts a file names for its cluster (`None`: the bill of materials picks from the
/// catalog), the floor plan, and the prices it overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PartChoice {
    pub server: Option<&'static catalog::parts::ServerPart>,
    pub nic: Option<&'static catalog::parts::NicPart>,
    pub switch: Option<&'static catalog::parts::SwitchPart>,
    /// Servers per rack (`None`: the server's reference design).
    pub servers_per_rack: Option<u64>,
    /// Racks in one row of the data hall.
    pub racks_per_row: u64,
    /// Part id → price in USD, replacing the catalog's estimate.
    pub prices: std::collections::BTreeMap<String, f64>,
}

/// The resolved cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterConfig {
    pub gpu: &'static GpuSpec,
    pub gpus: u64,
    pub gpus_per_node: u64,
    pub nvlink_domain: u64,
    pub nic_gbps: f64,
    pub fabric: FabricKind,
    pub tiers: u32,
    pub switch_radix: u64,
    /// Downlink:uplink ratio at the top tier's uplinks (1 = non-blocking).
    pub oversubscription: f64,
    /// The same at the leaves' uplinks of a three-tier fabric.
    pub leaf_oversubscription: f64,
    /// What the NICs and switches speak (`None`: not said; every routing open).
    pub transport: Option<Transport>,
    pub routing: Routing,
    /// How ECMP switches hash flows (`routing = "ecmp"`).
    pub ecmp_hash: EcmpHash,
    /// Queue pairs per NCCL connection (NCCL_IB_QPS_PER_CONNECTION, default 1): each its
    /// own flow on the network, hashed on its own.
    pub qps_per_connection: u64,
    pub planes: u32,
    pub pue: f64,
    /// The parts it is built from, where the file names them (`wanka design bom`).
    pub parts: PartChoice,
    /// Several sites (buildings, campuses) and their links; `None`: one site.
    pub sites: Option<SitesConfig>,
    /// Stragglers: GPU speed spread, slow nodes, host pauses.
    pub variability: crate::variability::Variability,
}


/// Resolves `[cluster]`: every key checked, every default filled in.
pub(super) fn resolve_cluster(c: ClusterSection) -> Result<ClusterConfig> {
    let Some(gpu_id) = c.gpu.clone() else {
        return Err(Error::missing("cluster.gpu", "a catalog GPU id (`wanka catalog gpus`)"));
    };
    let gpu = catalog::gpu("cluster.gpu", &gpu_id)?;
    let gpus = match c.gpus {
        None => return Err(Error::missing("cluster.gpus", "the number of GPUs in the job")),
        Some(0) => return Err(Error::invalid("cluster.gpus", 0, "must be a positive integer")),
        Some(g) => at_most("cluster.gpus", g, MAX_INT)?,
    };
    let gpus_per_node = at_most("cluster.gpus_per_node", c.gpus_per_node.unwrap_or(gpu.nvlink_domain.min(8)), 1024)?;
    if gpus_per_node == 0 {
        return Err(Error::invalid("cluster.gpus_per_node", 0, "must be a positive integer"));
    }
    if gpus > gpus_per_node && gpus % gpus_per_node != 0 {
        return Err(Error::invalid("cluster.gpus", gpus, format!("must be a multiple of cluster.gpus_per_node = {gpus_per_node} (whole nodes)")));
    }
    let nvlink_domain = at_most("cluster.nvlink_domain", c.nvlink_domain.unwrap_or(gpu.nvlink_domain), 1 << 16)?;
    if nvlink_domain == 0 || nvlink_domain % gpus_per_node != 0 {
        return Err(Error::invalid(
            "cluster.nvlink_domain",
            nvlink_domain,
            format!("must be a positive multiple of cluster.gpus_per_node = {gpus_per_node} (8 for HGX, 72 for NVL72)"),
        ));
    }
    let nic_gbps = positive("cluster.nic_gbps", c.nic_gbps.unwrap_or(gpu.nic_gbps))?;
    let fabric = match c.fabric.unwrap_or(FabricName::RailOptimized) {
        FabricName::RailOptimized => FabricKind::RailOptimized,
        FabricName::FatTree => FabricKind::FatTree,
        FabricName::SingleSwitch => FabricKind::SingleSwitch,
    };
    let planes = at_most("cluster.planes", c.planes.unwrap_or(1) as u64, 64)? as u32;
    if planes == 0 {
        return Err(Error::invalid("cluster.planes", 0, "must be a positive integer"));
    }
    let parts = resolve_parts(&c, gpu, nic_gbps / planes as f64)?;
    let c_tiers = count_or_auto("cluster.tiers", c.tiers.as_ref(), "must be 1, 2, 3 or \"auto\" (the fewest that hold the GPUs)")?;
    let c_radix = count_or_auto("cluster.switch_radix", c.switch_radix.as_ref(), "must be an even number of ports, at least 4, or \"auto\" (cluster.switch's, else 64)")?;
    let part_radix = parts.switch.map(|sw| sw.ports_at(nic_gbps / planes as f64));
    let switch_radix = at_most("cluster.switch_radix", c_radix.or(part_radix).unwrap_or(defaults::SWITCH_RADIX), 1 << 12)?;
    if let (Some(sw), Some(r), Some(given)) = (parts.switch, part_radix, c_radix) {
        if r != given {
            return Err(Error::fixable(
                "cluster.switch_radix",
                given,
                format!("cluster.switch = {:?} has {r} ports at {} Gb/s per plane (leave switch_radix out to take them)", sw.id, nic_gbps / planes as f64),
                "cluster.switch_radix",
                r,
            ));
        }
    }
    if switch_radix < 4 || switch_radix % 2 != 0 {
        return Err(Error::invalid("cluster.switch_radix", switch_radix, "must be an even number of ports, at least 4"));
    }
    // Each site has its own fabric: the tiers are those one site's GPUs need.
    let sites = resolve_sites(&c, gpus, nvlink_domain)?;
    let fabric_gpus = sites.map_or(gpus, |s| gpus / s.count);
    let tiers = match c_tiers {
        Some(t) if (1..=3).contains(&t) => t as u32,
        Some(t) => return Err(Error::invalid("cluster.tiers", t, "must be 1, 2 or 3")),
        None => default_tiers(fabric, fabric_gpus, gpus_per_node, switch_radix),
    };
    let reach = wanka_net::Network::max_gpus(fabric, switch_radix, tiers, gpus_per_node);
    if fabric_gpus > reach {
        let site = if sites.is_some() { " per site" } else { "" };
        let expected = format!("a {tiers}-tier {fabric:?} fabric of {switch_radix}-port switches holds at most {reach} GPUs{site}; add a tier or raise cluster.switch_radix");
        // The fewest tiers that hold them, else the smallest switch that does at 3 tiers.
        if let Some(t) = (tiers + 1..=3).find(|&t| wanka_net::Network::max_gpus(fabric, switch_radix, t, gpus_per_node) >= fabric_gpus) {
            return Err(Error::fixable("cluster.gpus", gpus, expected, "cluster.tiers", t));
        }
        // Switch radices come in powers of two.
        let radix = (0..12).map(|i| switch_radix << i).take_while(|r| *r <= 1 << 12).find(|&r| wanka_net::Network::max_gpus(fabric, r, 3, gpus_per_node) >= fabric_gpus);
        return Err(match radix {
            Some(r) if tiers == 3 => Error::fixable("cluster.gpus", gpus, expected, "cluster.switch_radix", r),
            _ => Error::invalid("cluster.gpus", gpus, expected),
        });
    }
    let (leaf_oversubscription, oversubscription) = resolve_oversubscription(c.oversubscription.as_ref(), tiers)?;
    let pue = c.pue.unwrap_or(defaults::PUE);
    if !(pue.is_finite() && (1.0..=100.0).contains(&pue)) {
        return Err(Error::invalid("cluster.pue", pue, "must be a number >= 1 (facility power over IT power)"));
    }
    let routing = match (c.transport, c.routing) {
        (None, r) => r.unwrap_or(Routing::Ecmp),
        (Some(t), None) => t.default_routing(),
        (Some(t), Some(r)) => match t.refuses(r) {
            Some(why) => return Err(Error::fixable("cluster.routing", format!("{:?}", routing_name(r)), why, "cluster.routing", format!("{:?}", routing_name(t.default_routing())))),
            None => r,
        },
    };
    Ok(ClusterConfig {
        gpu,
        gpus,
        gpus_per_node,
        nvlink_domain,
        nic_gbps,
        fabric,
        tiers,
        switch_radix,
        oversubscription,
        leaf_oversubscription,
        transport: c.transport,
        routing,
        ecmp_hash: c.ecmp_hash.unwrap_or(EcmpHash::PerSwitch),
        qps_per_connection: match c.qps_per_connection {
            Some(0) => return Err(Error::invalid("cluster.qps_per_connection", 0, "must be a positive integer (NCCL's default is 1)")),
            Some(q) => at_most("cluster.qps_per_connection", q, 128)?,
            None => 1,
        },
        planes,
        pue,
        parts,
        sites,
        variability: variability::resolve(c.variability)?,
    })
}

/// `cluster.sites` (a count of equal sites, or `[[cluster.sites]]` tables with `gpus`)
/// and `[cluster.inter_site]`.
fn resolve_sites(c: &ClusterSection, gpus: u64, nvlink_domain: u64) -> Result<Option<SitesConfig>> {
    let count = match &c.sites {
        None => {
            if c.inter_site.is_some() {
                return Err(Error::invalid("cluster.inter_site", "{...}", "joins sites: set cluster.sites too (a count, or [[cluster.sites]] with gpus)"));
            }
            return Ok(None);
        }
        Some(toml::Value::Integer(n)) if *n >= 1 => *n as u64,
        Some(toml::Value::Array(list)) if !list.is_empty() => {
            let mut sizes = Vec::new();
            for (i, site) in list.iter().enumerate() {
                match site.as_table().and_then(|t| (t.len() == 1).then(|| t.get("gpus")).flatten()).and_then(toml::Value::as_integer) {
                    Some(g) if g > 0 => sizes.push(g as u64),
                    _ => return Err(Error::invalid(format!("cluster.sites[{i}]"), site, "must be a table with only gpus = a positive integer")),
                }
            }
            let total: u64 = sizes.iter().sum();
            if total != gpus {
                return Err(Error::invalid("cluster.sites", format!("{total} GPUs in all"), format!("the sites' gpus must add up to cluster.gpus = {gpus}")));
            }
            if sizes.iter().any(|&g| g != sizes[0]) {
                return Err(Error::invalid("cluster.sites", format!("{sizes:?}"), "sites of different sizes are not modelled yet: give each the same gpus"));
            }
            sizes.len() as u64
        }
        Some(other) => return Err(Error::invalid("cluster.sites", other, "a positive number of equal sites, or [[cluster.sites]] tables with gpus")),
    };
    let count = at_most("cluster.sites", count, 1024)?;
    if count == 1 {
        return Ok(None);
    }
    if gpus % count != 0 || (gpus / count) % nvlink_domain != 0 {
        return Err(Error::invalid(
            "cluster.sites",
            count,
            format!("must split cluster.gpus = {gpus} into equal sites of whole NVLink domains ({nvlink_domain} GPUs)"),
        ));
    }
    let Some(link) = &c.inter_site else {
        return Err(Error::missing("cluster.inter_site", "what joins the sites: gbps (each site's capacity to the others, one direction) and km"));
    };
    let gbps = match link.gbps {
        Some(g) if g.is_finite() && g > 0.0 => g,
        Some(g) => return Err(Error::invalid("cluster.inter_site.gbps", g, "must be a positive number (each site's capacity to the others, one direction, Gb/s)")),
        None => return Err(Error::missing("cluster.inter_site.gbps", "each site's capacity to the others, one direction, Gb/s")),
    };
    let km = match link.km.unwrap_or(0.0) {
        k if k.is_finite() && (0.0..=40_000.0).contains(&k) => k,
        k => return Err(Error::invalid("cluster.inter_site.km", k, "must be a distance in km between 0 and 40,000")),
    };
    let hierarchical = link.collectives == Some(SiteCollectives::Hierarchical);
    Ok(Some(SitesConfig { count, gbps, km, hierarchical }))
}

/// `cluster.oversubscription`: one ratio for the top tier's uplinks, or one per tier
/// boundary from the leaves up (`[leaf, spine]` with three tiers, `[leaf]` with two).
/// Returns (leaves' ratio with three tiers, top's ratio).
fn resolve_oversubscription(v: Option<&toml::Value>, tiers: u32) -> Result<(f64, f64)> {
    let ratio = |x: &toml::Value| -> Result<f64> {
        let r = match x {
            toml::Value::Integer(i) => *i as f64,
            toml::Value::Float(f) => *f,
            other => return Err(Error::invalid("cluster.oversubscription", other, "must be a number >= 1 (1 = non-blocking), or a list of one per tier boundary")),
        };
        if !(r.is_finite() && (1.0..=1e6).contains(&r)) {
            return Err(Error::invalid("cluster.oversubscription", r, "must be a number >= 1 (1 = non-blocking)"));
        }
        Ok(r)
    };
    match v {
        None => Ok((1.0, 1.0)),
        Some(toml::Value::Array(list)) => {
            let boundaries = tiers.saturating_sub(1) as usize;
            if list.len() != boundaries {
                return Err(Error::invalid(
                    "cluster.oversubscription",
                    toml::Value::Array(list.clone()),
                    format!("with {tiers} switch tier(s) give {boundaries} ratio(s), from the leaves' uplinks up (or one number for the top tier's)"),
                ));
            }
            let ratios = list.iter().map(ratio).collect::<Result<Vec<f64>>>()?;
            Ok(match ratios.as_slice() {
                [leaf, top] => (*leaf, *top),
                [top] => (1.0, *top),
                _ => (1.0, 1.0),
            })
        }
        Some(x) => Ok((1.0, ratio(x)?)),
    }
}

/// A count a file may give as a number or leave to wanka as `"auto"` (`None`).
fn count_or_auto(key: &str, v: Option<&toml::Value>, expected: &str) -> Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(toml::Value::String(s)) if s == "auto" => Ok(None),
        Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(other) => Err(Error::invalid(key, other, expected)),
    }
}

/// The parts `[cluster]` names, each checked against the GPU, the NIC speed and the
/// transport.
fn resolve_parts(c: &ClusterSection, gpu: &GpuSpec, link_gbps: f64) -> Result<PartChoice> {
    let catalog = catalog::parts();
    let protocol = c.transport.map(Transport::protocol);
    let server = match &c.server {
        None => None,
        Some(id) => {
            let p = catalog.server("cluster.server", id)?;
            if p.gpu != gpu.id {
                return Err(Error::invalid("cluster.server", format!("{id:?}"), format!("holds {} GPUs; cluster.gpu = {:?}", p.gpu, gpu.id)));
            }
            Some(p)
        }
    };
    let nic = match &c.nic {
        None => None,
        Some(id) => {
            let p = catalog.nic("cluster.nic", id)?;
            if let Some(want) = protocol.filter(|w| !p.protocols.contains(w)) {
                return Err(Error::invalid("cluster.nic", format!("{id:?}"), format!("does not speak {}, which cluster.transport needs", want.name())));
            }
            Some(p)
        }
    };
    let switch = match &c.switch {
        None => None,
        Some(id) => {
            let p = catalog.switch("cluster.switch", id)?;
            if let Some(want) = protocol.filter(|w| !p.protocols.contains(w)) {
                return Err(Error::invalid("cluster.switch", format!("{id:?}"), format!("does not speak {}, which cluster.transport needs", want.name())));
            }
            if p.ports_at(link_gbps) == 0 {
                return Err(Error::invalid(
                    "cluster.switch",
                    format!("{id:?}"),
                    format!("its {} Gb/s ports do not split into the {link_gbps} Gb/s links of cluster.nic_gbps per plane", p.port_gbps),
                ));
            }
            Some(p)
        }
    };
    let positive_count = |key: &str, v: Option<u64>| -> Result<Option<u64>> {
        match v {
            Some(0) => Err(Error::invalid(key, 0, "must be a positive integer")),
            Some(n) => at_most(key, n, MAX_INT).map(Some),
            None => Ok(None),
        }
    };
    let mut prices = std::collections::BTreeMap::new();
    for (id, usd) in c.prices.clone().unwrap_or_default() {
        let key = format!("cluster.prices.{id}");
        if !catalog.ids().any(|p| p == id) {
            return Err(Error::invalid(key, usd, format!("{id:?} is not a catalog part; valid: {}", catalog.ids().collect::<Vec<_>>().join(", "))));
        }
        if !(usd.is_finite() && usd >= 0.0) {
            return Err(Error::invalid(key, usd, "must be a price in USD, at least 0"));
        }
        prices.insert(id, usd);
    }
    Ok(PartChoice {
        server,
        nic,
        switch,
        servers_per_rack: positive_count("cluster.servers_per_rack", c.servers_per_rack)?,
        racks_per_row: positive_count("cluster.racks_per_row", c.racks_per_row)?.unwrap_or(defaults::RACKS_PER_ROW),
        prices,
    })
}

/// Fewest switch tiers whose reach holds every GPU.
fn default_tiers(fabric: FabricKind, gpus: u64, gpus_per_node: u64, radix: u64) -> u32 {
    if fabric == FabricKind::SingleSwitch {
        return 1;
    }
    (1..=3u32).find(|&t| wanka_net::fabric::tier_reach_gpus(fabric, t, true, radix, gpus_per_node) >= gpus).unwrap_or(3)
}


/// A routing as the file spells it.
fn routing_name(r: Routing) -> &'static str {
    match r {
        Routing::Ecmp => "ecmp",
        Routing::Adaptive => "adaptive",
        Routing::Spray => "spray",
    }
}
