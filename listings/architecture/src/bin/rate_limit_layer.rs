//! 2.5 Rate limiting: the Lua scripts of the FastAPI listing
//! (`py/rate_limiting.py`), run by a tower layer in front of an axum route.
//!
//! The layer keys each request by its API key (`X-API-Key`, checked against
//! the known keys) or else by the TCP peer's address, runs the policy's
//! script with EVALSHA (`redis::Script` loads it on NOSCRIPT), and answers
//! 429 with `Retry-After` and the `RateLimit-Policy` / `RateLimit` fields of
//! draft-ietf-httpapi-ratelimit-headers-11, or passes the request on and
//! adds the fields to the response. When Redis fails, a layer built to fail
//! open lets the request through, a layer built to fail closed answers 503;
//! both print a warning and count the failure.
//!
//! `main` holds the clock still (the scripts take the time as an argument)
//! so its output is exact; production passes nothing and the script reads
//! Redis `TIME`. It needs Redis at `REDIS_URL` (default
//! `redis://127.0.0.1:6379/0`) and exits 77 without it.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Script};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tower::{Layer, Service};

// ANCHOR: scripts
/// The files the Python listing loads too: one source for both languages.
const FIXED_WINDOW: &str =
    include_str!("../../lua/rate_limit_fixed_window.lua");
const SLIDING_LOG: &str = include_str!("../../lua/rate_limit_sliding_log.lua");
const GCRA: &str = include_str!("../../lua/rate_limit_gcra.lua");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    FixedWindow,
    SlidingLog,
    Gcra,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [
        Algorithm::FixedWindow,
        Algorithm::SlidingLog,
        Algorithm::Gcra,
    ];

    fn source(self) -> &'static str {
        match self {
            Algorithm::FixedWindow => FIXED_WINDOW,
            Algorithm::SlidingLog => SLIDING_LOG,
            Algorithm::Gcra => GCRA,
        }
    }

    pub fn file(self) -> &'static str {
        match self {
            Algorithm::FixedWindow => "rate_limit_fixed_window.lua",
            Algorithm::SlidingLog => "rate_limit_sliding_log.lua",
            Algorithm::Gcra => "rate_limit_gcra.lua",
        }
    }
}
// ANCHOR_END: scripts

// ANCHOR: policy
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("limit and window must be positive")]
    NotPositive,
    #[error("gcra: the window in ms must divide by the limit")]
    Interval,
}

/// `limit` requests per `window_s` seconds for each client.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: &'static str,
    pub algorithm: Algorithm,
    pub limit: u64,
    pub window_s: u64,
}

impl Policy {
    pub fn new(
        name: &'static str,
        algorithm: Algorithm,
        limit: u64,
        window_s: u64,
    ) -> Result<Policy, PolicyError> {
        if limit == 0 || window_s == 0 {
            return Err(PolicyError::NotPositive);
        }
        if algorithm == Algorithm::Gcra
            && !(window_s * 1000).is_multiple_of(limit)
        {
            return Err(PolicyError::Interval);
        }
        Ok(Policy {
            name,
            algorithm,
            limit,
            window_s,
        })
    }

    /// The Redis keys, under one `{hash tag}` so that a cluster keeps a
    /// client's keys in one slot (the sliding log uses two).
    fn keys(&self, prefix: &str, client: &str) -> Vec<String> {
        let tag = format!("{prefix}:{{{}:{client}}}", self.name);
        match self.algorithm {
            Algorithm::FixedWindow => vec![format!("{tag}:fixed_window")],
            Algorithm::SlidingLog => {
                vec![format!("{tag}:log"), format!("{tag}:seq")]
            }
            Algorithm::Gcra => vec![format!("{tag}:gcra")],
        }
    }
}
// ANCHOR_END: policy

