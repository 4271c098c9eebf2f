//! The discrete-event core: tasks on in-order streams (as CUDA streams run kernels),
//! dependencies counted down as tasks finish, and a binary-heap event queue of
//! completions. Durations are given; ties break on task id, so runs are deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One unit of work on one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub name: String,
    pub stream: usize,
    pub duration_s: f64,
    /// Filled by [`Graph::run`].
    pub start_s: f64,
    pub end_s: f64,
}

/// A task graph: tasks, each stream's program order, and dependencies.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub tasks: Vec<Task>,
    /// Per stream, its tasks in issue order.
    pub streams: Vec<Vec<usize>>,
    pub stream_names: Vec<String>,
    dependants: Vec<Vec<usize>>,
    deps: Vec<Vec<usize>>,
}

#[derive(PartialEq)]
struct Event(f64, usize);
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    // Earliest completion first; equal times by task id.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then_with(|| other.1.cmp(&self.1))
    }
}

/// The graph could not run to the end: a dependency cycle, or a task waiting on a task
/// issued later on its own stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    pub finished: usize,
    pub total: usize,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a stream and returns its index.
    pub fn stream(&mut self, name: impl Into<String>) -> usize {
        self.streams.push(Vec::new());
        self.stream_names.push(name.into());
        self.streams.len() - 1
    }

    /// Issues a task on `stream` after everything already issued there; it also waits
    /// for `deps`, which must be tasks already added. Since every dependency points
    /// backwards and streams run in issue order, a graph built this way cannot deadlock.
    pub fn add(&mut self, stream: usize, name: impl Into<String>, duration_s: f64, deps: &[usize]) -> usize {
        let id = self.tasks.len();
        debug_assert!(deps.iter().all(|d| *d < id), "dependencies must already exist");
        let deps: Vec<usize> = deps.iter().copied().filter(|d| *d < id).collect();
        let deps = deps.as_slice();
        self.tasks.push(Task { name: name.into(), stream, duration_s: duration_s.max(0.0), start_s: f64::NAN, end_s: f64::NAN });
        self.streams[stream].push(id);
        self.dependants.push(Vec::new());
        self.deps.push(deps.to_vec());
        for &d in deps {
            self.dependants[d].push(id);
        }
        id
    }

    pub fn deps(&self, task: usize) -> &[usize] {
        &self.deps[task]
    }

    /// Runs the graph; returns the time the last task ends.
    pub fn run(&mut self) -> Result<f64, Deadlock> {
        let n = self.tasks.len();
        let mut waiting: Vec<u32> = self.deps.iter().map(|d| d.len() as u32).collect();
        let mut head = vec![0usize; self.streams.len()];
        let mut busy = vec![false; self.streams.len()];
        let mut ready_at = vec![0.0f64; n]; // latest end of a dependency
        let mut heap = BinaryHeap::new();
        let mut finished = 0;
        let mut now = 0.0;
        // Starts the head task of `s` if it can start.
        let try_start = |s: usize,
                         now: f64,
                         head: &mut Vec<usize>,
                         busy: &mut Vec<bool>,
                         waiting: &Vec<u32>,
                         ready_at: &Vec<f64>,
                         tasks: &mut Vec<Task>,
                         streams: &Vec<Vec<usize>>,
                         heap: &mut BinaryHeap<Event>| {
            if busy[s] || head[s] >= streams[s].len() {
                return;
            }
            let t = streams[s][head[s]];
            if waiting[t] > 0 {
                return;
            }
            let start = now.max(ready_at[t]);
            tasks[t].start_s = start;
            tasks[t].end_s = start + tasks[t].duration_s;
            busy[s] = true;
            head[s] += 1;
            heap.push(Event(tasks[t].end_s, t));
        };
        for s in 0..self.streams.len() {
            try_start(s, now, &mut head, &mut busy, &waiting, &ready_at, &mut self.tasks, &self.streams, &mut heap);
        }
        while let Some(Event(t_end, task)) = heap.pop() {
            now = t_end;
            finished += 1;
            let s = self.tasks[task].stream;
            busy[s] = false;
            for &d in &self.dependants[task] {
                waiting[d] -= 1;
                ready_at[d] = ready_at[d].max(t_end);
            }
            // The freed stream, then every stream a dependant lives on.
            try_start(s, now, &mut head, &mut busy, &waiting, &ready_at, &mut self.tasks, &self.streams, &mut heap);
            for i in 0..self.dependants[task].len() {
                let ds = self.tasks[self.dependants[task][i]].stream;
                try_start(ds, now, &mut head, &mut busy, &waiting, &ready_at, &mut self.tasks, &self.streams, &mut heap);
            }
        }
        if finished < n {
            return Err(Deadlock { finished, total: n });
        }
        Ok(self.tasks.iter().map(|t| t.end_s).fold(0.0, f64::max))
    }

    /// The critical path after [`Graph::run`], first task to last: from the task that
    /// ends last, back through whichever held each task's start, the task before it on
    /// its stream or a dependency, whichever ended last (what to shorten to shorten the
    /// step).
    pub fn critical_path(&self) -> Vec<usize> {
        let Some(mut t) = (0..self.tasks.len()).max_by(|&a, &b| self.tasks[a].end_s.total_cmp(&self.tasks[b].end_s).then(b.cmp(&a))) else {
            return Vec::new();
        };
        // Each task's predecessor on its own stream.
        let mut before = vec![None; self.tasks.len()];
        for order in &self.streams {
            for w in order.windows(2) {
                before[w[1]] = Some(w[0]);
            }
        }
        let mut path = vec![t];
        // Predecessors come earlier in a DAG, so the walk ends; the bound is a guard.
        while self.tasks[t].start_s > 0.0 && path.len() <= self.tasks.len() {
            let held = before[t].into_iter().chain(self.deps[t].iter().copied()).max_by(|&a, &b| self.tasks[a].end_s.total_cmp(&self.tasks[b].end_s).then(b.cmp(&a)));
            match held {
                Some(p) if self.tasks[p].end_s <= self.tasks[t].start_s + 1e-12 => {
                    path.push(p);
                    t = p;
                }
                _ => break,
            }
        }
        path.reverse();
        path
    }

    /// Busy time of each stream after [`Graph::run`].
    pub fn busy_s(&self) -> Vec<f64> {
        // `+ 0.0`: a float sum over nothing is -0.0.
        self.streams.iter().map(|ts| ts.iter().map(|t| self.tasks[*t].duration_s).sum::<f64>() + 0.0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_run_in_order_and_wait_for_dependencies() {
        let mut g = Graph::new();
        let a = g.stream("compute");
        let b = g.stream("comm");
        let x = g.add(a, "x", 2.0, &[]);
        let y = g.add(b, "y", 1.0, &[x]); // waits for x
        let z = g.add(a, "z", 1.0, &[]); // runs right after x on its stream
        let w = g.add(a, "w", 1.0, &[y]); // waits for y (ends at 3)
        let end = g.run().unwrap();
        assert_eq!((g.tasks[y].start_s, g.tasks[z].start_s, g.tasks[w].start_s), (2.0, 2.0, 3.0));
        assert_eq!(end, 4.0);
        assert_eq!(g.busy_s(), vec![4.0, 1.0]);
    }

    #[test]
    fn the_critical_path_follows_what_held_each_start() {
        let mut g = Graph::new();
        let a = g.stream("compute");
        let b = g.stream("comm");
        let x = g.add(a, "x", 2.0, &[]);
        let y = g.add(b, "y", 3.0, &[x]); // 2..5
        let z = g.add(a, "z", 1.0, &[]); // 2..3
        let w = g.add(a, "w", 1.0, &[y]); // held by y: 5..6
        g.run().unwrap();
        assert_eq!(g.critical_path(), vec![x, y, w]);
        let _ = z;
        assert_eq!(Graph::new().critical_path(), Vec::<usize>::new());
    }

    #[test]
    fn independent_streams_overlap() {
        let mut g = Graph::new();
        let a = g.stream("a");
        let b = g.stream("b");
        g.add(a, "a0", 3.0, &[]);
        g.add(b, "b0", 2.0, &[]);
        assert_eq!(g.run().unwrap(), 3.0);
    }
}
