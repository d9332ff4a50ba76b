//! 1.10 Context managers, Rust side: an RAII transaction guard over
//! PostgreSQL, the counterpart of a Python `with transaction(conn):` block.
//!
//! `Transaction::begin` sends `BEGIN` and returns a guard that borrows the
//! connection mutably, so nothing else can use it while the transaction is
//! open. `commit(self)` consumes the guard: after it, the transaction cannot
//! be touched again, which the compiler checks. Any other way out of the
//! scope (a `?` early return, a panic unwinding the stack, simply forgetting
//! to commit) runs `Drop`, which sends `ROLLBACK`.
//!
//! Choices made here:
//! - Rolling back is the default, committing is the one explicit act, as in
//!   Python's `__exit__` when the block raised.
//! - `Drop` cannot return an error and must not panic (a panic while already
//!   unwinding aborts the process), so a failed `ROLLBACK` is ignored there:
//!   the server discards an unfinished transaction anyway when the
//!   connection closes.
//! - After a statement fails, PostgreSQL rejects every further statement in
//!   the transaction, and answers a `COMMIT` with a silent `ROLLBACK`. The
//!   guard remembers the failure and refuses to commit
//!   (`TxError::Aborted`), so a caller that swallowed the error cannot
//!   believe its writes were saved.
//! - Order quantities must be positive; a bad one is refused with
//!   `TxError::InvalidQuantity` before any SQL runs.
//! - Each run and each test uses its own uniquely named table, dropped at
//!   the end, so parallel tests never see each other's rows.
//! - The server's address comes from `DATABASE_URL` (default
//!   `postgresql://postgres@127.0.0.1:5432/test`). When it is unreachable,
//!   `main` says why on stderr and exits with code 77; the tests print
//!   `skipped: ...` unless `REQUIRE_SERVICES=1`, where they fail.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use postgres::Client;
use postgres::types::ToSql;
use support::pg::{connect, database_url};

// ANCHOR: errors
#[derive(Debug)]
pub enum TxError {
    /// The server refused a statement; `sqlstate()` says why.
    Db(postgres::Error),
    /// A statement failed earlier in this transaction: it can only roll back.
    Aborted,
    /// Refused before any SQL ran.
    InvalidQuantity { item: String, qty: i32 },
}

impl TxError {
    /// The SQLSTATE code, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            TxError::Db(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxError::Db(e) => match e.as_db_error() {
                Some(db) => {
                    write!(f, "SQLSTATE {} {}", db.code().code(), db.message())
                }
                None => write!(f, "{e}"),
            },
            TxError::Aborted => {
                write!(f, "a statement failed; the transaction was rolled back")
            }
            TxError::InvalidQuantity { item, qty } => {
                write!(f, "quantity of {item} must be positive, got {qty}")
            }
        }
    }
}

impl std::error::Error for TxError {}

impl From<postgres::Error> for TxError {
    fn from(e: postgres::Error) -> Self {
        TxError::Db(e)
    }
}
// ANCHOR_END: errors

// ANCHOR: guard
/// An open transaction. Commit it explicitly; every other exit rolls back.
pub struct Transaction<'a> {
    client: &'a mut Client,
    /// COMMIT or ROLLBACK has been sent: `Drop` has nothing left to do.
    finished: bool,
    /// A statement failed: PostgreSQL will only accept a rollback now.
    failed: bool,
}

impl<'a> Transaction<'a> {
    /// `__enter__`: start the transaction.
    pub fn begin(client: &'a mut Client) -> Result<Transaction<'a>, TxError> {
        client.batch_execute("BEGIN")?;
        Ok(Transaction {
            client,
            finished: false,
            failed: false,
        })
    }

    pub fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, TxError> {
        let result = self.client.execute(sql, params);
        self.failed |= result.is_err();
        Ok(result?)
    }

    /// Consumes the guard: a committed transaction cannot be used again.
    pub fn commit(mut self) -> Result<(), TxError> {
        if self.failed {
            return Err(TxError::Aborted); // Drop sends the ROLLBACK
        }
        self.finished = true;
        Ok(self.client.batch_execute("COMMIT")?)
    }

    /// Rolls back now, and reports whether the server accepted it.
    pub fn rollback(mut self) -> Result<(), TxError> {
        self.finished = true;
        Ok(self.client.batch_execute("ROLLBACK")?)
    }
}

/// `__exit__` for every path that did not commit: `?`, panic, or neglect.
impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Drop cannot return the error, and must not panic: a panic here
            // while a panic is already unwinding would abort the process.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}
// ANCHOR_END: guard

// ANCHOR: outcome
/// How a transaction ended, as the server remembers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    Aborted,
    InProgress,
    /// Too old: the server no longer keeps its status (NULL).
    Forgotten,
}

