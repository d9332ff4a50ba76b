//! 2.2 Microservices: a strangler-fig gateway in front of a "monolith" and
//! an extracted "orders" service, all on loopback ports in one program.
//!
//! The gateway owns the route table (path prefix -> service name), a
//! registry of instances kept current by active health checks, and, per
//! service, a circuit breaker. A request gets a W3C `traceparent` (kept
//! trace-id, new parent-id; a fresh one when missing or malformed), a
//! timeout per attempt, and bounded retries with exponential backoff, but
//! only when a retry is safe: an idempotent method, or a connection that
//! was refused before anything was sent.
//!
//! `main` moves `/orders` from the monolith to the service while requests
//! flow, then shows health checks, the breaker and bad input. It needs no
//! server beyond loopback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full, LengthLimitError};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinHandle;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Bodies above this size are refused with 413 before any upstream call.
pub const MAX_BODY: usize = 64 * 1024;

// ANCHOR: traceparent
/// A W3C Trace Context `traceparent`: version-traceid-parentid-flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub parent_id: String,
    pub flags: String,
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TraceParent {
    /// `None` for anything the spec says to ignore: the caller then starts
    /// a new trace instead of failing the request.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let b = value.as_bytes();
        if !value.is_ascii() || b.len() < 55 {
            return None;
        }
        let version = &value[0..2];
        if !lower_hex(version, 2) || version == "ff" {
            return None;
        }
        // Version 00 is exactly 55 characters; a later version may add
        // fields, after a '-', that a version-00 parser skips.
        let fits = b.len() == 55 || (version != "00" && b[55] == b'-');
        if !fits || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let (trace_id, parent_id) = (&value[3..35], &value[36..52]);
        let flags = &value[53..55];
        let zero = |s: &str| s.bytes().all(|c| c == b'0');
        if !lower_hex(trace_id, 32) || zero(trace_id) {
            return None;
        }
        if !lower_hex(parent_id, 16) || zero(parent_id) || !lower_hex(flags, 2)
        {
            return None;
        }
        Some(TraceParent {
            trace_id: trace_id.into(),
            parent_id: parent_id.into(),
            flags: flags.into(),
        })
    }
}
// ANCHOR_END: traceparent

// ANCHOR: trace_ids
impl TraceParent {
    /// A new trace: random ids, sampled (this gateway records every call).
    pub fn new_root() -> TraceParent {
        let trace = rand::random::<u128>().max(1);
        TraceParent {
            trace_id: format!("{trace:032x}"),
            parent_id: format!("{:016x}", rand::random::<u64>().max(1)),
            flags: "01".into(),
        }
    }

    /// The gateway's own span: same trace, a new parent-id for the hop.
    /// Of the flags it keeps only `sampled`: Level 1 defines no other, and
    /// says to set the rest to zero.
    pub fn child(&self) -> TraceParent {
        let sampled = u8::from_str_radix(&self.flags, 16).unwrap_or(0) & 1;
        TraceParent {
            parent_id: format!("{:016x}", rand::random::<u64>().max(1)),
            flags: format!("{sampled:02x}"),
            ..self.clone()
        }
    }

    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.parent_id, self.flags)
    }
}
// ANCHOR_END: trace_ids

// ANCHOR: breaker
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// Closed -> Open after `threshold` failures in a row; Open rejects calls
/// for `open_for`; then one probe (HalfOpen) decides Closed or Open again.
#[derive(Debug)]
pub struct Breaker {
    pub state: BreakerState,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Breaker {
        let state = BreakerState::Closed { failures: 0 };
        Breaker {
            state,
            threshold: threshold.max(1),
            open_for,
        }
    }

    /// May a call go upstream now? In HalfOpen only the one probe may.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen => false,
        }
    }
}
// ANCHOR_END: breaker

