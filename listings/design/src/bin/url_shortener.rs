//! 3.1 URL shortener: an axum service with PostgreSQL as the store and
//! Redis as the cache in front of it.
//!
//! - Codes come from a counter (a PostgreSQL sequence), permuted by a keyed
//!   Feistel network over the 7-character base62 space, so consecutive ids
//!   give unrelated codes and nobody can enumerate links by counting.
//! - A custom alias shares the code column; its UNIQUE constraint decides
//!   who wins, for aliases and generated codes alike.
//! - A redirect is a 302: browsers do not cache it unless told to, so every
//!   click reaches the service (analytics, expiry, and takedowns work).
//! - Redis holds `code -> (expiry, url)` and also "no such code" for a
//!   short time, so scans of random codes do not reach PostgreSQL.
//! - Clicks never touch storage on the redirect path: the handler hands
//!   the code to a bounded channel (never waiting), and a background task
//!   adds them up and flushes them in one UPDATE.
//! - Servers: `DATABASE_URL` and `REDIS_URL` (local defaults). Without one,
//!   `main` exits 77 and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`). Each run uses its own table and key prefix and
//!   removes them at the end.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Statement;

// ANCHOR: base62
/// Seven base62 characters: 62^7 = 3,521,614,606,208 codes.
pub const CODE_LEN: u32 = 7;
pub const SPACE: u64 = 62u64.pow(CODE_LEN);
const ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` (below [`SPACE`]) as exactly seven characters, zero-padded.
pub fn base62(mut n: u64) -> String {
    let mut code = [b'0'; CODE_LEN as usize];
    for slot in code.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    code.iter().map(|&b| char::from(b)).collect()
}
// ANCHOR_END: base62

// ANCHOR: feistel
/// A keyed bijection on `0..domain`: a balanced Feistel network over the
/// smallest even number of bits that holds `domain`, with HMAC-SHA256 as
/// the round function, and cycle-walking to stay inside `domain`.
#[derive(Clone)]
pub struct Permutation {
    mac: Hmac<Sha256>,
    half_bits: u32,
    domain: u64,
}

const ROUNDS: u8 = 4;

impl Permutation {
    pub fn new(key: &[u8], domain: u64) -> Permutation {
        let bits = 64 - domain.saturating_sub(1).leading_zeros();
        let mac = Hmac::<Sha256>::new_from_slice(key)
            .expect("HMAC takes a key of any length");
        Permutation {
            mac,
            half_bits: bits.div_ceil(2).max(1),
            domain,
        }
    }

    fn round(&self, round: u8, half: u64) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(&[round]);
        mac.update(&half.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let word = u64::from_be_bytes(out[..8].try_into().expect("8 bytes"));
        word & ((1 << self.half_bits) - 1)
    }
}
// ANCHOR_END: feistel

// ANCHOR: feistel_walk
impl Permutation {
    fn block(&self, x: u64, inverse: bool) -> u64 {
        let mask = (1 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for i in 0..ROUNDS {
            if inverse {
                let r = ROUNDS - 1 - i;
                (left, right) = (right ^ self.round(r, left), left);
            } else {
                (left, right) = (right, left ^ self.round(i, right));
            }
        }
        (left << self.half_bits) | right
    }

    /// Walks the cycle until it lands inside the domain again; each step
    /// lands outside with probability below 1/2 here (62^7 > 2^41).
    fn walk(&self, x: u64, inverse: bool) -> Option<u64> {
        if x >= self.domain {
            return None;
        }
        let mut y = self.block(x, inverse);
        while y >= self.domain {
            y = self.block(y, inverse);
        }
        Some(y)
    }

    pub fn forward(&self, x: u64) -> Option<u64> {
        self.walk(x, false)
    }

    pub fn backward(&self, y: u64) -> Option<u64> {
        self.walk(y, true)
    }
}
// ANCHOR_END: feistel_walk

// ANCHOR: errors
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_EXPIRY_S: u64 = 5 * 365 * 86_400;

/// What a request can fail with; each maps to a status and a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ShortenError {
    #[error("only http and https URLs, not {0:?}")]
    Scheme(String),
    #[error("the URL is {0} bytes long, the limit is {MAX_URL_BYTES}")]
    TooLong(usize),
    #[error("the URL needs a host, and no user:password@ part")]
    BadHost,
    #[error("the URL contains whitespace or a control character")]
    BadChar,
    #[error("an alias is 4 to 32 letters, digits, '-' or '_'")]
    BadAlias,
    #[error("the alias {0:?} is taken")]
    AliasTaken(String),
    #[error("expires_in_s must be 1 to {MAX_EXPIRY_S}")]
    BadExpiry,
    #[error("no short link {0:?}")]
    Unknown(String),
    #[error("the short link {0:?} has expired")]
    Expired(String),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("no free code after {0} tries")]
    NoFreeCode(u32),
}

impl IntoResponse for ShortenError {
    fn into_response(self) -> Response {
        use ShortenError::*;
        let status = match &self {
            Scheme(_) | TooLong(_) | BadHost | BadChar | BadAlias
            | BadExpiry => StatusCode::UNPROCESSABLE_ENTITY,
            AliasTaken(_) => StatusCode::CONFLICT,
            Unknown(_) => StatusCode::NOT_FOUND,
            Expired(_) => StatusCode::GONE,
            Db(_) | NoFreeCode(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let error = match &self {
            Db(e) => {
                eprintln!("url_shortener: {e}"); // the log gets the details
                "storage is unavailable, try again".to_string()
            }
            other => other.to_string(),
        };
        (status, Json(serde_json::json!({ "error": error }))).into_response()
    }
}
// ANCHOR_END: errors

// ANCHOR: validate
/// Accepts `http(s)://host...` only: no `javascript:`, `data:`, `file:`,
/// no credentials before the host, nothing longer than the limit.
pub fn check_url(url: &str) -> Result<(), ShortenError> {
    if url.len() > MAX_URL_BYTES {
        return Err(ShortenError::TooLong(url.len()));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ShortenError::BadChar);
    }
    let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(ShortenError::Scheme(scheme));
    }
    let rest = rest.strip_prefix("//").ok_or(ShortenError::BadHost)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return Err(ShortenError::BadHost);
    }
    Ok(())
}

