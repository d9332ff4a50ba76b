//! From `tracing` to the collector: each service's JSON lines are
//! parsed, redacted and normalised in the service's own process, then
//! offered to a bounded buffer that never makes the caller wait.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::redact_value;
use crate::store::LogStore;

/// One stored line.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub ts: String,
    pub service: String,
    pub level: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub parent_id: Option<String>,
    pub message: String,
    /// Every other field of the event, redacted.
    pub fields: Map<String, Value>,
}

// ANCHOR: collector
/// The service side of the buffer. `offer` never waits: a full buffer
/// drops the line and counts it.
#[derive(Clone)]
pub struct Collector {
    tx: mpsc::Sender<Record>,
    pub counts: Arc<Counts>,
}

#[derive(Default, Debug)]
pub struct Counts {
    pub offered: AtomicU64,
    pub accepted: AtomicU64,
    pub dropped: AtomicU64,
}

impl Collector {
    pub fn new(capacity: usize) -> (Collector, mpsc::Receiver<Record>) {
        let (tx, rx) = mpsc::channel(capacity);
        let counts = Arc::new(Counts::default());
        (Collector { tx, counts }, rx)
    }

    pub fn offer(&self, record: Record) {
        self.counts.offered.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(record) {
            Ok(()) => self.counts.accepted.fetch_add(1, Ordering::Relaxed),
            // Full, or the sink is gone: the request must not notice.
            Err(_) => self.counts.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}
// ANCHOR_END: collector

// ANCHOR: sink
/// Takes lines off the buffer in batches of up to `batch` and writes
/// each batch in one statement; `stored` says how many are in the table.
/// When the database refuses a batch, its lines are written one by one,
/// so a bad line costs only itself; those refused are counted in
/// `failed` (a real sink would also retry, then spill to local disk).
pub async fn run_sink(
    mut rx: mpsc::Receiver<Record>,
    store: LogStore,
    batch: usize,
    stored: watch::Sender<u64>,
    failed: Arc<AtomicU64>,
) {
    let mut lines = Vec::with_capacity(batch);
    while rx.recv_many(&mut lines, batch).await > 0 {
        let mut written = 0;
        if let Ok(n) = store.insert(&lines).await {
            written = n;
        } else {
            for line in &lines {
                match store.insert(std::slice::from_ref(line)).await {
                    Ok(n) => written += n,
                    Err(_) => _ = failed.fetch_add(1, Ordering::Relaxed),
                }
            }
        }
        stored.send_modify(|total| *total += written);
        lines.clear();
    }
}
// ANCHOR_END: sink

// ANCHOR: shipper
/// The `tracing-subscriber` writer of one service: every formatted JSON
/// line goes through `normalise` (which redacts) to the collector.
#[derive(Clone)]
pub struct Shipper {
    pub service: &'static str,
    pub collector: Collector,
}

pub struct Line {
    shipper: Shipper,
    bytes: Vec<u8>,
}

impl<'a> MakeWriter<'a> for Shipper {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line {
            shipper: self.clone(),
            bytes: Vec::new(),
        }
    }
}

impl io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The formatter writes one event per writer; it is shipped when the
/// writer is dropped.
impl Drop for Line {
    fn drop(&mut self) {
        for line in self.bytes.split(|&b| b == b'\n') {
            if let Some(r) = normalise(self.shipper.service, line) {
                self.shipper.collector.offer(r);
            }
        }
    }
}
// ANCHOR_END: shipper

// ANCHOR: normalise
/// One line of `tracing-subscriber`'s JSON (flattened event, current
/// span) to a record: the span's trace fields lifted to the top, the
/// rest redacted. A line that is not a JSON object is not a log line.
pub fn normalise(service: &str, line: &[u8]) -> Option<Record> {
    let Ok(Value::Object(mut event)) = serde_json::from_slice(line) else {
        return None;
    };
    let span = match event.remove("span") {
        Some(Value::Object(span)) => span,
        _ => Map::new(),
    };
    let text = |v: Option<&Value>| {
        let s = v.and_then(Value::as_str).filter(|s| !s.is_empty());
        s.map(String::from)
    };
    let (trace_id, span_id, parent_id) = (
        text(span.get("trace_id")),
        text(span.get("span_id")),
        text(span.get("parent_id")),
    );
    let mut event = Value::Object(event);
    redact_value(&mut event);
    no_nul(&mut event);
    let Value::Object(mut fields) = event else {
        return None;
    };
    let mut take = |k: &str| text(fields.remove(k).as_ref());
    let ts = take("timestamp")?;
    let level = take("level").unwrap_or_else(|| "INFO".into());
    let message = take("message").unwrap_or_default();
    fields.remove("target");
    Some(Record {
        ts,
        service: service.to_string(),
        level,
        trace_id,
        span_id,
        parent_id,
        message,
        fields,
    })
}
// ANCHOR_END: normalise

/// PostgreSQL's `text` and `jsonb` cannot hold U+0000: a line with one
/// would be refused whole, so a client could keep its own request out of
/// the logs by sending a NUL byte. Each NUL becomes U+FFFD instead.
fn no_nul(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(no_nul),
        Value::Array(items) => items.iter_mut().for_each(no_nul),
        Value::String(s) if s.contains('\0') => {
            *s = s.replace('\0', "\u{fffd}");
        }
        _ => {}
    }
}

/// The subscriber of one service: JSON, one line per event, the current
/// span's fields on every line, shipped through `Shipper`.
pub fn subscriber(shipper: Shipper) -> tracing::Dispatch {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(shipper)
        .finish();
    tracing::Dispatch::new(subscriber)
}
