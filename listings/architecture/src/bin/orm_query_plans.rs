//! 2.6 Optimising ORM queries: what the planner does with 200,000 rows,
//! read from `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` on a real server.
//!
//! One scratch schema per run (dropped at the end) holds an `orders` table
//! loaded by one `INSERT ... SELECT ... FROM generate_series`, then
//! `ANALYZE`d. Four experiments follow, each printing the plan's scan node,
//! the rows it produced and the shared buffers (8 kB pages) the whole plan
//! touched:
//! 1. a lookup by customer: Seq Scan, then an index with `INCLUDE`, then
//!    `VACUUM` (the visibility map) turns it into an Index Only Scan;
//! 2. a composite index serves a predicate on its leading column, not one
//!    on its second column alone;
//! 3. statistics: the same index is used for a rare value and ignored for a
//!    common one; a partial index covers just the rare rows;
//! 4. pagination: OFFSET reads every skipped row, a keyset cursor does not.
//!
//! Output is deterministic: rows and buffers, never times or estimates
//! (estimates come from ANALYZE's random sample). Autovacuum is off for the
//! table, so the visibility map changes only when the listing says so, and
//! parallel query is off for the session, so one process runs each plan.
//! The server comes from `DATABASE_URL` (default
//! `postgresql://postgres@127.0.0.1:5432/test`); without it `main` exits 77.

use postgres::{Client, SimpleQueryMessage};
use serde_json::Value;

/// What can go wrong between the server and a [`Scan`].
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("database: {0}")]
    Db(#[from] postgres::Error),
    #[error("EXPLAIN returned no row")]
    NoRow,
    #[error("EXPLAIN output is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("EXPLAIN JSON has no {0}")]
    Missing(&'static str),
    #[error(
        "VACUUM could not mark every page all-visible: a long-running \
             transaction holds back the oldest snapshot"
    )]
    NotAllVisible,
}

/// Bad input to the paginated endpoint: `?after=<cursor>&limit=<n>`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("cursor must be a non-negative integer id, got {0:?}")]
    BadCursor(String),
    #[error("limit must be an integer from 1 to {MAX_LIMIT}, got {0:?}")]
    BadLimit(String),
}

/// The largest page a client may ask for.
pub const MAX_LIMIT: i64 = 100;

// ANCHOR: seed
/// 200,000 orders in one statement: 2,000 customers with 100 orders each,
/// one order a minute from 2026-01-01, the newest 1% still 'pending'.
pub const SEED: &str = "
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    status      text NOT NULL,
    total_cents integer NOT NULL,
    created_at  timestamptz NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO orders
SELECT i,
       (i * 7919) % 2000,
       CASE WHEN i > 198000 THEN 'pending' ELSE 'shipped' END,
       (i * 37) % 10000,
       timestamptz '2026-01-01 00:00+00' + i * interval '1 minute'
FROM generate_series(1, 200000) AS i;
ANALYZE orders;
SET max_parallel_workers_per_gather = 0;";
// ANCHOR_END: seed

// ANCHOR: scan
/// What one `EXPLAIN (ANALYZE, BUFFERS)` says about the node that read
/// the table, and what the whole plan cost in pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// "Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"...
    pub node: String,
    /// The index it used, if any (a bitmap scan's comes from its child).
    pub index: Option<String>,
    /// Rows the scan node produced (actual rows x loops).
    pub rows: u64,
    /// Rows it read and threw away ("Rows Removed by Filter").
    pub removed: u64,
    /// Index-only scans: rows it still had to check in the heap.
    pub heap_fetches: Option<u64>,
    /// Shared buffers (8 kB pages) hit or read by the whole plan.
    pub buffers: u64,
}

/// Runs `sql` under EXPLAIN ANALYZE (it really executes) and summarises.
pub fn explain(db: &mut Client, sql: &str) -> Result<Scan, PlanError> {
    let explain = format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}");
    let text = db
        .simple_query(&explain)?
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .ok_or(PlanError::NoRow)?;
    summarise(&text)
}