/// Where the scripts' time comes from.
#[derive(Clone)]
pub enum Clock {
    /// The script reads Redis `TIME`: one clock for every app instance.
    Redis,
    /// Milliseconds set by the caller: exact tests and output.
    Manual(Arc<AtomicU64>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: i64,
    pub reset_ms: i64,
    pub retry_after_ms: i64,
}

/// A connection made on first use and made again after a failure, so an
/// app can start while Redis is down and recover when it is back.
struct Store {
    client: Client,
    timeout: Duration,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Store {
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        // Short timeouts: a limiter that waits for Redis makes every
        // request wait.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    async fn forget(&self) {
        *self.connection.lock().await = None;
    }
}

// ANCHOR: limiter
pub struct Limiter {
    store: Store,
    script: Script,
    policy: Policy,
    prefix: String,
    clock: Clock,
}

impl Limiter {
    pub fn new(
        client: Client,
        policy: Policy,
        prefix: &str,
        clock: Clock,
    ) -> Self {
        Limiter {
            store: Store {
                client,
                timeout: Duration::from_millis(500),
                connection: Mutex::new(None),
            },
            script: Script::new(policy.algorithm.source()),
            policy,
            prefix: prefix.to_string(),
            clock,
        }
    }

    /// How long to wait for Redis (500 ms unless set) before failing.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.store.timeout = timeout;
        self
    }
    // ANCHOR_END: limiter

    // ANCHOR: hit
    /// One request from `client`: EVALSHA, and SCRIPT LOAD on NOSCRIPT.
    pub async fn hit(&self, client: &str) -> Result<Decision, RedisError> {
        let mut call = self.script.prepare_invoke();
        for key in self.policy.keys(&self.prefix, client) {
            call.key(key);
        }
        call.arg(self.policy.limit).arg(self.policy.window_s * 1000);
        match &self.clock {
            Clock::Redis => call.arg(""),
            Clock::Manual(ms) => call.arg(ms.load(Ordering::SeqCst)),
        };
        if self.policy.algorithm == Algorithm::Gcra {
            call.arg(self.policy.limit); // burst: the whole limit at once
        }
        let mut connection = self.store.connection().await?;
        let reply: Result<(i64, i64, i64, i64), RedisError> =
            call.invoke_async(&mut connection).await;
        if reply.is_err() {
            self.store.forget().await; // connect again next time
        }
        let (allowed, remaining, reset_ms, retry_after_ms) = reply?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining,
            reset_ms,
            retry_after_ms,
        })
    }
    // ANCHOR_END: hit

    pub fn script_hash(&self) -> &str {
        self.script.get_hash()
    }
}

// ANCHOR: fields
/// draft-ietf-httpapi-ratelimit-headers-11 fields, one line per policy.
fn add_fields(headers: &mut HeaderMap, policy: &Policy, d: &Decision) {
    let seconds = |ms: i64| (ms + 999).div_euclid(1000); // round up
    let (name, q, w) = (policy.name, policy.limit, policy.window_s);
    let fields = [
        ("ratelimit-policy", format!("\"{name}\";q={q};w={w}")),
        (
            "ratelimit",
            format!("\"{name}\";r={};t={}", d.remaining, seconds(d.reset_ms)),
        ),
    ];
    for (field, value) in fields {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(field, value);
        }
    }
    if !d.allowed {
        headers.insert(header::RETRY_AFTER, seconds(d.retry_after_ms).into());
    }
}

fn problem(status: StatusCode, title: &str) -> Response {
    let body = serde_json::json!({ "title": title, "status": status.as_u16() });
    let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
    (status, content_type, body.to_string()).into_response()
}
const QUOTA_EXCEEDED: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// The draft's quota-exceeded problem type (section 5.1).
fn too_many(policy: &str) -> Response {
    let body = serde_json::json!({
        "type": QUOTA_EXCEEDED,
        "title": "Too Many Requests",
        "status": 429,
        "violated-policies": [policy],
    });
    let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
    (
        StatusCode::TOO_MANY_REQUESTS,
        content_type,
        body.to_string(),
    )
        .into_response()
}
// ANCHOR_END: fields

