//! 2.3 Database migrations without downtime: why a one-line `ALTER TABLE`
//! can take a site down, shown through `pg_stat_activity` and `pg_locks` on
//! a real PostgreSQL server, and the cure: `lock_timeout` with retries.
//!
//! A transaction that has read a table holds ACCESS SHARE on it until it
//! ends. `ALTER TABLE ... ADD COLUMN` needs ACCESS EXCLUSIVE, so it waits;
//! and every later statement on the table, even a plain `SELECT`, queues
//! behind the waiting `ALTER`, because PostgreSQL grants locks in order.
//! With `lock_timeout` the `ALTER` gives up quickly (SQLSTATE 55P03), the
//! queue drains, and the migration tries again after a pause.
//!
//! Choices made here:
//! - Each session is named by `application_name` (`<scratch>/holder`,
//!   `/migration`, `/reader`), so the report names roles, never pids.
//! - The interleaving is forced: each next session starts only once the
//!   previous one is seen waiting (`wait_event_type = 'Lock'`), and the
//!   holder commits only when told to. No sleep is used to synchronise;
//!   the only sleeps are the retry policy's back-off.
//! - Each run has its own scratch schema, dropped at the end.
//! - Without a server `main` exits with code 77 and the tests print
//!   `skipped: ...` (a failure under `REQUIRE_SERVICES=1`).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, NoTls};

