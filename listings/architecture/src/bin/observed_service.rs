//! 2.9 Logging, monitoring and alerting: an axum service that writes one
//! JSON log line per event, every line carrying the request's trace id, and
//! exposes Prometheus metrics (a counter and a histogram, labelled by
//! method, route template and status) on `/metrics`.
//!
//! The trace id comes from the W3C `traceparent` header when the header is
//! well formed, and is generated otherwise: a malformed header is replaced,
//! never trusted. Labels come from a closed set (the route template, a known
//! method, the status code), never from the raw path, so a client cannot
//! create time series.
//!
//! `main` serves on a loopback port, sends a few requests, and prints what
//! the logs and the scrape say (no timings, no generated ids). It needs no
//! server.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;
use tracing_subscriber::fmt::MakeWriter;

/// W3C Trace Context: `version-traceid-parentid-flags`, lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub parent_id: String,
    pub flags: u8,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TraceParentError {
    #[error("expected version-traceid-parentid-flags")]
    Shape,
    #[error("{0} is not lowercase hex of the right length")]
    Hex(&'static str),
    #[error("version ff is forbidden")]
    Version,
    #[error("{0} is all zeros")]
    Zero(&'static str),
}

fn hex(
    field: &str,
    len: usize,
    name: &'static str,
) -> Result<(), TraceParentError> {
    let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if field.len() == len && field.chars().all(lower_hex) {
        Ok(())
    } else {
        Err(TraceParentError::Hex(name))
    }
}

// ANCHOR: traceparent
pub fn parse_traceparent(value: &str) -> Result<TraceParent, TraceParentError> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let &[version, trace_id, parent_id, flags, ref rest @ ..] =
        parts.as_slice()
    else {
        return Err(TraceParentError::Shape);
    };
    hex(version, 2, "version")?;
    // Version 00 has exactly four fields; a later version may append more.
    if version == "ff" {
        return Err(TraceParentError::Version);
    }
    if version == "00" && !rest.is_empty() {
        return Err(TraceParentError::Shape);
    }
    hex(trace_id, 32, "trace-id")?;
    hex(parent_id, 16, "parent-id")?;
    hex(flags, 2, "trace-flags")?;
    if trace_id.bytes().all(|b| b == b'0') {
        return Err(TraceParentError::Zero("trace-id"));
    }
    if parent_id.bytes().all(|b| b == b'0') {
        return Err(TraceParentError::Zero("parent-id"));
    }
    Ok(TraceParent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: u8::from_str_radix(flags, 16).unwrap_or(0),
    })
}

/// A fresh, non-zero trace id (16 random bytes as 32 hex digits).
pub fn new_trace_id() -> String {
    let id: u128 = rand::random::<u128>().max(1);
    format!("{id:032x}")
}
// ANCHOR_END: traceparent

// ANCHOR: metrics
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: &'static str,
}

/// Upper bounds in seconds; `+Inf` is added by the encoder.
pub const BUCKETS: [f64; 5] = [0.05, 0.1, 0.25, 0.5, 1.0];

// ANCHOR_END: metrics

// ANCHOR: registry
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

#[derive(Clone)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    registry: Arc<Registry>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let mut registry = Registry::default();
        // The encoder appends `_total` to a counter's name.
        registry.register(
            "http_requests",
            "Requests answered",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response",
            duration.clone(),
        );
        let registry = Arc::new(registry);
        Metrics {
            requests,
            duration,
            registry,
        }
    }

    /// The OpenMetrics text that a Prometheus server scrapes.
    pub fn exposition(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(
            &mut text,
            &self.registry,
        );
        text
    }
}
// ANCHOR_END: registry

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

// ANCHOR: labels
/// A method label from a closed set: a client can send any token as the
/// method, and each new one would be a new time series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// What the middleware knows about its route: the template, not the path
/// (`/users/{id}`, never `/users/42`).
#[derive(Clone)]
pub struct Observed {
    pub metrics: Metrics,
    pub route: &'static str,
}
// ANCHOR_END: labels

// ANCHOR: middleware
async fn observe(
    State(observed): State<Observed>,
    request: Request,
    next: Next,
) -> Response {
    let incoming = request
        .headers()
        .get("traceparent")
        .map(|v| v.to_str().map_err(|_| TraceParentError::Shape))
        .map(|v| v.and_then(parse_traceparent));
    let (trace_id, parent_id) = match incoming {
        Some(Ok(parent)) => (parent.trace_id, Some(parent.parent_id)),
        Some(Err(error)) => {
            // Replaced, not trusted: a new trace starts here.
            let id = new_trace_id();
            tracing::warn!(trace_id = %id, %error, "traceparent replaced");
            (id, None)
        }
        None => (new_trace_id(), None),
    };
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "request",
        trace_id = %trace_id,
        parent_id = parent_id.as_deref().unwrap_or(""),
        method,
        route = observed.route,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "done")
    });
    let route = observed.route;
    let metrics = &observed.metrics;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status,
        })
        .inc();
    metrics
        .duration
        .get_or_create(&RouteLabels { method, route })
        .observe(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert("x-trace-id", value);
    }
    response
}
// ANCHOR_END: middleware

