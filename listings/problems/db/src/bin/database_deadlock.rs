//! 4.8 Database deadlock simulation: a real deadlock in PostgreSQL, then four
//! ways out of it, each run against the server.
//!
//! Two money transfers go in opposite directions between accounts 1 and 2.
//! Each `UPDATE` takes a row lock that is held until the transaction ends, so
//! when each transfer updates its source account first, each ends up waiting
//! for the row the other holds: a cycle that PostgreSQL breaks by aborting
//! one transaction with SQLSTATE 40P01 (`deadlock_detected`).
//!
//! Choices made here:
//! - Money is integer cents (`bigint`), never floating point. A `CHECK`
//!   keeps balances non-negative; a transfer to the same account or of a
//!   non-positive amount is refused before any SQL runs.
//! - The interleaving is forced, not hoped for: a barrier makes both
//!   transfers hold their first row, and the session that closes the cycle
//!   first waits (by polling `pg_stat_activity`) until the other is blocked.
//! - Which transaction is aborted is made deterministic: the backend whose
//!   `deadlock_timeout` expires first runs the deadlock check and, finding a
//!   cycle, aborts its own transaction. The session meant to lose gets 50 ms,
//!   the other 5 s. (`deadlock_timeout` may only be set by a superuser or a
//!   role granted that right, which the local `postgres` user is.)
//! - Each run uses its own uniquely named table, dropped at the end, so
//!   parallel tests and runs never touch each other's rows.
//! - The server's address comes from `DATABASE_URL` (default
//!   `postgresql://postgres@127.0.0.1:5432/test`). When it is unreachable,
//!   `main` says why on stderr and exits with code 77; the tests print
//!   `skipped: ...` unless `REQUIRE_SERVICES=1`, where they fail.
//! - Output shows SQLSTATE codes and primary messages only: no timings,
//!   process ids or object ids (the 40P01 detail text names PIDs, so it is
//!   not printed).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::error::SqlState;
use postgres::{Client, GenericClient, IsolationLevel};
use support::pg::{connect, database_url};

// ANCHOR: errors
/// Everything a transfer can fail with.
#[derive(Debug)]
pub enum BankError {
    /// The server refused a statement; `sqlstate()` says why.
    Db(postgres::Error),
    /// Refused before touching the database.
    InvalidTransfer(&'static str),
    NoSuchAccount(i32),
    InsufficientFunds {
        id: i32,
        balance: i64,
        cents: i64,
    },
    /// Optimistic write lost: the row's version moved since it was read.
    VersionConflict {
        id: i32,
        expected: i32,
    },
    /// The forced interleaving did not happen (a session never blocked).
    NeverBlocked,
    /// A transient failure persisted through every attempt.
    RetriesExhausted {
        attempts: u32,
        last: Box<BankError>,
    },
}

impl BankError {
    /// The SQLSTATE code, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            BankError::Db(e) => e.code().map(SqlState::code),
            BankError::RetriesExhausted { last, .. } => last.sqlstate(),
            _ => None,
        }
    }

    /// Failures that say "you lost a race, run the whole transaction again":
    /// 40P01 deadlock_detected, 40001 serialization_failure, and a stale
    /// version. Anything else (bad input, no such account) would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            BankError::Db(e) => e.code().is_some_and(|code| {
                *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::T_R_SERIALIZATION_FAILURE
            }),
            BankError::VersionConflict { .. } => true,
            _ => false,
        }
    }
}

// ANCHOR_END: errors

// ANCHOR: error_messages
impl fmt::Display for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BankError::Db(e) => match e.as_db_error() {
                Some(db) => {
                    write!(f, "SQLSTATE {} {}", db.code().code(), db.message())
                }
                None => write!(f, "{e}"),
            },
            BankError::InvalidTransfer(why) => {
                write!(f, "invalid transfer: {why}")
            }
            BankError::NoSuchAccount(id) => write!(f, "no account {id}"),
            BankError::InsufficientFunds { id, balance, cents } => {
                write!(
                    f,
                    "account {id} holds {balance} cents, cannot pay {cents}"
                )
            }
            BankError::VersionConflict { id, expected } => {
                write!(
                    f,
                    "account {id}: version {expected} is stale (0 rows updated)"
                )
            }
            BankError::NeverBlocked => {
                write!(f, "the other session never blocked")
            }
            BankError::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
        }
    }
}

impl std::error::Error for BankError {}

impl From<postgres::Error> for BankError {
    fn from(e: postgres::Error) -> Self {
        BankError::Db(e)
    }
}
// ANCHOR_END: error_messages

/// Move `cents` from one account to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub from: i32,
    pub to: i32,
    pub cents: i64,
}

impl fmt::Display for Transfer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cents from account {} to {}",
            self.cents, self.from, self.to
        )
    }
}