// ANCHOR: breaker_record
impl Breaker {
    pub fn record(&mut self, ok: bool, now: Instant) {
        let open = BreakerState::Open {
            until: now + self.open_for,
        };
        self.state = match (self.state, ok) {
            (BreakerState::Closed { .. } | BreakerState::HalfOpen, true) => {
                BreakerState::Closed { failures: 0 }
            }
            (BreakerState::Closed { failures }, false) => {
                if failures + 1 >= self.threshold {
                    open
                } else {
                    BreakerState::Closed {
                        failures: failures + 1,
                    }
                }
            }
            (BreakerState::HalfOpen, false) => open,
            // A late answer to a call made before the breaker opened.
            (state @ BreakerState::Open { .. }, _) => state,
        };
    }

    pub fn name(&self) -> &'static str {
        match self.state {
            BreakerState::Closed { .. } => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}
// ANCHOR_END: breaker_record

/// One running copy of a service, as the registry knows it.
#[derive(Debug)]
pub struct Instance {
    pub addr: SocketAddr,
    pub healthy: AtomicBool,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub attempt_timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    pub unhealthy_after: u32,
    pub breaker_threshold: u32,
    pub breaker_open_for: Duration,
}

impl Config {
    pub const FAST: Config = Config {
        attempt_timeout: Duration::from_millis(200),
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        health_interval: Duration::from_millis(50),
        health_timeout: Duration::from_millis(100),
        unhealthy_after: 2,
        breaker_threshold: 5,
        breaker_open_for: Duration::from_millis(200),
    };

    // ANCHOR: bound
    /// Worst case from "stops answering" to "out of rotation": a check
    /// passes just before, then `unhealthy_after` checks each wait one
    /// interval and time out.
    pub fn ejection_bound(&self) -> Duration {
        (self.health_interval + self.health_timeout) * self.unhealthy_after
    }
    // ANCHOR_END: bound

    /// 10 ms, 20 ms, 40 ms ... before retry 1, 2, 3.
    pub fn backoff(&self, retry: u32) -> Duration {
        self.backoff_base * 2u32.saturating_pow(retry.saturating_sub(1))
    }
}

#[derive(Default)]
struct Service {
    instances: Vec<Arc<Instance>>,
    next: AtomicUsize,
}

pub struct Gateway {
    config: Config,
    client: HttpClient,
    /// Path prefix -> service name: the strangler's only moving part.
    routes: RwLock<Vec<(String, String)>>,
    services: RwLock<HashMap<String, Arc<Service>>>,
    breakers: Mutex<HashMap<String, Breaker>>,
    checkers: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let checkers = self.checkers.get_mut().map(std::mem::take);
        for checker in checkers.unwrap_or_default() {
            checker.abort();
        }
    }
}

pub fn http_client(connect_timeout: Duration) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    Client::builder(TokioExecutor::new()).build(connector)
}

fn text(status: StatusCode, body: String) -> Response {
    (status, body).into_response()
}

/// What one upstream attempt came to.
enum Attempt {
    Answered(Response),
    /// 5xx from upstream: retried if safe, else passed on.
    Failed(Response),
    Refused(String),
    Unreachable(String),
    TimedOut,
}

// Headers that describe one connection, not the message: RFC 9110 §7.6.1
// names all but Trailer, kept from RFC 2616's list. A full proxy also
// drops every field that the `Connection` header names; this one does not.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != header::HOST {
            to.append(name.clone(), value.clone());
        }
    }
}

impl Gateway {
    pub fn new(config: Config) -> Arc<Gateway> {
        Arc::new(Gateway {
            config,
            client: http_client(config.attempt_timeout),
            routes: RwLock::new(Vec::new()),
            services: RwLock::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
            checkers: Mutex::new(Vec::new()),
        })
    }

