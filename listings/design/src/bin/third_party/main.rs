//! 3.9: calling a third-party API that fails. A fake provider on loopback
//! (axum) answers from a seeded fault schedule: 429 with `Retry-After`,
//! 503, slow answers, dropped connections, and `ETag`/`If-None-Match`.
//! The client (hyper-util) puts a timeout on every attempt, retries only
//! safe calls with capped exponential backoff and full jitter inside a
//! retry budget, honours `Retry-After`, and sits behind a circuit
//! breaker, a bulkhead, an optional token bucket in Redis shared by every
//! instance, and a response cache with revalidation and stale-if-error.
//!
//! `main` makes 30 calls through one seeded schedule, then simulates a
//! retry storm with and without jitter (virtual time, so the figures are
//! the same on every run). Tests: `cargo test -p design --bin third_party`
//! (the shared token bucket needs Redis at `REDIS_URL`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Frame};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use redis::Script;
use redis::aio::MultiplexedConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------
// A seeded generator (SplitMix64): the same schedule and the same jitter
// on every run, with no dependency on a crate's algorithm.

pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        self.next_u64() % (max + 1)
    }
}

// ---------------------------------------------------------------------
// The fake provider.

// ANCHOR: fault
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    Ok,
    /// 429 with this `Retry-After` value.
    TooMany(String),
    Unavailable,
    /// Answers after this long (longer than the client's timeout).
    Slow(Duration),
    /// Sends the head, then drops the connection mid-body.
    Drop,
}

/// `n` faults from `seed`: 60% Ok, 12% 503, 10% 429, 10% slow, 8% drop.
pub fn schedule(seed: u64, n: usize, slow: Duration) -> Vec<Fault> {
    let mut rng = SplitMix::new(seed);
    (0..n)
        .map(|_| match rng.up_to(99) {
            0..=59 => Fault::Ok,
            60..=71 => Fault::Unavailable,
            72..=81 => Fault::TooMany("0".into()),
            82..=91 => Fault::Slow(slow),
            _ => Fault::Drop,
        })
        .collect()
}
// ANCHOR_END: fault

/// What the provider saw: the tests count these exactly.
#[derive(Default)]
pub struct Seen {
    pub calls: AtomicU64,
    pub too_many: AtomicU64,
    pub not_modified: AtomicU64,
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    /// Requests per idempotency key that reached the charge: each key is
    /// charged once, however many times it arrives.
    pub charge_requests: Mutex<HashMap<String, u64>>,
    pub charges_without_key: AtomicU64,
}

pub struct Provider {
    pub faults: Mutex<VecDeque<Fault>>,
    pub seen: Seen,
    /// Calls left before the provider's own limit answers 429.
    pub quota: Mutex<Option<u64>>,
    pub cache_control: Mutex<String>,
    pub version: AtomicU64,
}

impl Provider {
    pub fn new(faults: Vec<Fault>) -> Arc<Self> {
        Arc::new(Provider {
            faults: Mutex::new(faults.into()),
            seen: Seen::default(),
            quota: Mutex::new(None),
            cache_control: Mutex::new("max-age=0, stale-if-error=60".into()),
            version: AtomicU64::new(1),
        })
    }
    pub fn calls(&self) -> u64 {
        self.seen.calls.load(Ordering::SeqCst)
    }
}

/// A body that fails after the head is sent: hyper closes the connection.
struct Dropped;

impl hyper::body::Body for Dropped {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let e = std::io::Error::other("provider dropped the connection");
        std::task::Poll::Ready(Some(Err(e)))
    }
}

fn answer(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

// ANCHOR: inject
/// Every request takes the next fault; `Ok` (or an empty schedule) lets
/// the route answer.
async fn inject(p: &Provider) -> Option<Response> {
    p.seen.calls.fetch_add(1, Ordering::SeqCst);
    let fault = p.faults.lock().unwrap().pop_front().unwrap_or(Fault::Ok);
    match fault {
        Fault::Ok => {}
        Fault::TooMany(after) => {
            p.seen.too_many.fetch_add(1, Ordering::SeqCst);
            let mut r = answer(StatusCode::TOO_MANY_REQUESTS, Body::empty());
            let value = HeaderValue::from_str(&after).ok()?;
            r.headers_mut().insert("retry-after", value);
            return Some(r);
        }
        Fault::Unavailable => {
            return Some(answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Body::empty(),
            ));
        }
        Fault::Slow(d) => tokio::time::sleep(d).await,
        Fault::Drop => return Some(answer(StatusCode::OK, Body::new(Dropped))),
    }
    let mut quota = p.quota.lock().unwrap();
    match quota.as_mut() {
        Some(0) => {
            p.seen.too_many.fetch_add(1, Ordering::SeqCst);
            let mut r = answer(StatusCode::TOO_MANY_REQUESTS, Body::empty());
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("60"));
            Some(r)
        }
        Some(left) => {
            *left -= 1;
            None
        }
        None => None,
    }
}