// ANCHOR: client
/// Why a request was refused before it was counted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("send one X-API-Key header")]
    SeveralKeys,
    #[error("malformed X-API-Key: 20-64 of A-Z a-z 0-9 _ -")]
    MalformedKey,
    #[error("unknown API key")]
    UnknownKey,
    #[error("no client address")]
    NoAddress,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if self == Refusal::UnknownKey {
            let mut response =
                problem(StatusCode::UNAUTHORIZED, &self.to_string());
            let challenge =
                HeaderValue::from_static("ApiKey header=\"X-API-Key\"");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
            return response;
        }
        problem(StatusCode::BAD_REQUEST, &self.to_string())
    }
}

/// The API key if one was sent (checked), else the TCP peer's address.
/// This server trusts no proxy, so it never reads X-Forwarded-For.
fn client_of(
    request: &Request<Body>,
    known: &HashSet<String>,
) -> Result<String, Refusal> {
    let mut sent = request.headers().get_all("x-api-key").iter();
    match (sent.next(), sent.next()) {
        (Some(_), Some(_)) => Err(Refusal::SeveralKeys),
        (Some(key), None) => {
            let key = key.to_str().map_err(|_| Refusal::MalformedKey)?;
            let well_formed = (20..=64).contains(&key.len())
                && key.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
                });
            if !well_formed {
                return Err(Refusal::MalformedKey);
            }
            if !known.contains(key) {
                return Err(Refusal::UnknownKey);
            }
            Ok(format!("key:{}", digest(key)))
        }
        (None, _) => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| format!("ip:{}", peer.ip()))
            .ok_or(Refusal::NoAddress),
    }
}
// ANCHOR_END: client

/// Redis sees a digest of the key, never the secret itself.
fn digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(key.as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

// ANCHOR: layer
#[derive(Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

struct Shared {
    limiter: Limiter,
    fail_open: bool,
    api_keys: HashSet<String>,
    store_errors: AtomicU64,
}

impl RateLimitLayer {
    pub fn new(limiter: Limiter, fail_open: bool, keys: &[&str]) -> Self {
        let api_keys = keys.iter().map(|k| k.to_string()).collect();
        let store_errors = AtomicU64::new(0);
        let shared = Shared {
            limiter,
            fail_open,
            api_keys,
            store_errors,
        };
        RateLimitLayer {
            shared: Arc::new(shared),
        }
    }

    /// The metric: how many times Redis failed.
    pub fn store_errors(&self) -> u64 {
        self.shared.store_errors.load(Ordering::SeqCst)
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}
// ANCHOR_END: layer

// ANCHOR: failure
impl Shared {
    /// Redis failed: count it, say so, and refuse (fail closed) or not.
    fn store_failed(&self, error: &RedisError) -> Option<Response> {
        self.store_errors.fetch_add(1, Ordering::SeqCst);
        let name = self.limiter.policy.name;
        let mode = if self.fail_open { "open" } else { "closed" };
        eprintln!("rate limit {name}: Redis failed ({error}), failing {mode}");
        if self.fail_open {
            return None;
        }
        let title = "rate limiter unavailable";
        let mut refused = problem(StatusCode::SERVICE_UNAVAILABLE, title);
        refused.headers_mut().insert(header::RETRY_AFTER, 5.into());
        Some(refused)
    }
}
// ANCHOR_END: failure

// ANCHOR: service
type BoxFuture =
    Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request<Body>> for RateLimit<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S: Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> BoxFuture {
        // Keep the clone that poll_ready made ready; leave a fresh one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let client = match client_of(&request, &shared.api_keys) {
                Ok(client) => client,
                Err(refusal) => return Ok(refusal.into_response()),
            };
            let limiter = &shared.limiter;
            let decision = match limiter.hit(&client).await {
                Ok(decision) => decision,
                Err(error) => match shared.store_failed(&error) {
                    Some(refused) => return Ok(refused), // fail closed
                    None => return inner.call(request).await, // fail open
                },
            };
            let mut response = if decision.allowed {
                inner.call(request).await?
            } else {
                too_many(limiter.policy.name)
            };
            add_fields(response.headers_mut(), &limiter.policy, &decision);
            Ok(response)
        })
    }
}
// ANCHOR_END: service

// ANCHOR: app
fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello\n" }))
        .layer(layer)
}
// ANCHOR_END: app

