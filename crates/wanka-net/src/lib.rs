//! wanka-net: the network of a GPU cluster, knowing nothing of language models.
//!
//! This crate describes a fabric as a stack of *tiers* (NVLink domain, leaf, spine,
//! core) and answers the question the analytic step model asks of it: "a group of
//! ranks placed with this stride spans which tiers, and what bandwidth does each rank
//! get on the slowest of them?". The flow-level solver and routing build on the same
//! description.

pub mod fabric;

pub use fabric::{Fabric, FabricKind, FabricSpec, GroupSpan, Tier, TierKind};
