//! DualPipe (DeepSeek-V3 §3.2.1): micro-batches enter from both ends of the pipeline.

use super::Op;

/// DualPipe's order on rank r, transcribed from deepseek-ai/DualPipe (dualpipe.py,
/// `DualPipe.step`, its eight steps): chunk 0 and 1 here are the first and the reverse
/// direction (the code's "phase 0" is the first direction on the first half of the
/// ranks and the reverse one on the second half); micro-batches 0..m/2 enter the first
/// direction, m/2..m the reverse one. Zero-bubble backwards defer their weight
/// gradients to the FIFO the code calls WeightGradStore.
pub fn dualpipe_order(r: usize, pp: usize, mb: usize) -> Vec<(Op, usize, usize)> {
    let half_ranks = pp / 2;
    let half_rank = r.min(pp - 1 - r);
    let half = mb / 2;
    let dir = |phase: usize| if r < half_ranks { phase } else { 1 - phase };
    let mut next_f = [0usize; 2];
    let mut next_b = [0usize; 2];
    let mut weights: std::collections::VecDeque<(usize, usize)> = Default::default();
    let mut out = Vec::with_capacity(3 * mb);
    let base = |d: usize| if d == 0 { 0 } else { half };
    let mut fwd = |out: &mut Vec<(Op, usize, usize)>, phase: usize| {
        let d = dir(phase);
        out.push((Op::F, d, base(d) + next_f[d]));
        next_f[d] += 1;
    };
    let mut bwd = |out: &mut Vec<(Op, usize, usize)>, weights: &mut std::collections::VecDeque<(usize, usize)>, phase: usize, zb: bool| {
        let d = dir(phase);
        let j = base(d) + next_b[d];
        next_b[d] += 1;
        if zb {
            out.push((Op::Bi, d, j));
            weights.push_back((d, j));
        } else {
            out.push((Op::B, d, j));
        }
    };
    let weight = |out: &mut Vec<(Op, usize, usize)>, weights: &mut std::collections::VecDeque<(usize, usize)>| {
        if let Some((d, j)) = weights.pop_front() {
            out.push((Op::W, d, j));
        }
    };
    // Step 1: nF0.
    for _ in 0..(half_ranks - half_rank - 1) * 2 {
        fwd(&mut out, 0);
    }
    // Step 2: nF0F1.
    for _ in 0..half_rank + 1 {
        fwd(&mut out, 0);
        fwd(&mut out, 1);
    }
    // Step 3: nB1W1F1 (zero bubble).
    for _ in 0..half_ranks - half_rank - 1 {
        bwd(&mut out, &mut weights, 1, true);
        weight(&mut out, &mut weights);
        fwd(&mut out, 1);
    }
    // Step 4 (main): nF0B1F1B0.
    for _ in 0..(half + half_rank + 1).saturating_sub(pp) {
        fwd(&mut out, 0);
        bwd(&mut out, &mut weights, 1, false);
        fwd(&mut out, 1);
        bwd(&mut out, &mut weights, 0, false);
    }
    // Step 5: nB1F1B0.
    for _ in 0..half_ranks - half_rank - 1 {
        bwd(&mut out, &mut weights, 1, false);
        fwd(&mut out, 1);
        bwd(&mut out, &mut weights, 0, false);
    }
    // Step 6: nB1B0, the second half with zero bubble.
    let step_6 = half_rank + 1;
    let mut zb = false;
    for i in 0..step_6 {
        if i == step_6 / 2 && half_rank % 2 == 1 {
            zb = true;
        }
        bwd(&mut out, &mut weights, 1, zb);
        if i == step_6 / 2 && half_rank % 2 == 0 {
            zb = true;
        }
        bwd(&mut out, &mut weights, 0, zb);
    }
    // Step 7: nWB0 (zero bubble).
    for _ in 0..half_ranks - half_rank - 1 {
        weight(&mut out, &mut weights);
        bwd(&mut out, &mut weights, 0, true);
    }
    // Step 8: nW.
    while !weights.is_empty() {
        weight(&mut out, &mut weights);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dualpipe_orders_cover_every_micro_batch() {
        for (pp, mb) in [(4, 8), (8, 16), (8, 32), (2, 4)] {
            for r in 0..pp {
                let o = dualpipe_order(r, pp, mb);
                for j in 0..mb {
                    let d = if j < mb / 2 { 0 } else { 1 };
                    let f = o.iter().filter(|x| **x == (Op::F, d, j)).count();
                    let b = o.iter().filter(|x| x.0 != Op::F && x.0 != Op::W && x.1 == d && x.2 == j).count();
                    assert_eq!((f, b), (1, 1), "pp {pp} mb {mb} rank {r} micro-batch {j}: {o:?}");
                }
            }
        }
    }
}