impl Transaction<'_> {
    /// This transaction's id, assigned now if it has none. Take it before
    /// COMMIT: if the reply to COMMIT is lost, the id is how to ask later.
    pub fn id(&mut self) -> Result<i64, TxError> {
        // xid8 is an unsigned 64-bit counter; real ids fit in a bigint.
        let sql = "SELECT pg_current_xact_id()::text::bigint";
        let result = self.client.query_one(sql, &[]);
        self.failed |= result.is_err();
        Ok(result?.get(0))
    }
}

/// Asks the server, from any session, how transaction `id` ended
/// (`pg_xact_status`, PostgreSQL 13 and later).
pub fn commit_outcome(
    client: &mut Client,
    id: i64,
) -> Result<CommitOutcome, TxError> {
    let sql = "SELECT pg_xact_status($1::bigint::text::xid8)";
    let status: Option<String> = client.query_one(sql, &[&id])?.get(0);
    Ok(match status.as_deref() {
        Some("committed") => CommitOutcome::Committed,
        Some("aborted") => CommitOutcome::Aborted,
        Some(_) => CommitOutcome::InProgress, // the only other value
        None => CommitOutcome::Forgotten,
    })
}
// ANCHOR_END: outcome

// ANCHOR: orders
/// One order line: an item and a positive quantity.
pub type Line<'s> = (&'s str, i32);

fn check_quantity(item: &str, qty: i32) -> Result<(), TxError> {
    if qty > 0 {
        Ok(())
    } else {
        Err(TxError::InvalidQuantity {
            item: item.to_string(),
            qty,
        })
    }
}

/// Writes all lines of an order, or none of them.
pub fn place_order(
    client: &mut Client,
    table: &str,
    order: i32,
    lines: &[Line],
) -> Result<(), TxError> {
    let mut tx = Transaction::begin(client)?;
    let insert = format!(
        "INSERT INTO {table} (order_id, item, qty) VALUES ($1, $2, $3)"
    );
    for &(item, qty) in lines {
        check_quantity(item, qty)?; // an early return: Drop rolls back
        tx.execute(&insert, &[&order, &item, &qty])?;
    }
    tx.commit()
}
// ANCHOR_END: orders

/// A scratch table unique to this run, dropped when the value goes.
pub struct ScratchTable {
    pub name: String,
    /// A second connection: it sees only what other sessions committed.
    observer: Client,
}

static TABLES_CREATED: AtomicU32 = AtomicU32::new(0);

fn unique_table_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = TABLES_CREATED.fetch_add(1, Ordering::Relaxed);
    format!("ctx_orders_{}_{n}_{nanos}", std::process::id())
}

impl ScratchTable {
    pub fn create(mut observer: Client) -> Result<ScratchTable, TxError> {
        let name = unique_table_name();
        observer.batch_execute(&format!(
            "CREATE TABLE {name} (
                 order_id integer NOT NULL,
                 item     text    NOT NULL,
                 qty      integer NOT NULL CHECK (qty > 0),
                 PRIMARY KEY (order_id, item)
             )"
        ))?;
        Ok(ScratchTable { name, observer })
    }

    /// Committed rows, as another session sees them.
    pub fn committed_rows(
        &mut self,
    ) -> Result<Vec<(i32, String, i32)>, TxError> {
        let sql = format!(
            "SELECT order_id, item, qty FROM {} ORDER BY order_id, item",
            self.name
        );
        let rows = self.observer.query(&sql, &[])?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

impl Drop for ScratchTable {
    fn drop(&mut self) {
        let _ = self
            .observer
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", self.name));
    }
}

/// Runs `body` and turns a panic into an `Err` carrying its message.
pub fn catch_panic<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string())
    })
}

// ANCHOR: panic_case
/// Inserts one line inside a transaction, then panics before committing.
/// The guard is dropped while the panic unwinds: ROLLBACK.
pub fn insert_then_panic(
    client: &mut Client,
    table: &str,
    order: i32,
) -> Result<Result<(), TxError>, String> {
    catch_panic(|| -> Result<(), TxError> {
        let mut tx = Transaction::begin(client)?;
        let insert = format!(
            "INSERT INTO {table} (order_id, item, qty) VALUES ($1, 'kiwi', 1)"
        );
        tx.execute(&insert, &[&order])?;
        panic!("the pricing service returned garbage");
    })
}
// ANCHOR_END: panic_case