// ANCHOR_END: inject

async fn item(
    State(p): State<Arc<Provider>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    if let Some(fault) = inject(&p).await {
        return fault;
    }
    let version = p.version.load(Ordering::SeqCst);
    let etag = format!("\"item-{id}-v{version}\"");
    let cache_control = p.cache_control.lock().unwrap().clone();
    let matches = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if matches {
        p.seen.not_modified.fetch_add(1, Ordering::SeqCst);
        answer(StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        let body = format!("{{\"id\":{id},\"version\":{version}}}");
        answer(StatusCode::OK, Body::from(body))
    };
    for (name, value) in [("etag", etag), ("cache-control", cache_control)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

// ANCHOR: charge
/// Keeps the first charge per `Idempotency-Key`: a retry with the same key
/// gets the answer again, not a second charge. The charge is made before
/// the answer is sent, so a dropped connection loses the answer, not the
/// charge; a 429 or 503 refuses the request before any charge.
async fn charge(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
) -> Response {
    let dropped = match inject(&p).await {
        Some(r) if r.status() != StatusCode::OK => return r, // refused
        other => other, // `Some`: a connection to drop after the charge
    };
    match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(key) => {
            // The first request with a key charges; a retry finds the key.
            let mut requests = p.seen.charge_requests.lock().unwrap();
            *requests.entry(key.into()).or_default() += 1;
        }
        None => {
            p.seen.charges_without_key.fetch_add(1, Ordering::SeqCst);
        }
    }
    dropped.unwrap_or_else(|| {
        answer(StatusCode::CREATED, Body::from("{\"charged\":true}"))
    })
}
// ANCHOR_END: charge

async fn slow_item(State(p): State<Arc<Provider>>) -> Response {
    let now = p.seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    p.seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    p.seen.calls.fetch_add(1, Ordering::SeqCst);
    // Far longer than the bulkhead's wait, even on a loaded machine.
    tokio::time::sleep(Duration::from_millis(600)).await;
    p.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer(StatusCode::OK, Body::from("{}"))
}

/// Serves the provider on a fresh loopback port; returns its base URL.
pub async fn serve(p: Arc<Provider>) -> std::io::Result<String> {
    let (listener, addr) = support::loopback::listener()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = Router::new()
        .route("/items/{id}", get(item))
        .route("/slow", get(slow_item))
        .route("/charges", post(charge))
        .with_state(p);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

// ---------------------------------------------------------------------
// Retry-After (RFC 9110, section 10.2.3): delay-seconds or an HTTP-date.

// ANCHOR: retry_after
/// How long `Retry-After` asks us to wait, from `now`; `None` when the
/// value is neither form. A date in the past means "now".
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = UNIX_EPOCH + Duration::from_secs(http_date(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110, 5.6.7), as
/// seconds since the epoch. (The two obsolete forms are not accepted.)
pub fn http_date(s: &str) -> Option<u64> {
    let p: Vec<&str> = s.split(' ').collect();
    let [wd, day, mon, year, time, "GMT"] = p.as_slice() else {
        return None;
    };
    const DAYS: [&str; 7] =
        ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
        "Nov", "Dec",
    ];
    let weekday = DAYS.iter().position(|d| d == wd)? as u64;
    let month = MONTHS.iter().position(|m| m == mon)? as u64 + 1;
    let num = |t: &str, n: usize| -> Option<u64> {
        (t.len() == n && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())?
    };
    let (day, year) = (num(day, 2)?, num(year, 4)?);
    let hms: Vec<&str> = time.split(':').collect();
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    let (h, m, sec) = (num(h, 2)?, num(m, 2)?, num(sec, 2)?);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // 1970-01-01 was a Thursday (index 3 from Monday).
    if (days + 3) % 7 != weekday {
        return None;
    }
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
// ANCHOR_END: retry_after

// ---------------------------------------------------------------------
// Backoff, retry budget, circuit breaker.

// ANCHOR: backoff
/// The wait before retry number `retry` (0 for the first retry):
/// `min(cap, base * 2^retry)`, and with full jitter a uniform draw from
/// zero to that ceiling.
pub fn backoff(
    retry: u32,
    base: Duration,
    cap: Duration,
    jitter: bool,
    rng: &mut SplitMix,
) -> Duration {
    let ceiling = base
        .checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
        .map_or(cap, |d| d.min(cap));
    if !jitter {
        return ceiling;
    }
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.up_to(ms))
}
// ANCHOR_END: backoff

// ANCHOR: budget
/// Retries may add at most `ratio` of the calls made, plus a small
/// reserve: each first attempt deposits `ratio`, each retry spends 1.
pub struct RetryBudget {
    tokens: f64,
    max: f64,
    ratio: f64,
}

impl RetryBudget {
    pub fn new(reserve: f64, ratio: f64) -> Self {
        RetryBudget {
            tokens: reserve,
            max: reserve,
            ratio,
        }
    }
    pub fn on_call(&mut self) {
        self.tokens = (self.tokens + self.ratio).min(self.max);
    }
    pub fn try_retry(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
// ANCHOR_END: budget

// ANCHOR: breaker
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is let through; its result decides.
    HalfOpen {
        probing: bool,
    },
}

pub struct Breaker {
    pub state: BreakerState,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        let state = BreakerState::Closed { failures: 0 };
        Breaker {
            state,
            threshold,
            cooldown,
        }
    }

    /// May an attempt go out now?
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen { probing: true };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probing } => {
                self.state = BreakerState::HalfOpen { probing: true };
                !probing
            }
        }
    }

    // ANCHOR_END: breaker

    // ANCHOR: record
    /// The outcome of an attempt that `allow` let through.
    pub fn record(&mut self, healthy: bool, now: Instant) {
        let open = BreakerState::Open {
            until: now + self.cooldown,
        };
        self.state = match (self.state, healthy) {
            (BreakerState::Closed { .. }, true) => {
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
            (BreakerState::HalfOpen { .. }, true) => {
                BreakerState::Closed { failures: 0 }
            }
            (BreakerState::HalfOpen { .. }, false) => open,
            (state @ BreakerState::Open { .. }, _) => state,
        };
    }
    // ANCHOR_END: record
}

// ---------------------------------------------------------------------
// A token bucket in Redis, shared by every client instance.

// ANCHOR: bucket
/// KEYS[1]: the bucket. ARGV: capacity, milliseconds per token. Tokens are
/// kept in thousandths so the state stays integral. Redis `TIME` is the
/// one clock of all instances. Returns {allowed, wait in ms}.
pub const TOKEN_BUCKET: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1]) * 1000
local ms_per_token = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'milli', 'at')
local milli = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  milli = math.min(capacity,
    milli + math.floor((now - at) * 1000 / ms_per_token))
  at = now
