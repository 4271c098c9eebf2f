//! 1F1B and Megatron-LM's interleaved schedule.

/// The order rank `r` runs its forwards (true) and backwards, as (fwd, chunk, mb):
/// 1F1B (Narayanan et al. 2021, PipeDream-Flush) and Megatron-LM's interleaved order
/// (micro-batches in groups of pp, chunks cycling; warm-up (pp − r − 1)·2 + (v − 1)·pp).
pub fn rank_order(r: usize, pp: usize, vpp: usize, mb: usize) -> Vec<(bool, usize, usize)> {
    let total = mb * vpp;
    let fwd_at = |k: usize| -> (usize, usize) {
        if vpp == 1 {
            return (0, k);
        }
        let group = k / (pp * vpp);
        let in_group = k % (pp * vpp);
        (in_group / pp, group * pp + in_group % pp)
    };
    let bwd_at = |k: usize| -> (usize, usize) {
        let (c, j) = fwd_at(k);
        (vpp - 1 - c, j)
    };
    let warmup = if vpp == 1 { (pp - r - 1).min(total) } else { ((pp - r - 1) * 2 + (vpp - 1) * pp).min(total) };
    let mut order = Vec::with_capacity(2 * total);
    for k in 0..warmup {
        let (c, j) = fwd_at(k);
        order.push((true, c, j));
    }
    for k in warmup..total {
        let (c, j) = fwd_at(k);
        order.push((true, c, j));
        let (c, j) = bwd_at(k - warmup);
        order.push((false, c, j));
    }
    for k in (total - warmup)..total {
        let (c, j) = bwd_at(k);
        order.push((false, c, j));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_hold_every_op_once() {
        for (pp, vpp, mb) in [(4, 1, 8), (4, 2, 8), (2, 3, 4), (1, 1, 3)] {
            for r in 0..pp {
                let o = rank_order(r, pp, vpp, mb);
                assert_eq!(o.len(), 2 * vpp * mb);
                let mut seen = std::collections::BTreeSet::new();
                for op in &o {
                    assert!(seen.insert(*op), "{op:?} twice");
                }
            }
        }
    }
}