/// Writes the order inside a transaction to see whether it would succeed,
/// then rolls it back explicitly.
pub fn dry_run(
    client: &mut Client,
    table: &str,
    order: i32,
    lines: &[Line],
) -> Result<u64, TxError> {
    let mut tx = Transaction::begin(client)?;
    let insert = format!(
        "INSERT INTO {table} (order_id, item, qty) VALUES ($1, $2, $3)"
    );
    let mut written = 0;
    for &(item, qty) in lines {
        check_quantity(item, qty)?;
        written += tx.execute(&insert, &[&order, &item, &qty])?;
    }
    tx.rollback()?;
    Ok(written)
}

/// A deterministic description: SQLSTATE only, since server messages name
/// the per-run table.
fn outcome<T>(result: &Result<T, TxError>) -> String {
    match result {
        Ok(_) => "committed".to_string(),
        Err(e @ TxError::Db(_)) => {
            format!("error, SQLSTATE {}", e.sqlstate().unwrap_or("?"))
        }
        Err(e) => format!("error, {e}"),
    }
}

fn print_rows(table: &mut ScratchTable) -> Result<(), TxError> {
    println!("  committed rows: {:?}", table.committed_rows()?);
    Ok(())
}

fn demo(url: &str) -> Result<(), TxError> {
    let mut table = ScratchTable::create(connect(url)?)?;
    let mut worker = connect(url)?;
    let name = table.name.clone();

    let result =
        place_order(&mut worker, &name, 1, &[("apple", 3), ("pear", 1)]);
    println!("order 1, two lines: {}", outcome(&result));
    print_rows(&mut table)?;

    let result =
        place_order(&mut worker, &name, 2, &[("kiwi", 2), ("plum", 0)]);
    println!(
        "order 2, second line invalid, `?` returns early: {}",
        outcome(&result)
    );
    print_rows(&mut table)?;

    let result = place_order(&mut worker, &name, 3, &[("fig", 1), ("fig", 2)]);
    println!(
        "order 3, same item twice, the INSERT fails: {}",
        outcome(&result)
    );
    print_rows(&mut table)?;

    let caught = insert_then_panic(&mut worker, &name, 4);
    match &caught {
        Ok(result) => println!("order 4, no panic: {}", outcome(result)),
        Err(message) => {
            println!("order 4, panic before commit, caught: {message}")
        }
    }
    print_rows(&mut table)?;

    let written = dry_run(&mut worker, &name, 5, &[("lime", 6), ("plum", 2)])?;
    println!(
        "order 5, dry run: {written} rows written, then rolled back explicitly"
    );
    print_rows(&mut table)?;

    let result = place_order(&mut worker, &name, 6, &[("lime", 6)]);
    println!("order 6, on the same connection: {}", outcome(&result));
    print_rows(&mut table)?;
    Ok(())
}

/// The server's address, once a connection to it succeeded; otherwise says
/// why on stderr and exits with code 77 (skipped).
fn database_or_exit() -> String {
    let url = database_url();
    if let Err(e) = connect(&url) {
        support::skip::exit_unavailable(
            "context_managers",
            "PostgreSQL (set DATABASE_URL)",
            e,
        );
    }
    url
}