// ANCHOR: error
/// What a migration with a lock budget can end with.
#[derive(Debug, thiserror::Error)]
pub enum DdlError {
    #[error("{}", describe(.0))]
    Db(#[from] postgres::Error),
    #[error("gave up after {attempts} attempts: {}", describe(.last))]
    GaveUp {
        attempts: u32,
        last: postgres::Error,
    },
    #[error("invalid retry policy: {0}")]
    Policy(&'static str),
    #[error("no session {0} appeared waiting for a lock within 10 s")]
    NeverBlocked(String),
}
// ANCHOR_END: error

/// `55P03 canceling statement due to lock timeout`: code and message only.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

// ANCHOR: policy
/// How long one attempt may wait for its lock, and how often to try.
pub struct Policy {
    pub lock_timeout: Duration,
    pub attempts: u32,
    pub first_pause: Duration,
    pub max_pause: Duration,
}

impl Policy {
    fn check(&self) -> Result<(), DdlError> {
        let ms = self.lock_timeout.as_millis();
        // lock_timeout = 0 means "wait forever": the very thing to avoid.
        if !(1..=60_000).contains(&ms) {
            return Err(DdlError::Policy("lock_timeout must be 1 ms to 60 s"));
        }
        if !(1..=100).contains(&self.attempts) {
            return Err(DdlError::Policy("attempts must be 1 to 100"));
        }
        Ok(())
    }

    /// Doubles from `first_pause`, capped at `max_pause`.
    pub fn pause(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
        self.first_pause.saturating_mul(factor).min(self.max_pause)
    }
}

// ANCHOR_END: policy

// ANCHOR: retry
/// Runs `ddl` in its own transaction, waiting at most `lock_timeout` for
/// each lock; on 55P03 rolls back, pauses and tries again. `on_retry` sees
/// each failed attempt. Any other error is returned at once.
pub fn migrate_with_retry(
    c: &mut Client,
    ddl: &str,
    policy: &Policy,
    mut on_retry: impl FnMut(u32, &postgres::Error),
) -> Result<u32, DdlError> {
    policy.check()?;
    let timeout = format!("{}ms", policy.lock_timeout.as_millis());
    let mut attempt = 1;
    loop {
        let mut tx = c.transaction()?;
        tx.execute("SELECT set_config('lock_timeout', $1, true)", &[&timeout])?;
        let err = match tx.batch_execute(ddl) {
            Ok(()) => return tx.commit().map(|()| attempt).map_err(Into::into),
            Err(err) => err,
        };
        drop(tx); // rolls back, releasing the place in the queue
        if err.code() != Some(&SqlState::LOCK_NOT_AVAILABLE) {
            return Err(err.into());
        }
        if attempt == policy.attempts {
            return Err(DdlError::GaveUp {
                attempts: attempt,
                last: err,
            });
        }
        on_retry(attempt, &err);
        thread::sleep(policy.pause(attempt));
        attempt += 1;
    }
}
// ANCHOR_END: retry

// ANCHOR: observe
/// Every session of this run, as the server sees it: what it holds on
/// `orders`, what it waits for, and who blocks it (`pg_blocking_pids`).
pub fn lock_report(
    observer: &mut Client,
    run: &str,
) -> Result<Vec<String>, postgres::Error> {
    let rows = observer.query(
        "SELECT split_part(a.application_name, '/', 2),
                coalesce(a.wait_event_type, '-'),
                coalesce((SELECT string_agg(l.mode, ',') FROM pg_locks l
                          WHERE l.pid = a.pid AND l.granted
                            AND l.relation = 'orders'::regclass), '-'),
                coalesce((SELECT string_agg(l.mode, ',') FROM pg_locks l
                          WHERE l.pid = a.pid AND NOT l.granted
                            AND l.relation = 'orders'::regclass), '-'),
                coalesce((SELECT string_agg(
                              split_part(b.application_name, '/', 2), ',')
                          FROM pg_stat_activity b
                          WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '-')
         FROM pg_stat_activity a
         WHERE a.application_name LIKE $1 || '/%'
           AND a.pid <> pg_backend_pid()
         ORDER BY 1",
        &[&run],
    )?;
    let mut report = vec![format!(
        "{:<10} {:<7} {:<16} {:<20} {}",
        "role", "wait", "holds", "wants", "blocked by"
    )];
    for r in rows {
        let (role, wait, holds): (String, String, String) =
            (r.get(0), r.get(1), r.get(2));
        let (wants, blockers): (String, String) = (r.get(3), r.get(4));
        report.push(format!(
            "{role:<10} {wait:<7} {holds:<16} {wants:<20} {blockers}"
        ));
    }
    Ok(report)
}
// ANCHOR_END: observe

// ANCHOR: poll
/// Polls until the session `run/role` waits for a lock.
pub fn wait_until_blocked(
    observer: &mut Client,
    run: &str,
    role: &str,
) -> Result<(), DdlError> {
    let name = format!("{run}/{role}");
    let sql = "SELECT count(*) FROM pg_stat_activity
               WHERE application_name = $1 AND wait_event_type = 'Lock'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if observer.query_one(sql, &[&name])?.get::<_, i64>(0) == 1 {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(5));
    }
    Err(DdlError::NeverBlocked(name))
}
// ANCHOR_END: poll

/// A scratch schema with an `orders` table, dropped on drop; its sessions
/// carry `application_name` = `<schema>/<role>`.
pub struct Scratch {
    pub run: String,
    admin: Client,
}

impl Scratch {
    pub fn create() -> Result<Scratch, postgres::Error> {
        let run = support::unique_name("ddl_lock_queue");
        let mut admin = support::pg::connect(&support::pg::database_url())?;
        admin.batch_execute(&format!(
            "CREATE SCHEMA {run};
             CREATE TABLE {run}.orders (id int PRIMARY KEY, total int);
             INSERT INTO {run}.orders SELECT g, g * 10
                 FROM generate_series(1, 100) AS g;"
        ))?;
        Ok(Scratch { run, admin })
    }

    pub fn session(&self, role: &str) -> Result<Client, postgres::Error> {
        let mut config: postgres::Config =
            support::pg::database_url().parse()?;
        config.connect_timeout(Duration::from_secs(3));
        config.application_name(&format!("{}/{role}", self.run));
        config.options(&format!("-c search_path={}", self.run));
        config.connect(NoTls)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.run);
        let _ = self.admin.batch_execute(&sql);
    }
}

// ANCHOR: holder
/// A session that reads `orders` in a transaction and keeps it open (a
/// slow report, a forgotten `BEGIN` in a shell) until `release` receives.
pub fn hold_access_share(
    mut c: Client,
    held: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    done: mpsc::Sender<()>,
) -> Result<(), postgres::Error> {
    let mut tx = c.transaction()?;
    tx.query("SELECT count(*) FROM orders", &[])?;
    let _ = held.send(());
    let _ = release.recv();
    tx.commit()?;
    let _ = done.send(());
    Ok(())
}
// ANCHOR_END: holder

/// The holder on its own thread, and the two ends that drive it.
pub struct Holder {
    release: mpsc::Sender<()>,
    done: mpsc::Receiver<()>,
    thread: thread::JoinHandle<Result<(), postgres::Error>>,
}

impl Holder {
    pub fn start(scratch: &Scratch) -> Result<Holder, DdlError> {
        let c = scratch.session("holder")?;
        let (held_tx, held_rx) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            hold_access_share(c, held_tx, release_rx, done_tx)
        });
        // The holder sends once it holds its lock; a failed start drops
        // the sender and `recv` returns at once.
        let _ = held_rx.recv();
        Ok(Holder {
            release,
            done,
            thread,
        })
    }

    /// Commits the holder's transaction and waits until it has.
    pub fn commit(self) -> Result<(), DdlError> {
        let _ = self.release.send(());
        let _ = self.done.recv();
        match self.thread.join() {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(DdlError::Policy("the holder thread panicked")),
        }
    }
}