    // ANCHOR: route
    /// Points `prefix` at `service`. New requests follow the new entry;
    /// requests already sent finish where they went. No client changes.
    pub fn route(&self, prefix: &str, service: &str) {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        routes.retain(|(p, _)| p != prefix);
        routes.push((prefix.to_string(), service.to_string()));
        // Longest prefix first: /orders/export may stay in the monolith.
        routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    fn service_for(&self, path: &str) -> Option<String> {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        routes
            .iter()
            .find(|(p, _)| {
                path == p
                    || path
                        .starts_with(&format!("{}/", p.trim_end_matches('/')))
            })
            .map(|(_, s)| s.clone())
    }
    // ANCHOR_END: route

    /// Registers instances and starts one health checker for each.
    pub fn register(self: &Arc<Self>, service: &str, addrs: &[SocketAddr]) {
        let instances: Vec<Arc<Instance>> = addrs
            .iter()
            .map(|&addr| {
                let healthy = AtomicBool::new(true);
                Arc::new(Instance { addr, healthy })
            })
            .collect();
        for instance in &instances {
            let checker = tokio::spawn(health_check(
                self.client.clone(),
                instance.clone(),
                self.config,
            ));
            self.checkers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(checker);
        }
        let entry = Arc::new(Service {
            instances,
            next: AtomicUsize::new(0),
        });
        let mut services =
            self.services.write().unwrap_or_else(|e| e.into_inner());
        services.insert(service.to_string(), entry);
        let mut breakers =
            self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        breakers.insert(
            service.to_string(),
            Breaker::new(
                self.config.breaker_threshold,
                self.config.breaker_open_for,
            ),
        );
    }

    /// The instances a client-side balancer may pick now.
    pub fn in_rotation(&self, service: &str) -> Vec<SocketAddr> {
        let services = self.services.read().unwrap_or_else(|e| e.into_inner());
        services
            .get(service)
            .map(|s| {
                s.instances
                    .iter()
                    .filter(|i| i.healthy.load(SeqCst))
                    .map(|i| i.addr)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Round robin over the healthy instances.
    fn pick(&self, service: &str) -> Option<SocketAddr> {
        let services = self.services.read().unwrap_or_else(|e| e.into_inner());
        let entry = services.get(service)?;
        let n = entry.instances.len();
        let start = entry.next.fetch_add(1, SeqCst);
        (0..n)
            .map(|k| &entry.instances[(start + k) % n])
            .find(|i| i.healthy.load(SeqCst))
            .map(|i| i.addr)
    }

    pub fn breaker_state(&self, service: &str) -> &'static str {
        let breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        breakers.get(service).map_or("none", Breaker::name)
    }

    fn breaker_allows(&self, service: &str) -> bool {
        let mut breakers =
            self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        breakers
            .get_mut(service)
            .is_none_or(|b| b.allow(Instant::now()))
    }

    fn breaker_record(&self, service: &str, ok: bool) {
        let mut breakers =
            self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = breakers.get_mut(service) {
            b.record(ok, Instant::now());
        }
    }

    // ANCHOR: handle
    pub async fn handle(&self, request: Request) -> Response {
        let path = request.uri().path().to_string();
        let Some(service) = self.service_for(&path) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("no route for {path}\n"),
            );
        };
        let (parts, body) = request.into_parts();
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(body) => body,
            Err(e) => return body_error(e),
        };
        let mut headers = HeaderMap::new();
        copy_end_to_end(&parts.headers, &mut headers);
        let incoming = parts.headers.get("traceparent");
        let parent = incoming
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse);
        if parent.is_none() {
            // A broken traceparent makes tracestate meaningless too.
            headers.remove("tracestate");
        }
        let span = parent.map_or_else(TraceParent::new_root, |p| p.child());
        if let Ok(value) = HeaderValue::from_str(&span.header()) {
            headers.insert("traceparent", value);
        }
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        self.forward(&service, &parts.method, target, &headers, body)
            .await
    }
    // ANCHOR_END: handle

    // ANCHOR: forward
    async fn forward(
        &self,
        service: &str,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response {
        let idempotent = method.is_idempotent();
        let mut last = Attempt::TimedOut;
        for attempt in 1..=self.config.max_attempts {
            if attempt > 1 {
                tokio::time::sleep(self.config.backoff(attempt - 1)).await;
            }
            if !self.breaker_allows(service) {
                let msg = format!("circuit open for service {service}\n");
                return text(StatusCode::SERVICE_UNAVAILABLE, msg);
            }
            let Some(addr) = self.pick(service) else {
                let msg = format!("no healthy instance of {service}\n");
                return text(StatusCode::SERVICE_UNAVAILABLE, msg);
            };
            let uri = format!("http://{addr}{target}");
            last = self.try_once(method, &uri, headers, body.clone()).await;
            let ok = matches!(last, Attempt::Answered(_));
            self.breaker_record(service, ok);
            // Refused: nothing reached the server, so even a POST may retry.
            let safe = idempotent || matches!(last, Attempt::Refused(_));
            if ok || !safe {
                break;
            }
        }
        match last {
            Attempt::Answered(r) | Attempt::Failed(r) => r,
            Attempt::Refused(e) | Attempt::Unreachable(e) => text(
                StatusCode::BAD_GATEWAY,
                format!("upstream {service} failed: {e}\n"),
            ),
            Attempt::TimedOut => text(
                StatusCode::GATEWAY_TIMEOUT,
                format!("upstream {service} timed out\n"),
            ),
        }
    }
    // ANCHOR_END: forward

    async fn try_once(
        &self,
        method: &Method,
        uri: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Attempt {
        let Ok(uri) = uri.parse::<Uri>() else {
            return Attempt::Unreachable(format!("bad upstream uri {uri}"));
        };
        let mut request = hyper::Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers.clone();
        let exchange = async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, bytes))
        };
        match tokio::time::timeout(self.config.attempt_timeout, exchange).await
        {
            Err(_) => Attempt::TimedOut,
            Ok(Err(e)) => {
                let connect = e
                    .downcast_ref::<hyper_util::client::legacy::Error>()
                    .is_some_and(|e| e.is_connect());
                if connect {
                    Attempt::Refused(format!("connect: {e}"))
                } else {
                    Attempt::Unreachable(e.to_string())
                }
            }
            Ok(Ok((parts, bytes))) => {
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = parts.status;
                copy_end_to_end(&parts.headers, response.headers_mut());
                if parts.status.is_server_error() {
                    Attempt::Failed(response)
                } else {
                    Attempt::Answered(response)
                }
            }
        }
    }

    /// The gateway as an axum app: every path goes through `handle`.
    pub fn app(self: &Arc<Self>) -> Router {
        Router::new()
            .fallback(
                |State(gw): State<Arc<Gateway>>, req: Request| async move {
                    gw.handle(req).await
                },
            )
            .with_state(self.clone())
    }
}

