//! 2.3 Database migrations without downtime: renaming a column with
//! expand/contract on a real PostgreSQL server, and the one-step rename that
//! breaks the running application.
//!
//! The column `customer.name` becomes `full_name`. During a rolling deploy
//! the old release (which knows only `name`) and the new one (which knows
//! only `full_name`) run at the same time, so every schema that exists while
//! both run must serve both. The steps:
//!
//! 1. expand: add `full_name` (nullable, no default: a catalog change) and a
//!    trigger that copies each write into the other column;
//! 2. backfill the old rows in small batches, one transaction per batch;
//! 3. `NOT NULL` without a long exclusive lock: a `CHECK (...) NOT VALID`,
//!    `VALIDATE CONSTRAINT`, then `SET NOT NULL`, which PostgreSQL 12+
//!    proves from the valid check without scanning the table;
//! 4. deploy the new release everywhere (no schema change);
//! 5. contract: drop the trigger and the old column.
//!
//! Choices made here:
//! - Each run works in its own scratch schema (a unique name, dropped at the
//!   end) reached through `search_path`, so the SQL reads `customer` and
//!   parallel tests never meet.
//! - The lock each DDL statement takes is read from `pg_locks` inside its
//!   own transaction, and "no scan" from the server's own DEBUG1 message,
//!   so the output shows the server's answer, not ours.
//! - Errors print the SQLSTATE and primary message only.
//! - Without a server `main` exits with code 77 and the tests print
//!   `skipped: ...` (a failure under `REQUIRE_SERVICES=1`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};

/// What a migration step can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{}", describe(.0))]
    Db(#[from] postgres::Error),
    #[error("batch size must be between 1 and 10000, got {0}")]
    BatchSize(i64),
}

impl MigrationError {
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            MigrationError::Db(e) => e.code(),
            MigrationError::BatchSize(_) => None,
        }
    }
}

/// `42703 column "x" does not exist`: the SQLSTATE and the primary message.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

// ANCHOR: releases
/// The SQL one release of the application sends.
pub struct Release {
    pub name: &'static str,
    pub insert: &'static str,
    pub select_all: &'static str,
}

pub const OLD: Release = Release {
    name: "old",
    insert: "INSERT INTO customer (name) VALUES ($1)",
    select_all: "SELECT name FROM customer ORDER BY id",
};

pub const NEW: Release = Release {
    name: "new",
    insert: "INSERT INTO customer (full_name) VALUES ($1)",
    select_all: "SELECT full_name FROM customer ORDER BY id",
};

/// One request of each kind: sign a customer up, then list every name.
pub fn serve(
    c: &mut Client,
    release: &Release,
    customer: &str,
) -> Result<Vec<Option<String>>, postgres::Error> {
    c.execute(release.insert, &[&customer])?;
    let rows = c.query(release.select_all, &[])?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
// ANCHOR_END: releases

// ANCHOR: expand
/// Step 1: the new column, and a trigger that keeps both columns equal
/// whichever release writes. One short transaction; no row is rewritten.
pub fn expand(c: &mut Client) -> Result<(), postgres::Error> {
    c.batch_execute(
        "BEGIN;
         SET LOCAL lock_timeout = '2s';
         ALTER TABLE customer ADD COLUMN full_name text;
         CREATE FUNCTION customer_sync_name() RETURNS trigger
         LANGUAGE plpgsql AS $$
         BEGIN
             IF TG_OP = 'INSERT' THEN
                 NEW.full_name := coalesce(NEW.full_name, NEW.name);
                 NEW.name := coalesce(NEW.name, NEW.full_name);
             ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
                 NEW.full_name := NEW.name;
             ELSIF NEW.full_name IS DISTINCT FROM OLD.full_name THEN
                 NEW.name := NEW.full_name;
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER customer_sync_name
             BEFORE INSERT OR UPDATE ON customer
             FOR EACH ROW EXECUTE FUNCTION customer_sync_name();
         COMMIT;",
    )
}
// ANCHOR_END: expand

// ANCHOR: backfill
/// How many batches ran and how many rows they changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Backfill {
    pub batches: u32,
    pub rows: u64,
}