impl Transfer {
    fn validate(self) -> Result<Transfer, BankError> {
        if self.from == self.to {
            Err(BankError::InvalidTransfer(
                "source and destination are the same account",
            ))
        } else if self.cents <= 0 {
            Err(BankError::InvalidTransfer("amount must be positive"))
        } else {
            Ok(self)
        }
    }
}

/// Per-session settings that decide who waits, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    pub deadlock_timeout_ms: u32,
    /// 0 = wait for locks indefinitely (the PostgreSQL default).
    pub lock_timeout_ms: u32,
}

/// The session that should lose a deadlock runs the detector first.
pub const LOSES_DEADLOCKS: SessionSettings = SessionSettings {
    deadlock_timeout_ms: 50,
    lock_timeout_ms: 0,
};
/// The session that should survive checks only after 5 s of waiting.
pub const SURVIVES_DEADLOCKS: SessionSettings = SessionSettings {
    deadlock_timeout_ms: 5_000,
    lock_timeout_ms: 0,
};

/// A connection and its server process id (used only to watch it wait).
pub struct Session {
    pub client: Client,
    pid: i32,
}

// ANCHOR: bank
/// A scratch accounts table, unique to this run, dropped on `Drop`.
pub struct Bank {
    url: String,
    table: String,
    /// Reads balances and watches other sessions; shared by threads.
    admin: Mutex<Client>,
}

static TABLES_CREATED: AtomicU32 = AtomicU32::new(0);

fn unique_table_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = TABLES_CREATED.fetch_add(1, Ordering::Relaxed);
    format!("deadlock_demo_{}_{n}_{nanos}", std::process::id())
}

impl Bank {
    /// Creates the table with the given `(id, balance_cents)` accounts.
    pub fn open(
        url: &str,
        mut admin: Client,
        accounts: &[(i32, i64)],
    ) -> Result<Bank, BankError> {
        let table = unique_table_name();
        admin.batch_execute(&format!(
            "CREATE TABLE {table} (
                 id            integer PRIMARY KEY,
                 balance_cents bigint  NOT NULL CHECK (balance_cents >= 0),
                 version       integer NOT NULL DEFAULT 0
             )"
        ))?;
        // From here on, Drop cleans up even if an insert fails.
        let bank = Bank {
            url: url.to_string(),
            table,
            admin: Mutex::new(admin),
        };
        for &(id, cents) in accounts {
            bank.with_admin(|c| {
                let sql = format!(
                    "INSERT INTO {} (id, balance_cents) VALUES ($1, $2)",
                    bank.table
                );
                c.execute(&sql, &[&id, &cents])
            })?;
        }
        Ok(bank)
    }

    fn with_admin<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, BankError> {
        let mut admin = self
            .admin
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&mut admin)?)
    }

    /// A new connection with these settings. `statement_timeout` is a
    /// safety net: no statement here should ever wait 30 s.
    pub fn session(
        &self,
        settings: SessionSettings,
    ) -> Result<Session, BankError> {
        let mut client = connect(&self.url)?;
        client.batch_execute(&format!(
            "SET deadlock_timeout = {}; SET lock_timeout = {}; SET statement_timeout = 30000",
            settings.deadlock_timeout_ms, settings.lock_timeout_ms
        ))?;
        let pid = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
        Ok(Session { client, pid })
    }

    /// All balances, by account id.
    pub fn balances(&self) -> Result<Vec<(i32, i64)>, BankError> {
        let sql =
            format!("SELECT id, balance_cents FROM {} ORDER BY id", self.table);
        let rows = self.with_admin(|c| c.query(&sql, &[]))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Polls until `pid` is waiting for a lock, so that the next statement
    /// is certain to close the cycle. Each poll is its own transaction, so
    /// `pg_stat_activity` is read fresh every time.
    pub fn wait_until_blocked(&self, pid: i32) -> Result<(), BankError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let sql = "SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1";
        while Instant::now() < deadline {
            let blocked: bool =
                self.with_admin(|c| c.query_one(sql, &[&pid]))?.get(0);
            if blocked {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(5));
        }
        Err(BankError::NeverBlocked)
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        let admin = self
            .admin
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Best effort: a failed drop leaves a uniquely named table behind.
        let _ = admin
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", self.table));
    }
}
// ANCHOR_END: bank

// ANCHOR: transfer
/// `UPDATE` takes the row lock (FOR NO KEY UPDATE strength, since no key
/// column changes) and keeps it until the transaction ends.
fn add_to_balance(
    tx: &mut impl GenericClient,
    table: &str,
    id: i32,
    delta: i64,
) -> Result<(), BankError> {
    let sql = format!(
        "UPDATE {table} SET balance_cents = balance_cents + $2 WHERE id = $1"
    );
    match tx.execute(&sql, &[&id, &delta])? {
        0 => Err(BankError::NoSuchAccount(id)),
        _ => Ok(()),
    }
}

