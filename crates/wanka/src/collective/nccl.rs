//! What NCCL decides for a communicator before any byte moves: how many rings
//! (channels) it builds. Each channel opens its own connection to the next rank, so
//! across the network each is a flow of its own (`collective::flows`), and how many
//! there are sets how ECMP's hash collisions average out.

/// Ring channels NCCL builds for a communicator spanning several nodes with
/// `ranks_per_node` ranks on each (one NIC per rank, `nic_gbps` each) on GPUs of
/// `generation` (NCCL 2.18–2.27, src/graph/search.cc and connect.cc):
///
/// 1. The topology search (`ncclTopoCompute`) finds one ring per NIC at the highest
///    speed of its table the NIC carries (Hopper: 48, 45, 42, 40, 30, 24 … GB/s).
/// 2. `ncclTopoDupChannels` doubles them, each at half the speed, when that speed is
///    at least 25 GB/s, unless, from Hopper on (`ccMin > 80`), more than four rings
///    already run below 50 GB/s each.
/// 3. `ncclTopoPostset` doubles every ring again ("Duplication should be complete
///    now"), and on sm90+ doubles once more while fewer than 16 rings each keep more
///    than 45 GB/s ("4 compute channels per search channel … on <8 PPN").
/// 4. At most 32 (`MAXCHANNELS`).
///
/// H100 with 400G NICs: 4 rings at one rank per node (each rank's NIC carries 4
/// flows), 16 at eight (2 per NIC); with 200G NICs, 2 at one per node.
pub fn ring_channels(ranks_per_node: u64, nic_gbps: f64, generation: &str) -> u64 {
    let nics = ranks_per_node.max(1);
    let hopper_or_later = matches!(generation, "hopper" | "blackwell" | "blackwell-ultra");
    let speeds: &[f64] = match generation {
        "blackwell" | "blackwell-ultra" => &[96.0, 80.0, 48.0, 45.1, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0, 17.5, 15.0, 12.0, 6.0, 3.0],
        "hopper" => &[48.0, 45.0, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0, 17.5, 15.0, 12.0, 6.0, 3.0],
        _ => &[48.0, 30.0, 28.0, 24.0, 20.0, 18.0, 15.0, 12.0, 10.0, 9.0, 7.0, 6.0, 5.0, 4.0, 3.0],
    };
    let nic_gbs = nic_gbps / 8.0;
    let mut speed = speeds.iter().copied().find(|&s| s <= nic_gbs).unwrap_or(1.2);
    let mut rings = nics;
    // ncclTopoDupChannels: `ccMin > 80` holds from Hopper on (Ampere is 80).
    let skip = speed < 25.0 || (hopper_or_later && speed < 50.0 && rings > 4);
    if !skip {
        rings *= 2;
        speed /= 2.0;
    }
    rings *= 2;
    if hopper_or_later && speed > 45.0 && rings < 16 {
        rings *= 2;
    }
    rings.min(MAX_CHANNELS)
}

/// Channels NCCL's point-to-point sends use to one peer across the network
/// (`NCCL_NCHANNELS_PER_NET_PEER`, default 2, src/transport/p2p and enqueue.cc): a
/// pipeline send is that many flows whatever the ring channels.
pub const P2P_CHANNELS_PER_NET_PEER: u64 = 2;

/// NCCL's `MAXCHANNELS`.
const MAX_CHANNELS: u64 = 32;

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts NCCL's logs show: 16 channels over 8 H100s per node with 400G NICs
    /// ("Channel 05/16", NCCL issue #1453); 2 over slower NICs ("2 coll channels",
    /// issue #687); 4 with one H100 per node.
    #[test]
    fn rings_as_nccl_builds_them() {
        assert_eq!(ring_channels(8, 400.0, "hopper"), 16);
        assert_eq!(ring_channels(1, 400.0, "hopper"), 4);
        assert_eq!(ring_channels(4, 400.0, "hopper"), 16);
        assert_eq!(ring_channels(1, 200.0, "hopper"), 2);
        assert_eq!(ring_channels(8, 200.0, "ampere"), 16);
        // 800G NICs on Blackwell: 96 GB/s rings are doubled even eight to a node.
        assert_eq!(ring_channels(8, 800.0, "blackwell-ultra"), 32);
        assert_eq!(ring_channels(1, 800.0, "blackwell"), 8);
    }
}