end
local allowed, wait = 0, 0
if milli >= 1000 then
  milli = milli - 1000
  allowed = 1
else
  wait = math.ceil((1000 - milli) * ms_per_token / 1000)
end
redis.call('HSET', KEYS[1], 'milli', milli, 'at', at)
redis.call('PEXPIRE', KEYS[1], ms_per_token * tonumber(ARGV[1]) + 1000)
return {allowed, wait}
"#;

pub struct SharedBucket {
    pub redis: MultiplexedConnection,
    pub key: String,
    pub capacity: u64,
    pub ms_per_token: u64,
}

impl SharedBucket {
    /// `Ok(None)` when a token was taken, `Ok(Some(wait))` when not.
    pub async fn take(&self) -> redis::RedisResult<Option<Duration>> {
        let mut con = self.redis.clone();
        let (allowed, wait): (i64, i64) = Script::new(TOKEN_BUCKET)
            .key(&self.key)
            .arg(self.capacity)
            .arg(self.ms_per_token)
            .invoke_async(&mut con)
            .await?;
        let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        Ok((allowed != 1).then_some(wait))
    }
}
// ANCHOR_END: bucket

// ---------------------------------------------------------------------
// The client.

#[derive(Clone, Debug)]
pub struct Policy {
    pub attempt_timeout: Duration,
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    pub jitter: bool,
    /// A longer `Retry-After` ends the call instead of waiting.
    pub max_retry_after: Duration,
    pub bulkhead: usize,
    pub bulkhead_wait: Duration,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempt_timeout: Duration::from_millis(300),
            max_attempts: 4,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(40),
            jitter: true,
            max_retry_after: Duration::from_secs(2),
            bulkhead: 8,
            bulkhead_wait: Duration::from_millis(50),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("attempt timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("provider answered {0}")]
    Status(u16),
    #[error("provider asks us to wait {0:?}, longer than we may")]
    RetryAfterTooLong(Duration),
    #[error("circuit open: not calling")]
    CircuitOpen,
    #[error("bulkhead full: not calling")]
    BulkheadFull,
    #[error("our shared rate limit: wait {0:?}")]
    Throttled(Duration),
    #[error("rate limiter unavailable: {0}")]
    Limiter(String),
    #[error("bad request: {0}")]
    BadRequest(String),
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Where a cached read came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Network,
    Fresh,
    Revalidated,
    Stale,
}

struct Cached {
    etag: Option<String>,
    body: Bytes,
    stored: Instant,
    max_age: Duration,
    stale_if_error: Duration,
}

pub struct ProviderClient {
    http: Client<HttpConnector, Full<Bytes>>,
    base_url: String,
    pub policy: Policy,
    budget: Mutex<RetryBudget>,
    pub breaker: Mutex<Breaker>,
    bulkhead: Arc<Semaphore>,
    bucket: Option<SharedBucket>,
    cache: Mutex<HashMap<String, Cached>>,
    rng: Mutex<SplitMix>,
    pub attempts: AtomicU64,
}

fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::HEAD
            | Method::PUT
            | Method::DELETE
            | Method::OPTIONS
    )
}

