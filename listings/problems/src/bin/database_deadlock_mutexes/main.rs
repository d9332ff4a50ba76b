//! 4.8, in-process: the same deadlock with two `Mutex`es, shown safely, and
//! the two fixes that carry over from the database.
//!
//! - Deadlock: two threads each lock one account, then want the other's.
//!   With `lock()` they would wait forever, and unlike PostgreSQL nothing
//!   would notice. Here the second lock is polled with `try_lock` until a
//!   deadline, and each thread keeps its first lock until both have given
//!   up, so the outcome (both time out) never depends on timing and the
//!   program never hangs.
//! - Fix 1, global lock order: always lock the account with the smaller id
//!   first. With one order for everybody a wait-for cycle cannot form.
//! - Fix 2, back-off: hold the first lock, `try_lock` the second; if it is
//!   taken, release everything, wait a little (growing, with jitter) and
//!   start over. Nobody holds a lock while waiting for another.
//!
//! Semantics: amounts are positive integer cents; a transfer from an
//! account to itself is an error (locking the same `Mutex` twice on one
//! thread would deadlock or panic); an overdraft is an error and moves
//! nothing. A poisoned lock (a thread panicked while holding it) is an
//! error, not a panic.

use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, MutexGuard, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

// ANCHOR: account
#[derive(Debug)]
pub struct Account {
    pub id: u32,
    balance_cents: Mutex<i64>,
}

impl Account {
    pub fn new(id: u32, balance_cents: i64) -> Arc<Account> {
        Arc::new(Account {
            id,
            balance_cents: Mutex::new(balance_cents),
        })
    }

    pub fn balance(&self) -> Result<i64, TransferError> {
        Ok(*self.lock()?)
    }

    fn lock(&self) -> Result<MutexGuard<'_, i64>, TransferError> {
        self.balance_cents
            .lock()
            .map_err(|_| TransferError::Poisoned(self.id))
    }

    /// `Ok(None)` when another thread holds the lock right now.
    fn try_lock(&self) -> Result<Option<MutexGuard<'_, i64>>, TransferError> {
        match self.balance_cents.try_lock() {
            Ok(guard) => Ok(Some(guard)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Poisoned(_)) => {
                Err(TransferError::Poisoned(self.id))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    SameAccount(u32),
    NonPositiveAmount(i64),
    InsufficientFunds { id: u32, balance: i64, cents: i64 },
    Poisoned(u32),
    GaveUp { attempts: u32 },
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::SameAccount(id) => {
                write!(f, "account {id} cannot pay itself")
            }
            TransferError::NonPositiveAmount(c) => {
                write!(f, "amount must be positive, got {c}")
            }
            TransferError::InsufficientFunds { id, balance, cents } => {
                write!(
                    f,
                    "account {id} holds {balance} cents, cannot pay {cents}"
                )
            }
            TransferError::Poisoned(id) => {
                write!(f, "account {id}'s lock is poisoned")
            }
            TransferError::GaveUp { attempts } => {
                write!(f, "gave up after {attempts} attempts")
            }
        }
    }
}

impl std::error::Error for TransferError {}

fn check(
    from: &Account,
    to: &Account,
    cents: i64,
) -> Result<(), TransferError> {
    if from.id == to.id {
        Err(TransferError::SameAccount(from.id))
    } else if cents <= 0 {
        Err(TransferError::NonPositiveAmount(cents))
    } else {
        Ok(())
    }
}

/// Moves the money once both balances are locked.
fn move_cents(
    from: u32,
    source: &mut i64,
    target: &mut i64,
    cents: i64,
) -> Result<(), TransferError> {
    if *source < cents {
        return Err(TransferError::InsufficientFunds {
            id: from,
            balance: *source,
            cents,
        });
    }
    *source -= cents;
    *target += cents;
    Ok(())
}
// ANCHOR_END: account

// ANCHOR: deadlock
/// What a thread got when it asked for its second lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondLock {
    Acquired,
    TimedOut,
}