// ANCHOR_END: scan

// ANCHOR: summarise
/// The JSON is `[{"Plan": {...}}]`; nodes nest in "Plans".
pub fn summarise(json: &str) -> Result<Scan, PlanError> {
    let doc: Value = serde_json::from_str(json)?;
    let root = doc.get(0).and_then(|d| d.get("Plan"));
    let root = root.ok_or(PlanError::Missing("Plan"))?;
    let scan = find(root, &|n| n.get("Relation Name").is_some())
        .ok_or(PlanError::Missing("node with a Relation Name"))?;
    let index = find(scan, &|n| n.get("Index Name").is_some())
        .and_then(|n| n["Index Name"].as_str().map(str::to_owned));
    let num = |n: &Value, key: &str| n.get(key).and_then(Value::as_u64);
    let rows = num(scan, "Actual Rows").ok_or(PlanError::Missing("rows"))?
        * num(scan, "Actual Loops").unwrap_or(1);
    let buffers = num(root, "Shared Hit Blocks")
        .ok_or(PlanError::Missing("Shared Hit Blocks (BUFFERS)"))?
        + num(root, "Shared Read Blocks").unwrap_or(0);
    Ok(Scan {
        node: scan["Node Type"].as_str().unwrap_or("?").to_owned(),
        index,
        rows,
        removed: num(scan, "Rows Removed by Filter").unwrap_or(0),
        heap_fetches: num(scan, "Heap Fetches"),
        buffers,
    })
}

/// The first node, depth first, that matches.
fn find<'a>(
    node: &'a Value,
    hit: &dyn Fn(&Value) -> bool,
) -> Option<&'a Value> {
    if hit(node) {
        return Some(node);
    }
    let children = node.get("Plans").and_then(Value::as_array)?;
    children.iter().find_map(|child| find(child, hit))
}
// ANCHOR_END: summarise

impl std::fmt::Display for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.node)?;
        if let Some(index) = &self.index {
            write!(f, " using {index}")?;
        }
        write!(f, ": rows {}", self.rows)?;
        if self.removed > 0 {
            write!(f, ", removed by filter {}", self.removed)?;
        }
        if let Some(fetches) = self.heap_fetches {
            write!(f, ", heap fetches {fetches}")?;
        }
        write!(f, ", buffers {}", self.buffers)
    }
}

// ANCHOR: covering
/// Experiment 1: Seq Scan, index with INCLUDE, VACUUM, Index Only Scan.
pub fn covering_index(db: &mut Client) -> Result<[Scan; 3], PlanError> {
    let query = "SELECT total_cents FROM orders WHERE customer_id = 42";
    let no_index = explain(db, query)?;
    db.batch_execute(
        "CREATE INDEX orders_customer ON orders (customer_id)
             INCLUDE (total_cents)",
    )?;
    let indexed = explain(db, query)?;
    // VACUUM sets the visibility map's all-visible bits, which let an
    // index-only scan skip the heap.
    vacuum(db)?;
    let vacuumed = explain(db, query)?;
    Ok([no_index, indexed, vacuumed])
}
// ANCHOR_END: covering