/// Serves `router` on a loopback port; the peer address reaches the layer
/// through `ConnectInfo`.
async fn serve(router: Router) -> std::io::Result<SocketAddr> {
    let (listener, addr) = support::loopback::listener()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    Ok(addr)
}

/// A reply as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
async fn send(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

fn describe(reply: &Reply) -> String {
    let mut text = reply.status.to_string();
    for name in ["retry-after", "ratelimit"] {
        for value in reply.header(name) {
            text.push_str(&format!("  {name}: {value}"));
        }
    }
    text
}

async fn delete_keys(client: &Client, prefix: &str) {
    if let Ok(mut connection) = client.get_multiplexed_async_connection().await
    {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut connection)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut connection)
                .await;
        }
    }
}

// ANCHOR: main
async fn demo(client: Client, prefix: &str) -> std::io::Result<()> {
    println!(
        "Lua scripts, SHA1 as EVALSHA sends it (the Python listing agrees):"
    );
    for algorithm in Algorithm::ALL {
        let hash = Script::new(algorithm.source()).get_hash().to_string();
        println!("  {:<28} {hash}", algorithm.file());
    }
    let ms = Arc::new(AtomicU64::new(1_000_000));
    let policy = Policy::new("hello", Algorithm::Gcra, 3, 60)
        .expect("3 per 60 s is a valid GCRA policy");
    let limiter =
        Limiter::new(client.clone(), policy, prefix, Clock::Manual(ms.clone()));
    let addr = serve(app(RateLimitLayer::new(limiter, true, &[]))).await?;

    println!("GET /hello five times, GCRA 3 per 60 s, the clock held still:");
    for _ in 0..5 {
        println!("  {}", describe(&send(addr, "/hello", &[]).await?));
    }
    ms.fetch_add(20_000, Ordering::SeqCst);
    println!("20 s later, one request has been earned back:");
    for _ in 0..2 {
        println!("  {}", describe(&send(addr, "/hello", &[]).await?));
    }
    let bad = send(addr, "/hello", &[("X-API-Key", "short")]).await?;
    println!("X-API-Key: short -> {} {}", bad.status, bad.body);
    delete_keys(&client, prefix).await;
    Ok(())
}
// ANCHOR_END: main