/// Worth another attempt: the provider may answer differently later.
fn transient(e: &CallError) -> bool {
    match e {
        CallError::Timeout | CallError::Connection(_) => true,
        CallError::Status(s) => matches!(s, 429 | 502 | 503 | 504),
        _ => false,
    }
}

impl ProviderClient {
    pub fn new(base_url: String, policy: Policy, seed: u64) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(policy.attempt_timeout));
        ProviderClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            base_url,
            budget: Mutex::new(RetryBudget::new(10.0, 0.1)),
            breaker: Mutex::new(Breaker::new(
                policy.breaker_threshold,
                policy.breaker_cooldown,
            )),
            bulkhead: Arc::new(Semaphore::new(policy.bulkhead)),
            policy,
            bucket: None,
            cache: Mutex::new(HashMap::new()),
            rng: Mutex::new(SplitMix::new(seed)),
            attempts: AtomicU64::new(0),
        }
    }
    pub fn with_budget(self, budget: RetryBudget) -> Self {
        *self.budget.lock().unwrap() = budget;
        self
    }
    pub fn with_bucket(mut self, bucket: SharedBucket) -> Self {
        self.bucket = Some(bucket);
        self
    }

    // ANCHOR: attempt
    /// One attempt, the whole exchange (connect, head, body) under one
    /// timeout.
    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Answer, CallError> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base_url));
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| CallError::BadRequest(e.to_string()))?;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| CallError::Connection(e.to_string()))?;
            let (head, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| CallError::Connection(e.to_string()))?;
            Ok(Answer {
                status: head.status.as_u16(),
                headers: head.headers,
                body: body.to_bytes(),
            })
        };
        tokio::time::timeout(self.policy.attempt_timeout, exchange)
            .await
            .map_err(|_| CallError::Timeout)?
    }
    // ANCHOR_END: attempt

    // ANCHOR: call
    /// A call: bulkhead, then attempts through the shared rate limit and
    /// the breaker; retries only when safe, transient, and in budget.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Answer, CallError> {
        let _permit = self.enter_bulkhead().await?;
        let safe = idempotent(&method)
            || headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("idempotency-key"));
        self.budget.lock().unwrap().on_call();
        let mut retry = 0;
        loop {
            if let Some(bucket) = &self.bucket {
                let taken = bucket.take().await;
                match taken.map_err(|e| CallError::Limiter(e.to_string()))? {
                    None => {}
                    Some(wait) => return Err(CallError::Throttled(wait)),
                }
            }
            if !self.breaker.lock().unwrap().allow(Instant::now()) {
                return Err(CallError::CircuitOpen);
            }
            let result = match self.attempt(&method, path, headers).await {
                Ok(a) if a.status >= 400 => {
                    Err((CallError::Status(a.status), Some(a)))
                }
                Ok(a) => Ok(a),
                Err(e) => Err((e, None)),
            };
            let healthy = match &result {
                Ok(_) => true,
                Err((CallError::Status(s), _)) => *s < 500,
                Err(_) => false,
            };
            self.breaker.lock().unwrap().record(healthy, Instant::now());
            let (error, answer) = match result {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            retry += 1;
            if !safe || !transient(&error) || retry >= self.policy.max_attempts
            {
                return Err(error);
            }
            let wait = match self.asked_wait(answer.as_ref())? {
                Some(wait) => wait,
                None => self.backoff(retry - 1),
            };
            if !self.budget.lock().unwrap().try_retry() {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
        }
    }
    // ANCHOR_END: call

    /// The provider's `Retry-After`, if any; too long ends the call.
    fn asked_wait(
        &self,
        answer: Option<&Answer>,
    ) -> Result<Option<Duration>, CallError> {
        let Some(value) = answer.and_then(|a| a.headers.get("retry-after"))
        else {
            return Ok(None);
        };
        let wait = value
            .to_str()
            .ok()
            .and_then(|v| retry_after(v, SystemTime::now()));
        match wait {
            Some(w) if w > self.policy.max_retry_after => {
                Err(CallError::RetryAfterTooLong(w))
            }
            other => Ok(other), // unparsable: our own backoff
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let p = &self.policy;
        backoff(
            retry,
            p.base,
            p.cap,
            p.jitter,
            &mut self.rng.lock().unwrap(),
        )
    }

    // ANCHOR: bulkhead
    async fn enter_bulkhead(&self) -> Result<OwnedSemaphorePermit, CallError> {
        let permit = self.bulkhead.clone().acquire_owned();
        match tokio::time::timeout(self.policy.bulkhead_wait, permit).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(CallError::BulkheadFull),
        }
    }
    // ANCHOR_END: bulkhead

    // ANCHOR: cached_get
    /// A GET through the cache: fresh entries without a call, stale ones
    /// revalidated with `If-None-Match`, and a stale entry served when the
    /// provider fails within its `stale-if-error` window (RFC 5861).
    pub async fn cached_get(
        &self,
        path: &str,
    ) -> Result<(Bytes, Source), CallError> {
        let now = Instant::now();
        let mut headers = Vec::new();
        let mut fallback = None;
        if let Some(c) = self.cache.lock().unwrap().get(path) {
            let age = now.duration_since(c.stored);
            if age < c.max_age {
                return Ok((c.body.clone(), Source::Fresh));
            }
            if let Some(etag) = &c.etag {
                headers.push(("if-none-match", etag.clone()));
            }
            if age < c.max_age + c.stale_if_error {
                fallback = Some(c.body.clone());
            }
        }
        match self.call(Method::GET, path, &headers).await {
            Ok(a) if a.status == 304 => {
                let mut cache = self.cache.lock().unwrap();
                let Some(c) = cache.get_mut(path) else {
                    return Err(CallError::Status(304));
                };
                c.stored = Instant::now();
                refresh_lifetimes(c, &a.headers);
                Ok((c.body.clone(), Source::Revalidated))
            }
            Ok(a) => {
                self.store(path, &a);
                Ok((a.body, Source::Network))
            }
            Err(e) if transient(&e) || e == CallError::CircuitOpen => {
                fallback.map(|b| (b, Source::Stale)).ok_or(e)
            }
            Err(e) => Err(e),
        }
    }
    // ANCHOR_END: cached_get

    fn store(&self, path: &str, a: &Answer) {
        let directives = cache_control(&a.headers);
        if directives.no_store {
            return;
        }
        let etag = a
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let cached = Cached {
            etag,
            body: a.body.clone(),
            stored: Instant::now(),
            max_age: directives.max_age,
            stale_if_error: directives.stale_if_error,
        };
        self.cache.lock().unwrap().insert(path.to_string(), cached);
    }
}

