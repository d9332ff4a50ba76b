//! 3.7: logging for distributed services. Three services on loopback
//! (`gateway` and `orders` over HTTP, `billing` behind a RabbitMQ queue)
//! log JSON lines through `tracing`, each inside a span that carries the
//! W3C `traceparent` it received, so one trace id joins a request's lines
//! across HTTP and the broker. Each line is redacted in the process that
//! wrote it, then offered to a bounded collector buffer that drops (and
//! counts) when full instead of slowing the request. A sink writes
//! batches to PostgreSQL, partitioned by day, searchable by trace id and
//! by words; retention drops whole partitions. An audit log is hash
//! chained, so an edited line is found and named.
//!
//! `main` runs each part once and prints what it saw. Tests:
//! `cargo test -p design --bin log_pipeline` (PostgreSQL at
//! `DATABASE_URL`, RabbitMQ at `AMQP_URL`).

mod audit;
mod collector;
mod redact;
mod services;
mod store;
mod traceparent;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use collector::{Collector, run_sink};
use services::Services;
use store::{LogStore, StoreError};

/// The example value in the Trace Context recommendation.
pub const SPEC_EXAMPLE: &str =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A store, a collector and its sink, running.
pub struct Pipeline {
    pub store: LogStore,
    pub collector: Collector,
    pub stored: watch::Receiver<u64>,
    pub failed: Arc<AtomicU64>,
    sink: JoinHandle<()>,
}

impl Pipeline {
    /// `stalled`: the sink does not start until `start_sink` (the test
    /// of a sink that has stopped taking lines).
    pub async fn start(
        capacity: usize,
        stalled: bool,
    ) -> Result<(Pipeline, Option<StalledSink>), StoreError> {
        let store = LogStore::create(&support::pg::database_url()).await?;
        store.ensure_today().await?;
        let (collector, rx) = Collector::new(capacity);
        let (tx, stored) = watch::channel(0);
        let failed = Arc::new(AtomicU64::new(0));
        let sink_store = store.clone();
        let sink_failed = failed.clone();
        let start =
            move || tokio::spawn(run_sink(rx, sink_store, 64, tx, sink_failed));
        let (sink, stalled) = if stalled {
            let (go, wait) = tokio::sync::oneshot::channel::<()>();
            let sink = tokio::spawn(async move {
                if wait.await.is_ok() {
                    let _ = start().await;
                }
            });
            (sink, Some(StalledSink(go)))
        } else {
            (start(), None)
        };
        let pipeline = Pipeline {
            store,
            collector,
            stored,
            failed,
            sink,
        };
        Ok((pipeline, stalled))
    }

    /// Waits until `n` lines are in the table (or 5 s have passed).
    pub async fn stored_at_least(&mut self, n: u64) -> u64 {
        let wait = self.stored.wait_for(|&s| s >= n);
        let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        *self.stored.borrow()
    }

    pub async fn finish(self) -> Result<(), StoreError> {
        self.sink.abort();
        self.store.drop_schema().await
    }
}

/// Lets a stalled sink start.
pub struct StalledSink(tokio::sync::oneshot::Sender<()>);

impl StalledSink {
    pub fn release(self) {
        let _ = self.0.send(());
    }
}

pub fn http() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// POSTs `body` with these headers; the status and the body.
pub async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), Box<dyn std::error::Error + Send + Sync>> {
    let mut request = Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body.to_string())))?;
    let call = client.request(request);
    let response = tokio::time::timeout(Duration::from_secs(3), call).await??;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// The checkout the demo and the tests send: secrets in the body and
/// in the headers, which the gateway logs carelessly.
pub const CHECKOUT: &str = r#"{"order":7,"email":"alice@example.com","card":"4111 1111 1111 1111","password":"hunter2"}"#;
pub const BEARER: &str = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig";

