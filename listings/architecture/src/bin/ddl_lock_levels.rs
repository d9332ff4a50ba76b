//! 2.3 Database migrations without downtime: what each common DDL statement
//! costs on a real PostgreSQL server (the lock it takes on the table, and
//! whether it rewrites the table), and `CREATE INDEX CONCURRENTLY`.
//!
//! The lock comes from `pg_locks`, read inside the statement's own
//! transaction; a rewrite shows as a new `pg_relation_filenode`: the table
//! was copied into a new file, which takes time proportional to its size
//! while the lock is held. So the table printed by `main` is the server's
//! answer on the version it runs (the captured output names it), not a
//! copy of the documentation.
//!
//! Choices made here:
//! - Each run has its own scratch schema (dropped at the end); the SQL
//!   reads `item` through `search_path`.
//! - Errors print the SQLSTATE and primary message only.
//! - Without a server `main` exits with code 77 and the tests print
//!   `skipped: ...` (a failure under `REQUIRE_SERVICES=1`).

use std::thread;
use std::time::{Duration, Instant};

use postgres::{Client, IsolationLevel, NoTls};

/// `25001 CREATE INDEX ...`: the SQLSTATE and primary message.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

// ANCHOR: cost
/// What one DDL statement cost: the strongest lock it held on `item` (and
/// on `category`, for a foreign key), and whether `item` was rewritten.
#[derive(Debug, PartialEq, Eq)]
pub struct Cost {
    pub locks: Vec<String>,
    pub rewritten: bool,
}

pub fn cost_of(c: &mut Client, ddl: &str) -> Result<Cost, postgres::Error> {
    let mut tx = c.transaction()?;
    tx.batch_execute("SET LOCAL lock_timeout = '2s'")?;
    let file = "SELECT pg_relation_filenode('item')";
    let before: u32 = tx.query_one(file, &[])?.get(0);
    tx.batch_execute(ddl)?;
    let after: u32 = tx.query_one(file, &[])?.get(0);
    // The strongest mode held on each table, weakest to strongest.
    let rows = tx.query(
        "SELECT DISTINCT ON (rel) rel || ' ' || mode FROM (
             SELECT relation::regclass::text AS rel, mode FROM pg_locks
             WHERE pid = pg_backend_pid()
               AND relation IN ('item'::regclass, 'category'::regclass)
         ) AS held
         ORDER BY rel, array_position(ARRAY['AccessShareLock',
             'RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock',
             'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
             'AccessExclusiveLock'], mode) DESC",
        &[],
    )?;
    tx.commit()?;
    Ok(Cost {
        locks: rows.iter().map(|r| r.get(0)).collect(),
        rewritten: before != after,
    })
}
// ANCHOR_END: cost

// ANCHOR: statements
/// Common migration statements, in an order that runs on one table.
pub const STATEMENTS: [&str; 14] = [
    "ADD COLUMN note text",
    "ADD COLUMN qty int NOT NULL DEFAULT 0",
    "ADD COLUMN added timestamptz DEFAULT clock_timestamp()",
    "ALTER COLUMN label TYPE varchar(200)",
    "ALTER COLUMN label TYPE text",
    "ALTER COLUMN price TYPE bigint",
    "ALTER COLUMN price SET DEFAULT 1",
    "ALTER COLUMN price SET NOT NULL",
    "ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID",
    "VALIDATE CONSTRAINT price_positive",
    "ADD FOREIGN KEY (category_id) REFERENCES category NOT VALID",
    "ALTER COLUMN price SET STATISTICS 500",
    "RENAME COLUMN note TO remark",
    "DROP COLUMN remark",
];
// ANCHOR_END: statements

// ANCHOR: concurrently
/// `CREATE INDEX CONCURRENTLY` must run outside a transaction block.
pub fn index_in_transaction(c: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = c.transaction()?;
    tx.batch_execute("CREATE INDEX CONCURRENTLY ON item (price)")?;
    tx.commit()
}