/// The naive transfer: debit the source, then credit the destination.
/// `between` runs after the first row is locked, whether or not that
/// succeeded, so a partner waiting on a barrier is never stranded.
pub fn transfer_source_first(
    session: &mut Session,
    table: &str,
    t: Transfer,
    between: impl FnOnce() -> Result<(), BankError>,
) -> Result<(), BankError> {
    let t = t.validate()?;
    let mut tx = session.client.transaction()?;
    let debited = add_to_balance(&mut tx, table, t.from, -t.cents);
    let ready = between();
    debited?;
    ready?;
    add_to_balance(&mut tx, table, t.to, t.cents)?;
    tx.commit()?;
    Ok(())
}
// ANCHOR_END: transfer

// ANCHOR: ordered
/// Fix (a): lock both rows in ascending id order, whatever the direction.
/// Every transfer then waits in the same order, so no cycle can form.
/// `SELECT ... FOR NO KEY UPDATE` is the row lock the UPDATEs will need
/// anyway, taken up front, which also lets us check funds before moving.
pub fn transfer_in_id_order(
    session: &mut Session,
    table: &str,
    t: Transfer,
    after_locking: impl FnOnce() -> Result<(), BankError>,
) -> Result<(), BankError> {
    let t = t.validate()?;
    let mut tx = session.client.transaction()?;
    let locked = lock_in_id_order(&mut tx, table, t);
    let ready = after_locking();
    let source_balance = locked?;
    ready?;
    if source_balance < t.cents {
        return Err(BankError::InsufficientFunds {
            id: t.from,
            balance: source_balance,
            cents: t.cents,
        });
    }
    add_to_balance(&mut tx, table, t.from, -t.cents)?;
    add_to_balance(&mut tx, table, t.to, t.cents)?;
    tx.commit()?;
    Ok(())
}

/// Locks both accounts, smaller id first; returns the source balance.
fn lock_in_id_order(
    tx: &mut impl GenericClient,
    table: &str,
    t: Transfer,
) -> Result<i64, BankError> {
    let sql = format!(
        "SELECT balance_cents FROM {table} WHERE id = $1 FOR NO KEY UPDATE"
    );
    let mut source_balance = 0;
    for id in [t.from.min(t.to), t.from.max(t.to)] {
        let row = tx
            .query_opt(&sql, &[&id])?
            .ok_or(BankError::NoSuchAccount(id))?;
        if id == t.from {
            source_balance = row.get(0);
        }
    }
    Ok(source_balance)
}
// ANCHOR_END: ordered

// ANCHOR: retry
/// Exponential back-off between attempts: first_delay, 2x, 4x, ... capped.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    first_delay: Duration::from_millis(20),
    max_delay: Duration::from_secs(1),
};

/// Runs `attempt(1)`, `attempt(2)`, ... until one succeeds, a failure is not
/// transient, or the attempts run out. Each attempt must be a whole
/// transaction: after 40P01 or 40001 the server has rolled it all back.
/// Returns the value and the number of attempts it took.
pub fn retry<T>(
    policy: RetryPolicy,
    mut attempt: impl FnMut(u32) -> Result<T, BankError>,
    mut on_retry: impl FnMut(u32, &BankError),
) -> Result<(T, u32), BankError> {
    let mut n = 1;
    loop {
        match attempt(n) {
            Ok(value) => return Ok((value, n)),
            Err(e) if !e.is_transient() => return Err(e),
            Err(e) if n >= policy.max_attempts => {
                return Err(BankError::RetriesExhausted {
                    attempts: n,
                    last: Box::new(e),
                });
            }
            Err(e) => {
                on_retry(n, &e);
                thread::sleep(policy.delay_after(n));
                n += 1;
            }
        }
    }
}
// ANCHOR_END: retry

// ANCHOR: optimistic
/// Reads `(balance_cents, version)` without taking any lock.
fn read_versioned(
    c: &mut impl GenericClient,
    table: &str,
    id: i32,
) -> Result<(i64, i32), BankError> {
    let sql =
        format!("SELECT balance_cents, version FROM {table} WHERE id = $1");
    let row = c
        .query_opt(&sql, &[&id])?
        .ok_or(BankError::NoSuchAccount(id))?;
    Ok((row.get(0), row.get(1)))
}