/// Step 2: copy `name` into `full_name`, `batch` keys at a time. Each
/// statement is its own transaction, so row locks last one batch, and a
/// crash loses at most one batch of work: the step is safe to re-run.
pub fn backfill(
    c: &mut Client,
    batch: i64,
) -> Result<Backfill, MigrationError> {
    if !(1..=10_000).contains(&batch) {
        return Err(MigrationError::BatchSize(batch));
    }
    let sql = "WITH keys AS (
                   SELECT id FROM customer WHERE id > $1
                   ORDER BY id LIMIT $2),
               done AS (
                   UPDATE customer c SET full_name = c.name FROM keys
                   WHERE c.id = keys.id AND c.full_name IS NULL
                   RETURNING 1)
               SELECT (SELECT max(id) FROM keys), (SELECT count(*) FROM done)";
    let (mut last, mut report) = (
        0_i64,
        Backfill {
            batches: 0,
            rows: 0,
        },
    );
    loop {
        let row = c.query_one(sql, &[&last, &batch])?;
        let Some(max) = row.get::<_, Option<i64>>(0) else {
            return Ok(report);
        };
        last = max;
        report.batches += 1;
        report.rows += row.get::<_, i64>(1).unsigned_abs();
    }
}
// ANCHOR_END: backfill

// ANCHOR: locks
/// Runs `sql` in a transaction and returns the lock modes this session then
/// holds on `customer`, as `pg_locks` names them.
pub fn locks_taken(
    c: &mut Client,
    sql: &str,
) -> Result<Vec<String>, postgres::Error> {
    let mut tx = c.transaction()?;
    tx.batch_execute("SET LOCAL lock_timeout = '2s'")?;
    tx.batch_execute(sql)?;
    let rows = tx.query(
        "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid()
         AND relation = 'customer'::regclass ORDER BY mode",
        &[],
    )?;
    tx.commit()?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
// ANCHOR_END: locks

// ANCHOR: not_null
/// Step 3: `full_name` becomes `NOT NULL` with no long exclusive lock.
/// Returns each statement with the locks it took.
pub fn not_null(
    c: &mut Client,
) -> Result<Vec<(&'static str, Vec<String>)>, postgres::Error> {
    let steps = [
        // ACCESS EXCLUSIVE, but only for a catalog change: old rows are
        // not checked, new and updated rows are.
        "ALTER TABLE customer ADD CONSTRAINT full_name_present
             CHECK (full_name IS NOT NULL) NOT VALID",
        // Scans the table under SHARE UPDATE EXCLUSIVE: reads and writes
        // go on meanwhile.
        "ALTER TABLE customer VALIDATE CONSTRAINT full_name_present",
        // ACCESS EXCLUSIVE again, but PostgreSQL 12+ sees the valid check
        // and skips the scan; the check is redundant afterwards.
        "ALTER TABLE customer ALTER COLUMN full_name SET NOT NULL",
        "ALTER TABLE customer DROP CONSTRAINT full_name_present",
    ];
    let mut report = Vec::new();
    for sql in steps {
        report.push((sql, locks_taken(c, sql)?));
    }
    Ok(report)
}
// ANCHOR_END: not_null

// ANCHOR: contract
/// Step 5, once no instance of the old release is left.
pub fn contract(c: &mut Client) -> Result<(), postgres::Error> {
    c.batch_execute(
        "BEGIN;
         SET LOCAL lock_timeout = '2s';
         DROP TRIGGER customer_sync_name ON customer;
         DROP FUNCTION customer_sync_name();
         ALTER TABLE customer DROP COLUMN name;
         COMMIT;",
    )
}

/// The change in one step: correct SQL, and an outage for the old release.
pub fn naive_rename(c: &mut Client) -> Result<(), postgres::Error> {
    c.batch_execute("ALTER TABLE customer RENAME COLUMN name TO full_name")
}
// ANCHOR_END: contract

/// The messages the server sent this session (NOTICE, and DEBUG1 when
/// `client_min_messages` asks for them).
pub type Notices = Arc<Mutex<Vec<String>>>;

/// A scratch schema holding the original table, dropped on drop.
pub struct Scratch {
    pub schema: String,
    admin: Client,
}

impl Scratch {
    pub fn create() -> Result<Scratch, postgres::Error> {
        let schema = support::unique_name("expand_contract");
        let mut admin = support::pg::connect(&support::pg::database_url())?;
        admin.batch_execute(&format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.customer (
                 id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 name text NOT NULL);
             INSERT INTO {schema}.customer (name) VALUES
                 ('Ada Lovelace'), ('Grace Hopper'), ('Edsger Dijkstra'),
                 ('Barbara Liskov'), ('Donald Knuth');"
        ))?;
        Ok(Scratch { schema, admin })
    }

    /// A session whose `search_path` is the scratch schema.
    pub fn session(&self) -> Result<Client, postgres::Error> {
        self.session_with_notices(&Notices::default())
    }

    /// The same, keeping every message the server sends in `notices`.
    pub fn session_with_notices(
        &self,
        notices: &Notices,
    ) -> Result<Client, postgres::Error> {
        let mut config: postgres::Config =
            support::pg::database_url().parse()?;
        config.connect_timeout(Duration::from_secs(3));
        config.options(&format!("-c search_path={}", self.schema));
        let sink = Arc::clone(notices);
        config.notice_callback(move |notice| {
            let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
            sink.push(notice.message().to_string());
        });
        config.connect(NoTls)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a failure leaves a uniquely named schema behind.
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = self.admin.batch_execute(&sql);
    }
}