/// A session thread's result, or an error if the thread panicked.
fn joined<T>(result: thread::Result<T>) -> Result<T, DdlError> {
    result.map_err(|_| DdlError::Policy("a session thread panicked"))
}

// ANCHOR: queue
/// The lock queue: holder, then an `ALTER TABLE` without a lock budget,
/// then a plain `SELECT`. Returns the report taken while all three wait,
/// and how many columns the `SELECT` saw once it ran.
fn show_the_queue(s: &Scratch) -> Result<(Vec<String>, usize), DdlError> {
    let mut observer = s.session("observer")?;
    let holder = Holder::start(s)?;
    let mut migration = s.session("migration")?;
    let alter = thread::spawn(move || {
        migration.batch_execute("ALTER TABLE orders ADD COLUMN note text")
    });
    wait_until_blocked(&mut observer, &s.run, "migration")?;
    let mut reader = s.session("reader")?;
    let select = thread::spawn(move || {
        reader.query_one("SELECT * FROM orders WHERE id = 1", &[])
    });
    wait_until_blocked(&mut observer, &s.run, "reader")?;
    let report = lock_report(&mut observer, &s.run)?;
    holder.commit()?;
    joined(alter.join())??;
    let row = joined(select.join())??;
    Ok((report, row.len()))
}
// ANCHOR_END: queue

// ANCHOR: main
fn demo() -> Result<(), DdlError> {
    let s = Scratch::create()?;
    println!("while the holder's transaction stays open:");
    let (report, columns) = show_the_queue(&s)?;
    for line in report {
        println!("  {line}");
    }
    println!("holder committed; the SELECT then saw {columns} columns,");
    println!("so it ran after the ALTER TABLE that was queued ahead of it");

    let holder = Holder::start(&s)?;
    let mut holder = Some(holder);
    let mut migration = s.session("migration")?;
    let policy = Policy {
        lock_timeout: Duration::from_millis(100),
        attempts: 5,
        first_pause: Duration::from_millis(50),
        max_pause: Duration::from_secs(1),
    };
    let ddl = "ALTER TABLE orders ADD COLUMN shipped_at timestamptz";
    let attempts = migrate_with_retry(&mut migration, ddl, &policy, |n, e| {
        let pause = policy.pause(n).as_millis();
        println!("attempt {n}: {}; retry in {pause} ms", describe(e));
        if n == 2 {
            // The long transaction ends while the migration backs off.
            if let Some(h) = holder.take() {
                let _ = h.commit();
            }
        }
    })?;
    println!("attempt {attempts}: ALTER TABLE done");
    Ok(())
}