/// Whether the index is usable by queries (`pg_index.indisvalid`).
pub fn is_valid(c: &mut Client, index: &str) -> Result<bool, postgres::Error> {
    let sql = "SELECT indisvalid FROM pg_index
               WHERE indexrelid = to_regclass($1)";
    Ok(c.query_one(sql, &[&index])?.get(0))
}
// ANCHOR_END: concurrently

// ANCHOR: waits
/// After its second scan a concurrent build waits for every transaction in
/// the database whose snapshot predates that scan, whatever table it
/// touched. Returns what the build was seen waiting on while a REPEATABLE
/// READ transaction that read only `category` stayed open.
pub fn build_waits_for_old_snapshots(
    s: &Scratch,
) -> Result<String, postgres::Error> {
    let mut reader = s.session()?;
    let mut report = reader
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()?;
    report.query("SELECT count(*) FROM category", &[])?;
    let mut builder = s.session()?;
    let pid: i32 = builder.query_one("SELECT pg_backend_pid()", &[])?.get(0);
    let build = thread::spawn(move || {
        builder.batch_execute("CREATE INDEX CONCURRENTLY ON item (category_id)")
    });
    let mut observer = s.session()?;
    let waiting = wait_event_of(&mut observer, pid);
    report.commit()?;
    let built = build
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    built?;
    Ok(waiting?.unwrap_or_else(|| "no lock wait seen".to_string()))
}
// ANCHOR_END: waits

/// Polls `pg_stat_activity` until `pid` waits for a lock; returns the
/// `wait_event_type/wait_event`, or `None` after 10 s.
fn wait_event_of(
    observer: &mut Client,
    pid: i32,
) -> Result<Option<String>, postgres::Error> {
    let sql = "SELECT wait_event_type || '/' || wait_event
               FROM pg_stat_activity
               WHERE pid = $1 AND wait_event_type = 'Lock'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(row) = observer.query_opt(sql, &[&pid])? {
            return Ok(Some(row.get(0)));
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(None)
}

/// A scratch schema with `item` (1000 rows) and `category`, dropped on drop.
pub struct Scratch {
    schema: String,
    admin: Client,
}

impl Scratch {
    pub fn create() -> Result<Scratch, postgres::Error> {
        let schema = support::unique_name("ddl_lock_levels");
        let mut admin = support::pg::connect(&support::pg::database_url())?;
        admin.batch_execute(&format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.category (id int PRIMARY KEY);
             INSERT INTO {schema}.category VALUES (1), (2);
             CREATE TABLE {schema}.item (
                 id int PRIMARY KEY, price int, label varchar(20),
                 category_id int);
             INSERT INTO {schema}.item
                 SELECT g, g, 'label ' || g % 10, 1 + g % 2
                 FROM generate_series(1, 1000) AS g;"
        ))?;
        Ok(Scratch { schema, admin })
    }

    pub fn session(&self) -> Result<Client, postgres::Error> {
        let mut config: postgres::Config =
            support::pg::database_url().parse()?;
        config.connect_timeout(Duration::from_secs(3));
        config.options(&format!("-c search_path={}", self.schema));
        config.connect(NoTls)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = self.admin.batch_execute(&sql);
    }
}

/// The server's major version, as `SHOW server_version_num` gives it.
fn major_version(c: &mut Client) -> Result<i32, postgres::Error> {
    let num: String = c.query_one("SHOW server_version_num", &[])?.get(0);
    Ok(num.parse::<i32>().unwrap_or(0) / 10_000)
}