pub fn check_alias(alias: &str) -> Result<(), ShortenError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if (4..=32).contains(&alias.len()) && alias.chars().all(ok_char) {
        Ok(())
    } else {
        Err(ShortenError::BadAlias)
    }
}
// ANCHOR_END: validate

/// Milliseconds since the epoch: the system's, or one a test moves.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<AtomicU64>),
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            Clock::Manual(ms) => ms.load(Ordering::SeqCst) as i64,
        }
    }
}

/// How a service is set up.
#[derive(Clone)]
pub struct Config {
    /// Redis in front of PostgreSQL, or every redirect from PostgreSQL.
    pub cache: bool,
    pub clock: Clock,
    /// The Feistel key: a secret, from a secret store in production.
    pub key: Vec<u8>,
    pub pg_connections: usize,
    /// Clicks buffered between the handlers and the flusher.
    pub click_buffer: usize,
    pub flush_every: Duration,
}

impl Config {
    pub fn new(cache: bool, clock: Clock) -> Config {
        Config {
            cache,
            clock,
            key: b"demo key: not a secret".to_vec(),
            pg_connections: 4,
            click_buffer: 10_000,
            flush_every: Duration::from_secs(1),
        }
    }
}

/// One PostgreSQL session with the redirect's query prepared on it.
struct Pg {
    client: tokio_postgres::Client,
    lookup: Statement,
}

struct AppState {
    pg: Vec<Pg>,
    next_pg: AtomicUsize,
    redis: Option<MultiplexedConnection>,
    table: String,
    prefix: String,
    ids: Permutation,
    clock: Clock,
    clicks: mpsc::Sender<Click>,
    dropped_clicks: AtomicU64,
}

enum Click {
    Code(String),
    Flush(oneshot::Sender<()>),
}

impl AppState {
    /// The sessions are shared round-robin; tokio-postgres pipelines the
    /// queries that share one.
    fn pg(&self) -> &Pg {
        let n = self.next_pg.fetch_add(1, Ordering::Relaxed);
        &self.pg[n % self.pg.len()]
    }

    fn cache_key(&self, code: &str) -> String {
        format!("{}:{code}", self.prefix)
    }
}