// ANCHOR: app
async fn user(Path(id): Path<String>) -> Response {
    match id.parse::<u64>() {
        Ok(id) => {
            tracing::info!(user_id = id, "user loaded");
            format!("user {id}\n").into_response()
        }
        Err(_) => {
            tracing::info!("user id is not a number");
            (StatusCode::BAD_REQUEST, "bad user id\n").into_response()
        }
    }
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(150)).await;
    "slow\n"
}

async fn fail() -> StatusCode {
    tracing::error!(dependency = "payments", "upstream refused");
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, kind)], metrics.exposition()).into_response()
}

pub fn app(metrics: Metrics) -> Router {
    let observed = |route: &'static str, handler: MethodRouter| {
        let state = Observed {
            metrics: metrics.clone(),
            route,
        };
        handler.layer(middleware::from_fn_with_state(state, observe))
    };
    let unmatched = observed(
        "unmatched",
        MethodRouter::new()
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") }),
    );
    Router::new()
        .route("/users/{id}", observed("/users/{id}", get(user)))
        .route("/slow", observed("/slow", get(slow)))
        .route("/fail", observed("/fail", get(fail)))
        .route("/metrics", get(scrape).with_state(metrics.clone()))
        .fallback_service(unmatched)
}
// ANCHOR_END: app

// ANCHOR: logs
/// Where the JSON lines go: stdout in production, memory here so that a
/// test can read them back.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// One JSON object per line; the current span's fields (the trace id)
/// ride along on every event.
pub fn json_logs(buffer: LogBuffer) -> impl tracing::Subscriber {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time() // only so that `main`'s output is the same each run
        .with_writer(buffer)
        .finish()
}
// ANCHOR_END: logs

/// A bare HTTP/1.1 GET: status, headers and body.
pub async fn get_once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<(u16, HeaderMap, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: local\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad response");
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut map = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(n), Ok(v)) = (
                header::HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            )
        {
            map.insert(n, v);
        }
    }
    Ok((status, map, body.to_owned()))
}

/// The service on a loopback port, in the current runtime.
pub async fn serve(metrics: Metrics) -> io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = app(metrics);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

pub const SENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const SENT_PARENT: &str =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn demo() -> io::Result<()> {
    let buffer = LogBuffer::default();
    // Thread-local: the current-thread runtime runs every task here.
    // Production installs the subscriber once with `.init()`.
    let _guard = tracing::subscriber::set_default(json_logs(buffer.clone()));
    let metrics = Metrics::new();
    let addr = serve(metrics.clone()).await?;
    let sent = [
        ("GET", "/users/7", Some(SENT_PARENT)),
        ("GET", "/users/8", Some("00-not-a-trace-01")),
        ("GET", "/users/abc", None),
        ("GET", "/fail", None),
        ("GET", "/slow", None),
        ("GET", "/no/such/path/123", None),
        ("BREW", "/users/9", None),
    ];
    for (method, path, parent) in sent {
        let headers: Vec<(&str, &str)> =
            parent.map(|p| ("traceparent", p)).into_iter().collect();
        let (status, head, _) = get_once(addr, method, path, &headers).await?;
        let trace = head
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let which = match parent {
            Some(_) if trace == SENT_TRACE => "kept the caller's trace id",
            Some(_) => "malformed traceparent: new trace id",
            None => "new trace id",
        };
        println!("{method:<4} {path:<18} -> {status}  {which}");
    }
    let lines = buffer.lines();
    let json = lines
        .iter()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    println!("\nlog lines: {}, valid JSON: {json}", lines.len());
    if let Some(line) = lines.iter().find(|l| l.contains("user loaded")) {
        println!("{line}");
    }
    let (_, _, text) = get_once(addr, "GET", "/metrics", &[]).await?;
    println!("\nscrape (requests and /slow buckets):");
    // A family's series come out in hash order: sort them for the output.
    let mut counts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total"))
        .collect();
    counts.sort();
    let slow = text.lines().filter(|l| {
        l.starts_with("http_request_duration_seconds_bucket")
            && l.contains("/slow")
    });
    for line in counts.into_iter().chain(slow) {
        println!("{line}");
    }
    Ok(())
}