// ANCHOR: main
fn demo(s: &Scratch) -> Result<(), postgres::Error> {
    let mut c = s.session()?;
    println!("PostgreSQL {}", major_version(&mut c)?);
    for form in STATEMENTS {
        let cost = cost_of(&mut c, &format!("ALTER TABLE item {form}"))?;
        let rewrite = if cost.rewritten {
            "REWRITE"
        } else {
            "no rewrite"
        };
        println!("{form}\n  {}; {rewrite}", cost.locks.join(", "));
    }
    let cost = cost_of(&mut c, "CREATE INDEX ON item (category_id)")?;
    println!("CREATE INDEX (plain)\n  {}", cost.locks.join(", "));

    println!("CREATE INDEX CONCURRENTLY in a transaction block:");
    match index_in_transaction(&mut c) {
        Ok(()) => println!("  accepted"),
        Err(e) => println!("  {}", describe(&e)),
    }
    c.batch_execute("CREATE INDEX CONCURRENTLY item_price ON item (price)")?;
    let valid = is_valid(&mut c, "item_price")?;
    println!("CREATE INDEX CONCURRENTLY on its own:\n  valid = {valid}");
    // label repeats, so a unique index fails halfway and stays behind.
    let unique = "CREATE UNIQUE INDEX CONCURRENTLY item_label ON item (label)";
    println!("CREATE UNIQUE INDEX CONCURRENTLY over duplicates:");
    if let Err(e) = c.batch_execute(unique) {
        println!("  {}", describe(&e));
    }
    let valid = is_valid(&mut c, "item_label")?;
    println!("  item_label is left behind, valid = {valid}");
    println!("CREATE INDEX CONCURRENTLY while a REPEATABLE READ transaction");
    println!("that read only category is open:");
    println!("  waits for {}", build_waits_for_old_snapshots(s)?);
    c.batch_execute("DROP INDEX CONCURRENTLY item_label")?;
    Ok(())
}

// ANCHOR_END: main