fn main() {
    let client = support::redis::client_or_exit("rate_limit_layer");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let prefix = support::unique_name("rate_limit_layer");
    if let Err(error) = runtime.block_on(demo(client, &prefix)) {
        eprintln!("rate_limit_layer: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "key_a_0123456789abcdef";
    const KEY_B: &str = "key_b_0123456789abcdef";

    fn limiter(
        client: &Client,
        prefix: &str,
        policy: Policy,
        clock: Clock,
    ) -> Limiter {
        Limiter::new(client.clone(), policy, prefix, clock)
    }

    fn gcra(limit: u64, window_s: u64) -> Policy {
        Policy::new("t", Algorithm::Gcra, limit, window_s).unwrap()
    }

    #[test]
    fn bad_policies_are_refused() {
        let sliding = Algorithm::SlidingLog;
        assert_eq!(
            Policy::new("t", sliding, 0, 60).unwrap_err(),
            PolicyError::NotPositive
        );
        assert_eq!(
            Policy::new("t", sliding, 5, 0).unwrap_err(),
            PolicyError::NotPositive
        );
        assert_eq!(
            Policy::new("t", Algorithm::Gcra, 7, 60).unwrap_err(),
            PolicyError::Interval
        );
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let policy = Policy::new("p", Algorithm::SlidingLog, 5, 60).unwrap();
        assert_eq!(
            policy.keys("rl", "ip:192.0.2.1"),
            ["rl:{p:ip:192.0.2.1}:log", "rl:{p:ip:192.0.2.1}:seq"]
        );
    }

    /// The Python listing's captured output lists the SHA1 of each file;
    /// the scripts compiled into this binary must have the same ones.
    #[test]
    fn the_scripts_are_the_python_listings_scripts() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("output/rate_limiting.py.txt");
        let python = std::fs::read_to_string(path).unwrap();
        for algorithm in Algorithm::ALL {
            let hash = Script::new(algorithm.source()).get_hash().to_string();
            let line = format!("  {:<28} {hash}", algorithm.file());
            assert!(python.contains(&line), "{line} not in the Python output");
        }
    }

    #[tokio::test]
    async fn a_denial_is_429_with_retry_after_and_the_fields() {
        let Some(client) = support::redis::client_in_test("429") else {
            return;
        };
        let prefix = support::unique_name("rl_429");
        let ms = Arc::new(AtomicU64::new(5_000_000));
        let l =
            limiter(&client, &prefix, gcra(3, 60), Clock::Manual(ms.clone()));
        let addr = serve(app(RateLimitLayer::new(l, true, &[]))).await.unwrap();
        let mut replies = Vec::new();
        for _ in 0..4 {
            replies.push(send(addr, "/hello", &[]).await.unwrap());
        }
        delete_keys(&client, &prefix).await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 200, 429]);
        assert_eq!(replies[0].header("ratelimit-policy"), ["\"t\";q=3;w=60"]);
        assert_eq!(replies[0].header("ratelimit"), ["\"t\";r=2;t=20"]);
        assert_eq!(replies[0].body, "hello\n");
        let denied = &replies[3];
        assert_eq!(denied.header("retry-after"), ["20"]);
        assert_eq!(denied.header("ratelimit"), ["\"t\";r=0;t=20"]);
        assert_eq!(denied.header("content-type"), ["application/problem+json"]);
        let body: serde_json::Value =
            serde_json::from_str(&denied.body).unwrap();
        assert_eq!(body["title"], "Too Many Requests");
        assert_eq!(body["violated-policies"], serde_json::json!(["t"]));
    }

    #[tokio::test]
    async fn two_servers_sharing_redis_let_exactly_the_limit_through() {
        let Some(client) = support::redis::client_in_test("shared") else {
            return;
        };
        for algorithm in Algorithm::ALL {
            if algorithm == Algorithm::FixedWindow {
                wait_out_a_window_edge(&client, 3600).await;
            }
            let prefix = support::unique_name("rl_shared");
            let policy = Policy::new("t", algorithm, 25, 3600).unwrap();
            let (mut addrs, mut layers) = (Vec::new(), Vec::new());
            for _ in 0..2 {
                let l = limiter(&client, &prefix, policy.clone(), Clock::Redis)
                    .timeout(Duration::from_secs(5)); // a loaded CI machine
                let layer = RateLimitLayer::new(l, true, &[KEY_A]);
                addrs.push(serve(app(layer.clone())).await.unwrap());
                layers.push(layer);
            }
            let tasks: Vec<_> = (0..100)
                .map(|i| {
                    let addr = addrs[i % 2];
                    tokio::spawn(async move {
                        send(addr, "/hello", &[("X-API-Key", KEY_A)]).await
                    })
                })
                .collect();
            let mut allowed = 0;
            for task in tasks {
                let reply = task.await.unwrap().unwrap();
                assert!([200, 429].contains(&reply.status));
                allowed += usize::from(reply.status == 200);
            }
            delete_keys(&client, &prefix).await;
            // A Redis failure would have failed open, uncounted.
            assert!(layers.iter().all(|l| l.store_errors() == 0));
            assert_eq!(allowed, 25, "{algorithm:?}");
        }
    }

    /// Sleeps past the end of a fixed window if it is less than 10 s away.
    async fn wait_out_a_window_edge(client: &Client, window_s: u64) {
        let mut connection =
            client.get_multiplexed_async_connection().await.unwrap();
        let (seconds, _): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut connection)
            .await
            .unwrap();
        let left = window_s - seconds % window_s;
        if left < 10 {
            tokio::time::sleep(Duration::from_millis(left * 1000 + 100)).await;
        }
    }

    #[tokio::test]
    async fn api_keys_have_their_own_quota_and_the_peer_is_the_fallback() {
        let Some(client) = support::redis::client_in_test("keys") else {
            return;
        };
        let prefix = support::unique_name("rl_keys");
        let ms = Arc::new(AtomicU64::new(0));
        let l = limiter(&client, &prefix, gcra(2, 60), Clock::Manual(ms));
        let layer = RateLimitLayer::new(l, true, &[KEY_A, KEY_B]);
        let addr = serve(app(layer)).await.unwrap();
        let mut statuses = Vec::new();
        for headers in [
            &[("X-API-Key", KEY_A)][..],
            &[("X-API-Key", KEY_A)],
            &[("X-API-Key", KEY_A)],
            &[("X-API-Key", KEY_B)],
            &[],
            &[],
            &[],
            // A client's own X-Forwarded-For does not buy a new quota.
            &[("X-Forwarded-For", "203.0.113.9")],
        ] {
            statuses.push(send(addr, "/hello", headers).await.unwrap().status);
        }
        delete_keys(&client, &prefix).await;
        assert_eq!(statuses, [200, 200, 429, 200, 200, 200, 429, 429]);
    }

    #[tokio::test]
    async fn bad_api_keys_get_a_clear_status() {
        let Some(client) = support::redis::client_in_test("bad keys") else {
            return;
        };
        let prefix = support::unique_name("rl_bad");
        let ms = Arc::new(AtomicU64::new(0));
        let l = limiter(&client, &prefix, gcra(2, 60), Clock::Manual(ms));
        let layer = RateLimitLayer::new(l, true, &[KEY_A]);
        let addr = serve(app(layer)).await.unwrap();
        let long = "k".repeat(65);
        type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
        let cases: [Case; 5] = [
            (&[("X-API-Key", "short")], 400, "malformed X-API-Key"),
            (&[("X-API-Key", &long)], 400, "malformed X-API-Key"),
            (&[("X-API-Key", "k{ey}_0123456789abcdef")], 400, "malformed"),
            (&[("X-API-Key", KEY_B)], 401, "unknown API key"),
            (
                &[("X-API-Key", KEY_A), ("X-API-Key", KEY_A)],
                400,
                "send one",
            ),
        ];
        for (headers, status, title) in cases {
            let reply = send(addr, "/hello", headers).await.unwrap();
            assert_eq!(reply.status, status, "{headers:?}");
            assert!(reply.body.contains(title), "{}", reply.body);
            assert_eq!(
                reply.header("content-type"),
                ["application/problem+json"]
            );
            if status == 401 {
                assert_eq!(
                    reply.header("www-authenticate"),
                    ["ApiKey header=\"X-API-Key\""]
                );
            }
        }
        // Refused requests were never counted.
        let ok = send(addr, "/hello", &[("X-API-Key", KEY_A)]).await.unwrap();
        delete_keys(&client, &prefix).await;
        assert_eq!(ok.header("ratelimit"), ["\"t\";r=1;t=30"]);
    }

    #[tokio::test]
    async fn redis_down_fails_open_or_closed_and_counts_it() {
        // A port the kernel just handed out and nobody listens on now.
        let port = {
            let (listener, addr) = support::loopback::listener().unwrap();
            drop(listener);
            addr.port()
        };
        let down = Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
        let policy = gcra(2, 60);
        let open = RateLimitLayer::new(
            limiter(&down, "rl_down", policy.clone(), Clock::Redis),
            true,
            &[],
        );
        let closed = RateLimitLayer::new(
            limiter(&down, "rl_down", policy, Clock::Redis),
            false,
            &[],
        );
        let open_addr = serve(app(open.clone())).await.unwrap();
        let closed_addr = serve(app(closed.clone())).await.unwrap();
        let started = std::time::Instant::now();
        let served = send(open_addr, "/hello", &[]).await.unwrap();
        let refused = send(closed_addr, "/hello", &[]).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(served.status, 200);
        assert!(served.header("ratelimit").is_empty());
        assert_eq!(refused.status, 503);
        assert_eq!(refused.header("retry-after"), ["5"]);
        assert!(refused.body.contains("rate limiter unavailable"));
        assert_eq!((open.store_errors(), closed.store_errors()), (1, 1));
    }
}