async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use traceparent::parse;
    // ANCHOR: demo_parse
    println!("traceparent {SPEC_EXAMPLE}");
    let tp = parse(SPEC_EXAMPLE)?;
    println!(
        "  trace {:032x} parent {:016x} sampled {}",
        tp.trace_id,
        tp.parent_id,
        tp.flags & 1 == 1
    );
    for bad in [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
    ] {
        let why = parse(bad).err().map(|e| e.to_string());
        println!("  refused {}...: {}", &bad[..8], why.unwrap_or_default());
    }
    // ANCHOR_END: demo_parse

    let (mut p, _) = Pipeline::start(256, false).await?;
    let services =
        Services::start(&p.collector, &support::amqp::amqp_url()).await?;
    let client = http();
    let url = format!("{}/checkout", services.gateway);
    let auth = ("authorization", BEARER);
    for traceparent in [
        SPEC_EXAMPLE,
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
    ] {
        let headers = [("traceparent", traceparent), auth];
        post(&client, &url, &headers, CHECKOUT).await?;
    }
    let mut billed = services.billed.clone();
    let wait = billed.wait_for(|&n| n >= 2);
    tokio::time::timeout(Duration::from_secs(5), wait).await??;
    let accepted = p.collector.counts.accepted.load(Ordering::Relaxed);
    p.stored_at_least(accepted).await;

    println!("\none request, found by its trace id:");
    let lines = p.store.by_trace("4bf92f3577b34da6a3ce929d0e0e4736").await?;
    for line in &lines {
        let parent = match &line.parent_id {
            Some(id) if id == "00f067aa0ba902b7" => "the caller".to_string(),
            Some(id) => lines
                .iter()
                .find(|l| l.span_id.as_ref() == Some(id))
                .map_or("?".to_string(), |l| l.service.clone()),
            None => "none".to_string(),
        };
        println!(
            "  {:<8} {:<18} parent span: {parent}",
            line.service, line.message
        );
    }
    let body = lines
        .iter()
        .find(|l| l.service == "gateway")
        .and_then(|l| serde_json::from_str::<serde_json::Value>(&l.fields).ok())
        .and_then(|f| f["body"].as_str().map(String::from))
        .unwrap_or_default();
    println!("  the body as stored:\n    {body}");

    let words = p
        .store
        .by_words("payment captured", "-infinity", "infinity")
        .await?;
    println!("\nlines with the words 'payment captured': {}", words.len());
    let restarted = p
        .store
        .by_words("traceparent ignored", "-infinity", "infinity")
        .await?;
    for line in restarted {
        let fields: serde_json::Value = serde_json::from_str(&line.fields)?;
        let new_trace = line.trace_id.as_deref()
            != Some("4bf92f3577b34da6a3ce929d0e0e4736");
        let why = fields["error"].as_str().unwrap_or("");
        println!(
            "uppercase traceparent: ignored ({why}), new trace: {new_trace}"
        );
    }
    let (status, _) = post(&client, &url, &[], "{not json").await?;
    let orders = format!("{}/orders", services.orders);
    let (status2, _) = post(&client, &orders, &[], "[]").await?;
    println!("bad bodies: gateway {status}, orders {status2}");
    services.stop().await?;
    retention(&p.store).await?;
    audit_demo(&p.store).await?;
    p.finish().await?;
    overload().await?;
    Ok(())
}

// ANCHOR: demo_retention
async fn retention(store: &LogStore) -> Result<(), StoreError> {
    store.ensure_days("2020-01-01", 5).await?;
    let mut batch = Vec::new();
    for day in 1..=5 {
        let ts = format!("2020-01-0{day}T12:00:00Z");
        batch.push(record(&ts, "disk full on db-1"));
        batch.push(record(&ts, "request served"));
    }
    batch.push(record("1999-12-31T23:59:00Z", "clock far behind"));
    store.insert(&batch).await?;
    let old = |list: Vec<(String, i64)>| -> Vec<String> {
        list.into_iter()
            .filter(|(name, _)| {
                name.starts_with("logs_2020") || name == "logs_default"
            })
            .map(|(name, n)| format!("{}={n}", &name[5..]))
            .collect()
    };
    println!("\npartitions: {}", old(store.partitions().await?).join(" "));
    let plan = store
        .explain(
            "SELECT * FROM logs WHERE ts >= '2020-01-04' \
             AND ts < '2020-01-05' AND to_tsvector('simple', message) \
             @@ plainto_tsquery('simple', 'disk full')",
        )
        .await?;
    let mut read: Vec<&str> = plan
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("logs_") && !w.ends_with("_idx"))
        .collect();
    read.dedup();
    println!("one day's search reads: {}", read.join(" "));
    let dropped = store.drop_older_than("2020-01-05", 3).await?;
    println!(
        "retention 3 days on 2020-01-05 dropped: {}",
        dropped.join(" ")
    );
    println!("partitions: {}", old(store.partitions().await?).join(" "));
    Ok(())
}
// ANCHOR_END: demo_retention

pub fn record(ts: &str, message: &str) -> collector::Record {
    collector::Record {
        ts: ts.to_string(),
        service: "demo".to_string(),
        level: "INFO".to_string(),
        trace_id: None,
        span_id: None,
        parent_id: None,
        message: message.to_string(),
        fields: serde_json::Map::new(),
    }
}