fn main() {
    let scratch = Scratch::create().unwrap_or_else(|e| {
        support::skip::exit_unavailable("ddl_lock_levels", "PostgreSQL", e)
    });
    if let Err(e) = demo(&scratch) {
        eprintln!("ddl_lock_levels: {}", describe(&e));
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres::error::SqlState;

    fn session(test: &str) -> Option<(Scratch, Client)> {
        let s = support::skip::in_test(test, "PostgreSQL", Scratch::create())?;
        let c = s.session().expect("a second session");
        Some((s, c))
    }

    fn cost(c: &mut Client, form: &str) -> (String, bool) {
        let cost = cost_of(c, &format!("ALTER TABLE item {form}")).unwrap();
        (cost.locks.join(", "), cost.rewritten)
    }

    #[test]
    fn each_form_takes_the_documented_lock_and_rewrites_only_when_it_must() {
        let Some((_s, mut c)) = session("ddl_lock_levels: forms") else {
            return;
        };
        let ax = "item AccessExclusiveLock".to_string();
        let expected = [
            (ax.clone(), false),
            // PostgreSQL 11+: a non-volatile default is stored once in
            // the catalog, not written into every row.
            (ax.clone(), false),
            // A volatile default must be computed per row: a rewrite.
            (ax.clone(), true),
            // Raising a varchar limit, or varchar -> text: binary
            // compatible, no rewrite.
            (ax.clone(), false),
            (ax.clone(), false),
            (ax.clone(), true),
            (ax.clone(), false),
            (ax.clone(), false),
            (ax.clone(), false),
            ("item ShareUpdateExclusiveLock".to_string(), false),
            (
                "category ShareRowExclusiveLock, item ShareRowExclusiveLock"
                    .to_string(),
                false,
            ),
            ("item ShareUpdateExclusiveLock".to_string(), false),
            (ax.clone(), false),
            (ax, false),
        ];
        for (form, want) in STATEMENTS.iter().zip(expected) {
            assert_eq!(cost(&mut c, form), want, "{form}");
        }
        let plain =
            cost_of(&mut c, "CREATE INDEX ON item (category_id)").unwrap();
        assert_eq!(plain.locks, ["item ShareLock"]);
    }

    /// The fast default is kept in the catalog (`atthasmissing`) and read
    /// back for the old rows.
    #[test]
    fn a_constant_default_is_served_from_the_catalog() {
        let Some((_s, mut c)) = session("ddl_lock_levels: default") else {
            return;
        };
        let (_, rewritten) = cost(&mut c, "ADD COLUMN qty int DEFAULT 7");
        assert!(!rewritten);
        let row = c
            .query_one(
                "SELECT atthasmissing, (SELECT count(*) FROM item
                                        WHERE qty = 7)
                 FROM pg_attribute
                 WHERE attrelid = 'item'::regclass AND attname = 'qty'",
                &[],
            )
            .unwrap();
        assert!(row.get::<_, bool>(0));
        assert_eq!(row.get::<_, i64>(1), 1000);
    }

    #[test]
    fn concurrently_refuses_a_transaction_block_with_25001() {
        let Some((_s, mut c)) = session("ddl_lock_levels: 25001") else {
            return;
        };
        let err = index_in_transaction(&mut c).unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::ACTIVE_SQL_TRANSACTION));
        assert_eq!(
            describe(&err),
            "25001 CREATE INDEX CONCURRENTLY cannot run inside a \
             transaction block"
        );
        c.batch_execute("CREATE INDEX CONCURRENTLY i ON item (price)")
            .unwrap();
        assert!(is_valid(&mut c, "i").unwrap());
    }

    /// A failed concurrent build leaves an INVALID index that queries
    /// ignore; dropping it (or REINDEX after fixing the data) cleans up.
    #[test]
    fn a_failed_concurrent_build_leaves_an_invalid_index() {
        let Some((_s, mut c)) = session("ddl_lock_levels: invalid") else {
            return;
        };
        let unique = "CREATE UNIQUE INDEX CONCURRENTLY u ON item (label)";
        let err = c.batch_execute(unique).unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::UNIQUE_VIOLATION));
        assert!(!is_valid(&mut c, "u").unwrap());
        // Retrying the same statement trips over the leftover name.
        let again = c.batch_execute(unique).unwrap_err();
        assert_eq!(again.code(), Some(&SqlState::DUPLICATE_TABLE));
        // IF NOT EXISTS looks at the name only: "success", still invalid.
        c.batch_execute(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u ON item (label)",
        )
        .unwrap();
        assert!(!is_valid(&mut c, "u").unwrap());
        c.batch_execute("UPDATE item SET label = 'label ' || id")
            .unwrap();
        c.batch_execute("REINDEX INDEX CONCURRENTLY u").unwrap();
        assert!(is_valid(&mut c, "u").unwrap());
    }

    /// Several statements in one simple query run as one implicit
    /// transaction, so CONCURRENTLY refuses them too (`psql -c "a; b"`,
    /// or a driver that sends a migration file in one call).
    #[test]
    fn concurrently_refuses_a_multi_statement_query_too() {
        let Some((_s, mut c)) = session("ddl_lock_levels: implicit") else {
            return;
        };
        let err = c
            .batch_execute(
                "SELECT 1; CREATE INDEX CONCURRENTLY j ON item (price)",
            )
            .unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::ACTIVE_SQL_TRANSACTION));
    }

    #[test]
    fn a_concurrent_build_waits_for_a_snapshot_on_another_table() {
        let Some((s, mut c)) = session("ddl_lock_levels: snapshot") else {
            return;
        };
        assert_eq!(
            build_waits_for_old_snapshots(&s).unwrap(),
            "Lock/virtualxid"
        );
        // With a lock budget the same wait ends in 55P03.
        let mut reader = s.session().unwrap();
        let mut report = reader
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .unwrap();
        report.query("SELECT count(*) FROM category", &[]).unwrap();
        c.batch_execute("SET lock_timeout = '200ms'").unwrap();
        let err = c
            .batch_execute("CREATE INDEX CONCURRENTLY k ON item (label)")
            .unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::LOCK_NOT_AVAILABLE));
        report.commit().unwrap();
        // The timed-out build left an invalid index behind.
        assert!(!is_valid(&mut c, "k").unwrap());
    }

    #[test]
    fn an_unknown_index_is_an_error_not_a_panic() {
        let Some((_s, mut c)) = session("ddl_lock_levels: unknown") else {
            return;
        };
        // to_regclass gives NULL, and there is no pg_index row at all.
        assert!(is_valid(&mut c, "no_such_index").is_err());
        assert!(is_valid(&mut c, "bad name; DROP TABLE item").is_err());
        assert!(major_version(&mut c).unwrap() >= 12);
    }
}