// ANCHOR: main
fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(error) = runtime.block_on(demo()) {
        eprintln!("observed_service: {error}");
        std::process::exit(1);
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn parses_the_spec_example() {
        let parent = parse_traceparent(SENT_PARENT).unwrap();
        assert_eq!(parent.trace_id, SENT_TRACE);
        assert_eq!(parent.parent_id, "00f067aa0ba902b7");
        assert_eq!(parent.flags, 1);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        let zero_trace = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
        let zero_parent = format!("00-{SENT_TRACE}-{}-01", "0".repeat(16));
        let upper = SENT_PARENT.to_uppercase();
        let cases = [
            ("", TraceParentError::Shape),
            ("00-abc", TraceParentError::Shape),
            ("00-not-a-trace-01", TraceParentError::Shape),
            (
                "00-xyz-00f067aa0ba902b7-01",
                TraceParentError::Hex("trace-id"),
            ),
            (&upper, TraceParentError::Hex("trace-id")),
            (&zero_trace, TraceParentError::Zero("trace-id")),
            (&zero_parent, TraceParentError::Zero("parent-id")),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                TraceParentError::Version,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                TraceParentError::Shape,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                TraceParentError::Hex("trace-flags"),
            ),
        ];
        for (value, error) in cases {
            assert_eq!(parse_traceparent(value), Err(error), "{value:?}");
        }
        // A later version may carry more fields after the four.
        let v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab";
        assert!(parse_traceparent(v1).is_ok());
    }

    #[test]
    fn new_trace_ids_are_valid_and_differ() {
        let a = new_trace_id();
        let b = new_trace_id();
        assert_ne!(a, b);
        let header = format!("00-{a}-00f067aa0ba902b7-01");
        assert_eq!(parse_traceparent(&header).unwrap().trace_id, a);
    }

    /// `name{labels} value` lines of the exposition, keyed by the line's
    /// series (name plus sorted labels).
    fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
        assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
        let mut samples = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut labels: Vec<&str> =
                labels.split(',').filter(|l| !l.is_empty()).collect();
            labels.sort();
            let key = format!("{name}{{{}}}", labels.join(","));
            let old = samples.insert(key, value.parse::<f64>().unwrap());
            assert!(old.is_none(), "duplicate series in {line}");
        }
        samples
    }

    fn sample(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
        *samples
            .get(key)
            .unwrap_or_else(|| panic!("{key} not scraped"))
    }

    #[tokio::test]
    async fn scrape_counts_exactly_what_was_sent() {
        let buffer = LogBuffer::default();
        let _guard = tracing::subscriber::set_default(json_logs(buffer));
        let addr = serve(Metrics::new()).await.unwrap();
        for path in ["/users/1", "/users/2", "/users/3", "/users/x", "/fail"] {
            get_once(addr, "GET", path, &[]).await.unwrap();
        }
        for _ in 0..2 {
            get_once(addr, "GET", "/slow", &[]).await.unwrap();
        }
        let (status, head, text) =
            get_once(addr, "GET", "/metrics", &[]).await.unwrap();
        assert_eq!(status, 200);
        let kind = head[header::CONTENT_TYPE].to_str().unwrap();
        assert!(kind.starts_with("application/openmetrics-text"));
        let s = parse_exposition(&text);
        let req = |route: &str, status: u16| {
            format!(
                "http_requests_total{{method=\"GET\",\
                 route=\"{route}\",status=\"{status}\"}}"
            )
        };
        assert_eq!(sample(&s, &req("/users/{id}", 200)), 3.0);
        assert_eq!(sample(&s, &req("/users/{id}", 400)), 1.0);
        assert_eq!(sample(&s, &req("/fail", 500)), 1.0);
        assert_eq!(sample(&s, &req("/slow", 200)), 2.0);
        // The scrape itself is not observed: no /metrics series.
        assert!(!text.contains("route=\"/metrics\""));
        let bucket = |route: &str, le: &str| {
            format!(
                "http_request_duration_seconds_bucket{{le=\"{le}\",\
                 method=\"GET\",route=\"{route}\"}}"
            )
        };
        // Buckets are cumulative: each counts observations <= its bound.
        // The handler sleeps 150 ms, so both land in (0.1, 0.25].
        let slow: Vec<f64> = ["0.05", "0.1", "0.25", "0.5", "1.0", "+Inf"]
            .iter()
            .map(|le| sample(&s, &bucket("/slow", le)))
            .collect();
        assert_eq!(slow, [0.0, 0.0, 2.0, 2.0, 2.0, 2.0]);
        let count = "http_request_duration_seconds_count\
                     {method=\"GET\",route=\"/slow\"}";
        assert_eq!(sample(&s, count), 2.0);
        let sum = "http_request_duration_seconds_sum\
                   {method=\"GET\",route=\"/slow\"}";
        assert!((0.3..0.5).contains(&sample(&s, sum)));
        // Four fast user requests, all under 50 ms.
        assert_eq!(sample(&s, &bucket("/users/{id}", "0.05")), 4.0);
        assert_eq!(sample(&s, &bucket("/users/{id}", "+Inf")), 4.0);
    }

    #[tokio::test]
    async fn user_input_never_becomes_a_label() {
        let _guard =
            tracing::subscriber::set_default(json_logs(LogBuffer::default()));
        let addr = serve(Metrics::new()).await.unwrap();
        let paths = ["/users/123456", "/users/999", "/x/secret-token-abc"];
        for path in paths {
            get_once(addr, "GET", path, &[]).await.unwrap();
        }
        let (status, ..) =
            get_once(addr, "SPAM123", "/users/5", &[]).await.unwrap();
        assert_eq!(status, 405);
        let (_, _, text) =
            get_once(addr, "GET", "/metrics", &[]).await.unwrap();
        let s = parse_exposition(&text);
        // Search the series (names and labels), not the values: a latency
        // sum such as 0.000999... is no leak.
        let series: Vec<&String> = s.keys().collect();
        for raw in ["123456", "999", "secret-token-abc", "SPAM123"] {
            assert!(
                series.iter().all(|k| !k.contains(raw)),
                "{raw} leaked into a label"
            );
        }
        let other = "http_requests_total{method=\"other\",\
                     route=\"/users/{id}\",status=\"405\"}";
        assert_eq!(sample(&s, other), 1.0);
        let unmatched = "http_requests_total{method=\"GET\",\
                         route=\"unmatched\",status=\"404\"}";
        assert_eq!(sample(&s, unmatched), 1.0);
        let series = s.keys().filter(|k| k.starts_with("http_requests_"));
        assert_eq!(series.count(), 3, "one series per label set: {s:?}");
    }

    #[tokio::test]
    async fn every_log_line_is_json_with_the_requests_trace_id() {
        let buffer = LogBuffer::default();
        let _guard =
            tracing::subscriber::set_default(json_logs(buffer.clone()));
        let addr = serve(Metrics::new()).await.unwrap();
        let malformed = "00-4BF92F3577B34DA6A3CE929D0E0E4736-zz-01";
        let sent: [(&str, Option<&str>); 4] = [
            ("/users/1", Some(SENT_PARENT)),
            ("/users/2", Some(malformed)),
            ("/fail", None),
            ("/users/abc", Some(SENT_PARENT)),
        ];
        let mut answered = Vec::new();
        for (path, parent) in sent {
            let headers: Vec<(&str, &str)> =
                parent.map(|p| ("traceparent", p)).into_iter().collect();
            let (_, head, _) =
                get_once(addr, "GET", path, &headers).await.unwrap();
            let id = head["x-trace-id"].to_str().unwrap().to_owned();
            answered.push(id);
        }
        assert_eq!(answered[0], SENT_TRACE);
        assert_eq!(answered[3], SENT_TRACE);
        // The malformed header was replaced by a fresh, valid id.
        assert_ne!(answered[1], SENT_TRACE);
        assert!(!answered[1].eq_ignore_ascii_case(SENT_TRACE));
        assert_eq!(answered[1].len(), 32);
        assert_ne!(answered[2], answered[1]);

        let lines = buffer.lines();
        let mut per_trace: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in &lines {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let trace = value["span"]["trace_id"]
                .as_str()
                .or_else(|| value["fields"]["trace_id"].as_str())
                .unwrap_or_else(|| panic!("no trace id: {line}"));
            let message = value["fields"]["message"].as_str().unwrap();
            per_trace
                .entry(trace.to_owned())
                .or_default()
                .push(message.to_owned());
        }
        assert_eq!(per_trace.len(), 3, "{per_trace:?}");
        assert_eq!(
            per_trace[SENT_TRACE],
            ["user loaded", "done", "user id is not a number", "done"]
        );
        assert_eq!(
            per_trace[&answered[1]],
            ["traceparent replaced", "user loaded", "done"]
        );
        assert_eq!(per_trace[&answered[2]], ["upstream refused", "done"]);
        // The error line carries its level and the structured field.
        let error = lines.iter().find(|l| l.contains("upstream refused"));
        let error: serde_json::Value =
            serde_json::from_str(error.unwrap()).unwrap();
        assert_eq!(error["level"], "ERROR");
        assert_eq!(error["fields"]["dependency"], "payments");
        assert_eq!(error["span"]["route"], "/fail");
    }
}