/// Fix (d): optimistic concurrency. Read, compute, then write only if the
/// version is still the one read; zero rows updated means someone else
/// wrote first. No lock is held between the read and the write.
pub fn add_optimistically(
    c: &mut impl GenericClient,
    table: &str,
    id: i32,
    delta: i64,
    after_read: impl FnOnce() -> Result<(), BankError>,
) -> Result<i64, BankError> {
    let (balance, version) = read_versioned(c, table, id)?;
    after_read()?;
    let new_balance = balance + delta;
    if new_balance < 0 {
        return Err(BankError::InsufficientFunds {
            id,
            balance,
            cents: -delta,
        });
    }
    let sql = format!(
        "UPDATE {table} SET balance_cents = $2, version = version + 1 \
         WHERE id = $1 AND version = $3"
    );
    match c.execute(&sql, &[&id, &new_balance, &version])? {
        0 => Err(BankError::VersionConflict {
            id,
            expected: version,
        }),
        _ => Ok(new_balance),
    }
}

// ANCHOR_END: optimistic

// ANCHOR: lost_update
/// The lost-update bug, for contrast: read, compute, write back blindly.
pub fn add_read_modify_write(
    c: &mut impl GenericClient,
    table: &str,
    id: i32,
    delta: i64,
    after_read: impl FnOnce() -> Result<(), BankError>,
) -> Result<i64, BankError> {
    let (balance, _) = read_versioned(c, table, id)?;
    after_read()?;
    let sql = format!("UPDATE {table} SET balance_cents = $2 WHERE id = $1");
    c.execute(&sql, &[&id, &(balance + delta)])?;
    Ok(balance + delta)
}
// ANCHOR_END: lost_update

// ANCHOR: scenarios
// ANCHOR: sides
/// The two sides of every scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

pub const START: [(i32, i64); 2] = [(1, 10_000), (2, 10_000)];
pub const A_PAYS: Transfer = Transfer {
    from: 1,
    to: 2,
    cents: 1_000,
};
pub const B_PAYS: Transfer = Transfer {
    from: 2,
    to: 1,
    cents: 2_500,
};

impl Side {
    /// This side's transfer, then the other side's.
    fn transfers(self) -> (Transfer, Transfer) {
        match self {
            Side::A => (A_PAYS, B_PAYS),
            Side::B => (B_PAYS, A_PAYS),
        }
    }
}
// ANCHOR_END: sides

// ANCHOR: run_deadlock
/// Forces the deadlock: both transfers lock their source row, then the
/// survivor asks for the victim's row and blocks, and only then does the
/// victim ask for the survivor's row, closing the cycle. With the victim's
/// shorter `deadlock_timeout`, its backend runs the check first and aborts
/// its own transaction. `victim_retries` wraps the victim's transfer in
/// `retry`, forcing the deadlock on the first attempt only.
pub fn run_deadlock(
    bank: &Bank,
    victim: Side,
    victim_settings: SessionSettings,
    victim_retries: bool,
) -> Result<[Result<u32, BankError>; 2], BankError> {
    let (victim_pays, survivor_pays) = victim.transfers();
    let mut survivor = bank.session(SURVIVES_DEADLOCKS)?;
    let mut loser = bank.session(victim_settings)?;
    let survivor_pid = survivor.pid;
    let both_hold_one_row = Barrier::new(2);
    let table = bank.table.as_str();

    let (survivor_result, victim_result) = thread::scope(|scope| {
        let barrier = &both_hold_one_row;
        let survivor_thread = scope.spawn(move || {
            transfer_source_first(&mut survivor, table, survivor_pays, || {
                barrier.wait();
                Ok(())
            })
            .map(|()| 1)
        });
        let victim_thread = scope.spawn(move || {
            let mut choreography = Some(|| {
                barrier.wait();
                bank.wait_until_blocked(survivor_pid)
            });
            let mut once = |_: u32| {
                let between = choreography.take();
                transfer_source_first(&mut loser, table, victim_pays, || {
                    match between {
                        Some(forced) => forced(),
                        None => Ok(()),
                    }
                })
            };
            if victim_retries {
                retry(RETRY, once, |n, e| {
                    println!("   {victim:?} attempt {n}: {e}")
                })
                .map(|((), attempts)| attempts)
            } else {
                once(1).map(|()| 1)
            }
        });
        (join(survivor_thread), join(victim_thread))
    });
    Ok(match victim {
        Side::A => [victim_result, survivor_result],
        Side::B => [survivor_result, victim_result],
    })
}
// ANCHOR_END: run_deadlock

/// Fix (a) under contention: A locks both rows (in id order) and holds
/// them until B is seen waiting; B, also in id order, waits behind A
/// instead of forming a cycle.
pub fn run_id_order(
    bank: &Bank,
) -> Result<[Result<u32, BankError>; 2], BankError> {
    let mut a = bank.session(SURVIVES_DEADLOCKS)?;
    let mut b = bank.session(SURVIVES_DEADLOCKS)?;
    let b_pid = b.pid;
    let a_holds_both = Barrier::new(2);
    let table = bank.table.as_str();
    Ok(thread::scope(|scope| {
        let barrier = &a_holds_both;
        let a_thread = scope.spawn(move || {
            transfer_in_id_order(&mut a, table, A_PAYS, || {
                barrier.wait();
                bank.wait_until_blocked(b_pid)
            })
            .map(|()| 1)
        });
        let b_thread = scope.spawn(move || {
            barrier.wait();
            transfer_in_id_order(&mut b, table, B_PAYS, || Ok(())).map(|()| 1)
        });
        [join(a_thread), join(b_thread)]
    }))
}

fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Fix (b): B gives up on a held lock after `lock_timeout` with 55P03
/// instead of waiting (and possibly deadlocking) for as long as A likes.
pub fn run_lock_timeout(
    bank: &Bank,
    lock_timeout_ms: u32,
) -> Result<[Result<(), BankError>; 2], BankError> {
    let mut a = bank.session(SURVIVES_DEADLOCKS)?;
    let mut b = bank.session(SessionSettings {
        deadlock_timeout_ms: 1_000,
        lock_timeout_ms,
    })?;
    let mut a_tx = a.client.transaction()?;
    add_to_balance(&mut a_tx, &bank.table, A_PAYS.from, -A_PAYS.cents)?;
    // B needs account 1, which A's open transaction holds.
    let b_result =
        transfer_source_first(&mut b, &bank.table, B_PAYS, || Ok(()));
    let a_result =
        add_to_balance(&mut a_tx, &bank.table, A_PAYS.to, A_PAYS.cents)
            .and_then(|()| Ok(a_tx.commit()?));
    Ok([a_result, b_result])
}

/// 40001 under SERIALIZABLE: another session updates account 1 between
/// A's read and A's write, so A's write cannot be serialized. A retries.
pub fn run_serialization_failure(
    bank: &Bank,
    with_retry: bool,
) -> Result<Result<u32, BankError>, BankError> {
    let mut a = bank.session(SURVIVES_DEADLOCKS)?;
    let mut other = bank.session(SURVIVES_DEADLOCKS)?;
    let table = bank.table.as_str();
    let mut interfere =
        Some(move || add_to_balance(&mut other.client, table, 1, B_PAYS.cents));
    let mut once = |_: u32| {
        let mut tx = a
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()?;
        let balance: i64 = tx
            .query_one(
                &format!("SELECT balance_cents FROM {table} WHERE id = 1"),
                &[],
            )?
            .get(0);
        if let Some(mut concurrent_update) = interfere.take() {
            concurrent_update()?;
        }
        if balance < A_PAYS.cents {
            return Err(BankError::InsufficientFunds {
                id: 1,
                balance,
                cents: A_PAYS.cents,
            });
        }
        add_to_balance(&mut tx, table, 1, -A_PAYS.cents)?;
        add_to_balance(&mut tx, table, 2, A_PAYS.cents)?;
        tx.commit()?;
        Ok(())
    };
    Ok(if with_retry {
        retry(RETRY, once, |n, e| println!("   A attempt {n}: {e}"))
            .map(|((), n)| n)
    } else {
        once(1).map(|()| 1)
    })
}

/// Fix (d) side by side with the bug: B deposits into account 1 between A's
/// read and A's write of it. Returns A's result.
pub fn run_optimistic(
    bank: &Bank,
    versioned: bool,
    with_retry: bool,
) -> Result<Result<u32, BankError>, BankError> {
    let mut a = bank.session(SURVIVES_DEADLOCKS)?;
    let mut b = bank.session(SURVIVES_DEADLOCKS)?;
    let table = bank.table.as_str();
    let mut b_deposits = Some(move || {
        add_optimistically(&mut b.client, table, 1, B_PAYS.cents, || Ok(()))
            .map(drop)
    });
    let mut once = |_: u32| {
        let interleave = b_deposits.take();
        let after_read = move || match interleave {
            Some(mut deposit) => deposit(),
            None => Ok(()),
        };
        let withdrawn = if versioned {
            add_optimistically(
                &mut a.client,
                table,
                1,
                -A_PAYS.cents,
                after_read,
            )
        } else {
            add_read_modify_write(
                &mut a.client,
                table,
                1,
                -A_PAYS.cents,
                after_read,
            )
        };
        withdrawn.map(drop)
    };
    Ok(if with_retry {
        retry(RETRY, once, |n, e| println!("   A attempt {n}: {e}"))
            .map(|((), n)| n)
    } else {
        once(1).map(|()| 1)
    })
}
// ANCHOR_END: scenarios

/// The server's address, once a connection to it succeeded; otherwise says
/// why on stderr and exits with code 77 (skipped).
fn database_or_exit() -> String {
    let url = database_url();
    if let Err(e) = connect(&url) {
        support::skip::exit_unavailable(
            "database_deadlock",
            "PostgreSQL (set DATABASE_URL)",
            e,
        );
    }
    url
}