// ANCHOR: create
#[derive(Deserialize)]
pub struct CreateRequest {
    pub url: String,
    pub alias: Option<String>,
    pub expires_in_s: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
pub struct Created {
    pub code: String,
    pub expires_at_ms: Option<i64>,
}

async fn create(
    State(app): State<Arc<AppState>>,
    Json(request): Json<CreateRequest>,
) -> Result<(StatusCode, Json<Created>), ShortenError> {
    check_url(&request.url)?;
    let now = app.clock.now_ms();
    let expires_at_ms = match request.expires_in_s {
        Some(s) if (1..=MAX_EXPIRY_S).contains(&s) => {
            Some(now + s as i64 * 1000)
        }
        Some(_) => return Err(ShortenError::BadExpiry),
        None => None,
    };
    let code = match &request.alias {
        Some(alias) => {
            check_alias(alias)?;
            let id = app.next_id().await?;
            if !app
                .insert(id, alias, &request.url, now, expires_at_ms)
                .await?
            {
                return Err(ShortenError::AliasTaken(alias.clone()));
            }
            alias.clone()
        }
        None => {
            app.insert_generated(&request.url, now, expires_at_ms)
                .await?
        }
    };
    app.forget(&code).await; // a cached "no such code" must go
    Ok((
        StatusCode::CREATED,
        Json(Created {
            code,
            expires_at_ms,
        }),
    ))
}

// ANCHOR_END: create

// ANCHOR: insert
impl AppState {
    /// The next counter value, permuted and encoded. A generated code can
    /// equal an alias someone chose earlier: then that id is skipped.
    async fn insert_generated(
        &self,
        url: &str,
        now: i64,
        expires: Option<i64>,
    ) -> Result<String, ShortenError> {
        const TRIES: u32 = 3;
        for _ in 0..TRIES {
            let id = self.next_id().await?;
            let permuted = self.ids.forward(id as u64).expect("id < 62^7");
            let code = base62(permuted);
            if self.insert(id, &code, url, now, expires).await? {
                return Ok(code);
            }
        }
        Err(ShortenError::NoFreeCode(TRIES))
    }

    /// False when the code is taken (the UNIQUE constraint says so).
    async fn insert(
        &self,
        id: i64,
        code: &str,
        url: &str,
        now: i64,
        expires: Option<i64>,
    ) -> Result<bool, ShortenError> {
        let sql = format!(
            "INSERT INTO {t} (id, code, long_url, created_at_ms, \
             expires_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO NOTHING",
            t = self.table
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&id, &code, &url, &now, &expires];
        let rows = self.pg().client.execute(&sql, &params).await?;
        Ok(rows == 1)
    }

    async fn next_id(&self) -> Result<i64, ShortenError> {
        let sql = format!("SELECT nextval('{}_ids')", self.table);
        Ok(self.pg().client.query_one(&sql, &[]).await?.get(0))
    }
}
// ANCHOR_END: insert

// ANCHOR: redirect
/// What the cache says about a code.
enum Cached {
    Link {
        url: String,
        expires_at_ms: Option<i64>,
    },
    Missing,
}

/// Links stay in Redis a day; "no such code" a minute.
const LINK_TTL_MS: i64 = 86_400_000;
const MISSING_TTL_MS: i64 = 60_000;

async fn redirect(
    State(app): State<Arc<AppState>>,
    Path(code): Path<String>,
) -> Result<Response, ShortenError> {
    if check_alias(&code).is_err() {
        return Err(ShortenError::Unknown(code)); // never reaches storage
    }
    let found = match app.cached(&code).await {
        Some(found) => found,
        None => {
            let found = app.load(&code).await?;
            app.fill(&code, &found).await;
            found
        }
    };
    let Cached::Link { url, expires_at_ms } = found else {
        return Err(ShortenError::Unknown(code));
    };
    if expires_at_ms.is_some_and(|at| at <= app.clock.now_ms()) {
        return Err(ShortenError::Expired(code));
    }
    // Counted off the hot path: try_send never waits. A full buffer
    // drops the click (and counts the drop) rather than slow a redirect.
    if app.clicks.try_send(Click::Code(code)).is_err() {
        app.dropped_clicks.fetch_add(1, Ordering::Relaxed);
    }
    Ok((StatusCode::FOUND, [(header::LOCATION, url)]).into_response())
}
// ANCHOR_END: redirect

// ANCHOR: cache
impl AppState {
    /// `None` on a miss, and also when Redis fails: the database answers.
    async fn cached(&self, code: &str) -> Option<Cached> {
        let mut redis = self.redis.clone()?;
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.cache_key(code))
            .query_async(&mut redis)
            .await
            .ok()?;
        let raw = raw?;
        if raw == "-" {
            return Some(Cached::Missing);
        }
        let (expiry, url) = raw.split_once(' ')?;
        let expires_at_ms = expiry.parse().ok().filter(|&ms| ms > 0);
        Some(Cached::Link {
            url: url.to_string(),
            expires_at_ms,
        })
    }
}
// ANCHOR_END: cache

// ANCHOR: cache_fill
impl AppState {
    async fn load(&self, code: &str) -> Result<Cached, ShortenError> {
        let pg = self.pg();
        Ok(match pg.client.query_opt(&pg.lookup, &[&code]).await? {
            Some(row) => Cached::Link {
                url: row.get(0),
                expires_at_ms: row.get(1),
            },
            None => Cached::Missing,
        })
    }

