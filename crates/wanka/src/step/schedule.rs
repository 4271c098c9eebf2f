//! Pipeline schedules: the order in which each pipeline rank runs its forward and
//! backward passes, one module per schedule, each readable on its own (as
//! Megatron-Core's `schedules.py` keeps them). The event fidelity turns an order into
//! tasks; the analytic model uses the closed forms of the same schedules.
//!
//! - [`one_f_one_b`]: 1F1B (PipeDream-Flush) and Megatron-LM's interleaved order.
//! - [`zero_bubble`]: ZB-H1, backwards split into input and weight gradients.
//! - [`dualpipe`]: DeepSeek's DualPipe, two directions at once.

pub mod dualpipe;
pub mod one_f_one_b;
pub mod zero_bubble;

pub use dualpipe::dualpipe_order;
pub use one_f_one_b::rank_order;
pub use zero_bubble::zb_h1_order;

/// What a scheduled op computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// Forward.
    F,
    /// Backward: input and weight gradients.
    B,
    /// Backward, input gradients only; its weight gradients come later as a `W`.
    Bi,
    /// Deferred weight gradients.
    W,
}

/// A 1F1B-style order (forward or not) as ops.
pub fn with_ops(order: Vec<(bool, usize, usize)>) -> Vec<(Op, usize, usize)> {
    order.into_iter().map(|(f, c, j)| (if f { Op::F } else { Op::B }, c, j)).collect()
}
