//! Storage: one PostgreSQL table partitioned by day (declarative RANGE
//! partitioning on the timestamp), searchable by trace id and by words,
//! with retention by dropping whole partitions. Each store lives in a
//! scratch schema of its own, dropped by `drop_schema`.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::collector::Record;

// ANCHOR: schema
const SCHEMA: &str = "
CREATE TABLE logs (
    ts        timestamptz NOT NULL,
    service   text NOT NULL,
    level     text NOT NULL,
    trace_id  text,
    span_id   text,
    parent_id text,
    message   text NOT NULL,
    fields    jsonb NOT NULL
) PARTITION BY RANGE (ts);
-- Created on the parent, so every partition gets its own copy.
CREATE INDEX logs_trace ON logs (trace_id, ts);
CREATE INDEX logs_words ON logs
    USING gin (to_tsvector('simple', message));
-- Lines whose clock is far off land here instead of being refused.
CREATE TABLE logs_default PARTITION OF logs DEFAULT;
-- The audit log: one hash-chained line per entry.
CREATE TABLE audit (seq bigint PRIMARY KEY, line text NOT NULL);
";

/// The partition of one UTC day, e.g. `logs_20260103`, created ahead of
/// time by a daily job (here: `ensure_days`).
fn day_partition(day: &str, next: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS logs_{name} PARTITION OF logs \
         FOR VALUES FROM ('{day}') TO ('{next}')",
        name = day.replace('-', "")
    )
}
// ANCHOR_END: schema

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("PostgreSQL: {0}")]
    Pg(#[from] tokio_postgres::Error),
    #[error("not a date (YYYY-MM-DD): {0:?}")]
    Day(String),
}

