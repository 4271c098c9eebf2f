//! Flow-level network model: max-min fair rates by progressive filling, and a flow
//! simulation that advances from one flow completion to the next, re-solving rates.
//!
//! A flow's path is a list of (link, weight) hops: the flow puts `weight × rate` on the
//! link (1 for a single path, fractions for a sprayed flow). Max-min fairness: raise all
//! unfrozen flows' rates together; when a link fills, its flows freeze at that rate
//! (Bertsekas & Gallager, "Data Networks", §6.5.2).

use crate::topology::Hop;
use radix_heap::RadixHeapMap;

/// A set of flows with their paths, stored flat.
#[derive(Debug, Clone, Default)]
pub struct FlowSet {
    hops: Vec<Hop>,
    /// Start of each flow's hops in `hops`; one more entry than flows.
    starts: Vec<u32>,
}

impl FlowSet {
    pub fn new() -> FlowSet {
        FlowSet {
            hops: Vec::new(),
            starts: vec![0],
        }
    }

    pub fn push(&mut self, path: &[Hop]) {
        self.hops.extend_from_slice(path);
        self.starts.push(self.hops.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn path(&self, f: usize) -> &[Hop] {
        &self.hops[self.starts[f] as usize..self.starts[f + 1] as usize]
    }
}

/// A level as a radix-heap key: the heap pops its greatest key first, and the bits of a
/// non-negative `f64` order as the number does, so the lowest level is the greatest key.
fn key(level: f64) -> u64 {
    let level = if level > 0.0 { level } else { 0.0 };
    u64::MAX - level.to_bits()
}

/// Max-min fair rates of the `active` flows of `flows` on links of `capacity`.
/// Inactive flows get rate 0; a flow with no hops (same endpoint) gets `f64::INFINITY`.
pub fn max_min_rates(flows: &FlowSet, active: &[bool], capacity: &[f64]) -> Vec<f64> {
    let n = flows.len();
    let mut rate = vec![0.0; n];
    // Per link: the flows crossing it (CSR), their summed weight, the load frozen flows put.
    let mut count = vec![0u32; capacity.len() + 1];
    for f in 0..n {
        if !active[f] {
            continue;
        }
        if flows.path(f).is_empty() {
            rate[f] = f64::INFINITY;
            continue;
        }
        for h in flows.path(f) {
            count[h.link as usize + 1] += 1;
        }
    }
    for i in 1..count.len() {
        count[i] += count[i - 1];
    }
    let mut members = vec![0u32; count[capacity.len()] as usize];
    let mut fill = count.clone();
    let mut weight = vec![0.0f64; capacity.len()];
    for (f, _) in active.iter().enumerate().take(n).filter(|(_, on)| **on) {
        if flows.path(f).is_empty() {
            continue;
        }
        for h in flows.path(f) {
            let l = h.link as usize;
            members[fill[l] as usize] = f as u32;
            fill[l] += 1;
            weight[l] += h.weight as f64;
        }
    }
    let mut frozen_load = vec![0.0f64; capacity.len()];
    let mut frozen = vec![false; n];
    let level = |l: usize, w: f64, load: f64| ((capacity[l] - load).max(0.0)) / w;
    // A link's level only rises as flows freeze: a flow frozen at the lowest level t
    // takes t from a link whose level was at least t. So keys are updated lazily: a
    // popped key below its link's current level goes back with the current level; one
    // that still holds is the lowest level of all, and its flows freeze there. Levels
    // popped never fall, so a monotone radix heap serves (Ahuja et al. 1990): pushes in
    // O(1), and far fewer cache misses than a binary heap of millions of links.
    let mut heap: RadixHeapMap<u64, u32> = RadixHeapMap::new();
    for (l, w) in weight.iter().enumerate() {
        if *w > 1e-12 {
            heap.push(key(level(l, *w, 0.0)), l as u32);
        }
    }
    while let Some((k, l)) = heap.pop() {
        let l = l as usize;
        if weight[l] <= 1e-12 {
            continue;
        }
        let now = level(l, weight[l], frozen_load[l]);
        if key(now) < k {
            heap.push(key(now), l as u32);
            continue;
        }
        let t = now;
        for i in count[l]..count[l + 1] {
            let f = members[i as usize] as usize;
            if frozen[f] {
                continue;
            }
            frozen[f] = true;
            rate[f] = t;
            for h in flows.path(f) {
                let k = h.link as usize;
                frozen_load[k] += h.weight as f64 * t;
                weight[k] -= h.weight as f64;
                if weight[k] <= 1e-9 {
                    weight[k] = 0.0;
                }
            }
        }
    }
    rate
}

/// Time per byte of a phase of flows that all start together carrying the same bytes:
/// the load of the most loaded link over its capacity, `max_l Σ_f w_fl / c_l`.
///
/// Why this is the makespan of [`simulate`] exactly: progressive filling raises every
/// flow to at least the level `t = min_l c_l / Σ_f w_fl` at which the first link fills,
/// and removing flows only raises that level, so no flow ever runs below `t`; the flows
/// of the link that fills first all run at exactly `t` and none of them can leave it
/// before the others, so they finish together at `bytes / t`, and every other flow, never
/// below `t`, finishes no later. One pass over the hops instead of up to
/// [`MAX_SOLVES`] max-min solves (the 4-million-flow tree of a million-GPU all-reduce).
pub fn makespan_per_byte(flows: &FlowSet, capacity: &[f64]) -> f64 {
    let mut load = vec![0.0f64; capacity.len()];
    for h in &flows.hops {
        load[h.link as usize] += f64::from(h.weight);
    }
    bottleneck_seconds_per_byte(load, capacity)
}

/// [`makespan_per_byte`] from the summed hop weights on each link (`load`), for phases
/// too large to keep every path.
pub fn bottleneck_seconds_per_byte(load: impl IntoIterator<Item = f64>, capacity: &[f64]) -> f64 {
    load.into_iter()
        .zip(capacity)
        .filter(|(w, _)| *w > 0.0)
        .map(|(w, c)| if *c > 0.0 { w / c } else { f64::INFINITY })
        .fold(0.0, f64::max)
}

/// Result of a flow simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowTimes {
    /// Completion time of each flow, seconds from the start.
    pub finish_s: Vec<f64>,
    /// Time the last flow completes.
    pub makespan_s: f64,
    /// Rate re-solves performed.
    pub solves: usize,
}

/// Rate re-solves a simulation performs at most; after that the remaining flows finish
/// at the rates of the last solve (rates only grow as flows leave, so this errs slow).
/// Keeps a phase whose flows all finish at different times from costing O(flows²). The
/// slowest flows, which set a phase's makespan, take their rate in the first solves: the
/// 131,072-GPU DP ring of the Llama 3 example under ECMP (262,144 flows) has the same
/// makespan, 112.6 ms, after 32 solves as after 256, in an eighth of the time.
pub const MAX_SOLVES: usize = 32;

/// Runs `flows` (all starting at `start_s[f]`, carrying `bytes[f]`) to completion,
/// re-solving max-min rates at every start and completion (up to [`MAX_SOLVES`]).
pub fn simulate(flows: &FlowSet, bytes: &[f64], start_s: &[f64], capacity: &[f64]) -> FlowTimes {
    simulate_with_solves(flows, bytes, start_s, capacity, MAX_SOLVES)
}

/// [`simulate`] with its own bound on re-solves (`usize::MAX`: a re-solve at every
/// start and completion, the reference the faster answers are tested against).
pub fn simulate_with_solves(
    flows: &FlowSet,
    bytes: &[f64],
    start_s: &[f64],
    capacity: &[f64],
    max_solves: usize,
) -> FlowTimes {
    let n = flows.len();
    let mut remaining: Vec<f64> = bytes.to_vec();
    let mut finish = vec![f64::NAN; n];
    let mut active = vec![false; n];
    let mut done = vec![false; n];
    let mut now = 0.0f64;
    let mut solves = 0;
    // Flows in start order.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| start_s[*a].total_cmp(&start_s[*b]).then(a.cmp(b)));
    let mut next_start = 0;
    let mut left = n;
    while left > 0 {
        while next_start < n && start_s[order[next_start]] <= now {
            let f = order[next_start];
            if remaining[f] <= 0.0 {
                done[f] = true;
                finish[f] = now;
                left -= 1;
            } else {
                active[f] = true;
            }
            next_start += 1;
        }
        if left == 0 {
            break;
        }
        let rates = max_min_rates(flows, &active, capacity);
        solves += 1;
        if solves >= max_solves && next_start >= n {
            // Out of re-solves: every active flow finishes at its current rate.
            for f in 0..n {
                if active[f] {
                    finish[f] = if rates[f] > 0.0 {
                        now + remaining[f] / rates[f]
                    } else {
                        f64::INFINITY
                    };
                    active[f] = false;
                    done[f] = true;
                }
            }
            break;
        }
        // Next event: a completion or a start.
        let mut dt = f64::INFINITY;
        for f in 0..n {
            if active[f] && rates[f] > 0.0 {
                dt = dt.min(remaining[f] / rates[f]);
            }
        }
        if next_start < n {
            dt = dt.min(start_s[order[next_start]] - now);
        }
        if !dt.is_finite() {
            // Nothing can progress (zero-capacity path): those flows never finish.
            for f in 0..n {
                if !done[f] {
                    finish[f] = f64::INFINITY;
                }
            }
            break;
        }
        now += dt;
        for f in 0..n {
            if active[f] {
                remaining[f] -= rates[f] * dt;
                if remaining[f] <= bytes[f] * 1e-12 || rates[f].is_infinite() {
                    active[f] = false;
                    done[f] = true;
                    finish[f] = now;
                    left -= 1;
                }
            }
        }
    }
    let makespan_s = finish.iter().cloned().fold(0.0, f64::max);
    FlowTimes {
        finish_s: finish,
        makespan_s,
        solves,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hop(link: u32) -> Hop {
        Hop { link, weight: 1.0 }
    }

    #[test]
    fn two_flows_share_a_link_equally() {
        let mut fs = FlowSet::new();
        fs.push(&[hop(0)]);
        fs.push(&[hop(0), hop(1)]);
        let r = max_min_rates(&fs, &[true, true], &[10.0, 100.0]);
        assert_eq!(r, vec![5.0, 5.0]);
    }

    #[test]
    fn bottlenecked_flow_leaves_room_for_others() {
        // Flow 0 is limited to 2 by link 1; flow 1 takes the rest of link 0.
        let mut fs = FlowSet::new();
        fs.push(&[hop(0), hop(1)]);
        fs.push(&[hop(0)]);
        let r = max_min_rates(&fs, &[true, true], &[10.0, 2.0]);
        assert_eq!(r, vec![2.0, 8.0]);
    }

    #[test]
    fn simulation_frees_bandwidth_when_flows_finish() {
        let mut fs = FlowSet::new();
        fs.push(&[hop(0)]);
        fs.push(&[hop(0)]);
        // 10 and 30 bytes on a 10 B/s link: both at 5 until t=2, then the second at 10.
        let t = simulate(&fs, &[10.0, 30.0], &[0.0, 0.0], &[10.0]);
        assert!((t.finish_s[0] - 2.0).abs() < 1e-12);
        assert!((t.finish_s[1] - 4.0).abs() < 1e-12);
    }

    /// Max-min fairness is not monotone per flow: more capacity on flow X's bottleneck
    /// lets X take more of a link it shares with Y, so Y finishes later; the phase as a
    /// whole still finishes sooner. (Why the property test below is on the makespan.)
    #[test]
    fn more_capacity_can_delay_one_flow_but_not_the_phase() {
        let mut fs = FlowSet::new();
        fs.push(&[hop(0), hop(1)]); // X
        fs.push(&[hop(1)]); // Y
        let before = simulate(&fs, &[100.0, 100.0], &[0.0, 0.0], &[2.0, 10.0]);
        let after = simulate(&fs, &[100.0, 100.0], &[0.0, 0.0], &[6.0, 10.0]);
        assert!(after.finish_s[1] > before.finish_s[1]);
        assert!(after.makespan_s < before.makespan_s);
    }

    fn arb_case() -> impl Strategy<Value = (Vec<f64>, Vec<Vec<(u32, bool)>>)> {
        (2usize..12).prop_flat_map(|links| {
            let caps = proptest::collection::vec(1.0f64..100.0, links);
            let flows = proptest::collection::vec(
                proptest::collection::vec((0..links as u32, proptest::bool::weighted(0.2)), 1..5),
                1..20,
            );
            (caps, flows)
        })
    }

    fn build(flows: &[Vec<(u32, bool)>]) -> FlowSet {
        let mut fs = FlowSet::new();
        for f in flows {
            let mut path: Vec<Hop> = Vec::new();
            for (l, half) in f {
                if !path.iter().any(|h| h.link == *l) {
                    path.push(Hop {
                        link: *l,
                        weight: if *half { 0.5 } else { 1.0 },
                    });
                }
            }
            fs.push(&path);
        }
        fs
    }

    proptest! {
        /// No link carries more than its capacity.
        #[test]
        fn no_link_over_capacity((caps, flows) in arb_case()) {
            let fs = build(&flows);
            let r = max_min_rates(&fs, &vec![true; fs.len()], &caps);
            let mut load = vec![0.0; caps.len()];
            for (f, rate) in r.iter().enumerate() {
                for h in fs.path(f) {
                    load[h.link as usize] += h.weight as f64 * rate;
                }
            }
            for l in 0..caps.len() {
                prop_assert!(load[l] <= caps[l] * (1.0 + 1e-9), "link {l}: {} > {}", load[l], caps[l]);
            }
        }

        /// Every flow has a bottleneck: a saturated link on its path where no other
        /// flow has a higher rate (the max-min fairness condition).
        #[test]
        fn every_flow_has_a_bottleneck((caps, flows) in arb_case()) {
            let fs = build(&flows);
            let r = max_min_rates(&fs, &vec![true; fs.len()], &caps);
            let mut load = vec![0.0; caps.len()];
            let mut max_rate = vec![0.0f64; caps.len()];
            for (f, rate) in r.iter().enumerate() {
                for h in fs.path(f) {
                    load[h.link as usize] += h.weight as f64 * rate;
                    max_rate[h.link as usize] = max_rate[h.link as usize].max(*rate);
                }
            }
            for (f, rate) in r.iter().enumerate() {
                let ok = fs.path(f).iter().any(|h| {
                    let l = h.link as usize;
                    load[l] >= caps[l] * (1.0 - 1e-9) && *rate >= max_rate[l] * (1.0 - 1e-9)
                });
                prop_assert!(ok, "flow {f} (rate {rate}) has no bottleneck");
            }
        }

        /// Flows that start together with equal bytes finish when the most loaded link
        /// drains, as the simulation finds.
        #[test]
        fn equal_flows_end_when_the_busiest_link_drains((caps, flows) in arb_case(), bytes in 1.0f64..1000.0) {
            let fs = build(&flows);
            let t = simulate(&fs, &vec![bytes; fs.len()], &vec![0.0; fs.len()], &caps);
            let closed = bytes * makespan_per_byte(&fs, &caps);
            prop_assert!((t.makespan_s - closed).abs() <= 1e-9 * closed, "{} vs {closed}", t.makespan_s);
        }

        /// Adding capacity to a link never makes any flow of a single phase finish later.
        #[test]
        fn more_capacity_never_hurts_a_single_phase((caps, flows) in arb_case(), which in 0usize..12, extra in 0.0f64..50.0) {
            let fs = build(&flows);
            let bytes = vec![100.0; fs.len()];
            let start = vec![0.0; fs.len()];
            let before = simulate(&fs, &bytes, &start, &caps);
            let mut more = caps.clone();
            let l = which % more.len();
            more[l] += extra;
            let after = simulate(&fs, &bytes, &start, &more);
            prop_assert!(after.makespan_s <= before.makespan_s * (1.0 + 1e-9), "{} > {}", after.makespan_s, before.makespan_s);
        }
    }
}
