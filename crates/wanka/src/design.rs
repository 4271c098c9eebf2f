//! Designing the cluster: what it is made of, what that costs and what it draws.
//!
//! - [`bom`]: the bill of materials of one cluster (`wanka design bom`): `wanka-net`
//!   counts the fabric's switches and links, the catalog's parts fill each role, a floor
//!   plan gives the cable runs and so the optics, and the parts give capex and power.

//! - [`study`]: a design study (`wanka design DESIGN.toml`): several cluster designs
//!   for one model and token budget, each with its best layout, time-to-train with
//!   failures, capex, power and cost per token; the Pareto front and the verdict.

pub mod bom;
pub mod study;

pub use bom::{bom, Bom};
pub use study::{Study, StudyResult};