// ANCHOR_END: main

fn main() {
    if let Err(e) = support::pg::connect(&support::pg::database_url()) {
        support::skip::exit_unavailable("ddl_lock_queue", "PostgreSQL", e);
    }
    if let Err(e) = demo() {
        eprintln!("ddl_lock_queue: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> Option<Scratch> {
        support::skip::in_test(test, "PostgreSQL", Scratch::create())
    }

    fn policy(lock_timeout_ms: u64, attempts: u32) -> Policy {
        Policy {
            lock_timeout: Duration::from_millis(lock_timeout_ms),
            attempts,
            first_pause: Duration::from_millis(10),
            max_pause: Duration::from_millis(40),
        }
    }

    fn columns(c: &mut Client) -> Vec<String> {
        c.query(
            "SELECT attname::text FROM pg_attribute
             WHERE attrelid = 'orders'::regclass AND attnum > 0
               AND NOT attisdropped ORDER BY attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    }

    #[test]
    fn a_select_queues_behind_the_waiting_alter_not_behind_the_reader() {
        let Some(s) = scratch("ddl_lock_queue: queue") else {
            return;
        };
        let (report, seen) = show_the_queue(&s).unwrap();
        let rows: Vec<Vec<&str>> = report
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows.len(), 4, "{report:#?}");
        // role, wait event type, held mode, wanted mode, blockers.
        // The holder holds ACCESS SHARE and is idle in its transaction.
        assert_eq!(rows[1], ["holder", "Client", "AccessShareLock", "-", "-"]);
        // The migration waits for ACCESS EXCLUSIVE, behind the holder.
        assert_eq!(
            rows[2],
            ["migration", "Lock", "-", "AccessExclusiveLock", "holder"]
        );
        // The reader wants only ACCESS SHARE, which the holder's lock does
        // not conflict with: it is blocked by the migration ahead of it.
        assert_eq!(
            rows[3],
            ["reader", "Lock", "-", "AccessShareLock", "migration"]
        );
        assert_eq!(seen, 3, "the SELECT ran after the ALTER");
        let mut c = s.session("check").unwrap();
        assert_eq!(columns(&mut c), ["id", "total", "note"]);
    }

    /// With a lock budget the waiting ALTER leaves the queue, and the
    /// reader behind it runs while the long transaction is still open.
    #[test]
    fn lock_timeout_drains_the_queue_while_the_holder_stays_open() {
        let Some(s) = scratch("ddl_lock_queue: drain") else {
            return;
        };
        let mut observer = s.session("observer").unwrap();
        let holder = Holder::start(&s).unwrap();
        let mut migration = s.session("migration").unwrap();
        let alter = thread::spawn(move || {
            let ddl = "ALTER TABLE orders ADD COLUMN x int";
            migrate_with_retry(&mut migration, ddl, &policy(500, 1), |_, _| {})
        });
        wait_until_blocked(&mut observer, &s.run, "migration").unwrap();
        let mut reader = s.session("reader").unwrap();
        let select =
            thread::spawn(move || reader.query("SELECT 1 FROM orders", &[]));
        wait_until_blocked(&mut observer, &s.run, "reader").unwrap();
        match alter.join().unwrap() {
            Err(DdlError::GaveUp { attempts: 1, last }) => {
                assert_eq!(last.code(), Some(&SqlState::LOCK_NOT_AVAILABLE));
            }
            other => panic!("expected 55P03, got {other:?}"),
        }
        assert_eq!(select.join().unwrap().unwrap().len(), 100);
        let holder_state: String = observer
            .query_one(
                "SELECT state FROM pg_stat_activity
                 WHERE application_name = $1",
                &[&format!("{}/holder", s.run)],
            )
            .unwrap()
            .get(0);
        assert_eq!(holder_state, "idle in transaction");
        holder.commit().unwrap();
        assert_eq!(columns(&mut observer), ["id", "total"]);
    }

    #[test]
    fn retries_get_through_once_the_holder_commits() {
        let Some(s) = scratch("ddl_lock_queue: retry") else {
            return;
        };
        let mut holder = Some(Holder::start(&s).unwrap());
        let mut c = s.session("migration").unwrap();
        let mut failures = Vec::new();
        let ddl = "ALTER TABLE orders ADD COLUMN y int";
        let attempts =
            migrate_with_retry(&mut c, ddl, &policy(50, 5), |n, e| {
                failures.push((n, e.code().cloned()));
                if n == 3 {
                    holder.take().unwrap().commit().unwrap();
                }
            })
            .unwrap();
        assert_eq!(attempts, 4);
        let timeout = Some(SqlState::LOCK_NOT_AVAILABLE);
        assert_eq!(
            failures,
            [(1, timeout.clone()), (2, timeout.clone()), (3, timeout)]
        );
        assert_eq!(columns(&mut c), ["id", "total", "y"]);
    }

    #[test]
    fn retries_give_up_when_the_holder_never_commits() {
        let Some(s) = scratch("ddl_lock_queue: give up") else {
            return;
        };
        let holder = Holder::start(&s).unwrap();
        let mut c = s.session("migration").unwrap();
        let mut seen = 0;
        let ddl = "ALTER TABLE orders ADD COLUMN z int";
        let result =
            migrate_with_retry(&mut c, ddl, &policy(20, 3), |_, _| seen += 1);
        match result {
            Err(DdlError::GaveUp { attempts: 3, last }) => {
                assert_eq!(last.code(), Some(&SqlState::LOCK_NOT_AVAILABLE));
            }
            other => panic!("expected to give up, got {other:?}"),
        }
        assert_eq!(seen, 2, "no retry after the last attempt");
        holder.commit().unwrap();
        assert_eq!(columns(&mut c), ["id", "total"]);
    }

    #[test]
    fn other_errors_are_not_retried() {
        let Some(s) = scratch("ddl_lock_queue: permanent") else {
            return;
        };
        let mut c = s.session("migration").unwrap();
        let mut retried = false;
        let ddl = "ALTER TABLE orders ADD COLUMN total int";
        let err = migrate_with_retry(&mut c, ddl, &policy(50, 5), |_, _| {
            retried = true;
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "42701 column \"total\" of relation \"orders\" already exists"
        );
        assert!(!retried);
        // The failed attempt rolled back: the session is usable.
        assert_eq!(columns(&mut c), ["id", "total"]);
    }

    #[test]
    fn bad_policies_are_refused_before_any_sql() {
        // No server needed: the policy is checked first.
        let refused = |p: Policy| match p.check() {
            Err(DdlError::Policy(why)) => why,
            other => panic!("expected a policy error, got {other:?}"),
        };
        assert_eq!(refused(policy(0, 3)), "lock_timeout must be 1 ms to 60 s");
        assert_eq!(
            refused(policy(60_001, 3)),
            "lock_timeout must be 1 ms to 60 s"
        );
        assert_eq!(refused(policy(100, 0)), "attempts must be 1 to 100");
        assert_eq!(refused(policy(100, 101)), "attempts must be 1 to 100");
        assert!(policy(1, 1).check().is_ok());
    }

    #[test]
    fn the_pause_doubles_and_is_capped() {
        let p = policy(100, 10);
        let pauses: Vec<u128> =
            (1..=5).map(|n| p.pause(n).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 40, 40]);
        assert_eq!(p.pause(u32::MAX), Duration::from_millis(40));
    }
}