    /// A link is cached no longer than it lives.
    async fn fill(&self, code: &str, found: &Cached) {
        let Some(mut redis) = self.redis.clone() else {
            return;
        };
        let (value, ttl_ms) = match found {
            Cached::Missing => ("-".to_string(), MISSING_TTL_MS),
            Cached::Link { url, expires_at_ms } => {
                let left = expires_at_ms.map(|at| at - self.clock.now_ms());
                let ttl = left.unwrap_or(LINK_TTL_MS).min(LINK_TTL_MS);
                (format!("{} {url}", expires_at_ms.unwrap_or(0)), ttl)
            }
        };
        if ttl_ms > 0 {
            let _: Result<(), _> = redis::cmd("SET")
                .arg(self.cache_key(code))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut redis)
                .await;
        }
    }

    async fn forget(&self, code: &str) {
        if let Some(mut redis) = self.redis.clone() {
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(self.cache_key(code))
                .query_async(&mut redis)
                .await;
        }
    }
}
// ANCHOR_END: cache_fill

// ANCHOR: clicks
/// Adds clicks up in memory and writes them every `every`, in one
/// UPDATE for all codes, and once more when the service stops.
async fn count_clicks(
    mut clicks: mpsc::Receiver<Click>,
    db: tokio_postgres::Client,
    table: String,
    every: Duration,
) {
    let sql = format!(
        "UPDATE {table} AS l SET clicks = l.clicks + v.n \
         FROM unnest($1::text[], $2::bigint[]) AS v(code, n) \
         WHERE l.code = v.code"
    );
    let mut pending: HashMap<String, i64> = HashMap::new();
    let mut tick = tokio::time::interval(every);
    loop {
        let flushed = tokio::select! {
            click = clicks.recv() => match click {
                Some(Click::Code(code)) => {
                    *pending.entry(code).or_default() += 1;
                    continue;
                }
                Some(Click::Flush(done)) => Some(done),
                None => None, // the service is gone: write and stop
            },
            _ = tick.tick() => {
                flush(&db, &sql, &mut pending).await;
                continue;
            }
        };
        flush(&db, &sql, &mut pending).await;
        match flushed {
            Some(done) => drop(done.send(())),
            None => return,
        }
    }
}

async fn flush(
    db: &tokio_postgres::Client,
    sql: &str,
    pending: &mut HashMap<String, i64>,
) {
    if pending.is_empty() {
        return;
    }
    let (codes, counts): (Vec<String>, Vec<i64>) = pending.drain().unzip();
    if let Err(e) = db.execute(sql, &[&codes, &counts]).await {
        eprintln!("url_shortener: {} clicks lost: {e}", counts.len());
    }
}
// ANCHOR_END: clicks

// ANCHOR: router
fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/links", post(create))
        .route("/{code}", get(redirect))
        .layer(DefaultBodyLimit::max(8 * 1024)) // 413 above 8 KiB
        .with_state(app)
}
// ANCHOR_END: router

/// Anything that stops a service from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("cache: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

async fn connect_pg() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let url = support::pg::database_url();
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A running service on a loopback port, over its own scratch table and
/// key prefix, both removed by [`Service::stop`].
pub struct Service {
    pub addr: SocketAddr,
    app: Arc<AppState>,
    admin: tokio_postgres::Client,
    redis: Option<redis::Client>,
    server: tokio::task::JoinHandle<()>,
    counter: tokio::task::JoinHandle<()>,
}

impl Service {
    pub async fn start(
        config: Config,
        redis: Option<redis::Client>,
    ) -> Result<Service, StartError> {
        let table = support::unique_name("short_links");
        let admin = connect_pg().await?;
        admin
            .batch_execute(&format!(
                "CREATE TABLE {table} (
                   id bigint PRIMARY KEY,
                   code text NOT NULL UNIQUE,
                   long_url text NOT NULL
                     CHECK (octet_length(long_url) <= {MAX_URL_BYTES}),
                   created_at_ms bigint NOT NULL,
                   expires_at_ms bigint,
                   clicks bigint NOT NULL DEFAULT 0);
                 CREATE SEQUENCE {table}_ids MAXVALUE {max};",
                max = SPACE - 1
            ))
            .await?;
        let mut pg = Vec::new();
        for _ in 0..config.pg_connections.max(1) {
            let client = connect_pg().await?;
            let lookup = client
                .prepare(&format!(
                    "SELECT long_url, expires_at_ms FROM {table} \
                     WHERE code = $1"
                ))
                .await?;
            pg.push(Pg { client, lookup });
        }
        // The service uses Redis only with the cache on; the client is kept
        // either way, so that tests can look and `stop` can clean up.
        let connection = match &redis {
            Some(client) if config.cache => {
                Some(client.get_multiplexed_async_connection().await?)
            }
            _ => None,
        };
        let (tx, rx) = mpsc::channel(config.click_buffer.max(1));
        let counter = tokio::spawn(count_clicks(
            rx,
            connect_pg().await?,
            table.clone(),
            config.flush_every,
        ));
        let app = Arc::new(AppState {
            pg,
            next_pg: AtomicUsize::new(0),
            redis: connection,
            prefix: support::unique_name("short"),
            table,
            ids: Permutation::new(&config.key, SPACE),
            clock: config.clock,
            clicks: tx,
            dropped_clicks: AtomicU64::new(0),
        });
        let (listener, addr) = support::loopback::listener()?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let service = router(app.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        Ok(Service {
            addr,
            app,
            admin,
            redis,
            server,
            counter,
        })
    }