// ANCHOR: main
fn main() {
    // Order 4 panics on purpose and is caught: report it in one line.
    panic::set_hook(Box::new(|info| eprintln!("context_managers: {info}")));
    let url = database_or_exit();
    if let Err(e) = demo(&url) {
        eprintln!("context_managers: {e}");
        std::process::exit(1);
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{Shutdown, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use support::skip::services_required;

    /// A scratch table and a worker connection, or `None` (after saying
    /// so) when there is no server.
    fn setup(test: &str) -> Option<(ScratchTable, Client)> {
        let url = database_url();
        match (connect(&url), connect(&url)) {
            (Ok(observer), Ok(worker)) => Some((
                ScratchTable::create(observer).expect("create table"),
                worker,
            )),
            (Err(e), _) | (_, Err(e)) if services_required() => {
                panic!("{test}: PostgreSQL unreachable: {e}")
            }
            (Err(e), _) | (_, Err(e)) => {
                println!("skipped: {test}: PostgreSQL unreachable: {e}");
                None
            }
        }
    }

    fn row(order: i32, item: &str, qty: i32) -> (i32, String, i32) {
        (order, item.to_string(), qty)
    }

    #[test]
    fn a_commit_persists_for_other_sessions() {
        let Some((mut table, mut worker)) = setup("commit") else {
            return;
        };
        place_order(&mut worker, &table.name, 1, &[("apple", 3), ("pear", 1)])
            .unwrap();
        assert_eq!(
            table.committed_rows().unwrap(),
            [row(1, "apple", 3), row(1, "pear", 1)]
        );
    }

    #[test]
    fn uncommitted_writes_are_invisible_to_other_sessions() {
        let Some((mut table, mut worker)) = setup("isolation") else {
            return;
        };
        let insert =
            format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);
        let mut tx = Transaction::begin(&mut worker).unwrap();
        tx.execute(&insert, &[]).unwrap();
        assert_eq!(table.committed_rows().unwrap(), []);
        tx.commit().unwrap();
        assert_eq!(table.committed_rows().unwrap(), [row(1, "apple", 3)]);
    }

    #[test]
    fn an_early_return_rolls_back_the_lines_already_written() {
        let Some((mut table, mut worker)) = setup("early return") else {
            return;
        };
        place_order(&mut worker, &table.name, 1, &[("apple", 3)]).unwrap();
        let err = place_order(
            &mut worker,
            &table.name,
            2,
            &[("kiwi", 2), ("plum", 0)],
        )
        .unwrap_err();
        assert!(
            matches!(err, TxError::InvalidQuantity { qty: 0, .. }),
            "{err}"
        );
        assert_eq!(
            table.committed_rows().unwrap(),
            [row(1, "apple", 3)],
            "no kiwi"
        );
        // The next transaction on the same connection does not inherit it.
        place_order(&mut worker, &table.name, 3, &[("lime", 6)]).unwrap();
        assert_eq!(
            table.committed_rows().unwrap(),
            [row(1, "apple", 3), row(3, "lime", 6)],
            "still no kiwi"
        );
    }

    #[test]
    fn an_sql_error_rolls_back_and_leaves_the_connection_usable() {
        let Some((mut table, mut worker)) = setup("sql error") else {
            return;
        };
        let err =
            place_order(&mut worker, &table.name, 1, &[("fig", 1), ("fig", 2)])
                .unwrap_err();
        assert_eq!(err.sqlstate(), Some("23505"), "{err}");
        assert_eq!(table.committed_rows().unwrap(), []);
        // Without the guard's ROLLBACK this would fail with 25P02
        // (in_failed_sql_transaction).
        place_order(&mut worker, &table.name, 2, &[("lime", 6)]).unwrap();
        assert_eq!(table.committed_rows().unwrap(), [row(2, "lime", 6)]);
    }

    #[test]
    fn a_panic_keeps_committed_data_and_no_partial_write() {
        let Some((mut table, mut worker)) = setup("panic") else {
            return;
        };
        place_order(&mut worker, &table.name, 1, &[("apple", 3)]).unwrap();
        let caught = insert_then_panic(&mut worker, &table.name, 2);
        assert_eq!(
            caught.map(|r| r.is_ok()),
            Err("the pricing service returned garbage".to_string())
        );
        assert_eq!(table.committed_rows().unwrap(), [row(1, "apple", 3)]);
        // The connection left the transaction: new work commits normally.
        place_order(&mut worker, &table.name, 3, &[("lime", 6)]).unwrap();
        assert_eq!(
            table.committed_rows().unwrap(),
            [row(1, "apple", 3), row(3, "lime", 6)]
        );
    }

    #[test]
    fn dropping_the_guard_without_commit_rolls_back() {
        let Some((mut table, mut worker)) = setup("forgotten commit") else {
            return;
        };
        {
            let mut tx = Transaction::begin(&mut worker).unwrap();
            let insert =
                format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);
            tx.execute(&insert, &[]).unwrap();
        }
        assert_eq!(table.committed_rows().unwrap(), []);
        // The INSERT gave the guard's transaction an id. Had the guard not
        // rolled it back, this statement would still run inside it.
        let xid: Option<i64> = worker
            .query_one("SELECT txid_current_if_assigned()", &[])
            .unwrap()
            .get(0);
        assert_eq!(xid, None, "the connection is outside that transaction");
    }

    #[test]
    fn an_explicit_rollback_discards_the_writes() {
        let Some((mut table, mut worker)) = setup("rollback") else {
            return;
        };
        let mut tx = Transaction::begin(&mut worker).unwrap();
        let insert =
            format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);
        tx.execute(&insert, &[]).unwrap();
        tx.rollback().unwrap();
        assert_eq!(table.committed_rows().unwrap(), []);
    }

    #[test]
    fn a_dry_run_reports_the_rows_and_keeps_none() {
        let Some((mut table, mut worker)) = setup("dry run") else {
            return;
        };
        let lines = [("lime", 6), ("plum", 2)];
        assert_eq!(dry_run(&mut worker, &table.name, 1, &lines).unwrap(), 2);
        assert_eq!(table.committed_rows().unwrap(), []);
        let err =
            dry_run(&mut worker, &table.name, 1, &[("lime", -6)]).unwrap_err();
        assert!(matches!(err, TxError::InvalidQuantity { .. }));
    }

    #[test]
    fn commit_after_a_swallowed_error_is_refused() {
        let Some((mut table, mut worker)) = setup("swallowed error") else {
            return;
        };
        let insert =
            format!("INSERT INTO {} VALUES ($1, 'apple', $2)", table.name);
        let mut tx = Transaction::begin(&mut worker).unwrap();
        tx.execute(&insert, &[&1i32, &3i32]).unwrap();
        let ignored = tx.execute(&insert, &[&1i32, &4i32]); // duplicate key
        assert!(ignored.is_err());
        assert!(matches!(tx.commit(), Err(TxError::Aborted)));
        assert_eq!(table.committed_rows().unwrap(), []);
    }

    #[test]
    fn postgres_answers_commit_in_a_failed_transaction_with_a_silent_rollback()
    {
        // The reason the guard tracks failures: the server does not say no.
        let Some((mut table, mut worker)) = setup("silent rollback") else {
            return;
        };
        let insert =
            format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);
        worker.batch_execute("BEGIN").unwrap();
        worker.batch_execute(&insert).unwrap();
        assert!(worker.batch_execute(&insert).is_err());
        assert!(
            worker.batch_execute("COMMIT").is_ok(),
            "no error is reported"
        );
        assert_eq!(
            table.committed_rows().unwrap(),
            [],
            "and nothing was saved"
        );
    }

    #[test]
    fn the_crates_own_transaction_also_rolls_back_on_drop() {
        let Some((mut table, mut worker)) = setup("postgres::Transaction")
        else {
            return;
        };
        {
            let mut tx = worker.transaction().unwrap();
            let insert =
                format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);
            tx.execute(&insert, &[]).unwrap();
        }
        assert_eq!(table.committed_rows().unwrap(), []);
    }

    #[test]
    fn a_commit_that_fails_is_an_error_and_keeps_nothing() {
        let Some((_table, mut worker)) = setup("failed commit") else {
            return;
        };
        // A deferred constraint is checked at COMMIT, so COMMIT itself fails.
        worker
            .batch_execute(
                "CREATE TEMP TABLE codes (code int UNIQUE DEFERRABLE INITIALLY DEFERRED)",
            )
            .unwrap();
        let mut tx = Transaction::begin(&mut worker).unwrap();
        tx.execute("INSERT INTO codes VALUES (7)", &[]).unwrap();
        tx.execute("INSERT INTO codes VALUES (7)", &[]).unwrap();
        let err = tx.commit().unwrap_err();
        assert_eq!(err.sqlstate(), Some("23505"), "{err}");
        let count: i64 = worker
            .query_one("SELECT count(*) FROM codes", &[])
            .unwrap()
            .get(0);
        assert_eq!(count, 0, "the server rolled the transaction back");
    }

    #[test]
    fn invalid_quantities_are_refused_before_any_sql() {
        for qty in [0, -1, i32::MIN] {
            let err = check_quantity("plum", qty).unwrap_err();
            assert!(
                matches!(err, TxError::InvalidQuantity { qty: q, .. } if q == qty)
            );
            assert_eq!(
                err.to_string(),
                format!("quantity of plum must be positive, got {qty}")
            );
        }
        assert!(check_quantity("plum", 1).is_ok());
    }

    #[test]
    fn the_outcome_of_a_transaction_can_be_asked_by_its_id() {
        let Some((table, mut worker)) = setup("outcome") else {
            return;
        };
        let mut observer = connect(&database_url()).unwrap();
        let insert =
            format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);

        let mut tx = Transaction::begin(&mut worker).unwrap();
        tx.execute(&insert, &[]).unwrap();
        let committed = tx.id().unwrap();
        assert_eq!(
            commit_outcome(&mut observer, committed).unwrap(),
            CommitOutcome::InProgress
        );
        tx.commit().unwrap();
        assert_eq!(
            commit_outcome(&mut observer, committed).unwrap(),
            CommitOutcome::Committed
        );

        let mut tx = Transaction::begin(&mut worker).unwrap();
        let rolled_back = tx.id().unwrap();
        tx.rollback().unwrap();
        assert_eq!(
            commit_outcome(&mut observer, rolled_back).unwrap(),
            CommitOutcome::Aborted
        );
        // An id the server never issued is an error, not a guess.
        for bogus in [i64::MAX, -1] {
            let err = commit_outcome(&mut observer, bogus).unwrap_err();
            assert!(matches!(err, TxError::Db(_)), "{err}");
        }
    }

    /// A TCP proxy that forwards both ways until `cut` is set. From then on
    /// it swallows what the server sends, and once that includes the
    /// server's `COMMIT` completion it closes the client's side: the server
    /// has committed, and the reply is lost on the way back.
    struct LossyProxy {
        addr: std::net::SocketAddr,
        cut: Arc<AtomicBool>,
    }

    fn lossy_proxy(upstream: std::net::SocketAddr) -> LossyProxy {
        use std::io::{Read, Write};
        let (listener, addr) = support::loopback::listener().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let lost = Arc::clone(&cut);
        std::thread::spawn(move || {
            let (mut client, _) = listener.accept().unwrap();
            let mut server = TcpStream::connect(upstream).unwrap();
            let (mut from_client, mut to_server) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_client, &mut to_server);
            });
            let mut buffer = [0u8; 8192];
            let mut swallowed = Vec::new();
            while let Ok(n @ 1..) = server.read(&mut buffer) {
                if !lost.load(Ordering::SeqCst) {
                    if client.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                    continue;
                }
                swallowed.extend_from_slice(&buffer[..n]);
                // CommandComplete carries the tag "COMMIT\0".
                if swallowed.windows(7).any(|w| w == b"COMMIT\0") {
                    let _ = client.shutdown(Shutdown::Both);
                    break;
                }
            }
        });
        LossyProxy { addr, cut }
    }

    /// Connects to the server at `url`, but through `proxy`.
    fn connect_through(url: &str, proxy: std::net::SocketAddr) -> Client {
        let direct: postgres::Config = url.parse().unwrap();
        let mut config = postgres::Config::new();
        config.host(&proxy.ip().to_string()).port(proxy.port());
        if let Some(user) = direct.get_user() {
            config.user(user);
        }
        if let Some(password) = direct.get_password() {
            config.password(password);
        }
        if let Some(dbname) = direct.get_dbname() {
            config.dbname(dbname);
        }
        config.connect(postgres::NoTls).unwrap()
    }

    /// The server's TCP address, if `DATABASE_URL` names one.
    fn server_addr(url: &str) -> Option<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        let config: postgres::Config = url.parse().ok()?;
        let Some(postgres::config::Host::Tcp(host)) =
            config.get_hosts().first()
        else {
            return None;
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        (host.as_str(), port).to_socket_addrs().ok()?.next()
    }

    #[test]
    fn a_lost_reply_to_commit_is_an_error_yet_the_data_is_committed() {
        let Some((mut table, _worker)) = setup("lost commit reply") else {
            return;
        };
        let url = database_url();
        let Some(upstream) = server_addr(&url) else {
            println!("skipped: lost commit reply: DATABASE_URL is not TCP");
            return;
        };
        let proxy = lossy_proxy(upstream);
        let mut client = connect_through(&url, proxy.addr);
        let mut observer = connect(&url).unwrap();
        let insert =
            format!("INSERT INTO {} VALUES (1, 'apple', 3)", table.name);

        let mut tx = Transaction::begin(&mut client).unwrap();
        tx.execute(&insert, &[]).unwrap();
        let id = tx.id().unwrap(); // taken before COMMIT
        proxy.cut.store(true, Ordering::SeqCst);
        let err = tx.commit().unwrap_err();
        assert_eq!(err.sqlstate(), None, "no answer from the server: {err}");

        // The client only knows that it does not know. The server does.
        assert_eq!(
            commit_outcome(&mut observer, id).unwrap(),
            CommitOutcome::Committed
        );
        assert_eq!(table.committed_rows().unwrap(), [row(1, "apple", 3)]);
    }

    #[test]
    fn an_unreachable_server_is_a_connect_error() {
        assert!(connect("postgresql://postgres@127.0.0.1:1/test").is_err());
    }
}
