//! The parts a cluster is built from, beyond its GPUs: servers (or racks) that hold the
//! GPUs, NICs, switches, optical modules and cables, with the datasheet figures a bill
//! of materials needs (ports, speeds, reach, power) and list prices. Kept in
//! `catalog/parts.toml`; every figure there cites its source, and every price is an
//! estimate with its basis, which a scenario can override (`[cluster.prices]`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const PARTS_TOML: &str = include_str!("../../catalog/parts.toml");

/// What a NIC or switch speaks: the transports of `cluster.transport` need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Infiniband,
    /// RoCEv2 on standard Ethernet.
    Ethernet,
    /// NVIDIA Spectrum-X: Spectrum-4 switches with BlueField-3 or ConnectX-8 SuperNICs.
    SpectrumX,
    /// Ultra Ethernet (UEC 1.0) transport and switches that spray.
    Uec,
}

impl Protocol {
    /// As files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Infiniband => "infiniband",
            Protocol::Ethernet => "ethernet",
            Protocol::SpectrumX => "spectrum-x",
            Protocol::Uec => "uec",
        }
    }
}

/// A GPU server (or a rack-scale system) as bought: its GPUs, its power, its price.
/// The scale-out NICs and their optics are counted on their own, not in the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerPart {
    pub id: String,
    pub name: String,
    /// The catalog GPU it holds.
    pub gpu: String,
    pub gpus: u64,
    /// Maximum power of the whole system, GPUs included, watts.
    pub power_w: f64,
    /// Rack units one system takes (a rack-scale system: its whole rack, 0 here).
    pub rack_units: u64,
    /// Systems in one rack, as the vendor's reference design places them.
    pub per_rack: u64,
    /// NVLink switch trays in one system (rack-scale NVLink domains); 0 for a server
    /// whose NVSwitches are on its baseboard.
    #[serde(default)]
    pub nvlink_switch_trays: u64,
    /// The system ships with one scale-out NIC per GPU, in its price and power (DGX).
    #[serde(default)]
    pub nics_included: bool,
    pub price_usd: f64,
}

/// A scale-out NIC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicPart {
    pub id: String,
    pub name: String,
    pub protocols: Vec<Protocol>,
    pub port_gbps: f64,
    pub power_w: f64,
    pub price_usd: f64,
}

/// A fabric switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchPart {
    pub id: String,
    pub name: String,
    pub protocols: Vec<Protocol>,
    /// Ports at `port_gbps`.
    pub ports: u64,
    pub port_gbps: f64,
    /// Optical cages on the front panel; a cage holds `ports / cages` ports (twin-port
    /// OSFP: 2), more when a port is split into slower ones.
    pub cages: u64,
    /// Per-packet adaptive routing (or spraying) in the switch.
    pub adaptive_routing: bool,
    /// Power without optics, watts.
    pub power_w: f64,
    pub rack_units: u64,
    pub price_usd: f64,
}

/// What carries a link's signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Medium {
    /// Direct-attach copper: in-rack only.
    Copper,
    /// Multimode fibre (SR optics): within a row or a few.
    Multimode,
    /// Single-mode fibre (DR/FR optics): across a hall or a building.
    Singlemode,
}

/// A pluggable optical module (one end of one or more links), or a copper cable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkPart {
    pub id: String,
    pub name: String,
    pub medium: Medium,
    /// Speed of each link it carries.
    pub link_gbps: f64,
    /// Links one module (or cable end) carries: twin-port modules 2.
    pub links: u64,
    /// Longest link it reaches, metres.
    pub reach_m: f64,
    /// Power per module (0 for passive copper), watts.
    pub power_w: f64,
    /// Price per module; a copper cable's price is the whole cable.
    pub price_usd: f64,
}

/// The fibre of one optical link: a trunk priced per link and per metre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiberPart {
    pub id: String,
    pub name: String,
    pub medium: Medium,
    pub price_usd_per_link: f64,
    pub price_usd_per_m: f64,
}