// ANCHOR: demo_locking
fn outcome(result: &Result<u32, BankError>) -> String {
    match result {
        Ok(1) => "committed".to_string(),
        Ok(n) => format!("committed on attempt {n}"),
        Err(e) => e.to_string(),
    }
}

fn print_balances(bank: &Bank) -> Result<(), BankError> {
    let balances = bank.balances()?;
    let total: i64 = balances.iter().map(|&(_, cents)| cents).sum();
    println!("   balances {balances:?}, total {total}");
    Ok(())
}

fn fresh_bank(url: &str) -> Result<Bank, BankError> {
    Bank::open(url, connect(url)?, &START)
}

/// Scenario 1, the deadlock, and the fixes that change how locks are
/// taken: (a) in id order, (b) with a lock timeout.
fn deadlock_and_lock_fixes(url: &str) -> Result<(), BankError> {
    println!(
        "\n1. each transfer updates its source first; \
         B has the shorter deadlock_timeout"
    );
    let bank = fresh_bank(url)?;
    let [a, b] = run_deadlock(&bank, Side::B, LOSES_DEADLOCKS, false)?;
    println!("   A: {}\n   B: {}", outcome(&a), outcome(&b));
    print_balances(&bank)?;

    println!("\n(a) both lock account 1 before account 2");
    let bank = fresh_bank(url)?;
    let [a, b] = run_id_order(&bank)?;
    println!(
        "   A: {}\n   B: {} after waiting for A",
        outcome(&a),
        outcome(&b)
    );
    print_balances(&bank)?;

    println!("\n(b) B sets lock_timeout = 100ms while A holds account 1");
    let bank = fresh_bank(url)?;
    let [a, b] = run_lock_timeout(&bank, 100)?;
    println!("   B: {}", outcome(&b.map(|()| 1)));
    println!("   A: {}", outcome(&a.map(|()| 1)));
    print_balances(&bank)?;
    Ok(())
}
// ANCHOR_END: demo_locking

// ANCHOR: main
/// The fixes that retry: (c) on 40P01 and 40001, (d) on a stale version.
fn retry_fixes(url: &str) -> Result<(), BankError> {
    println!("\n(c) B retries 40P01 and 40001 with exponential back-off");
    let bank = fresh_bank(url)?;
    let [a, b] = run_deadlock(&bank, Side::B, LOSES_DEADLOCKS, true)?;
    println!("   A: {}\n   B: {}", outcome(&a), outcome(&b));
    print_balances(&bank)?;

    println!(
        "\n(c) again, SERIALIZABLE: 2500 is paid into account 1 \
         between A's read and write"
    );
    let bank = fresh_bank(url)?;
    let a = run_serialization_failure(&bank, true)?;
    println!("   A: {}", outcome(&a));
    print_balances(&bank)?;

    println!(
        "\n(d) B pays 2500 into account 1 between A's read and A's write of it"
    );
    println!("   read-modify-write, no version check:");
    let bank = fresh_bank(url)?;
    let a = run_optimistic(&bank, false, false)?;
    println!("   A: {}, and B's 2500 is lost", outcome(&a));
    print_balances(&bank)?;
    println!("   UPDATE ... WHERE version = $read, retried on 0 rows:");
    let bank = fresh_bank(url)?;
    let a = run_optimistic(&bank, true, true)?;
    println!("   A: {}", outcome(&a));
    print_balances(&bank)?;
    Ok(())
}

fn demo(url: &str) -> Result<(), BankError> {
    println!("accounts {START:?} (id, cents)");
    println!("A pays {A_PAYS}; B pays {B_PAYS}");
    deadlock_and_lock_fixes(url)?;
    retry_fixes(url)
}