fn body_error(e: axum::Error) -> Response {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if err.is::<LengthLimitError>() {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY} bytes\n"),
            );
        }
        source = err.source();
    }
    text(
        StatusCode::BAD_REQUEST,
        format!("unreadable request body: {e}\n"),
    )
}

// ANCHOR: health
/// Marks the instance out after `unhealthy_after` failed checks in a row
/// (an error, a non-2xx answer, or no answer within the timeout), and back
/// in after one passing check.
async fn health_check(client: HttpClient, instance: Arc<Instance>, c: Config) {
    let uri: Option<Uri> =
        format!("http://{}/health", instance.addr).parse().ok();
    let mut failures = 0;
    loop {
        let check = async {
            let request = hyper::Request::get(uri.clone()?)
                .body(Full::new(Bytes::new()))
                .ok()?;
            let response = client.request(request).await.ok()?;
            Some(response.status().is_success())
        };
        let passed = tokio::time::timeout(c.health_timeout, check)
            .await
            .ok()
            .flatten()
            .unwrap_or(false);
        if passed {
            failures = 0;
            instance.healthy.store(true, SeqCst);
        } else {
            failures += 1;
            if failures >= c.unhealthy_after {
                instance.healthy.store(false, SeqCst);
            }
        }
        tokio::time::sleep(c.health_interval).await;
    }
}
// ANCHOR_END: health

/// A stand-in for a Django monolith or an extracted service: answers any
/// path with its name and the `traceparent` it received, and can be told
/// to hang (stop answering) or to fail its next requests with 500.
#[derive(Debug, Default)]
pub struct Backend {
    pub name: String,
    pub hits: AtomicU64,
    pub frozen: AtomicBool,
    pub fail_next: AtomicU32,
    pub delay_ms: AtomicU64,
}

