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
//! Run: `cargo xtask bench gil`.

#[allow(dead_code)]
#[path = "../../python/src/bin/gil/main.rs"]
mod gil;

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
    divan::main();
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

#[divan::bench]
fn sequential() -> Vec<u64> {
    gil::run_sequentially(divan::black_box(&WORKLOADS))
}

#[divan::bench]
fn parallel_threads() -> Vec<u64> {
    gil::run_in_parallel(divan::black_box(&WORKLOADS))
}

#[divan::bench(args = [1, 10_000])]
fn global_lock(steps_per_switch: u64) -> Vec<u64> {
    gil::run_under_global_lock(divan::black_box(&WORKLOADS), steps_per_switch)
        .expect("steps_per_switch is non-zero")
        .checksums
}
