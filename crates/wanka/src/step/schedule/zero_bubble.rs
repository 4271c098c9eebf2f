//! ZB-H1 (Qi et al. 2024): 1F1B with each backward split so weight gradients fill the bubble.

use super::one_f_one_b::rank_order;
use super::Op;

/// ZB-H1 (Qi et al. 2024, "Zero Bubble Pipeline Parallelism", §3): 1F1B's order with each
/// backward split into B (input gradients, on the critical path) and W (weight
/// gradients); rank r keeps up to pp − r − 1 W's pending and, in the cool-down, runs a
/// pending W before each B so the wait for the next gradient is filled.
pub fn zb_h1_order(r: usize, pp: usize, mb: usize) -> Vec<(Op, usize, usize)> {
    let base = rank_order(r, pp, 1, mb);
    let keep = pp - r - 1;
    let mut pending: std::collections::VecDeque<usize> = Default::default();
    let mut out = Vec::with_capacity(3 * mb);
    let forwards_total = mb;
    let mut forwards_done = 0;
    for (is_fwd, c, j) in base {
        if is_fwd {
            forwards_done += 1;
            out.push((Op::F, c, j));
            continue;
        }
        if forwards_done == forwards_total {
            // Cool-down: fill the wait for this gradient with an earlier W.
            if let Some(w) = pending.pop_front() {
                out.push((Op::W, 0, w));
            }
        }
        out.push((Op::Bi, c, j));
        pending.push_back(j);
        while pending.len() > keep && forwards_done < forwards_total {
            let w = pending.pop_front().unwrap_or(j);
            out.push((Op::W, 0, w));
        }
    }
    while let Some(w) = pending.pop_front() {
        out.push((Op::W, 0, w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bubble_orders_hold_f_b_w_once_each() {
        for (pp, mb) in [(4, 8), (4, 4), (2, 3), (8, 16)] {
            for r in 0..pp {
                let o = zb_h1_order(r, pp, mb);
                assert_eq!(o.len(), 3 * mb, "pp {pp} r {r}");
                for j in 0..mb {
                    let at = |op: Op| o.iter().position(|x| *x == (op, 0, j)).unwrap();
                    assert!(at(Op::F) < at(Op::Bi) && at(Op::Bi) < at(Op::W));
                }
            }
        }
    }
}