/// Four audit entries: who did what to which object.
pub fn audit_entries() -> Vec<serde_json::Map<String, serde_json::Value>> {
    [
        ("2026-03-01T09:00:00Z", "alice", "login", "-"),
        ("2026-03-01T09:01:00Z", "alice", "refund 20", "order 7"),
        ("2026-03-01T09:02:00Z", "bob", "role admin", "user carol"),
        ("2026-03-01T09:03:00Z", "alice", "logout", "-"),
    ]
    .into_iter()
    .map(|(at, actor, action, object)| {
        audit::entry(&[
            ("at", at),
            ("actor", actor),
            ("action", action),
            ("object", object),
        ])
    })
    .collect()
}

// ANCHOR: demo_audit
async fn audit_demo(store: &LogStore) -> Result<(), StoreError> {
    let mut chain = Vec::new();
    for entry in audit_entries() {
        let line = audit::append(&mut chain, entry);
        store.audit_append(&line).await?;
    }
    let head = audit::verify(&store.audit_lines().await?);
    let head = head.map_or_else(|e| e.to_string(), |h| h[..16].to_string());
    println!("\naudit: {} lines, head {head}", chain.len());
    store
        .client()
        .execute(
            "UPDATE audit SET line = replace(line, 'refund 20\"', \
             'refund 2000\"') WHERE seq = 2",
            &[],
        )
        .await?;
    match audit::verify(&store.audit_lines().await?) {
        Ok(_) => println!("after an edit: not detected"),
        Err(e) => println!("after an edit: {e}"),
    }
    // Cutting the last line leaves a valid chain: only a head kept
    // elsewhere (another system, a signed digest) shows the cut.
    let anchor = audit::verify(&chain).unwrap_or_default();
    let cut = &chain[..chain.len() - 1];
    match audit::verify(cut) {
        Ok(_) => println!("last line cut, chain alone: valid"),
        Err(e) => println!("last line cut, chain alone: {e}"),
    }
    match audit::verify_anchored(cut, &anchor) {
        Ok(()) => println!("last line cut, with the anchor: ok"),
        Err(e) => println!("last line cut, with the anchor: {e}"),
    }
    Ok(())
}
// ANCHOR_END: demo_audit

// ANCHOR: demo_overload
async fn overload() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (mut p, stalled) = Pipeline::start(8, true).await?;
    let (gateway, task) = services::gateway(&p.collector, None).await?;
    let client = http();
    let url = format!("{gateway}/ping");
    let calls = (0..40).map(|_| get(&client, &url));
    let answered = futures_util::future::join_all(calls).await;
    let ok = answered.iter().filter(|r| matches!(r, Ok(204))).count();
    let counts = &p.collector.counts;
    let accepted = counts.accepted.load(Ordering::Relaxed);
    println!("\nsink stalled, buffer 8: {ok} of 40 requests answered");
    println!(
        "  lines offered {}, accepted {accepted}, dropped {}",
        counts.offered.load(Ordering::Relaxed),
        counts.dropped.load(Ordering::Relaxed),
    );
    if let Some(sink) = stalled {
        sink.release();
    }
    println!(
        "sink resumed: {} lines stored",
        p.stored_at_least(accepted).await
    );
    task.abort();
    p.finish().await?;
    Ok(())
}
// ANCHOR_END: demo_overload

pub async fn get(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    let request = Request::get(url).body(Full::new(Bytes::new()))?;
    let call = client.request(request);
    let response = tokio::time::timeout(Duration::from_secs(3), call).await??;
    Ok(response.status().as_u16())
}

#[tokio::main]
async fn main() {
    let db = support::pg::database_url();
    if let Err(e) = store::reachable(&db).await {
        support::skip::exit_unavailable(
            "log_pipeline",
            "PostgreSQL (set DATABASE_URL)",
            e,
        );
    }
    let amqp = support::amqp::amqp_url();
    let props = lapin::ConnectionProperties::default();
    match lapin::Connection::connect(&amqp, props).await {
        Ok(c) => {
            let _ = c.close(200, "bye".into()).await;
        }
        Err(e) => support::skip::exit_unavailable(
            "log_pipeline",
            "RabbitMQ (set AMQP_URL)",
            e,
        ),
    }
    if let Err(e) = demo().await {
        eprintln!("log_pipeline: {e}");
        std::process::exit(1);
    }
}