async fn backend_handler(
    State(b): State<Arc<Backend>>,
    request: Request,
) -> Response {
    if b.frozen.load(SeqCst) {
        std::future::pending::<()>().await;
    }
    if request.uri().path() == "/health" {
        return text(StatusCode::OK, "ok\n".into());
    }
    b.hits.fetch_add(1, SeqCst);
    let delay = b.delay_ms.load(SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = b
        .fail_next
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
    if failing.is_ok() {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "boom\n".into());
    }
    let trace = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut response = text(StatusCode::OK, format!("{}\n", b.name));
    if let Ok(v) = HeaderValue::from_str(&b.name) {
        response.headers_mut().insert("x-backend", v);
    }
    if let Ok(v) = HeaderValue::from_str(&trace) {
        response.headers_mut().insert("x-received-traceparent", v);
    }
    if let Some(v) = request.headers().get("tracestate") {
        response
            .headers_mut()
            .insert("x-received-tracestate", v.clone());
    }
    response
}

async fn serve(app: Router) -> std::io::Result<SocketAddr> {
    let (listener, addr) = support::loopback::listener()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

pub async fn spawn_backend(
    name: &str,
) -> std::io::Result<(Arc<Backend>, SocketAddr)> {
    let backend = Arc::new(Backend {
        name: name.into(),
        ..Backend::default()
    });
    let app = Router::new()
        .fallback(backend_handler)
        .with_state(backend.clone());
    Ok((backend, serve(app).await?))
}

pub async fn spawn_gateway(gw: &Arc<Gateway>) -> std::io::Result<SocketAddr> {
    serve(gw.app()).await
}

/// A client's view of one call: status, the answering backend, the body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub backend: String,
    pub traceparent: String,
    pub tracestate: String,
    pub body: String,
}

