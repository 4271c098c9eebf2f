//! `[cluster.variability]`: the straggler model (`crate::variability`) as written, its
//! defaults and validation.

use crate::error::{Error, Result};
use crate::variability::Variability;
use serde::Deserialize;

/// `[cluster.variability]` as written; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariabilitySection {
    enabled: Option<bool>,
    gpu_speed_cv: Option<f64>,
    slow_node_fraction: Option<f64>,
    slow_node_slowdown: Option<f64>,
    slow_link_fraction: Option<f64>,
    slow_link_rate: Option<f64>,
    host_pause_s: Option<f64>,
    host_pause_every_steps: Option<f64>,
    /// Left out: the framework's (`training.framework`) garbage-collection policy.
    pub(super) host_pauses_aligned: Option<bool>,
}

fn fraction(key: &str, v: f64, max: f64, what: &str) -> Result<f64> {
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::invalid(key, v, format!("must be a number from 0 to {max} ({what})")))
    }
}

/// The resolved model: defaults from `Variability::DEFAULT`; `enabled = false` turns
/// every mechanism off.
pub(super) fn resolve(v: Option<VariabilitySection>) -> Result<Variability> {
    let Some(v) = v else { return Ok(Variability::DEFAULT) };
    let d = Variability::DEFAULT;
    let host_pause_s = fraction("cluster.variability.host_pause_s", v.host_pause_s.unwrap_or(d.host_pause_s), 3600.0, "seconds one host pause lasts")?;
    // A pause length without a frequency means nothing; no source gives a default.
    let host_pause_every_steps = match v.host_pause_every_steps {
        None if host_pause_s > 0.0 => {
            return Err(Error::missing(
                "cluster.variability.host_pause_every_steps",
                "how many steps apart one rank's pauses are, on average (>= 1), when host_pause_s > 0",
            ))
        }
        None => d.host_pause_every_steps,
        Some(k) if k.is_finite() && (1.0..=1e12).contains(&k) => k,
        Some(k) => return Err(Error::invalid("cluster.variability.host_pause_every_steps", k, "must be a number of steps >= 1")),
    };
    let slow_link_fraction = fraction("cluster.variability.slow_link_fraction", v.slow_link_fraction.unwrap_or(d.slow_link_fraction), 1.0, "share of GPUs whose NIC link is degraded")?;
    let slow_link_rate = match v.slow_link_rate {
        None if slow_link_fraction > 0.0 => {
            return Err(Error::missing("cluster.variability.slow_link_rate", "a degraded link's rate over its line rate, in (0, 1], when slow_link_fraction > 0"))
        }
        None => d.slow_link_rate,
        Some(r) if r.is_finite() && r > 0.0 && r <= 1.0 => r,
        Some(r) => return Err(Error::invalid("cluster.variability.slow_link_rate", r, "must be a number in (0, 1]: the degraded rate over the line rate")),
    };
    let resolved = Variability {
        slow_link_fraction,
        slow_link_rate,
        gpu_speed_cv: fraction("cluster.variability.gpu_speed_cv", v.gpu_speed_cv.unwrap_or(d.gpu_speed_cv), 0.5, "standard deviation over mean of GPU speed")?,
        slow_node_fraction: fraction("cluster.variability.slow_node_fraction", v.slow_node_fraction.unwrap_or(d.slow_node_fraction), 1.0, "share of nodes that are slow")?,
        slow_node_slowdown: fraction("cluster.variability.slow_node_slowdown", v.slow_node_slowdown.unwrap_or(d.slow_node_slowdown), 10.0, "extra time a slow node takes, 0.1 = 10%")?,
        host_pause_s,
        host_pause_every_steps,
        host_pauses_aligned: v.host_pauses_aligned.unwrap_or(d.host_pauses_aligned),
    };
    Ok(if v.enabled == Some(false) { Variability::OFF } else { resolved })
}