/// The server's DEBUG1 message when a valid `CHECK` proves `SET NOT NULL`.
pub const PROVED: &str = "sufficient to prove that it does not contain nulls";

// ANCHOR: report
/// One line per release: "ok", how many names it could not see, or the
/// error the server answered with.
pub fn outcome(
    result: &Result<Vec<Option<String>>, postgres::Error>,
) -> String {
    match result {
        Err(e) => describe(e),
        Ok(names) => match names.iter().filter(|n| n.is_none()).count() {
            0 => format!("ok, {} names", names.len()),
            missing => format!("ok, {missing} of {} names NULL", names.len()),
        },
    }
}

fn both(c: &mut Client, stage: &str) {
    let old = serve(c, &OLD, &format!("old at {stage}"));
    let new = serve(c, &NEW, &format!("new at {stage}"));
    println!("{stage}");
    println!("  old release: {}", outcome(&old));
    println!("  new release: {}", outcome(&new));
}
// ANCHOR_END: report

// ANCHOR: main
fn demo(scratch: &Scratch) -> Result<(), MigrationError> {
    let notices = Notices::default();
    let mut c = scratch.session_with_notices(&notices)?;
    both(&mut c, "schema 0, original");
    expand(&mut c)?;
    both(&mut c, "schema 1, expanded");
    let done = backfill(&mut c, 3)?;
    println!("backfill: {} batches, {} rows", done.batches, done.rows);
    both(&mut c, "schema 2, backfilled");
    c.batch_execute("SET client_min_messages = debug1")?;
    for (sql, locks) in not_null(&mut c)? {
        let sql = sql.split_whitespace().skip(3).collect::<Vec<_>>();
        println!("{}\n  locks: {}", sql.join(" "), locks.join(", "));
    }
    c.batch_execute("RESET client_min_messages")?;
    let proved = notices
        .lock()
        .is_ok_and(|n| n.iter().any(|m| m.contains(PROVED)));
    println!("SET NOT NULL proved by the check, no scan: {proved}");
    both(&mut c, "schema 3, full_name NOT NULL");
    contract(&mut c)?;
    both(&mut c, "schema 4, contracted");

    let other = Scratch::create()?;
    let mut c = other.session()?;
    naive_rename(&mut c)?;
    both(&mut c, "one-step RENAME COLUMN instead");
    Ok(())
}

// ANCHOR_END: main

