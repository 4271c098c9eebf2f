//! wanka-net: the network of a GPU cluster, knowing nothing of language models.
//!
//! - [`fabric`]: the fabric as a stack of tiers, and where a group of ranks sits in it;
//!   the analytic step model asks it "what bandwidth does each rank get".
//! - [`topology`]: the explicit network (every port and link) and the routing of a flow
//!   onto it: ECMP hashing, adaptive, packet spraying.
//! - [`inventory`]: what the fabric is made of (switches and links per tier), for the
//!   bill of materials.
//! - [`flow`]: max-min fair rates (progressive filling) and a flow-level simulation.

pub mod fabric;
pub mod flow;
pub mod inventory;
pub mod topology;

pub use fabric::{Fabric, FabricKind, FabricSpec, GroupSpan, Tier, TierKind};
pub use flow::{
    bottleneck_seconds_per_byte, makespan_per_byte, max_min_rates, simulate, simulate_with_solves,
    FlowSet, FlowTimes,
};
pub use inventory::{Inventory, LinkTier, SwitchTier};
pub use topology::{Hop, LinkRates, Network, Routing};