    /// Writes the buffered clicks now (the flusher would, within a second).
    pub async fn flush_clicks(&self) {
        let (done, flushed) = oneshot::channel();
        if self.app.clicks.send(Click::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    pub async fn clicks(&self, code: &str) -> Result<i64, StartError> {
        let sql =
            format!("SELECT clicks FROM {} WHERE code = $1", self.app.table);
        let row = self.admin.query_opt(&sql, &[&code]).await?;
        Ok(row.map_or(0, |row| row.get(0)))
    }

    pub fn dropped_clicks(&self) -> u64 {
        self.app.dropped_clicks.load(Ordering::Relaxed)
    }

    /// Whether Redis holds an entry for `code` (a test looks, over a
    /// connection of its own, even when the service runs without a cache).
    pub async fn is_cached(&self, code: &str) -> bool {
        let Some(client) = &self.redis else {
            return false;
        };
        let Ok(mut redis) = client.get_multiplexed_async_connection().await
        else {
            return false;
        };
        let n: Result<i64, _> = redis::cmd("EXISTS")
            .arg(self.app.cache_key(code))
            .query_async(&mut redis)
            .await;
        n == Ok(1)
    }

    /// Stops serving, drops the table and deletes the keys.
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        let app = self.app;
        let table = app.table.clone();
        let prefix = app.prefix.clone();
        drop(app); // closes the click channel: the flusher ends
        let _ = self.counter.await;
        let drop_table = format!("DROP TABLE IF EXISTS {table};");
        let _ = self.admin.batch_execute(&drop_table).await;
        let drop_sequence = format!("DROP SEQUENCE IF EXISTS {table}_ids;");
        let _ = self.admin.batch_execute(&drop_sequence).await;
        if let Some(client) = self.redis
            && let Ok(mut redis) =
                client.get_multiplexed_async_connection().await
        {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query_async(&mut redis)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> =
                    redis::cmd("DEL").arg(keys).query_async(&mut redis).await;
            }
        }
    }
}

/// A reply as a client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// An HTTP/1.1 client with keep-alive (hyper's), for tests and the bench.
pub type Http = HttpClient<HttpConnector, Full<Bytes>>;

pub fn http_client() -> Http {
    HttpClient::builder(TokioExecutor::new()).build_http()
}

pub async fn send(
    http: &Http,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let response = http.request(request).await?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.into_body().collect().await?.to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Ok(Reply {
        status,
        location,
        body,
    })
}

pub fn create_body(
    url: &str,
    alias: Option<&str>,
    expires: Option<u64>,
) -> String {
    let mut body = serde_json::json!({ "url": url });
    if let Some(alias) = alias {
        body["alias"] = alias.into();
    }
    if let Some(s) = expires {
        body["expires_in_s"] = s.into();
    }
    body.to_string()
}

/// The demo's clock starts at 2027-01-15 08:00:00 UTC.
const DEMO_START_MS: u64 = 1_800_000_000_000;

async fn demo(
    redis: redis::Client,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let ms = Arc::new(AtomicU64::new(DEMO_START_MS));
    let config = Config::new(true, Clock::Manual(ms.clone()));
    let ids = Permutation::new(&config.key, SPACE);
    println!("ids 1..=5 and their codes (a keyed Feistel permutation):");
    for id in 1..=5 {
        let p = ids.forward(id).expect("in range");
        println!("  {id} -> {:>13} -> {}", p, base62(p));
    }
    let service = Service::start(config, Some(redis)).await?;
    let (http, addr) = (http_client(), service.addr);
    let post = |body: String| {
        let http = http.clone();
        async move { send(&http, addr, "POST", "/api/links", &body).await }
    };
    let show = |what: &str, r: &Reply| {
        let error = serde_json::from_str::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string));
        let extra = match (&r.location, error) {
            (Some(location), _) => format!("Location: {location}"),
            (None, Some(error)) => error,
            (None, None) => r.body.clone(),
        };
        println!("{what:<26} {} {extra}", r.status);
    };
    let a = post(create_body("https://example.com/a", None, None)).await?;
    show("POST https://example.com/a", &a);
    let code: Created = serde_json::from_str(&a.body)?;
    let alias = post(create_body(
        "https://example.com/b",
        Some("launch"),
        Some(3600),
    ));
    show("POST alias launch, 1 hour", &alias.await?);
    let again = post(create_body("https://example.org", Some("launch"), None));
    show("POST alias launch again", &again.await?);
    let bad = post(create_body("javascript:alert(1)", None, None)).await?;
    show("POST javascript:alert(1)", &bad);
    let long = format!("https://example.com/{}", "x".repeat(MAX_URL_BYTES));
    show(
        "POST a 2,068-byte URL",
        &post(create_body(&long, None, None)).await?,
    );
    for _ in 0..3 {
        let r =
            send(&http, addr, "GET", &format!("/{}", code.code), "").await?;
        show(&format!("GET /{}", code.code), &r);
    }
    show(
        "GET /launch",
        &send(&http, addr, "GET", "/launch", "").await?,
    );
    show(
        "GET /nope123",
        &send(&http, addr, "GET", "/nope123", "").await?,
    );
    ms.fetch_add(3_600_000, Ordering::SeqCst);
    show(
        "GET /launch an hour later",
        &send(&http, addr, "GET", "/launch", "").await?,
    );
    service.flush_clicks().await;
    println!(
        "clicks on {} after the flush: {}, dropped: {}",
        code.code,
        service.clicks(&code.code).await?,
        service.dropped_clicks()
    );
    service.stop().await;
    Ok(())
}