fn main() {
    let url = database_or_exit();
    if let Err(e) = demo(&url) {
        eprintln!("database_deadlock: {e}");
        std::process::exit(1);
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    use support::skip::services_required;

    /// A fresh bank, or `None` (after saying so) when there is no server.
    fn bank_or_skip(test: &str) -> Option<Bank> {
        let url = database_url();
        match connect(&url) {
            Ok(admin) => Some(
                Bank::open(&url, admin, &START)
                    .expect("create the accounts table"),
            ),
            Err(e) if services_required() => {
                panic!("{test}: PostgreSQL unreachable: {e}")
            }
            Err(e) => {
                println!("skipped: {test}: PostgreSQL unreachable: {e}");
                None
            }
        }
    }

    fn total(bank: &Bank) -> i64 {
        bank.balances().unwrap().iter().map(|&(_, c)| c).sum()
    }

    /// Both transfers applied: 10000 - 1000 + 2500 and 10000 + 1000 - 2500.
    const BOTH: [(i32, i64); 2] = [(1, 11_500), (2, 8_500)];
    const ONLY_A: [(i32, i64); 2] = [(1, 9_000), (2, 11_000)];
    const ONLY_B: [(i32, i64); 2] = [(1, 12_500), (2, 7_500)];

    #[test]
    fn the_session_with_the_short_deadlock_timeout_is_aborted() {
        let Some(bank) = bank_or_skip("deadlock, B loses") else {
            return;
        };
        let [a, b] =
            run_deadlock(&bank, Side::B, LOSES_DEADLOCKS, false).unwrap();
        assert_eq!(a.unwrap(), 1);
        assert_eq!(b.unwrap_err().sqlstate(), Some("40P01"));
        assert_eq!(bank.balances().unwrap(), ONLY_A);
    }

    #[test]
    fn swapping_the_timeouts_swaps_the_victim() {
        let Some(bank) = bank_or_skip("deadlock, A loses") else {
            return;
        };
        let [a, b] =
            run_deadlock(&bank, Side::A, LOSES_DEADLOCKS, false).unwrap();
        assert_eq!(a.unwrap_err().sqlstate(), Some("40P01"));
        assert_eq!(b.unwrap(), 1);
        assert_eq!(bank.balances().unwrap(), ONLY_B);
    }

    #[test]
    fn locking_in_id_order_makes_the_second_transfer_wait_not_deadlock() {
        let Some(bank) = bank_or_skip("id order") else {
            return;
        };
        let [a, b] = run_id_order(&bank).unwrap();
        assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
        assert_eq!(bank.balances().unwrap(), BOTH);
    }

    #[test]
    fn opposite_transfers_in_id_order_never_deadlock_under_load() {
        let Some(bank) = bank_or_skip("id order under load") else {
            return;
        };
        // Small amounts, so no round can overdraw either account.
        let (rounds, one_to_two, two_to_one) = (25, 30, 100);
        let a = Transfer {
            from: 1,
            to: 2,
            cents: one_to_two,
        };
        let b = Transfer {
            from: 2,
            to: 1,
            cents: two_to_one,
        };
        thread::scope(|scope| {
            for t in [a, b] {
                let bank = &bank;
                scope.spawn(move || {
                    let mut s = bank.session(SURVIVES_DEADLOCKS).unwrap();
                    for _ in 0..rounds {
                        transfer_in_id_order(&mut s, &bank.table, t, || Ok(()))
                            .unwrap();
                    }
                });
            }
        });
        let moved = rounds * (two_to_one - one_to_two);
        assert_eq!(
            bank.balances().unwrap(),
            [(1, 10_000 + moved), (2, 10_000 - moved)]
        );
    }

    #[test]
    fn lock_timeout_fails_fast_with_55p03() {
        let Some(bank) = bank_or_skip("lock_timeout") else {
            return;
        };
        let started = Instant::now();
        let [a, b] = run_lock_timeout(&bank, 100).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B waited too long"
        );
        assert_eq!(b.unwrap_err().sqlstate(), Some("55P03"));
        a.unwrap();
        assert_eq!(bank.balances().unwrap(), ONLY_A);
    }

    #[test]
    fn lock_timeout_shorter_than_deadlock_timeout_ends_a_deadlock_with_55p03() {
        let Some(bank) = bank_or_skip("lock_timeout in a deadlock") else {
            return;
        };
        let impatient = SessionSettings {
            deadlock_timeout_ms: 5_000,
            lock_timeout_ms: 100,
        };
        let [a, b] = run_deadlock(&bank, Side::B, impatient, false).unwrap();
        assert_eq!(a.unwrap(), 1);
        assert_eq!(b.unwrap_err().sqlstate(), Some("55P03"));
        assert_eq!(bank.balances().unwrap(), ONLY_A);
    }

    #[test]
    fn retrying_the_deadlock_victim_applies_both_transfers() {
        let Some(bank) = bank_or_skip("retry 40P01") else {
            return;
        };
        let [a, b] =
            run_deadlock(&bank, Side::B, LOSES_DEADLOCKS, true).unwrap();
        assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
        assert_eq!(bank.balances().unwrap(), BOTH);
    }

    #[test]
    fn serializable_conflict_is_40001_and_a_retry_succeeds() {
        let Some(bank) = bank_or_skip("40001") else {
            return;
        };
        let failed = run_serialization_failure(&bank, false).unwrap();
        assert_eq!(failed.unwrap_err().sqlstate(), Some("40001"));
        // Only the concurrent deposit landed.
        assert_eq!(bank.balances().unwrap(), [(1, 12_500), (2, 10_000)]);

        let Some(bank) = bank_or_skip("40001 retried") else {
            return;
        };
        assert_eq!(run_serialization_failure(&bank, true).unwrap().unwrap(), 2);
        assert_eq!(bank.balances().unwrap(), [(1, 11_500), (2, 11_000)]);
    }

    #[test]
    fn read_modify_write_loses_the_concurrent_deposit() {
        let Some(bank) = bank_or_skip("lost update") else {
            return;
        };
        run_optimistic(&bank, false, false).unwrap().unwrap();
        assert_eq!(
            bank.balances().unwrap()[0],
            (1, 9_000),
            "the bug should reproduce"
        );
    }

    #[test]
    fn a_version_check_detects_the_conflict() {
        let Some(bank) = bank_or_skip("version conflict") else {
            return;
        };
        let err = run_optimistic(&bank, true, false).unwrap().unwrap_err();
        assert!(
            matches!(err, BankError::VersionConflict { id: 1, expected: 0 }),
            "{err}"
        );
        assert_eq!(
            bank.balances().unwrap()[0],
            (1, 12_500),
            "only B's deposit landed"
        );
    }

    #[test]
    fn a_version_check_with_retry_keeps_both_updates() {
        let Some(bank) = bank_or_skip("version retry") else {
            return;
        };
        assert_eq!(run_optimistic(&bank, true, true).unwrap().unwrap(), 2);
        assert_eq!(bank.balances().unwrap()[0], (1, 11_500));
        assert_eq!(total(&bank), 21_500, "the deposit came from outside");
    }

    #[test]
    fn missing_accounts_and_overdrafts_are_errors_not_panics() {
        let Some(bank) = bank_or_skip("bad transfers") else {
            return;
        };
        let mut s = bank.session(SURVIVES_DEADLOCKS).unwrap();
        let to_nowhere = Transfer {
            from: 1,
            to: 99,
            cents: 1,
        };
        let err =
            transfer_in_id_order(&mut s, &bank.table, to_nowhere, || Ok(()))
                .unwrap_err();
        assert!(matches!(err, BankError::NoSuchAccount(99)), "{err}");
        let err =
            transfer_source_first(&mut s, &bank.table, to_nowhere, || Ok(()))
                .unwrap_err();
        assert!(matches!(err, BankError::NoSuchAccount(99)), "{err}");
        let too_much = Transfer {
            from: 1,
            to: 2,
            cents: 10_001,
        };
        let err =
            transfer_in_id_order(&mut s, &bank.table, too_much, || Ok(()))
                .unwrap_err();
        assert!(
            matches!(
                err,
                BankError::InsufficientFunds {
                    id: 1,
                    balance: 10_000,
                    ..
                }
            ),
            "{err}"
        );
        // The CHECK constraint stops the naive path too: 23514 check_violation.
        let err =
            transfer_source_first(&mut s, &bank.table, too_much, || Ok(()))
                .unwrap_err();
        assert_eq!(err.sqlstate(), Some("23514"));
        assert!(!err.is_transient());
        assert_eq!(bank.balances().unwrap(), START, "nothing moved");
    }

    #[test]
    fn invalid_transfers_are_refused_before_any_sql() {
        let same = Transfer {
            from: 1,
            to: 1,
            cents: 5,
        };
        let zero = Transfer {
            from: 1,
            to: 2,
            cents: 0,
        };
        let negative = Transfer {
            from: 1,
            to: 2,
            cents: -5,
        };
        for t in [same, zero, negative] {
            assert!(
                matches!(t.validate(), Err(BankError::InvalidTransfer(_))),
                "{t:?}"
            );
        }
    }

    #[test]
    fn retry_gives_up_after_max_attempts() {
        let policy = RetryPolicy {
            max_attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let mut calls = 0;
        let mut retried = Vec::new();
        let result: Result<((), u32), BankError> = retry(
            policy,
            |_| {
                calls += 1;
                Err(BankError::VersionConflict { id: 1, expected: 0 })
            },
            |n, _| retried.push(n),
        );
        let Err(BankError::RetriesExhausted { attempts, .. }) = result else {
            panic!("expected RetriesExhausted");
        };
        assert_eq!((attempts, calls), (3, 3));
        assert_eq!(retried, [1, 2]);
    }

    #[test]
    fn retry_stops_at_a_permanent_error() {
        let mut calls = 0;
        let result: Result<((), u32), BankError> = retry(
            RETRY,
            |_| {
                calls += 1;
                Err(BankError::NoSuchAccount(7))
            },
            |_, _| panic!("must not retry"),
        );
        assert!(matches!(result, Err(BankError::NoSuchAccount(7))));
        assert_eq!(calls, 1);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let delays: Vec<u128> =
            (1..=8).map(|n| RETRY.delay_after(n).as_millis()).collect();
        assert_eq!(delays, [20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(RETRY.delay_after(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn an_unreachable_server_is_a_connect_error() {
        let started = Instant::now();
        assert!(connect("postgresql://postgres@127.0.0.1:1/test").is_err());
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
