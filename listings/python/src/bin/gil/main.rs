//! 1.1 The GIL, modelled: threads that compute in parallel, and the same
//! threads forced through one global lock, as CPython's GIL forces them.
//!
//! The "interpreter" is a loop of steps. A step is one round of a 64-bit
//! mixing function whose output feeds the next round, so no step can be
//! skipped or reordered, and every run of a workload ends in the same
//! checksum however its thread was scheduled.
//!
//! Three ways to run the same workloads:
//! - `run_sequentially`: one after another on the calling thread;
//! - `run_in_parallel`: one OS thread each, nothing shared;
//! - `run_under_global_lock`: one OS thread each, but a thread may execute
//!   steps only while it holds one shared `Mutex` (the GIL). It releases the
//!   lock every `steps_per_switch` steps, as CPython's eval loop offers the
//!   GIL to waiting threads every switch interval.
//!
//! The checksums must agree all three ways. What differs is the time taken,
//! which `listings/benches/gil.rs` measures; this program prints no timings.
//! It does print one scheduling fact that is deterministic: under the global
//! lock, at most one thread is ever inside the interpreter.
//!
//! `steps_per_switch == 0` would never run a step; it is rejected with
//! `GilError::ZeroStepsPerSwitch`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;

/// One thread's share of the work: `steps` rounds starting from `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub seed: u64,
    pub steps: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilError {
    /// A thread that must release the lock after zero steps never runs.
    ZeroStepsPerSwitch,
}

impl fmt::Display for GilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GilError::ZeroStepsPerSwitch => {
                write!(f, "steps_per_switch must be at least 1")
            }
        }
    }
}

impl std::error::Error for GilError {}

// ANCHOR: step
/// One step of the "bytecode": splitmix64's mixing function. Each output is
/// the next input, so the work is strictly sequential within a thread.
pub fn step(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `steps` steps from `state`: the whole interpreter loop, no lock.
pub fn run_steps(mut state: u64, steps: u64) -> u64 {
    for _ in 0..steps {
        state = step(state);
    }
    state
}
// ANCHOR_END: step

pub fn run_sequentially(workloads: &[Workload]) -> Vec<u64> {
    workloads
        .iter()
        .map(|w| run_steps(w.seed, w.steps))
        .collect()
}

// ANCHOR: parallel
/// One scoped thread per workload, sharing nothing: on a machine with as
/// many free cores as workloads, they all run at once.
pub fn run_in_parallel(workloads: &[Workload]) -> Vec<u64> {
    thread::scope(|scope| {
        let handles: Vec<_> = workloads
            .iter()
            .map(|w| scope.spawn(move || run_steps(w.seed, w.steps)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}
// ANCHOR_END: parallel

/// What a run under the global lock reports besides its checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedRun {
    pub checksums: Vec<u64>,
    /// How many times any thread acquired the global lock.
    pub acquisitions: usize,
    /// The most threads ever executing steps at the same moment.
    pub max_threads_inside: usize,
}

// ANCHOR: interpreter
/// The interpreter's shared state: the lock, and counters that record how
/// many threads are executing steps right now.
#[derive(Default)]
struct Interpreter {
    gil: Mutex<()>,
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    acquisitions: AtomicUsize,
}

impl Interpreter {
    /// Runs one thread's workload, holding the GIL for at most
    /// `steps_per_switch` steps at a time.
    fn run_thread(&self, workload: Workload, steps_per_switch: u64) -> u64 {
        let mut state = workload.seed;
        let mut remaining = workload.steps;
        while remaining > 0 {
            let batch = remaining.min(steps_per_switch);
            // Nothing panics while holding the lock, so a poisoned lock
            // still guards consistent state: take it back and go on.
            let _held = self.gil.lock().unwrap_or_else(PoisonError::into_inner);
            self.acquisitions.fetch_add(1, Ordering::Relaxed);
            let now_inside = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_inside.fetch_max(now_inside, Ordering::SeqCst);
            state = run_steps(state, batch);
            self.inside.fetch_sub(1, Ordering::SeqCst);
            remaining -= batch;
            // `_held` drops here: the "switch interval" is over, and a
            // waiting thread may take the lock.
        }
        state
    }
}

// ANCHOR_END: interpreter

// ANCHOR: global_lock
/// One thread per workload, every step executed under one shared lock.
pub fn run_under_global_lock(
    workloads: &[Workload],
    steps_per_switch: u64,
) -> Result<LockedRun, GilError> {
    if steps_per_switch == 0 {
        return Err(GilError::ZeroStepsPerSwitch);
    }
    let interpreter = Interpreter::default();
    let checksums = thread::scope(|scope| {
        let handles: Vec<_> = workloads
            .iter()
            .map(|&w| {
                let interpreter = &interpreter;
                scope.spawn(move || interpreter.run_thread(w, steps_per_switch))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    Ok(LockedRun {
        checksums,
        acquisitions: interpreter.acquisitions.into_inner(),
        max_threads_inside: interpreter.max_inside.into_inner(),
    })
}
// ANCHOR_END: global_lock

// ANCHOR: main
fn main() {
    let workloads = [
        Workload {
            seed: 1,
            steps: 2_000_000,
        },
        Workload {
            seed: 2,
            steps: 2_000_000,
        },
    ];
    let steps_per_switch = 10_000;

    let sequential = run_sequentially(&workloads);
    let parallel = run_in_parallel(&workloads);
    let locked = match run_under_global_lock(&workloads, steps_per_switch) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("gil: {e}");
            std::process::exit(1);
        }
    };

    println!("checksums, one thread after another: {sequential:016x?}");
    println!("checksums, two threads in parallel:  {parallel:016x?}");
    println!(
        "checksums, two threads, one lock:    {:016x?}",
        locked.checksums
    );
    println!(
        "same results all three ways: {}",
        sequential == parallel && parallel == locked.checksums
    );
    println!(
        "global lock taken {} times ({} steps each); \
         most threads inside at once: {}",
        locked.acquisitions, steps_per_switch, locked.max_threads_inside
    );
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
