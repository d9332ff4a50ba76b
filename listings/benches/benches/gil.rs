//! The model GIL of 1.1, timed: two CPU-bound workloads run one after
//! another, on two threads in parallel, and on two threads that must hold
//! one global lock to execute a step.
//!
//! Each workload is 4,000,000 steps of a mixing function whose output feeds
//! the next step. Contenders:
//! - `sequential`: both workloads on the benchmark thread;
//! - `parallel_threads`: one scoped thread each, nothing shared;
//! - `global_lock`: one scoped thread each, the lock released every
//!   `steps_per_switch` steps (1: a lock round trip per step; 10,000: the
//!   lock cost amortised, as CPython's switch interval amortises the GIL).
//!
//! Speed-up = time of `sequential` / time of the contender. Thread start-up
//! is included in the threaded runs, as it is in a real program.
//!
//! It prints the speed-ups and the slow-down that 1.1 discusses.
//!
//! Run: `cargo xtask bench gil`.

#[allow(dead_code)]
#[path = "../../python/src/bin/gil/main.rs"]
mod gil;

use std::hint::black_box;

use benches::Harness;
use gil::Workload;

const STEPS: u64 = 4_000_000;
const WORKLOADS: [Workload; 2] = [
    Workload {
        seed: 1,
        steps: STEPS,
    },
    Workload {
        seed: 2,
        steps: STEPS,
    },
];

fn main() {
    same_checksums_everywhere();
    // A lock round trip per step is slow (up to about 2 s a run on two
    // cores), so fewer samples than the default keep the run to a minute.
    let mut h = Harness::new("gil", "steps/switch").samples(25);
    h.bench("sequential", "", move || {
        gil::run_sequentially(black_box(&WORKLOADS))
    });
    h.bench("parallel_threads", "", move || {
        gil::run_in_parallel(black_box(&WORKLOADS))
    });
    for steps_per_switch in [1, 10_000] {
        h.bench("global_lock", steps_per_switch, move || {
            gil::run_under_global_lock(black_box(&WORKLOADS), steps_per_switch)
                .expect("steps_per_switch is non-zero")
                .checksums
        });
    }
    h.run();
    h.print_table();
    // Speed-ups over one thread, then the slow-down of switching each step.
    h.ratio("sequential", "parallel_threads");
    h.ratio("sequential", "global_lock at 10000");
    h.ratio("global_lock at 1", "sequential");
}

/// The three ways must do the same work, or the timings compare nothing.
fn same_checksums_everywhere() {
    let sequential = gil::run_sequentially(&WORKLOADS);
    assert_eq!(gil::run_in_parallel(&WORKLOADS), sequential);
    for steps_per_switch in [1, 10_000] {
        let locked = gil::run_under_global_lock(&WORKLOADS, steps_per_switch)
            .expect("steps_per_switch is non-zero");
        assert_eq!(locked.checksums, sequential);
    }
}