fn refresh_lifetimes(c: &mut Cached, headers: &HeaderMap) {
    let d = cache_control(headers);
    c.max_age = d.max_age;
    c.stale_if_error = d.stale_if_error;
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub max_age: Duration,
    pub stale_if_error: Duration,
    pub no_store: bool,
}

/// The parts of `Cache-Control` the cache uses; a malformed number counts
/// as 0 (no freshness), never as "forever".
pub fn cache_control(headers: &HeaderMap) -> Directives {
    let mut d = Directives::default();
    for value in headers.get_all("cache-control") {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(',') {
            let (name, arg) = match part.trim().split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim())),
                None => (part.trim(), None),
            };
            let secs = arg.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
            match name.to_ascii_lowercase().as_str() {
                "max-age" => d.max_age = Duration::from_secs(secs),
                "stale-if-error" => {
                    d.stale_if_error = Duration::from_secs(secs)
                }
                "no-store" => d.no_store = true,
                _ => {}
            }
        }
    }
    d
}

// ---------------------------------------------------------------------
// A retry storm in virtual time: with and without jitter.

// ANCHOR: storm
#[derive(Debug, PartialEq, Eq)]
pub struct StormResult {
    pub calls: u64,
    pub succeeded: u64,
    pub last_success_ms: u64,
}