pub async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
    let mut builder = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client.request(builder.body(Full::from(body))?).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    let get = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    Ok(Reply {
        status: parts.status,
        backend: get("x-backend"),
        traceparent: get("x-received-traceparent"),
        tracestate: get("x-received-tracestate"),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Waits (bounded) until `cond` holds; `false` on the deadline.
pub async fn eventually(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn get(client: &HttpClient, url: &str) -> Result<Reply, BoxError> {
    call(client, Method::GET, url, &[], vec![]).await
}

async fn show_switch(
    gw: &Gateway,
    client: &HttpClient,
    base: &str,
) -> Result<(), BoxError> {
    println!("strangler fig: /orders moves while the client keeps calling");
    for step in 0..6 {
        if step == 3 {
            gw.route("/orders", "orders");
            println!("  route /orders -> orders (2 instances)");
        }
        let r = get(client, &format!("{base}/orders/7")).await?;
        let who = r.backend.trim_end_matches(['-', '1', '2']);
        println!("  GET /orders/7 -> {} from {who}", r.status.as_u16());
    }
    let r = get(client, &format!("{base}/users/1")).await?;
    println!(
        "  GET /users/1  -> {} from {}",
        r.status.as_u16(),
        r.backend
    );
    Ok(())
}

async fn show_breaker(
    gw: &Gateway,
    monolith: &Backend,
    client: &HttpClient,
    base: &str,
) -> Result<(), BoxError> {
    let c = gw.config;
    println!(
        "circuit breaker: {} failures open it for {} ms",
        c.breaker_threshold,
        c.breaker_open_for.as_millis()
    );
    monolith.fail_next.store(u32::MAX, SeqCst);
    let hits_before = monolith.hits.load(SeqCst);
    let mut states = vec![gw.breaker_state("monolith")];
    for _ in 0..3 {
        let r = get(client, &format!("{base}/users/1")).await?;
        let state = gw.breaker_state("monolith");
        println!("  GET /users/1 -> {} breaker {state}", r.status.as_u16());
        states.push(state);
    }
    let hits = monolith.hits.load(SeqCst) - hits_before;
    println!("  attempts that reached the monolith: {hits}");
    monolith.fail_next.store(0, SeqCst);
    tokio::time::sleep(c.breaker_open_for).await;
    let r = get(client, &format!("{base}/users/1")).await?;
    let state = gw.breaker_state("monolith");
    println!(
        "  after the pause: probe {} breaker {state}",
        r.status.as_u16()
    );
    Ok(())
}

async fn show_trace(client: &HttpClient, base: &str) -> Result<(), BoxError> {
    println!("trace context across the hop:");
    let url = format!("{base}/users/1");
    let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = call(client, Method::GET, &url, &[("traceparent", sent)], vec![])
        .await?;
    let got = TraceParent::parse(&r.traceparent);
    let kept = got.as_ref().is_some_and(|t| t.trace_id == sent[3..35]);
    let fresh = got.as_ref().is_some_and(|t| t.parent_id != sent[36..52]);
    println!("  valid: trace-id kept {kept}, new parent-id {fresh}");
    let bad = sent.to_uppercase();
    let r = call(client, Method::GET, &url, &[("traceparent", &bad)], vec![])
        .await?;
    let new = TraceParent::parse(&r.traceparent)
        .is_some_and(|t| !t.trace_id.eq_ignore_ascii_case(&sent[3..35]));
    println!("  upper-case hex: ignored, new trace started {new}");
    let r = get(client, &url).await?;
    let created = TraceParent::parse(&r.traceparent).is_some();
    println!("  missing: gateway created one {created}");
    Ok(())
}

async fn show_bad_input(
    client: &HttpClient,
    base: &str,
) -> Result<(), BoxError> {
    println!("bad input and broken upstreams:");
    // A gateway whose checker would need 10 s to eject: the dead port is
    // still "healthy", so the request really meets the refused connection.
    let slow_checks = Config {
        health_interval: Duration::from_secs(10),
        ..Config::FAST
    };
    let gw = Gateway::new(slow_checks);
    let (closed, dead) = support::loopback::listener()?;
    drop(closed);
    gw.register("dead", &[dead]);
    gw.route("/dead", "dead");
    gw.route("/ghost", "ghost");
    let other = format!("http://{}", spawn_gateway(&gw).await?);
    let cases = [
        ("unknown route", format!("{other}/nowhere"), vec![]),
        ("upstream down", format!("{other}/dead/1"), vec![]),
        ("no instance", format!("{other}/ghost/1"), vec![]),
        (
            "body too large",
            format!("{base}/users"),
            vec![b'x'; MAX_BODY + 1],
        ),
    ];
    for (what, url, body) in cases {
        let method = if body.is_empty() {
            Method::GET
        } else {
            Method::POST
        };
        let r = call(client, method, &url, &[], body).await?;
        println!("  {what:<15} -> {} {}", r.status.as_u16(), r.body.trim());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::FAST;
    let (monolith, mono_addr) = spawn_backend("monolith").await?;
    let (orders_1, addr_1) = spawn_backend("orders-1").await?;
    let (_orders_2, addr_2) = spawn_backend("orders-2").await?;
    let gw = Gateway::new(config);
    gw.register("monolith", &[mono_addr]);
    gw.register("orders", &[addr_1, addr_2]);
    gw.route("/", "monolith");
    let base = format!("http://{}", spawn_gateway(&gw).await?);
    let client = http_client(Duration::from_secs(1));

    show_switch(&gw, &client, &base).await?;

    println!("health checks: orders-1 stops answering");
    orders_1.frozen.store(true, SeqCst);
    let bound = config.ejection_bound();
    let out =
        eventually(bound * 3, || gw.in_rotation("orders") == [addr_2]).await;
    println!("  out of rotation: {out} (bound {} ms)", bound.as_millis());
    let r = get(&client, &format!("{base}/orders/8")).await?;
    println!(
        "  GET /orders/8 -> {} from {}",
        r.status.as_u16(),
        r.backend
    );

    show_breaker(&gw, &monolith, &client, &base).await?;
    show_trace(&client, &base).await?;
    show_bad_input(&client, &base).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