fn main() {
    let scratch = Scratch::create().unwrap_or_else(|e| {
        support::skip::exit_unavailable("expand_contract", "PostgreSQL", e)
    });
    if let Err(e) = demo(&scratch) {
        eprintln!("expand_contract: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> Option<Scratch> {
        support::skip::in_test(test, "PostgreSQL", Scratch::create())
    }

    fn code(result: &Result<Vec<Option<String>>, postgres::Error>) -> String {
        match result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code().map_or("no sqlstate", |c| c.code()).to_string(),
        }
    }

    /// Both releases write, then each must read the other's row by name.
    fn assert_both_serve(c: &mut Client, stage: &str) {
        let old_row = format!("written by old at {stage}");
        let new_row = format!("written by new at {stage}");
        serve(c, &OLD, &old_row).expect("old release writes");
        serve(c, &NEW, &new_row).expect("new release writes");
        for release in [&OLD, &NEW] {
            let names = serve(c, release, "reader").expect(release.name);
            assert!(names.iter().all(Option::is_some), "{stage}: {names:?}");
            for wanted in [&old_row, &new_row] {
                assert!(
                    names.contains(&Some(wanted.clone())),
                    "{stage}: {} cannot see {wanted:?}",
                    release.name
                );
            }
        }
    }

    #[test]
    fn every_schema_the_two_releases_share_serves_both() {
        let Some(s) = scratch("expand_contract: shared schemas") else {
            return;
        };
        let mut c = s.session().unwrap();
        expand(&mut c).unwrap();
        // Schema 1: both can run, but old rows have no full_name yet, which
        // is why the new release waits for the backfill.
        let seen = serve(&mut c, &NEW, "early").unwrap();
        assert_eq!(seen.iter().filter(|n| n.is_none()).count(), 5);
        assert_eq!(code(&serve(&mut c, &OLD, "old")), "ok");
        backfill(&mut c, 2).unwrap();
        assert_both_serve(&mut c, "backfilled");
        not_null(&mut c).unwrap();
        assert_both_serve(&mut c, "not null");
        // Updates through either column reach the other.
        c.execute("UPDATE customer SET name = 'A. Lovelace' WHERE id = 1", &[])
            .unwrap();
        let full: String = c
            .query_one("SELECT full_name FROM customer WHERE id = 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(full, "A. Lovelace");
        c.execute("UPDATE customer SET full_name = 'Ada' WHERE id = 1", &[])
            .unwrap();
        let name: String = c
            .query_one("SELECT name FROM customer WHERE id = 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(name, "Ada");
    }

    #[test]
    fn before_expand_only_the_old_release_works_after_contract_only_the_new() {
        let Some(s) = scratch("expand_contract: ends") else {
            return;
        };
        let mut c = s.session().unwrap();
        assert_eq!(code(&serve(&mut c, &OLD, "a")), "ok");
        assert_eq!(code(&serve(&mut c, &NEW, "b")), "42703");
        expand(&mut c).unwrap();
        backfill(&mut c, 100).unwrap();
        not_null(&mut c).unwrap();
        contract(&mut c).unwrap();
        assert_eq!(code(&serve(&mut c, &OLD, "c")), "42703");
        let names = serve(&mut c, &NEW, "d").unwrap();
        assert_eq!(names.len(), 7, "no row lost: {names:?}");
        assert!(names.iter().all(Option::is_some));
    }

    #[test]
    fn the_one_step_rename_breaks_the_old_release_with_42703() {
        let Some(s) = scratch("expand_contract: naive") else {
            return;
        };
        let mut c = s.session().unwrap();
        naive_rename(&mut c).unwrap();
        let err = serve(&mut c, &OLD, "x").unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN));
        assert_eq!(
            describe(&err),
            "42703 column \"name\" of relation \"customer\" does not exist"
        );
        assert_eq!(code(&serve(&mut c, &NEW, "y")), "ok");
    }

    #[test]
    fn backfill_is_batched_idempotent_and_rejects_bad_sizes() {
        let Some(s) = scratch("expand_contract: backfill") else {
            return;
        };
        let mut c = s.session().unwrap();
        expand(&mut c).unwrap();
        let first = backfill(&mut c, 2).unwrap();
        assert_eq!(
            first,
            Backfill {
                batches: 3,
                rows: 5
            }
        );
        let again = backfill(&mut c, 2).unwrap();
        assert_eq!(
            again,
            Backfill {
                batches: 3,
                rows: 0
            }
        );
        for bad in [0, -1, 10_001] {
            let err = backfill(&mut c, bad).unwrap_err();
            assert!(matches!(err, MigrationError::BatchSize(b) if b == bad));
            assert!(err.code().is_none());
        }
    }

    #[test]
    fn each_not_null_step_takes_the_documented_lock() {
        let Some(s) = scratch("expand_contract: locks") else {
            return;
        };
        let mut c = s.session().unwrap();
        expand(&mut c).unwrap();
        backfill(&mut c, 10).unwrap();
        let modes: Vec<Vec<String>> = not_null(&mut c)
            .unwrap()
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        assert_eq!(modes[0], ["AccessExclusiveLock"]);
        assert_eq!(modes[1], ["ShareUpdateExclusiveLock"]);
        assert_eq!(modes[2], ["AccessExclusiveLock"]);
        assert_eq!(modes[3], ["AccessExclusiveLock"]);
    }

    /// `SET NOT NULL` is proved by a valid check, and scans without one.
    #[test]
    fn set_not_null_skips_the_scan_only_with_a_valid_check() {
        let Some(s) = scratch("expand_contract: proof") else {
            return;
        };
        let notices = Notices::default();
        let mut c = s.session_with_notices(&notices).unwrap();
        let proved = |c: &mut Client, sql: &str| {
            notices.lock().unwrap().clear();
            c.batch_execute("SET client_min_messages = debug1").unwrap();
            c.batch_execute(sql).unwrap();
            c.batch_execute("RESET client_min_messages").unwrap();
            notices.lock().unwrap().iter().any(|m| m.contains(PROVED))
        };
        c.batch_execute("ALTER TABLE customer ADD COLUMN a text DEFAULT 'x'")
            .unwrap();
        assert!(!proved(
            &mut c,
            "ALTER TABLE customer ALTER COLUMN a SET NOT NULL"
        ));
        c.batch_execute(
            "ALTER TABLE customer ADD COLUMN b text DEFAULT 'x';
             ALTER TABLE customer ADD CONSTRAINT b_present
                 CHECK (b IS NOT NULL) NOT VALID",
        )
        .unwrap();
        // A NOT VALID check proves nothing yet.
        assert!(!proved(
            &mut c,
            "ALTER TABLE customer ALTER COLUMN b SET NOT NULL;
             ALTER TABLE customer ALTER COLUMN b DROP NOT NULL"
        ));
        c.batch_execute("ALTER TABLE customer VALIDATE CONSTRAINT b_present")
            .unwrap();
        assert!(proved(
            &mut c,
            "ALTER TABLE customer ALTER COLUMN b SET NOT NULL"
        ));
    }

    /// NOT VALID skips the rows already there, but checks every new write;
    /// VALIDATE then finds a row the backfill missed.
    #[test]
    fn a_not_valid_check_guards_new_rows_and_validate_finds_old_ones() {
        let Some(s) = scratch("expand_contract: not valid") else {
            return;
        };
        let mut c = s.session().unwrap();
        c.batch_execute(
            "ALTER TABLE customer ADD COLUMN email text;
             UPDATE customer SET email = 'x@example.org' WHERE id > 1;
             ALTER TABLE customer ADD CONSTRAINT email_present
                 CHECK (email IS NOT NULL) NOT VALID",
        )
        .unwrap();
        let insert = c.execute("INSERT INTO customer (name) VALUES ('n')", &[]);
        let err = insert.unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::CHECK_VIOLATION));
        let validate = "ALTER TABLE customer VALIDATE CONSTRAINT email_present";
        let err = c.batch_execute(validate).unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::CHECK_VIOLATION));
        c.batch_execute("UPDATE customer SET email = 'a@example.org'")
            .unwrap();
        c.batch_execute(validate).unwrap();
    }

    /// VALIDATE lets writers through; SET NOT NULL, however short, blocks
    /// even readers while its transaction is open.
    #[test]
    fn validate_lets_writes_through_and_set_not_null_blocks_reads() {
        let Some(s) = scratch("expand_contract: concurrency") else {
            return;
        };
        let mut migrator = s.session().unwrap();
        let mut app = s.session().unwrap();
        expand(&mut migrator).unwrap();
        backfill(&mut migrator, 10).unwrap();
        app.batch_execute("SET lock_timeout = '200ms'").unwrap();

        let mut tx = migrator.transaction().unwrap();
        tx.batch_execute(
            "ALTER TABLE customer ADD CONSTRAINT p
                 CHECK (full_name IS NOT NULL) NOT VALID",
        )
        .unwrap();
        tx.commit().unwrap();
        let mut tx = migrator.transaction().unwrap();
        tx.batch_execute("ALTER TABLE customer VALIDATE CONSTRAINT p")
            .unwrap();
        assert_eq!(code(&serve(&mut app, &OLD, "during validate")), "ok");
        tx.commit().unwrap();

        let mut tx = migrator.transaction().unwrap();
        tx.batch_execute(
            "ALTER TABLE customer ALTER COLUMN full_name SET NOT NULL",
        )
        .unwrap();
        let blocked = app.query("SELECT count(*) FROM customer", &[]);
        assert_eq!(
            blocked.unwrap_err().code(),
            Some(&SqlState::LOCK_NOT_AVAILABLE)
        );
        tx.commit().unwrap();
        assert_eq!(code(&serve(&mut app, &NEW, "after")), "ok");
    }
}
