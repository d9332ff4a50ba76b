//! 1.9 Thread safety, with the compiler's help: the tools Python offers
//! (`threading.Lock`, atomic-looking operations, `queue.Queue`) and the
//! Rust types that play them, each with an exact final count.
//!
//! - `racy_increments`: a lost update that safe Rust *can* write. Each value
//!   is an atomic, so there is no data race, but the increment is a separate
//!   load and store: a race condition. A `Barrier` between the two makes
//!   every thread load before any thread stores, deterministically, so each
//!   round adds 1, not `threads`. This is the Python counter bug exactly.
//! - `mutex_increments`: `Arc<Mutex<u64>>`, the `threading.Lock` fix.
//! - `atomic_increments`: `AtomicU64::fetch_add`, one indivisible
//!   read-modify-write; Python has no such operation on an `int`.
//! - `channel_sum`: `std::sync::mpsc` producers and one consumer, the
//!   `queue.Queue` pattern; the channel closes when every sender is dropped,
//!   so no sentinel is needed.
//!
//! What Rust refuses to compile is checked in the tests: sending an `Rc`
//! (non-atomic reference count) to another thread fails with E0277, while
//! the same program with `Arc` compiles.
//!
//! Counts are `u64`; `threads * per_thread` is computed with `checked_mul`,
//! and a total that does not fit is `CountError::Overflow`, never a wrap.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::thread;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountError {
    /// `threads * per_thread` does not fit in a `u64`.
    Overflow,
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CountError::Overflow => {
                write!(f, "threads * increments does not fit in a u64")
            }
        }
    }
}

impl std::error::Error for CountError {}

/// The count every correct version must reach.
pub fn expected_total(
    threads: usize,
    per_thread: u64,
) -> Result<u64, CountError> {
    u64::try_from(threads)
        .ok()
        .and_then(|t| t.checked_mul(per_thread))
        .ok_or(CountError::Overflow)
}

// ANCHOR: racy
/// Load, wait until every thread has loaded, store the loaded value + 1.
/// Returns the final count: `rounds`, whatever the number of threads.
pub fn racy_increments(threads: usize, rounds: u64) -> u64 {
    let counter = AtomicU64::new(0);
    let loaded = Barrier::new(threads);
    let stored = Barrier::new(threads);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..rounds {
                    let seen = counter.load(Ordering::SeqCst);
                    loaded.wait(); // every thread now holds the same value
                    counter.store(seen + 1, Ordering::SeqCst);
                    stored.wait();
                }
            });
        }
    });
    counter.into_inner()
}
// ANCHOR_END: racy

// ANCHOR: mutex
/// `threading.Lock` around `counter += 1`, Rust style: the `u64` lives
/// inside the `Mutex`, so it cannot be touched without holding the lock.
pub fn mutex_increments(
    threads: usize,
    per_thread: u64,
) -> Result<u64, CountError> {
    let expected = expected_total(threads, per_thread)?;
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..per_thread {
                    // Nothing panics while the lock is held, so a poisoned
                    // lock still holds a consistent count.
                    let mut value =
                        counter.lock().unwrap_or_else(PoisonError::into_inner);
                    *value += 1;
                }
            })
        })
        .collect();
    for handle in handles {
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    }
    let total = *counter.lock().unwrap_or_else(PoisonError::into_inner);
    debug_assert_eq!(total, expected);
    Ok(total)
}
// ANCHOR_END: mutex

// ANCHOR: atomic
/// One indivisible read-modify-write per increment; no lock at all.
pub fn atomic_increments(
    threads: usize,
    per_thread: u64,
) -> Result<u64, CountError> {
    expected_total(threads, per_thread)?;
    let counter = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    // Relaxed: only the count matters, and joining the
                    // threads orders every increment before the read below.
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Ok(counter.into_inner())
}
// ANCHOR_END: atomic

// ANCHOR: channel
/// Producers send `items_each` numbers each; one consumer sums them.
/// Returns (items received, their sum).
pub fn channel_sum(
    producers: u64,
    items_each: u64,
) -> Result<(u64, u128), CountError> {
    producers
        .checked_mul(items_each)
        .ok_or(CountError::Overflow)?;
    // Bounded, so a fast producer blocks: backpressure.
    let (sender, receiver) = mpsc::sync_channel::<u64>(64);
    thread::scope(|scope| {
        for p in 0..producers {
            let sender = sender.clone();
            scope.spawn(move || {
                for item in p * items_each..(p + 1) * items_each {
                    // The receiver outlives every producer, so send succeeds.
                    if sender.send(item).is_err() {
                        return;
                    }
                }
            });
        }
        // Drop the original sender: the loop below ends when the last
        // producer's clone is dropped, with no sentinel value.
        drop(sender);
        let mut count = 0u64;
        let mut total = 0u128;
        for item in receiver {
            count += 1;
            total += u128::from(item);
        }
        Ok((count, total))
    })
}
// ANCHOR_END: channel

// ANCHOR: main
fn main() -> Result<(), CountError> {
    let (threads, rounds) = (4, 1_000);
    let expected = expected_total(threads, rounds)?;

    let racy = racy_increments(threads, rounds);
    println!(
        "load, then store (no lock): {threads} threads x {rounds} = {racy} \
         ({} lost)",
        expected - racy
    );
    println!(
        "Arc<Mutex<u64>>:            {threads} threads x {rounds} = {}",
        mutex_increments(threads, rounds)?
    );
    println!(
        "AtomicU64::fetch_add:       {threads} threads x {rounds} = {}",
        atomic_increments(threads, rounds)?
    );
    let (count, total) = channel_sum(2, 500)?;
    println!(
        "mpsc channel: 2 producers x 500 items: {count} received, sum {total}"
    );
    Ok(())
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
