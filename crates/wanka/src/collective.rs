//! Collective algorithms as analytic alpha–beta costs on the tier a group spans.
//!
//! Bytes follow nccl-tests (doc/PERFORMANCE.md): `S` is the size of the whole array, so
//! a ring all-reduce moves `2(n−1)/n · S` per rank, all-gather and reduce-scatter
//! `(n−1)/n · S`, all-to-all `(n−1)/n · S`. Latency terms follow NCCL's tuner
//! (fabric.md §3.3): a base cost per call plus one per-hop latency per algorithm step.

pub mod flows;
pub mod nccl;

use crate::calibration as cal;
use serde::Serialize;
use wanka_net::{Fabric, GroupSpan};

/// The collectives a training step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectiveOp {
    AllReduce,
    AllGather,
    ReduceScatter,
    AllToAll,
    /// One root to every rank (pipelined along a ring).
    Broadcast,
    /// One rank to its neighbour (pipeline send/receive).
    SendRecv,
}

impl CollectiveOp {
    /// nccl-tests' bus-bandwidth factor: busbw = algbw × factor.
    pub fn busbw_factor(self, n: u64) -> f64 {
        let n = n.max(1) as f64;
        match self {
            CollectiveOp::AllReduce => 2.0 * (n - 1.0) / n,
            CollectiveOp::AllGather | CollectiveOp::ReduceScatter | CollectiveOp::AllToAll => (n - 1.0) / n,
            CollectiveOp::Broadcast | CollectiveOp::SendRecv => 1.0,
        }
    }
}

/// A group of ranks on a fabric and what NCCL gets out of it.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    pub fabric: &'a Fabric,
    pub span: GroupSpan,
    /// The GPU supports NVLink SHARP (NVLS): Hopper and later with NVSwitch.
    pub nvls: bool,
    /// Instances of this group running at once (all DP groups of a layout, say).
    pub concurrent: u64,
}