/// Every part of `catalog/parts.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    pub server: Vec<ServerPart>,
    pub nic: Vec<NicPart>,
    pub switch: Vec<SwitchPart>,
    /// Optical modules and copper cables.
    pub link: Vec<LinkPart>,
    pub fiber: Vec<FiberPart>,
}

/// The built-in parts.
pub fn parts() -> &'static Parts {
    static PARTS: OnceLock<Parts> = OnceLock::new();
    // The file is part of the binary and covered by tests; a failure here is a bug.
    PARTS.get_or_init(|| toml::from_str(PARTS_TOML).expect("catalog/parts.toml is valid"))
}

impl Parts {
    /// Every part id, in catalog order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.server
            .iter()
            .map(|p| p.id.as_str())
            .chain(self.nic.iter().map(|p| p.id.as_str()))
            .chain(self.switch.iter().map(|p| p.id.as_str()))
            .chain(self.link.iter().map(|p| p.id.as_str()))
            .chain(self.fiber.iter().map(|p| p.id.as_str()))
    }

    pub fn server(&self, key: &str, id: &str) -> Result<&ServerPart> {
        self.server.iter().find(|p| p.id == id).ok_or_else(|| unknown(key, id, "server", self.server.iter().map(|p| p.id.as_str())))
    }

    pub fn nic(&self, key: &str, id: &str) -> Result<&NicPart> {
        self.nic.iter().find(|p| p.id == id).ok_or_else(|| unknown(key, id, "NIC", self.nic.iter().map(|p| p.id.as_str())))
    }

    pub fn switch(&self, key: &str, id: &str) -> Result<&SwitchPart> {
        self.switch.iter().find(|p| p.id == id).ok_or_else(|| unknown(key, id, "switch", self.switch.iter().map(|p| p.id.as_str())))
    }
}

impl SwitchPart {
    /// Ports the switch offers at `gbps`: its own, or each split into `port_gbps / gbps`
    /// slower ones (breakout). 0 when the speed does not divide its ports'.
    pub fn ports_at(&self, gbps: f64) -> u64 {
        let split = self.port_gbps / gbps;
        if gbps > 0.0 && split >= 1.0 && (split - split.round()).abs() < 1e-9 {
            self.ports * split.round() as u64
        } else {
            0
        }
    }
}

fn unknown<'a>(key: &str, id: &str, what: &str, ids: impl Iterator<Item = &'a str>) -> Error {
    Error::invalid(key, format!("{id:?}"), format!("unknown {what}; valid: {}", ids.collect::<Vec<_>>().join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse_with_unique_ids_and_known_gpus() {
        let p = parts();
        let mut ids: Vec<&str> = p.ids().collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate part ids");
        for s in &p.server {
            assert!(crate::catalog::gpu("server.gpu", &s.gpu).is_ok(), "{}", s.id);
            assert!(s.gpus > 0 && s.per_rack > 0 && s.power_w > 0.0 && s.price_usd > 0.0, "{}", s.id);
        }
        for s in &p.switch {
            assert!(s.ports > 0 && s.cages > 0 && s.ports % s.cages == 0 && s.power_w > 0.0, "{}", s.id);
        }
        for l in &p.link {
            assert!(l.links > 0 && l.reach_m > 0.0 && l.link_gbps > 0.0, "{}", l.id);
        }
    }

    #[test]
    fn breakout_ports() {
        let sw = SwitchPart {
            id: "x".into(),
            name: "x".into(),
            protocols: vec![Protocol::Ethernet],
            ports: 64,
            port_gbps: 800.0,
            cages: 64,
            adaptive_routing: false,
            power_w: 1.0,
            rack_units: 2,
            price_usd: 1.0,
        };
        assert_eq!((sw.ports_at(800.0), sw.ports_at(400.0), sw.ports_at(200.0)), (64, 128, 256));
        assert_eq!((sw.ports_at(1600.0), sw.ports_at(300.0)), (0, 0));
    }
}