fn main() {
    let redis = support::redis::client_or_exit("url_shortener");
    let _ = support::pg::connect_or_exit("url_shortener");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if let Err(error) = runtime.block_on(demo(redis)) {
        eprintln!("url_shortener: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base62_is_seven_characters_in_order() {
        assert_eq!(base62(0), "0000000");
        assert_eq!(base62(61), "000000z");
        assert_eq!(base62(62), "0000010");
        assert_eq!(base62(SPACE - 1), "zzzzzzz");
    }

    #[test]
    fn the_permutation_is_a_bijection_on_a_small_domain() {
        for domain in [1, 2, 1000, 62 * 62, 5000] {
            let p = Permutation::new(b"k", domain);
            let mut seen = vec![false; domain as usize];
            for x in 0..domain {
                let y = p.forward(x).unwrap();
                assert!(y < domain);
                assert!(!seen[y as usize], "{y} hit twice in {domain}");
                seen[y as usize] = true;
                assert_eq!(p.backward(y), Some(x));
            }
            assert_eq!(p.forward(domain), None);
        }
    }

    #[test]
    fn another_key_gives_other_codes() {
        let a = Permutation::new(b"key one", SPACE);
        let b = Permutation::new(b"key two", SPACE);
        let differ = (1..=100).filter(|&i| a.forward(i) != b.forward(i));
        assert_eq!(differ.count(), 100);
    }

    proptest! {
        #[test]
        fn forward_then_backward_is_the_identity(x in 0..SPACE) {
            let p = Permutation::new(b"demo", SPACE);
            let y = p.forward(x).unwrap();
            prop_assert!(y < SPACE);
            prop_assert_eq!(p.backward(y), Some(x));
        }

        #[test]
        fn consecutive_ids_do_not_give_neighbouring_codes(x in 0..SPACE - 1) {
            let p = Permutation::new(b"demo", SPACE);
            let (a, b) = (p.forward(x).unwrap(), p.forward(x + 1).unwrap());
            // Neighbours would differ by 1; 62^4 apart means the first
            // three characters differ too, almost always.
            prop_assert!(a.abs_diff(b) > 1);
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://example.com").is_ok());
        assert!(check_url("HTTP://example.com:8080/a?b#c").is_ok());
        let refused = [
            ("javascript:alert(1)", "Scheme"),
            ("data:text/html,hi", "Scheme"),
            ("ftp://example.com", "Scheme"),
            ("example.com", "Scheme"),
            ("https:example.com", "BadHost"),
            ("https://", "BadHost"),
            ("https://:80/x", "BadHost"),
            ("https://bank.com@evil.example/", "BadHost"),
            ("https://exa mple.com", "BadChar"),
            ("https://example.com/\n", "BadChar"),
        ];
        for (url, kind) in refused {
            let error = format!("{:?}", check_url(url).unwrap_err());
            assert!(error.starts_with(kind), "{url}: {error}");
        }
        let long = format!("https://e.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(matches!(check_url(&long), Err(ShortenError::TooLong(_))));
    }

    #[test]
    fn aliases_are_checked() {
        assert!(check_alias("launch-2027_a").is_ok());
        for bad in ["abc", "a/b/c", "ünïcode", "api links", &"a".repeat(33)] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }

    async fn start(test: &str, config: Config) -> Option<(Service, Http)> {
        let redis = support::redis::client_in_test(test)?;
        support::skip::in_test(test, "PostgreSQL", connect_pg().await)?;
        let service = Service::start(config, Some(redis)).await.unwrap();
        Some((service, http_client()))
    }

    fn manual() -> (Arc<AtomicU64>, Clock) {
        let ms = Arc::new(AtomicU64::new(DEMO_START_MS));
        (ms.clone(), Clock::Manual(ms))
    }

    async fn create_ok(s: &Service, http: &Http, body: String) -> Created {
        let r = send(http, s.addr, "POST", "/api/links", &body)
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    #[tokio::test]
    async fn create_then_redirect_with_302() {
        let (_, clock) = manual();
        let Some((s, http)) = start("redirect", Config::new(true, clock)).await
        else {
            return;
        };
        let created = create_ok(
            &s,
            &http,
            create_body("https://example.com/x", None, None),
        )
        .await;
        let p = Permutation::new(&Config::new(true, Clock::System).key, SPACE);
        assert_eq!(created.code, base62(p.forward(1).unwrap()));
        let path = format!("/{}", created.code);
        assert!(!s.is_cached(&created.code).await);
        let r = send(&http, s.addr, "GET", &path, "").await.unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.location.as_deref(), Some("https://example.com/x"));
        assert!(
            s.is_cached(&created.code).await,
            "the miss filled the cache"
        );
        let r = send(&http, s.addr, "GET", &path, "").await.unwrap();
        assert_eq!(r.location.as_deref(), Some("https://example.com/x"));
        s.stop().await;
    }

    #[tokio::test]
    async fn bad_input_gets_a_status_and_a_reason() {
        let (_, clock) = manual();
        let Some((s, http)) =
            start("bad input", Config::new(true, clock)).await
        else {
            return;
        };
        let post = |body: String| {
            let http = http.clone();
            let addr = s.addr;
            async move {
                send(&http, addr, "POST", "/api/links", &body)
                    .await
                    .unwrap()
            }
        };
        let cases = [
            (
                create_body("file:///etc/passwd", None, None),
                422,
                "only http and https URLs",
            ),
            (
                create_body(
                    &format!("https://e.com/{}", "a".repeat(2100)),
                    None,
                    None,
                ),
                422,
                "limit is 2048",
            ),
            (
                create_body("https://e.com", Some("a b"), None),
                422,
                "an alias is",
            ),
            (
                create_body("https://e.com", None, Some(0)),
                422,
                "expires_in_s",
            ),
            ("{\"url\": 5}".to_string(), 422, "invalid type"),
            ("not json".to_string(), 400, "JSON"),
            (
                format!("{{\"url\": \"https://e.com/{}\"}}", "a".repeat(9000)),
                413,
                "",
            ),
        ];
        for (body, status, reason) in cases {
            let r = post(body).await;
            assert_eq!(r.status, status, "{}", r.body);
            assert!(r.body.contains(reason), "{}", r.body);
        }
        // Nothing was stored by the refused requests.
        let rows = s
            .admin
            .query_one(&format!("SELECT count(*) FROM {}", s.app.table), &[])
            .await
            .unwrap();
        assert_eq!(rows.get::<_, i64>(0), 0);
        s.stop().await;
    }

    #[tokio::test]
    async fn a_taken_alias_is_409_and_keeps_its_url() {
        let (_, clock) = manual();
        let Some((s, http)) = start("alias", Config::new(true, clock)).await
        else {
            return;
        };
        create_ok(
            &s,
            &http,
            create_body("https://one.example", Some("promo"), None),
        )
        .await;
        let r = send(
            &http,
            s.addr,
            "POST",
            "/api/links",
            &create_body("https://two.example", Some("promo"), None),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 409);
        assert!(r.body.contains("is taken"), "{}", r.body);
        let r = send(&http, s.addr, "GET", "/promo", "").await.unwrap();
        assert_eq!(r.location.as_deref(), Some("https://one.example"));
        s.stop().await;
    }

    #[tokio::test]
    async fn a_generated_code_skips_an_alias_that_took_it() {
        let (_, clock) = manual();
        let config = Config::new(true, clock);
        let p = Permutation::new(&config.key, SPACE);
        let Some((s, http)) = start("alias collision", config).await else {
            return;
        };
        // The alias takes id 1; the next create draws id 2, whose code the
        // alias already holds, so it moves on to id 3.
        let squatted = base62(p.forward(2).unwrap());
        create_ok(
            &s,
            &http,
            create_body("https://alias.example", Some(&squatted), None),
        )
        .await;
        let created = create_ok(
            &s,
            &http,
            create_body("https://gen.example", None, None),
        )
        .await;
        assert_eq!(created.code, base62(p.forward(3).unwrap()));
        let r = send(&http, s.addr, "GET", &format!("/{squatted}"), "")
            .await
            .unwrap();
        assert_eq!(r.location.as_deref(), Some("https://alias.example"));
        s.stop().await;
    }

    #[tokio::test]
    async fn unknown_is_404_and_cached_then_forgotten_on_create() {
        let (_, clock) = manual();
        let Some((s, http)) = start("unknown", Config::new(true, clock)).await
        else {
            return;
        };
        for path in ["/later1", "/no", "/%2e%2e%2fetc"] {
            let r = send(&http, s.addr, "GET", path, "").await.unwrap();
            assert_eq!(r.status, 404, "{path}");
            assert!(r.body.contains("no short link"), "{}", r.body);
        }
        assert!(s.is_cached("later1").await, "\"no such code\" is cached");
        create_ok(
            &s,
            &http,
            create_body("https://later.example", Some("later1"), None),
        )
        .await;
        let r = send(&http, s.addr, "GET", "/later1", "").await.unwrap();
        assert_eq!(r.status, 302, "the negative entry was deleted");
        s.stop().await;
    }

    #[tokio::test]
    async fn expired_is_410_from_the_cache_and_from_the_database() {
        for cache in [true, false] {
            let (ms, clock) = manual();
            let Some((s, http)) =
                start("expiry", Config::new(cache, clock)).await
            else {
                return;
            };
            let c = create_ok(
                &s,
                &http,
                create_body("https://e.com", None, Some(60)),
            )
            .await;
            assert_eq!(c.expires_at_ms, Some(DEMO_START_MS as i64 + 60_000));
            let path = format!("/{}", c.code);
            let r = send(&http, s.addr, "GET", &path, "").await.unwrap();
            assert_eq!(r.status, 302);
            assert_eq!(s.is_cached(&c.code).await, cache);
            ms.fetch_add(60_000, Ordering::SeqCst);
            let r = send(&http, s.addr, "GET", &path, "").await.unwrap();
            assert_eq!(r.status, 410, "cache {cache}");
            assert!(r.body.contains("has expired"), "{}", r.body);
            s.stop().await;
        }
    }

    #[tokio::test]
    async fn clicks_are_buffered_off_the_redirect_path_and_none_are_lost() {
        let (_, clock) = manual();
        let mut config = Config::new(true, clock);
        config.flush_every = Duration::from_secs(3600); // only when asked
        let Some((s, http)) = start("clicks", config).await else {
            return;
        };
        let a =
            create_ok(&s, &http, create_body("https://a.example", None, None))
                .await;
        let b =
            create_ok(&s, &http, create_body("https://b.example", None, None))
                .await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (http, addr) = (http.clone(), s.addr);
            let code = if i % 4 == 0 {
                b.code.clone()
            } else {
                a.code.clone()
            };
            tasks.push(tokio::spawn(async move {
                send(&http, addr, "GET", &format!("/{code}"), "")
                    .await
                    .unwrap()
                    .status
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 302);
        }
        assert_eq!(s.clicks(&a.code).await.unwrap(), 0, "nothing written yet");
        s.flush_clicks().await;
        assert_eq!(s.clicks(&a.code).await.unwrap(), 150);
        assert_eq!(s.clicks(&b.code).await.unwrap(), 50);
        assert_eq!(s.dropped_clicks(), 0);
        s.stop().await;
    }

    #[tokio::test]
    async fn a_full_click_buffer_drops_clicks_but_never_a_redirect() {
        let (_, clock) = manual();
        let mut config = Config::new(true, clock);
        config.click_buffer = 1;
        config.flush_every = Duration::from_secs(3600);
        let Some((s, http)) = start("full buffer", config).await else {
            return;
        };
        let a =
            create_ok(&s, &http, create_body("https://a.example", None, None))
                .await;
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (http, addr, code) = (http.clone(), s.addr, a.code.clone());
            tasks.push(tokio::spawn(async move {
                send(&http, addr, "GET", &format!("/{code}"), "")
                    .await
                    .unwrap()
                    .status
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 302);
        }
        s.flush_clicks().await;
        let counted = s.clicks(&a.code).await.unwrap() as u64;
        assert_eq!(
            counted + s.dropped_clicks(),
            100,
            "each click counted or reported"
        );
        s.stop().await;
    }

    #[tokio::test]
    async fn without_the_cache_redis_is_never_used() {
        let (_, clock) = manual();
        let Some((s, http)) =
            start("no cache", Config::new(false, clock)).await
        else {
            return;
        };
        let c = create_ok(&s, &http, create_body("https://e.com", None, None))
            .await;
        let r = send(&http, s.addr, "GET", &format!("/{}", c.code), "")
            .await
            .unwrap();
        assert_eq!(r.status, 302);
        assert!(!s.is_cached(&c.code).await);
        s.stop().await;
    }
}
