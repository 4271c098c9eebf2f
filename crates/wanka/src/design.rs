//! Designing the cluster: what it is made of, what that costs and what it draws.
//!
//! - [`bom`]: the bill of materials of one cluster (`wanka design bom`): `wanka-net`
//!   counts the fabric's switches and links, the catalog's parts fill each role, a floor
//!   plan gives the cable runs and so the optics, and the parts give capex and power.

pub mod bom;

pub use bom::{bom, Bom};