// ANCHOR: vacuum
/// VACUUM marks a page all-visible only if no open transaction anywhere in
/// the database may still need an older view of it. On a shared server
/// another session's snapshot can hold that back, so try for a while.
fn vacuum(db: &mut Client) -> Result<(), PlanError> {
    for _ in 0..100 {
        db.batch_execute("VACUUM orders")?;
        let done = db.query_one(
            "SELECT relallvisible >= relpages FROM pg_class
             WHERE oid = 'orders'::regclass",
            &[],
        )?;
        if done.get(0) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(PlanError::NotAllVisible)
}
// ANCHOR_END: vacuum

// ANCHOR: column_order
/// Experiment 2: an index on (customer_id, created_at), two predicates.
pub fn column_order(db: &mut Client) -> Result<[Scan; 3], PlanError> {
    db.batch_execute(
        "CREATE INDEX orders_customer_created
             ON orders (customer_id, created_at)",
    )?;
    let leading = explain(
        db,
        "SELECT id FROM orders
         WHERE customer_id = 42 AND created_at >= '2026-03-01'",
    )?;
    let one_day = "SELECT id FROM orders
         WHERE created_at >= '2026-03-01' AND created_at < '2026-03-02'";
    let second_only = explain(db, one_day)?;
    db.batch_execute("CREATE INDEX orders_created ON orders (created_at)")?;
    let own_index = explain(db, one_day)?;
    Ok([leading, second_only, own_index])
}
// ANCHOR_END: column_order

// ANCHOR: selectivity
/// Experiment 3: one index on status, a rare value and a common one;
/// then a partial index that holds only the rare rows.
pub fn selectivity(db: &mut Client) -> Result<[Scan; 3], PlanError> {
    db.batch_execute("CREATE INDEX orders_status ON orders (status)")?;
    let rare = explain(db, "SELECT id FROM orders WHERE status = 'pending'")?;
    let common = explain(db, "SELECT id FROM orders WHERE status = 'shipped'")?;
    db.batch_execute(
        "CREATE INDEX orders_pending ON orders (created_at)
             WHERE status = 'pending'",
    )?;
    let partial = explain(
        db,
        "SELECT id FROM orders WHERE status = 'pending'
         ORDER BY created_at LIMIT 20",
    )?;
    Ok([rare, common, partial])
}
// ANCHOR_END: selectivity

/// Index sizes in 8 kB pages.
pub fn pages(db: &mut Client, relation: &str) -> Result<i64, PlanError> {
    let row = db.query_one(
        "SELECT pg_relation_size($1::text::regclass) / 8192",
        &[&relation],
    )?;
    Ok(row.get(0))
}

// ANCHOR: pages
/// Page `page` (from 0) of `limit` orders, newest-id-last, by OFFSET.
pub fn page_by_offset(
    db: &mut Client,
    page: i64,
    limit: i64,
) -> Result<Vec<i64>, PlanError> {
    let rows = db.query(
        "SELECT id FROM orders ORDER BY id LIMIT $1 OFFSET $2",
        &[&limit, &(page * limit)],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The page after the row with id `after`: the index seeks straight to it.
pub fn page_after(
    db: &mut Client,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, PlanError> {
    let rows = db.query(
        "SELECT id FROM orders WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after, &limit],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
// ANCHOR_END: pages

// ANCHOR: cursor
/// The client's `?after=` and `?limit=`, checked before any SQL runs.
pub fn parse_page_request(
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<(i64, i64), PageError> {
    let after = match after {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| PageError::BadCursor(text.to_owned()))?,
    };
    let limit = match limit {
        None => 20,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| PageError::BadLimit(text.to_owned()))?,
    };
    Ok((after, limit))
}
// ANCHOR_END: cursor

// ANCHOR: pagination
/// Experiment 4: the 7,501st page of 20 rows, OFFSET against keyset.
pub fn pagination(db: &mut Client) -> Result<[Scan; 2], PlanError> {
    let offset = explain(
        db,
        "SELECT id, total_cents FROM orders ORDER BY id
         LIMIT 20 OFFSET 150000",
    )?;
    let keyset = explain(
        db,
        "SELECT id, total_cents FROM orders WHERE id > 150000
         ORDER BY id LIMIT 20",
    )?;
    Ok([offset, keyset])
}
// ANCHOR_END: pagination

/// A scratch schema holding the seeded table, dropped when this drops.
pub struct Lab {
    pub db: Client,
    schema: String,
}

impl Lab {
    pub fn open(mut db: Client) -> Result<Lab, PlanError> {
        let schema = support::unique_name("orm_plans");
        db.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path = {schema}"
        ))?;
        // Built before seeding, so a failed seed still drops the schema.
        let mut lab = Lab { db, schema };
        lab.db.batch_execute(SEED)?;
        Ok(lab)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Err(e) = self.db.batch_execute(&drop) {
            eprintln!("could not drop {}: {e}", self.schema);
        }
    }
}

fn lab_or_exit() -> Lab {
    let db = support::pg::connect_or_exit("orm_query_plans");
    Lab::open(db).unwrap_or_else(|e| {
        support::skip::exit_unavailable("orm_query_plans", "the seed", e)
    })
}

fn show(label: &str, scan: &Scan) {
    println!("   {label}\n     {scan}");
}

fn main() -> Result<(), PlanError> {
    let mut lab = lab_or_exit();
    let db = &mut lab.db;
    let count: i64 = db.query_one("SELECT count(*) FROM orders", &[])?.get(0);
    println!("{count} orders, analyzed; autovacuum and parallel query off");

    println!("\n1. SELECT total_cents FROM orders WHERE customer_id = 42");
    let [none, indexed, vacuumed] = covering_index(db)?;
    show("no index", &none);
    show("index (customer_id) INCLUDE (total_cents)", &indexed);
    show("the same index after VACUUM", &vacuumed);

    println!("\n2. index (customer_id, created_at)");
    let [leading, second, own] = column_order(db)?;
    show("customer_id = 42 AND created_at >= '2026-03-01'", &leading);
    show("created_at within one day", &second);
    show("the same with an index (created_at)", &own);

    println!("\n3. index (status): 2000 pending, 198000 shipped");
    let [rare, common, partial] = selectivity(db)?;
    show("status = 'pending'", &rare);
    show("status = 'shipped'", &common);
    show("partial index WHERE status = 'pending', LIMIT 20", &partial);
    for index in ["orders_status", "orders_pending"] {
        println!("   {index}: {} pages", pages(db, index)?);
    }

    println!("\n4. the 7501st page of 20, ORDER BY id");
    let [offset, keyset] = pagination(db)?;
    show("LIMIT 20 OFFSET 150000", &offset);
    show("WHERE id > 150000 LIMIT 20", &keyset);
    let same = page_by_offset(db, 7500, 20)? == page_after(db, 150_000, 20)?;
    println!("   the two return the same 20 ids: {same}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(test: &str) -> Option<Lab> {
        let db = support::pg::connect_in_test(test)?;
        Some(Lab::open(db).expect("seed the orders table"))
    }

    fn uses(scan: &Scan, node: &str, index: Option<&str>) {
        assert_eq!(scan.node, node, "{scan}");
        assert_eq!(scan.index.as_deref(), index, "{scan}");
    }

    #[test]
    fn a_seq_scan_becomes_an_index_only_scan_after_vacuum() {
        let Some(mut lab) = lab("covering index") else {
            return;
        };
        let [none, indexed, vacuumed] = covering_index(&mut lab.db).unwrap();
        uses(&none, "Seq Scan", None);
        assert_eq!((none.rows, none.removed), (100, 199_900));
        // Before VACUUM the visibility map is empty: every row would need
        // a heap visit, so the planner does not pick an index-only scan.
        assert_ne!(indexed.node, "Index Only Scan");
        assert_eq!(indexed.index.as_deref(), Some("orders_customer"));
        uses(&vacuumed, "Index Only Scan", Some("orders_customer"));
        assert_eq!((vacuumed.rows, vacuumed.heap_fetches), (100, Some(0)));
        assert!(vacuumed.buffers * 100 < none.buffers, "{vacuumed}");
    }

    #[test]
    fn a_composite_index_serves_its_leading_column_only() {
        let Some(mut lab) = lab("column order") else {
            return;
        };
        let [leading, second, own] = column_order(&mut lab.db).unwrap();
        assert_eq!(leading.index.as_deref(), Some("orders_customer_created"));
        uses(&second, "Seq Scan", None);
        assert_eq!(second.rows, 1440);
        uses(&own, "Index Scan", Some("orders_created"));
        assert_eq!(own.rows, 1440);
        assert!(own.buffers * 10 < second.buffers);
    }

    #[test]
    fn statistics_decide_whether_an_index_is_worth_it() {
        let Some(mut lab) = lab("selectivity") else {
            return;
        };
        let [rare, common, partial] = selectivity(&mut lab.db).unwrap();
        assert_eq!(rare.index.as_deref(), Some("orders_status"));
        assert_eq!(rare.rows, 2000);
        uses(&common, "Seq Scan", None);
        assert_eq!(common.rows, 198_000);
        uses(&partial, "Index Scan", Some("orders_pending"));
        assert_eq!(partial.rows, 20);
        let full = pages(&mut lab.db, "orders_status").unwrap();
        let part = pages(&mut lab.db, "orders_pending").unwrap();
        assert!(part * 10 < full, "partial {part} vs full {full} pages");
    }

    #[test]
    fn keyset_reads_one_page_where_offset_reads_every_skipped_row() {
        let Some(mut lab) = lab("pagination") else {
            return;
        };
        let [offset, keyset] = pagination(&mut lab.db).unwrap();
        assert_eq!(offset.rows, 150_020);
        assert_eq!(keyset.rows, 20);
        assert!(keyset.buffers * 100 < offset.buffers);
        // Same rows either way, at the start, the middle and the end.
        let db = &mut lab.db;
        for (page, after) in [(0, 0), (7500, 150_000), (9999, 199_980)] {
            let by_offset = page_by_offset(db, page, 20).unwrap();
            assert_eq!(by_offset, page_after(db, after, 20).unwrap());
            assert_eq!(by_offset.len(), 20);
        }
        assert!(page_after(db, 200_000, 20).unwrap().is_empty());
    }

    #[test]
    fn page_requests_are_checked_before_any_sql() {
        assert_eq!(parse_page_request(None, None), Ok((0, 20)));
        assert_eq!(
            parse_page_request(Some("150000"), Some("100")),
            Ok((150_000, 100))
        );
        for bad in ["", "abc", "-1", "1.5", "99999999999999999999", "1; DROP"] {
            assert_eq!(
                parse_page_request(Some(bad), None),
                Err(PageError::BadCursor(bad.to_owned()))
            );
        }
        for bad in ["0", "101", "-5", "ten", ""] {
            assert_eq!(
                parse_page_request(None, Some(bad)),
                Err(PageError::BadLimit(bad.to_owned()))
            );
        }
    }

    #[test]
    fn summarise_reads_nested_nodes_and_rejects_other_shapes() {
        let json = r#"[{"Plan": {"Node Type": "Limit", "Actual Rows": 20,
            "Actual Loops": 1, "Shared Hit Blocks": 4, "Shared Read Blocks": 1,
            "Plans": [{"Node Type": "Bitmap Heap Scan",
              "Relation Name": "orders", "Actual Rows": 20, "Actual Loops": 1,
              "Plans": [{"Node Type": "Bitmap Index Scan",
                "Index Name": "orders_status", "Actual Rows": 20,
                "Actual Loops": 1}]}]}}]"#;
        let scan = summarise(json).unwrap();
        uses(&scan, "Bitmap Heap Scan", Some("orders_status"));
        assert_eq!((scan.rows, scan.buffers), (20, 5));
        assert!(matches!(summarise("not json"), Err(PlanError::Json(_))));
        assert!(matches!(summarise("[]"), Err(PlanError::Missing("Plan"))));
        let no_relation = r#"[{"Plan": {"Node Type": "Result"}}]"#;
        assert!(matches!(summarise(no_relation), Err(PlanError::Missing(_))));
        let no_buffers = r#"[{"Plan": {"Node Type": "Seq Scan",
            "Relation Name": "t", "Actual Rows": 1}}]"#;
        assert!(matches!(summarise(no_buffers), Err(PlanError::Missing(_))));
    }

    #[test]
    fn explain_of_bad_sql_is_an_error_not_a_panic() {
        let Some(mut lab) = lab("bad sql") else {
            return;
        };
        let err = explain(&mut lab.db, "SELECT nope FROM orders").unwrap_err();
        assert!(matches!(err, PlanError::Db(_)), "{err}");
    }
}