/// `try_lock` in a loop until `patience` runs out: a lock with a timeout,
/// which std's `Mutex` does not offer directly.
fn try_lock_for(
    account: &Account,
    patience: Duration,
) -> Result<SecondLock, TransferError> {
    let deadline = Instant::now() + patience;
    loop {
        if account.try_lock()?.is_some() {
            return Ok(SecondLock::Acquired);
        }
        if Instant::now() >= deadline {
            return Ok(SecondLock::TimedOut);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Thread 1 locks `a` then wants `b`; thread 2 locks `b` then wants `a`.
pub fn opposite_order(
    a: &Arc<Account>,
    b: &Arc<Account>,
    patience: Duration,
) -> Result<[SecondLock; 2], TransferError> {
    let both_hold_one = Barrier::new(2);
    let both_tried = Barrier::new(2);
    let attempt = |first: &Account, second: &Account| {
        let held = first.lock();
        both_hold_one.wait();
        let outcome = match &held {
            Ok(_) => try_lock_for(second, patience),
            Err(e) => Err(e.clone()),
        };
        // Keep the first lock until the other thread has tried too.
        both_tried.wait();
        drop(held);
        outcome
    };
    thread::scope(|scope| {
        let one = scope.spawn(|| attempt(a, b));
        let two = scope.spawn(|| attempt(b, a));
        Ok([join(one)?, join(two)?])
    })
}

fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
// ANCHOR_END: deadlock

// ANCHOR: ordered
/// Fix 1: lock the account with the smaller id first, whatever the
/// direction of the transfer. (Ordering by address, `Arc::as_ptr`, works
/// the same way when there is no natural id.)
pub fn transfer_ordered(
    from: &Account,
    to: &Account,
    cents: i64,
) -> Result<(), TransferError> {
    check(from, to, cents)?;
    let (first, second) = if from.id < to.id {
        (from, to)
    } else {
        (to, from)
    };
    let mut first_guard = first.lock()?;
    let mut second_guard = second.lock()?;
    let (source, target) = if from.id < to.id {
        (&mut *first_guard, &mut *second_guard)
    } else {
        (&mut *second_guard, &mut *first_guard)
    };
    move_cents(from.id, source, target, cents)
}
// ANCHOR_END: ordered

// ANCHOR: backoff
/// Fix 2: never wait for a lock while holding one. Take `from`, try `to`;
/// on failure release `from`, sleep a growing, jittered pause, retry.
pub fn transfer_with_backoff(
    from: &Account,
    to: &Account,
    cents: i64,
    max_attempts: u32,
) -> Result<u32, TransferError> {
    check(from, to, cents)?;
    let mut jitter = Jitter::seeded(from.id, to.id);
    for attempt in 1..=max_attempts {
        let mut source = from.lock()?;
        if let Some(mut target) = to.try_lock()? {
            return move_cents(from.id, &mut source, &mut target, cents)
                .map(|()| attempt);
        }
        drop(source);
        // 1, 2, 4, ... up to 256 microseconds, times a random factor in
        // [1, 2): threads that collided once are unlikely to collide again.
        let base = 1u64 << attempt.min(8);
        thread::sleep(Duration::from_micros(base + jitter.below(base)));
    }
    Err(TransferError::GaveUp {
        attempts: max_attempts,
    })
}

/// xorshift64: a few random bits without a crate.
struct Jitter(u64);

impl Jitter {
    fn seeded(a: u32, b: u32) -> Jitter {
        Jitter(((u64::from(a) << 32) | u64::from(b)) ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}
// ANCHOR_END: backoff

// ANCHOR: run
/// Runs each job on its own thread and waits at most `timeout` for all of
/// them: a deadlock shows up as `None` instead of a hung program.
pub fn finish_within<T: Send + 'static>(
    timeout: Duration,
    jobs: Vec<Box<dyn FnOnce() -> T + Send>>,
) -> Option<Vec<T>> {
    let (done, results) = mpsc::channel();
    let count = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        let done = done.clone();
        thread::spawn(move || {
            let _ = done.send((i, job()));
        });
    }
    // Only the jobs hold senders now: if every job panics, the channel
    // closes and the wait ends at once instead of at the deadline.
    drop(done);
    let deadline = Instant::now() + timeout;
    let mut collected: Vec<Option<T>> = (0..count).map(|_| None).collect();
    for _ in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        let (i, value) = results.recv_timeout(left).ok()?;
        collected[i] = Some(value);
    }
    collected.into_iter().collect()
}

/// `rounds` transfers each way between accounts 1 and 2, concurrently.
fn opposite_transfers(
    transfer: fn(&Account, &Account, i64) -> Result<(), TransferError>,
    rounds: u32,
) -> Result<(i64, i64), String> {
    let (one, two) = (Account::new(1, 100_000), Account::new(2, 100_000));
    let job = |from: &Arc<Account>, to: &Arc<Account>, cents: i64| {
        let (from, to) = (Arc::clone(from), Arc::clone(to));
        Box::new(move || {
            (0..rounds).try_for_each(|_| transfer(&from, &to, cents))
        }) as Box<dyn FnOnce() -> Result<(), TransferError> + Send>
    };
    let jobs = vec![job(&one, &two, 3), job(&two, &one, 5)];
    let results =
        finish_within(Duration::from_secs(30), jobs).ok_or("deadlocked")?;
    for result in results {
        result.map_err(|e| e.to_string())?;
    }
    Ok((
        one.balance().map_err(|e| e.to_string())?,
        two.balance().map_err(|e| e.to_string())?,
    ))
}
// ANCHOR_END: run

// ANCHOR: main
fn with_backoff(
    from: &Account,
    to: &Account,
    cents: i64,
) -> Result<(), TransferError> {
    transfer_with_backoff(from, to, cents, 100_000).map(drop)
}

fn show(label: &str, balances: Result<(i64, i64), String>) {
    match balances {
        Ok((one, two)) => println!(
            "{label}: balances 1: {one}, 2: {two}, total {}",
            one + two
        ),
        Err(e) => println!("{label}: {e}"),
    }
}

fn main() {
    let (a, b) = (Account::new(1, 100_000), Account::new(2, 100_000));
    println!(
        "thread 1 locks account 1 then wants 2; thread 2 locks 2 then wants 1"
    );
    match opposite_order(&a, &b, Duration::from_millis(100)) {
        Ok([one, two]) => {
            println!("  thread 1, second lock: {one:?}");
            println!("  thread 2, second lock: {two:?}");
            println!(
                "  (with lock() instead of try_lock, both would wait forever)"
            );
        }
        Err(e) => println!("  {e}"),
    }

    let rounds = 10_000;
    println!(
        "\n{rounds} transfers of 3 cents 1 -> 2 and of 5 cents 2 -> 1, at once:"
    );
    show(
        "fix 1, smaller id first",
        opposite_transfers(transfer_ordered, rounds),
    );
    show(
        "fix 2, try_lock + back-off",
        opposite_transfers(with_backoff, rounds),
    );
    println!(
        "expected: balances 1: {}, 2: {}",
        100_000 + 2 * rounds,
        100_000 - 2 * rounds
    );

    println!("\nbad input:");
    for (from, to, cents) in [(&a, &a, 10), (&a, &b, 0), (&a, &b, 1_000_000)] {
        if let Err(e) = transfer_ordered(from, to, cents) {
            println!("  {} -> {}, {cents} cents: {e}", from.id, to.id);
        }
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