#[derive(Clone)]
pub struct LogStore {
    db: Arc<Client>,
    pub schema: String,
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Whether the server answers.
pub async fn reachable(url: &str) -> Result<(), StoreError> {
    connect(url).await.map(drop)
}

/// `YYYY-MM-DD`, checked, so it can sit in DDL.
fn checked_day(day: &str) -> Result<&str, StoreError> {
    let b = day.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if shape {
        Ok(day)
    } else {
        Err(StoreError::Day(day.to_string()))
    }
}

impl LogStore {
    pub async fn create(url: &str) -> Result<LogStore, StoreError> {
        let db = connect(url).await?;
        let schema = support::unique_name("logs");
        db.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}; \
             SET timezone TO 'UTC'; {SCHEMA}"
        ))
        .await?;
        Ok(LogStore {
            db: Arc::new(db),
            schema,
        })
    }

    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        self.db.batch_execute(&sql).await?;
        Ok(())
    }

    /// Partitions for `days` days from `first` (UTC dates).
    pub async fn ensure_days(
        &self,
        first: &str,
        days: i32,
    ) -> Result<(), StoreError> {
        let rows = self
            .db
            .query(
                "SELECT to_char(d, 'YYYY-MM-DD'), to_char(d + 1, 'YYYY-MM-DD') \
                 FROM generate_series(0, $2::int - 1) AS n, \
                 LATERAL (SELECT $1::text::date + n AS d) AS x",
                &[&checked_day(first)?, &days],
            )
            .await?;
        for row in rows {
            let (day, next): (String, String) = (row.get(0), row.get(1));
            self.db.batch_execute(&day_partition(&day, &next)).await?;
        }
        Ok(())
    }

    /// Today's and tomorrow's partitions (UTC).
    pub async fn ensure_today(&self) -> Result<(), StoreError> {
        let row = self
            .db
            .query_one("SELECT to_char(current_date, 'YYYY-MM-DD')", &[])
            .await?;
        let today: String = row.get(0);
        self.ensure_days(&today, 2).await
    }

    // ANCHOR: insert
    /// One statement per batch: the columns as arrays, unnested.
    pub async fn insert(&self, batch: &[Record]) -> Result<u64, StoreError> {
        let col = |f: fn(&Record) -> String| batch.iter().map(f).collect();
        let opt = |f: fn(&Record) -> Option<String>| {
            batch.iter().map(f).collect::<Vec<_>>()
        };
        let ts: Vec<String> = col(|r| r.ts.clone());
        let service: Vec<String> = col(|r| r.service.clone());
        let level: Vec<String> = col(|r| r.level.clone());
        let message: Vec<String> = col(|r| r.message.clone());
        let fields: Vec<String> =
            col(|r| serde_json::Value::Object(r.fields.clone()).to_string());
        let (trace, span, parent) = (
            opt(|r| r.trace_id.clone()),
            opt(|r| r.span_id.clone()),
            opt(|r| r.parent_id.clone()),
        );
        let n = self
            .db
            .execute(
                "INSERT INTO logs SELECT t::timestamptz, s, l, tr, sp, pa, \
                 m, f::jsonb FROM unnest($1::text[], $2::text[], \
                 $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[]) AS u(t, s, l, tr, sp, pa, m, f)",
                &[
                    &ts, &service, &level, &trace, &span, &parent, &message,
                    &fields,
                ],
            )
            .await?;
        Ok(n)
    }
    // ANCHOR_END: insert

    // ANCHOR: search
    /// Every line of one trace, oldest first.
    pub async fn by_trace(
        &self,
        trace_id: &str,
    ) -> Result<Vec<Stored>, StoreError> {
        self.select("WHERE trace_id = $1", &[&trace_id]).await
    }

    /// Lines whose message has all these words, within a time range so
    /// that only that range's partitions are read.
    pub async fn by_words(
        &self,
        words: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Stored>, StoreError> {
        let sql = "WHERE to_tsvector('simple', message) \
                   @@ plainto_tsquery('simple', $1) \
                   AND ts >= $2::text::timestamptz \
                   AND ts < $3::text::timestamptz";
        self.select(sql, &[&words, &from, &to]).await
    }
    // ANCHOR_END: search

    async fn select(
        &self,
        filter: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Stored>, StoreError> {
        let sql = format!(
            "SELECT service, level, trace_id, span_id, parent_id, message, \
             fields::text, tableoid::regclass::text FROM logs {filter} \
             ORDER BY ts, service"
        );
        let rows = self.db.query(&sql, params).await?;
        Ok(rows
            .iter()
            .map(|r| Stored {
                service: r.get(0),
                level: r.get(1),
                trace_id: r.get(2),
                span_id: r.get(3),
                parent_id: r.get(4),
                message: r.get(5),
                fields: r.get(6),
                partition: r.get(7),
            })
            .collect())
    }

    /// The query plan, to see which partitions a query reads.
    pub async fn explain(&self, sql: &str) -> Result<String, StoreError> {
        let rows = self
            .db
            .query(&format!("EXPLAIN (COSTS OFF) {sql}"), &[])
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Partitions of `logs`, by name, with their row counts.
    pub async fn partitions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT c.relname::text FROM pg_inherits i \
                 JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'logs'::regclass ORDER BY 1",
                &[],
            )
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            let count = self
                .db
                .query_one(&format!("SELECT count(*) FROM {name}"), &[])
                .await?;
            out.push((name, count.get(0)));
        }
        Ok(out)
    }

    // ANCHOR: retention
    /// Retention: keep `keep_days` days up to and including `today`;
    /// every day partition before them is detached, then dropped: a
    /// catalogue change, not a DELETE of its rows. Returns the partitions
    /// dropped.
    pub async fn drop_older_than(
        &self,
        today: &str,
        keep_days: i32,
    ) -> Result<Vec<String>, StoreError> {
        let row = self
            .db
            .query_one(
                "SELECT to_char($1::text::date - $2::int + 1, 'YYYYMMDD')",
                &[&checked_day(today)?, &keep_days],
            )
            .await?;
        let cutoff = format!("logs_{}", row.get::<_, String>(0));
        let mut dropped = Vec::new();
        for (name, _) in self.partitions().await? {
            // logs_YYYYMMDD sorts by date; logs_default is never dropped.
            let is_day = name.len() == 13
                && name[5..].bytes().all(|b| b.is_ascii_digit());
            if is_day && name < cutoff {
                self.db
                    .batch_execute(&format!(
                        "ALTER TABLE logs DETACH PARTITION {name}; \
                         DROP TABLE {name};"
                    ))
                    .await?;
                dropped.push(name);
            }
        }
        Ok(dropped)
    }
    // ANCHOR_END: retention

    pub async fn audit_append(&self, line: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO audit SELECT coalesce(max(seq), 0) + 1, $1 \
                 FROM audit",
                &[&line],
            )
            .await?;
        Ok(())
    }

    pub async fn audit_lines(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query("SELECT line FROM audit ORDER BY seq", &[])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub fn client(&self) -> &Client {
        &self.db
    }
}

/// A line as read back.
#[derive(Debug, Clone)]
pub struct Stored {
    pub service: String,
    pub level: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub parent_id: Option<String>,
    pub message: String,
    pub fields: String,
    pub partition: String,
}