/// `clients` callers arrive together (a provider just came back); it
/// serves `per_slot` calls per 10 ms slot and answers 429 to the rest.
/// Each caller makes up to `max_attempts` with the client's `backoff`.
pub fn storm(
    clients: u64,
    per_slot: u64,
    max_attempts: u32,
    jitter: bool,
    seed: u64,
) -> StormResult {
    let (base, cap) = (Duration::from_millis(10), Duration::from_millis(1000));
    let mut rng = SplitMix::new(seed);
    // (time in ms, client, attempt number), earliest first.
    let mut queue: BinaryHeap<Reverse<(u64, u64, u32)>> =
        (0..clients).map(|c| Reverse((0, c, 0))).collect();
    let mut served: HashMap<u64, u64> = HashMap::new();
    let mut result = StormResult {
        calls: 0,
        succeeded: 0,
        last_success_ms: 0,
    };
    while let Some(Reverse((t, client, attempt))) = queue.pop() {
        result.calls += 1;
        let slot = served.entry(t / 10).or_default();
        if *slot < per_slot {
            *slot += 1;
            result.succeeded += 1;
            result.last_success_ms = result.last_success_ms.max(t);
        } else if attempt + 1 < max_attempts {
            let wait = backoff(attempt, base, cap, jitter, &mut rng);
            let wait = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            queue.push(Reverse((t + wait, client, attempt + 1)));
        }
    }
    result
}
// ANCHOR_END: storm

// ANCHOR: live
/// 30 GETs through seeded schedule 2026 (200 faults), one at a time.
async fn live(jitter: bool) -> std::io::Result<String> {
    let slow = Duration::from_millis(400);
    let provider = Provider::new(schedule(2026, 200, slow));
    let url = serve(provider.clone()).await?;
    let policy = Policy {
        jitter,
        breaker_threshold: 10,
        ..Policy::default()
    };
    let client = ProviderClient::new(url, policy, 7);
    let mut ok = 0;
    for id in 0..30 {
        let path = format!("/items/{id}");
        ok += u32::from(client.call(Method::GET, &path, &[]).await.is_ok());
    }
    let name = if jitter { "full jitter" } else { "no jitter" };
    let too_many = provider.seen.too_many.load(Ordering::SeqCst);
    Ok(format!(
        "{name:<14}{:>8}{:>8}{:>11.1}%",
        provider.calls(),
        too_many,
        f64::from(ok) * 100.0 / 30.0
    ))
}
// ANCHOR_END: live

#[tokio::main]
async fn main() {
    // ANCHOR: main
    println!("30 GETs, seeded fault schedule 2026, up to 4 attempts each:");
    println!(
        "{:<14}{:>8}{:>8}{:>12}",
        "backoff", "calls", "429s", "succeeded"
    );
    for jitter in [false, true] {
        match live(jitter).await {
            Ok(line) => println!("{line}"),
            Err(e) => support::skip::exit_unavailable(
                "third_party",
                "a loopback port",
                e,
            ),
        }
    }
    println!();
    println!("retry storm: 1000 callers at once, 50 calls per 10 ms served,");
    println!("up to 6 attempts, backoff base 10 ms, cap 1 s (virtual time):");
    println!(
        "{:<14}{:>8}{:>12}{:>16}",
        "backoff", "calls", "succeeded", "last success"
    );
    for jitter in [false, true] {
        let r = storm(1000, 50, 6, jitter, 42);
        let name = if jitter { "full jitter" } else { "no jitter" };
        println!(
            "{name:<14}{:>8}{:>11.1}%{:>13} ms",
            r.calls,
            r.succeeded as f64 * 100.0 / 1000.0,
            r.last_success_ms
        );
    }
    // ANCHOR_END: main
}