impl<'a> Group<'a> {
    /// A group of `size` ranks `stride` apart; as many run at once as tile the GPUs.
    pub fn new(fabric: &'a Fabric, size: u64, stride: u64, nvls: bool) -> Group<'a> {
        Group { fabric, span: fabric.span(size, stride), nvls, concurrent: (fabric.gpus / size.max(1)).max(1) }
    }

    pub fn size(&self) -> u64 {
        self.span.size
    }

    /// Achievable per-rank ring bandwidth: NVLink inside the domain, NICs across.
    pub fn ring_bandwidth(&self) -> f64 {
        let nvlink = self.fabric.tiers[0].bytes_per_s_per_gpu * cal::NVLINK_RING_EFFICIENCY;
        if self.span.domains <= 1 {
            return nvlink;
        }
        (self.fabric.ring_bytes_per_s(&self.span, self.concurrent) * cal::NIC_EFFICIENCY).min(nvlink)
    }

    fn alpha(&self) -> f64 {
        self.fabric.step_latency_s(&self.span)
    }

    /// Time of one collective of `bytes` (nccl-tests' S) on this group: the best of
    /// the algorithms NCCL would consider.
    pub fn time_s(&self, op: CollectiveOp, bytes: f64) -> f64 {
        let n = self.span.size;
        if n <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        if let Some((local, across, m)) = self.hierarchical(op) {
            // Inside each site on the whole array, then between the sites on a shard.
            return local.time_s(op, bytes) + across.time_s(op, bytes / m as f64);
        }
        match op {
            CollectiveOp::AllReduce => self.all_reduce_s(bytes),
            CollectiveOp::AllGather | CollectiveOp::ReduceScatter => self.ring_s(bytes, (n - 1) as f64, op.busbw_factor(n)),
            CollectiveOp::AllToAll => self.all_to_all_s(bytes),
            // Pipelined ring broadcast: the chain's latency, then S at the ring's rate.
            CollectiveOp::Broadcast => self.ring_s(bytes, (n - 1) as f64, 1.0),
            CollectiveOp::SendRecv => {
                // Across sites, each group's hops between sites share the site's links.
                let bw = if self.span.domains <= 1 { self.ring_bandwidth() } else {
                    self.fabric.nic_bytes_per_s(&self.span, self.concurrent, self.fabric.sites_spanned(&self.span) - 1) * cal::NIC_EFFICIENCY
                };
                cal::COLLECTIVE_BASE_LATENCY_S + self.alpha() + bytes / bw
            }
        }
    }

    /// A reduction or gather across sites that run collectives hierarchically: the
    /// site-local group (every site's at once), the cross-site peers (every shard's at
    /// once), and the members per site.
    fn hierarchical(&self, op: CollectiveOp) -> Option<(Group<'a>, Group<'a>, u64)> {
        if !matches!(op, CollectiveOp::AllReduce | CollectiveOp::ReduceScatter | CollectiveOp::AllGather) {
            return None;
        }
        let (m, local, across) = self.fabric.hierarchical_parts(&self.span)?;
        let k = self.span.size / m;
        Some((Group { span: local, concurrent: self.concurrent * k, ..*self }, Group { span: across, concurrent: self.concurrent * m, ..*self }, m))
    }

    /// The latency part of one collective (its time as the message shrinks to nothing).
    pub fn latency_s(&self, op: CollectiveOp) -> f64 {
        let n = self.span.size as f64;
        if self.span.size <= 1 {
            return 0.0;
        }
        let steps = match op {
            CollectiveOp::AllReduce => 2.0 * (n - 1.0),
            CollectiveOp::AllGather | CollectiveOp::ReduceScatter | CollectiveOp::Broadcast => n - 1.0,
            CollectiveOp::AllToAll => n.log2().ceil().max(1.0),
            CollectiveOp::SendRecv => 1.0,
        };
        cal::COLLECTIVE_BASE_LATENCY_S + steps * self.alpha()
    }

    /// Ring with `steps` latency steps moving `factor · S` per rank.
    fn ring_s(&self, bytes: f64, steps: f64, factor: f64) -> f64 {
        cal::COLLECTIVE_BASE_LATENCY_S + steps * self.alpha() + factor * bytes / self.ring_bandwidth()
    }

    /// All-reduce: ring, double binary tree (log-depth latency, ~92% of ring bandwidth
    /// in NCCL's model), or NVLS inside one NVSwitch domain; the fastest wins, as
    /// NCCL's tuner picks the fastest.
    pub fn all_reduce_s(&self, bytes: f64) -> f64 {
        let n = self.span.size as f64;
        let factor = 2.0 * (n - 1.0) / n;
        let ring = self.ring_s(bytes, 2.0 * (n - 1.0), factor);
        let depth = n.log2().ceil();
        let tree = cal::COLLECTIVE_BASE_LATENCY_S + 2.0 * depth * self.alpha() + factor * bytes / (0.92 * self.ring_bandwidth());
        let mut best = ring.min(tree);
        if self.nvls && self.span.domains <= 1 && self.span.size > 2 {
            let nvls = cal::COLLECTIVE_BASE_LATENCY_S
                + 2.0 * self.alpha()
                + bytes / (self.fabric.tiers[0].bytes_per_s_per_gpu * cal::NVLS_ALLREDUCE_ALGBW_FRACTION);
            best = best.min(nvls);
        }
        best
    }

    /// Inter-node bytes a rank sends in an expert dispatch of `bytes`, `top_k` copies per
    /// token: flat, every copy for an expert in another scale-up domain crosses the NIC;
    /// node-limited (`max_domains`, DeepSeek-V3 §2.1.2 and §3.2.2, DeepEP), each token
    /// crosses once per remote domain it goes to, at most `max_domains`, and NVLink
    /// forwards it to the experts there.
    pub fn dispatch_nic_bytes(&self, bytes: f64, top_k: f64, max_domains: Option<u64>) -> f64 {
        let (n, d) = (self.span.size as f64, self.span.domains as f64);
        if self.span.domains <= 1 || n <= 1.0 {
            return 0.0;
        }
        match max_domains {
            None => bytes * (n - self.span.ranks_per_domain as f64) / (n - 1.0),
            // A token's chosen domains are its own with probability 1/d each.
            Some(m) => bytes / top_k * (m as f64).min(d).min(top_k) * (d - 1.0) / d,
        }
    }

    /// Expert dispatch (or combine) of `bytes` per rank with `top_k` copies per token,
    /// node-limited and deduplicated as DeepEP does: each token crosses the NIC once per
    /// remote domain (see [`Group::dispatch_nic_bytes`]) while NVLink delivers the copies
    /// inside the domains; the slower of the two sets the time.
    pub fn node_limited_all_to_all_s(&self, bytes: f64, top_k: f64, max_domains: u64) -> f64 {
        if self.span.size <= 1 || bytes <= 0.0 {
            return 0.0;
        }
        if self.span.domains <= 1 {
            return self.all_to_all_s(bytes);
        }
        let nic = self.fabric.tiers[self.span.top_tier.min(self.fabric.switch_top())].bytes_per_s_per_gpu * cal::NIC_EFFICIENCY;
        let nvlink = self.fabric.tiers[0].bytes_per_s_per_gpu * cal::NVLINK_RING_EFFICIENCY;
        let rpd = self.span.ranks_per_domain as f64;
        let inside = bytes * (rpd - 1.0) / rpd;
        let n = self.span.size as f64;
        let remote = self.dispatch_nic_bytes(bytes, top_k, Some(max_domains));
        let mut t = (remote / nic).max(inside / nvlink);
        // Across sites, the remote domains in other sites are reached through the site's
        // links, which every GPU of the site shares.
        if let Some(last) = self.fabric.crossed_sites(&self.span).and(self.fabric.tiers.last()) {
            let (d, k) = (self.span.domains as f64, self.fabric.sites_spanned(&self.span) as f64);
            let other_sites = if d > 1.0 { (d - d / k) / (d - 1.0) } else { 0.0 };
            t = t.max(remote * other_sites / (last.bytes_per_s_per_gpu * cal::NIC_EFFICIENCY));
        }
        cal::COLLECTIVE_BASE_LATENCY_S + self.alpha() * n.log2().ceil().max(1.0) + t
    }

    /// All-to-all where each rank holds `bytes` (S) and sends `(n−1)/n · S` to the others.
    pub fn all_to_all_s(&self, bytes: f64) -> f64 {
        let n = self.span.size as f64;
        let eff = if self.span.domains <= 1 { cal::NVLINK_RING_EFFICIENCY } else { cal::NIC_EFFICIENCY };
        let bw = self.fabric.all_to_all_bytes_per_s(&self.span) * eff;
        cal::COLLECTIVE_BASE_LATENCY_S + self.alpha() * n.log2().ceil().max(1.0) + (n - 1.0) / n * bytes / bw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wanka_net::FabricSpec;

    fn h100(gpus: u64) -> Fabric {
        Fabric::new(&FabricSpec::hgx_h100(gpus, 2, 1.0))
    }

    fn busbw(g: &Group, op: CollectiveOp, bytes: f64) -> f64 {
        bytes / g.time_s(op, bytes) * op.busbw_factor(g.size())
    }

    /// Between two sites whose links are the bottleneck (800 Gb/s each, against 8,192
    /// GPUs of 400 Gb/s), a hierarchical all-reduce
    /// (reduce inside each site, exchange each member's shard between sites, spread it
    /// again) sends half the bytes across that NCCL's ring does: a ring crosses each
    /// way once per group carrying 2(n−1)/n of the array, the hierarchy carries the
    /// array once per group in all.
    #[test]
    fn hierarchical_collectives_halve_what_crosses_between_sites() {
        let at = |hierarchical: bool| {
            let sites = wanka_net::fabric::Sites { count: 2, gpus_per_site: 8192, bytes_per_s: 1e11, latency_s: 0.0, hierarchical };
            Fabric::new(&FabricSpec { sites: Some(sites), ..FabricSpec::hgx_h100(16384, 3, 1.0) })
        };
        let (ring, hier) = (at(false), at(true));
        let time = |f: &Fabric| Group::new(f, 128, 128, true).time_s(CollectiveOp::AllReduce, 1e10);
        let ratio = time(&ring) / time(&hier);
        assert!(ratio > 1.8 && ratio < 2.05, "ring over hierarchical {ratio}");
        // Inside one site nothing changes.
        let inside = |f: &Fabric| Group::new(f, 64, 128, true).time_s(CollectiveOp::AllReduce, 1e10);
        assert_eq!(inside(&ring), inside(&hier));
    }

    #[test]
    fn h100_node_all_reduce_matches_published_busbw() {
        let f = h100(8);
        // Ring only (NVLS off): ~370 GB/s (nccl-tests #212).
        let ring = Group::new(&f, 8, 1, false);
        let bw = busbw(&ring, CollectiveOp::AllReduce, 8e9);
        assert!((bw / 370e9 - 1.0).abs() < 0.10, "{bw}");
        // NVLS: ~480 GB/s.
        let nvls = Group::new(&f, 8, 1, true);
        let bw = busbw(&nvls, CollectiveOp::AllReduce, 8e9);
        assert!((bw / 480e9 - 1.0).abs() < 0.10, "{bw}");
    }

    #[test]
    fn cross_node_ring_gets_per_nic_bandwidth() {
        let f = h100(16);
        let g = Group::new(&f, 2, 8, true);
        let bw = busbw(&g, CollectiveOp::AllReduce, 8e9);
        assert!(bw > 45e9 && bw < 50e9, "{bw}");
    }

    #[test]
    fn small_messages_are_latency_bound() {
        let f = h100(1024);
        let g = Group::new(&f, 128, 8, true);
        let t = g.time_s(CollectiveOp::AllReduce, 1024.0);
        assert!(t > 10e-6 && t < 1e-3, "{t}");
    }
}
