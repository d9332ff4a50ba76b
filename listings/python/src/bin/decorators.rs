//! 1.4 Decorators in Rust: higher-order functions, and tower middleware on axum.
//!
//! Python's `@decorator` is a function that takes a callable and returns one.
//! Rust has no `@` syntax, but the same idea appears twice here:
//! - Plain higher-order functions: `with_auth(role, handler)` returns a new
//!   handler that checks a Bearer token first; `logged` records entry and
//!   exit; `Memoized` caches results by argument and counts hits and misses.
//! - tower middleware: `RequireRoleLayer` and `CacheLayer` implement
//!   `tower::Layer` and `tower::Service` by hand and wrap real axum routes.
//!   `ServiceBuilder` lists them top to bottom, in the order a request meets
//!   them, as stacked Python decorators read.
//!
//! Semantics chosen (the same as the Python listing): tokens and roles live in
//! a fixed table; `Admin` outranks `Reader`. A request without an
//! `Authorization` header, or with another scheme, carries no Bearer
//! credentials: 401 with `WWW-Authenticate: Bearer realm="api"` and no error
//! code (RFC 6750 section 3.1). An unknown, empty or non-text token: 401 with
//! `error="invalid_token"`. A known token with too low a role: 403 with
//! `error="insufficient_scope"`. The cache stores successful GET responses by
//! URI and sits inside the auth check, so it never answers an unchecked
//! request; a response too large to buffer (over 64 KiB, or of unknown
//! length) passes through uncached. `POST /admin/notes` reads at most 64 KiB
//! of request body (axum's `DefaultBodyLimit`, inside auth): one byte more is
//! 413 Content Too Large (RFC 9110 section 15.5.14) with a body naming the
//! limit.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, Extension, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::{Layer, Service, ServiceBuilder};

// ANCHOR: auth_types
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Reader,
    Admin,
}

impl Role {
    fn scope(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: &'static str,
    pub role: Role,
}

/// Why a request was refused. Each variant maps to the status and the
/// `WWW-Authenticate` challenge that RFC 6750 section 3 asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    MissingCredentials,
    InvalidToken,
    InsufficientRole { required: Role },
}

impl AuthError {
    pub fn status(self) -> StatusCode {
        match self {
            AuthError::MissingCredentials | AuthError::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            AuthError::InsufficientRole { .. } => StatusCode::FORBIDDEN,
        }
    }

    pub fn challenge(self) -> String {
        const REALM: &str = r#"Bearer realm="api""#;
        match self {
            // No credentials at all: no error code (RFC 6750 section 3.1).
            AuthError::MissingCredentials => REALM.to_string(),
            AuthError::InvalidToken => {
                format!(r#"{REALM}, error="invalid_token""#)
            }
            AuthError::InsufficientRole { required } => format!(
                r#"{REALM}, error="insufficient_scope", scope="{}""#,
                required.scope()
            ),
        }
    }
}

// ANCHOR_END: auth_types

// ANCHOR: auth_check
impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingCredentials => write!(f, "no Bearer credentials"),
            AuthError::InvalidToken => write!(f, "unknown or malformed token"),
            AuthError::InsufficientRole { required } => {
                write!(f, "role {} required", required.scope())
            }
        }
    }
}

impl std::error::Error for AuthError {}

fn lookup_token(token: &str) -> Option<Principal> {
    match token {
        "alice-token" => Some(Principal {
            user: "alice",
            role: Role::Admin,
        }),
        "bob-token" => Some(Principal {
            user: "bob",
            role: Role::Reader,
        }),
        _ => None,
    }
}

/// What the request carried in its `Authorization` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization<'a> {
    Absent,
    Text(&'a str),
    /// Present, but not visible ASCII, so no token can be read from it.
    NotText,
}

/// The whole decision, shared by the closure and the tower versions.
pub fn check(
    authorization: Authorization<'_>,
    required: Role,
) -> Result<Principal, AuthError> {
    let value = match authorization {
        Authorization::Text(value) => value,
        Authorization::Absent => return Err(AuthError::MissingCredentials),
        Authorization::NotText => return Err(AuthError::InvalidToken),
    };
    let Some(token) = value.strip_prefix("Bearer ") else {
        // Another scheme (Basic, ...) carries no Bearer credentials at all.
        return Err(AuthError::MissingCredentials);
    };
    let principal =
        lookup_token(token.trim()).ok_or(AuthError::InvalidToken)?;
    if principal.role < required {
        return Err(AuthError::InsufficientRole { required });
    }
    Ok(principal)
}
// ANCHOR_END: auth_check

// ---------------------------------------------------------------------------
// Part 1: decorators as higher-order functions over a framework-free request.

#[derive(Clone, Debug, Default)]
pub struct PlainRequest {
    pub path: String,
    /// Header names are stored lowercase.
    pub headers: BTreeMap<String, String>,
}

impl PlainRequest {
    pub fn get(path: &str, token: Option<&str>) -> Self {
        let mut headers = BTreeMap::new();
        if let Some(token) = token {
            headers
                .insert("authorization".to_string(), format!("Bearer {token}"));
        }
        PlainRequest {
            path: path.to_string(),
            headers,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainResponse {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub body: String,
}

impl PlainResponse {
    pub fn ok(body: impl Into<String>) -> Self {
        PlainResponse {
            status: 200,
            www_authenticate: None,
            body: body.into(),
        }
    }

    fn refused(error: AuthError) -> Self {
        PlainResponse {
            status: error.status().as_u16(),
            www_authenticate: Some(error.challenge()),
            body: error.to_string(),
        }
    }
}

// ANCHOR: with_auth
/// `@requires_role(role)` as a function: takes a handler that needs a
/// principal and returns a handler that takes only the request.
pub fn with_auth<H>(
    required: Role,
    handler: H,
) -> impl Fn(&PlainRequest) -> PlainResponse
where
    H: Fn(&PlainRequest, &Principal) -> PlainResponse,
{
    move |request| {
        let authorization = match request.header("Authorization") {
            Some(value) => Authorization::Text(value),
            None => Authorization::Absent,
        };
        match check(authorization, required) {
            Ok(principal) => handler(request, &principal),
            Err(refusal) => PlainResponse::refused(refusal),
        }
    }
}

/// A cross-cutting concern that knows nothing about auth: log entry and exit.
pub fn logged<H>(
    label: &'static str,
    log: Rc<RefCell<Vec<String>>>,
    handler: H,
) -> impl Fn(&PlainRequest) -> PlainResponse
where
    H: Fn(&PlainRequest) -> PlainResponse,
{
    move |request| {
        log.borrow_mut().push(format!("enter {label}"));
        let response = handler(request);
        log.borrow_mut()
            .push(format!("exit {label} {}", response.status));
        response
    }
}
// ANCHOR_END: with_auth

fn report_handler(
    _request: &PlainRequest,
    principal: &Principal,
) -> PlainResponse {
    PlainResponse::ok(format!("quarterly report for {}", principal.user))
}

// ANCHOR: memoize
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheInfo {
    pub hits: u64,
    pub misses: u64,
    pub size: usize,
}

/// `functools.cache` as a value: the wrapped function plus its cache.
pub struct Memoized<A, R, F> {
    func: F,
    cache: HashMap<A, R>,
    hits: u64,
    misses: u64,
}

pub fn memoize<A, R, F>(func: F) -> Memoized<A, R, F>
where
    A: Eq + Hash + Clone,
    R: Clone,
    F: FnMut(&A) -> R,
{
    Memoized {
        func,
        cache: HashMap::new(),
        hits: 0,
        misses: 0,
    }
}

impl<A, R, F> Memoized<A, R, F>
where
    A: Eq + Hash + Clone,
    R: Clone,
    F: FnMut(&A) -> R,
{
    pub fn call(&mut self, arg: A) -> R {
        if let Some(result) = self.cache.get(&arg) {
            self.hits += 1;
            return result.clone();
        }
        self.misses += 1;
        let result = (self.func)(&arg);
        self.cache.insert(arg, result.clone());
        result
    }

    pub fn info(&self) -> CacheInfo {
        CacheInfo {
            hits: self.hits,
            misses: self.misses,
            size: self.cache.len(),
        }
    }
}
// ANCHOR_END: memoize

// ---------------------------------------------------------------------------
// Part 2: the same concerns as tower middleware around axum routes.

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

fn refusal_response(refusal: AuthError) -> Response {
    let mut response = (refusal.status(), refusal.to_string()).into_response();
    if let Ok(challenge) = HeaderValue::from_str(&refusal.challenge()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

fn authorization_header(headers: &HeaderMap) -> Authorization<'_> {
    match headers.get(header::AUTHORIZATION).map(HeaderValue::to_str) {
        None => Authorization::Absent,
        Some(Ok(value)) => Authorization::Text(value),
        Some(Err(_)) => Authorization::NotText,
    }
}

// ANCHOR: auth_layer
#[derive(Clone, Copy, Debug)]
pub struct RequireRoleLayer {
    required: Role,
}

impl RequireRoleLayer {
    pub fn new(required: Role) -> Self {
        RequireRoleLayer { required }
    }
}

impl<S> Layer<S> for RequireRoleLayer {
    type Service = RequireRole<S>;

    // The decorator: takes the inner service, returns the wrapped one.
    fn layer(&self, inner: S) -> Self::Service {
        RequireRole {
            inner,
            required: self.required,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RequireRole<S> {
    inner: S,
    required: Role,
}

impl<S> Service<Request> for RequireRole<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    // The wrapper: runs on every request.
    fn call(&mut self, mut request: Request) -> Self::Future {
        match check(authorization_header(request.headers()), self.required) {
            Ok(principal) => {
                // Hand the user to the handler, as FastAPI's Depends would.
                request.extensions_mut().insert(principal);
                Box::pin(self.inner.call(request))
            }
            Err(refusal) => {
                let response = refusal_response(refusal);
                Box::pin(async move { Ok(response) })
            }
        }
    }
}
// ANCHOR_END: auth_layer

// ANCHOR: cache_layer
/// Largest response body the cache will buffer; larger ones pass through.
const MAX_CACHED_BODY: usize = 64 * 1024;

#[derive(Clone)]
struct CachedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl CachedResponse {
    fn to_response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

#[derive(Default)]
struct CacheStore {
    entries: Mutex<HashMap<String, CachedResponse>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheStore {
    /// The entries, even if a thread panicked while holding the lock.
    fn entries(&self) -> MutexGuard<'_, HashMap<String, CachedResponse>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Caches successful GET responses by URI. Clones share one store.
#[derive(Clone, Default)]
pub struct CacheLayer {
    store: Arc<CacheStore>,
}

impl CacheLayer {
    pub fn info(&self) -> (u64, u64) {
        (
            self.store.hits.load(Ordering::SeqCst),
            self.store.misses.load(Ordering::SeqCst),
        )
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = Cache<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cache {
            inner,
            store: Arc::clone(&self.store),
        }
    }
}

// ANCHOR_END: cache_layer

// ANCHOR: cache_service
#[derive(Clone)]
pub struct Cache<S> {
    inner: S,
    store: Arc<CacheStore>,
}

impl<S> Service<Request> for Cache<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() != Method::GET {
            return Box::pin(self.inner.call(request));
        }
        let key = request.uri().to_string();
        let entries = self.store.entries();
        if let Some(hit) = entries.get(&key) {
            self.store.hits.fetch_add(1, Ordering::SeqCst);
            let response = hit.to_response();
            return Box::pin(async move { Ok(response) });
        }
        drop(entries);
        self.store.misses.fetch_add(1, Ordering::SeqCst);
        // `self.inner` was polled ready; take it and leave a fresh clone
        // behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let store = Arc::clone(&self.store);
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(keep_if_small(response, key, &store).await)
        })
    }
}
// ANCHOR_END: cache_service

// ANCHOR: keep_if_small
/// Stores a 200 whose body is known to fit. Anything else (an error, a
/// large or streamed body) passes through untouched and uncached: a cache
/// must never turn a good response into a failure.
async fn keep_if_small(
    response: Response,
    key: String,
    store: &CacheStore,
) -> Response {
    // `upper()` is None for a streamed body of unknown length.
    let size = response.body().size_hint().upper();
    if response.status() != StatusCode::OK
        || size.is_none_or(|n| n > MAX_CACHED_BODY as u64)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_CACHED_BODY).await else {
        // The handler's own body failed part-way: a server error.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let cached = CachedResponse {
        status: parts.status,
        headers: parts.headers.clone(),
        body: bytes.clone(),
    };
    store.entries().insert(key, cached);
    Response::from_parts(parts, Body::from(bytes))
}
// ANCHOR_END: keep_if_small

// ANCHOR: router
#[derive(Clone, Default)]
pub struct AppState {
    /// How many times the report handler really ran.
    pub report_runs: Arc<AtomicU64>,
}

async fn admin_report(State(state): State<AppState>) -> String {
    let run = state.report_runs.fetch_add(1, Ordering::SeqCst) + 1;
    format!("quarterly report (generated {run} time(s))")
}

async fn me(Extension(principal): Extension<Principal>) -> String {
    format!("hello, {}", principal.user)
}

pub fn app(state: AppState, cache: CacheLayer) -> Router {
    Router::new()
        .route("/me", get(me).layer(RequireRoleLayer::new(Role::Reader)))
        .route(
            "/admin/report",
            // Read top to bottom like stacked decorators: auth, then cache.
            get(admin_report).layer(
                ServiceBuilder::new()
                    .layer(RequireRoleLayer::new(Role::Admin))
                    .layer(cache),
            ),
        )
        .route(
            "/admin/notes",
            // Auth first, so an anonymous client's body is never read.
            post(add_note).layer(
                ServiceBuilder::new()
                    .layer(RequireRoleLayer::new(Role::Admin))
                    .layer(DefaultBodyLimit::max(MAX_NOTE_BYTES)),
            ),
        )
        .with_state(state)
}
// ANCHOR_END: router

// ANCHOR: body_limit
/// Largest request body `/admin/notes` reads: 64 KiB.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// `DefaultBodyLimit` caps what the `Bytes` extractor will buffer; going
/// over is the client's fault, so it is 413 Content Too Large (RFC 9110
/// section 15.5.14) with a body that says what the limit is.
async fn add_note(body: Result<Bytes, BytesRejection>) -> Response {
    match body {
        Ok(note) => {
            format!("stored a note of {} bytes", note.len()).into_response()
        }
        Err(BytesRejection::FailedToBufferBody(
            FailedToBufferBody::LengthLimitError(_),
        )) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is over the {MAX_NOTE_BYTES}-byte limit"),
        )
            .into_response(),
        // Any other failure to read the body keeps axum's own answer.
        Err(other) => other.into_response(),
    }
}
// ANCHOR_END: body_limit

// ---------------------------------------------------------------------------
// A real server on loopback and a minimal HTTP/1.1 client.

#[derive(Debug)]
pub enum ClientError {
    Io(std::io::Error),
    Malformed(&'static str),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
            ClientError::Malformed(why) => {
                write!(f, "malformed HTTP response: {why}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse_reply(raw: &[u8]) -> Result<HttpReply, ClientError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| ClientError::Malformed("not UTF-8"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(ClientError::Malformed("no end of headers"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut fields = status_line.split(' ');
    if !fields
        .next()
        .is_some_and(|version| version.starts_with("HTTP/1."))
    {
        return Err(ClientError::Malformed("no HTTP/1.x status line"));
    }
    let status = fields
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..=999).contains(code))
        .ok_or(ClientError::Malformed("bad status code"))?;
    let headers = lines
        .map(|line| {
            line.split_once(':')
                .map(|(name, value)| {
                    (name.trim().to_ascii_lowercase(), value.trim().to_string())
                })
                .ok_or(ClientError::Malformed("header line without a colon"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpReply {
        status,
        headers,
        body: body.to_string(),
    })
}

// ANCHOR: client
/// One request over a fresh connection; `Connection: close` lets us read
/// the reply to EOF.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<HttpReply, ClientError> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_reply(&raw)
}

pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> Result<HttpReply, ClientError> {
    http_request(addr, "GET", path, token, b"").await
}

// ANCHOR_END: client

// ANCHOR: server
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Serve `app` on 127.0.0.1 at a port the OS picks.
pub async fn serve_on_loopback(app: Router) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = signal.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        shutdown,
        task,
    })
}

impl RunningServer {
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}
// ANCHOR_END: server

// ANCHOR: main_functions
/// Part 1: the decorators as plain higher-order functions.
fn decorate_functions() {
    println!("higher-order functions, with_auth(Admin, report_handler):");
    let endpoint = with_auth(Role::Admin, report_handler);
    for (label, token) in [
        ("no token", None),
        ("unknown token", Some("nope")),
        ("reader's token", Some("bob-token")),
        ("admin's token", Some("alice-token")),
    ] {
        let response = endpoint(&PlainRequest::get("/admin/report", token));
        // A refusal shows its challenge, a success its body.
        let detail = response
            .www_authenticate
            .as_deref()
            .unwrap_or(&response.body);
        println!("  {label:<15} -> {}  {detail}", response.status);
    }

    let log = Rc::new(RefCell::new(Vec::new()));
    let log_outside = logged(
        "log",
        Rc::clone(&log),
        with_auth(Role::Admin, report_handler),
    );
    log_outside(&PlainRequest::get("/admin/report", None));
    println!("logged(with_auth(h)), anonymous: {:?}", log.borrow());

    let mut lookups = 0;
    let mut price = memoize(|sku: &&str| {
        lookups += 1;
        sku.len() as u64 * 100
    });
    let prices: Vec<u64> = ["tea", "coffee", "tea", "tea", "milk"]
        .into_iter()
        .map(|sku| price.call(sku))
        .collect();
    let info = price.info();
    drop(price); // releases its borrow of `lookups`
    println!(
        "memoized prices {prices:?}: hits={} misses={} size={}, \
         lookups={lookups}",
        info.hits, info.misses, info.size
    );
}
// ANCHOR_END: main_functions

// ANCHOR: main
/// Part 2: the same concerns as tower layers, over real HTTP.
async fn decorate_routes() -> Result<(), ClientError> {
    println!("tower layers on axum routes, over HTTP on 127.0.0.1:");
    let state = AppState::default();
    let cache = CacheLayer::default();
    let server = serve_on_loopback(app(state.clone(), cache.clone())).await?;
    for (path, label, token) in [
        ("/admin/report", "no token", None),
        ("/admin/report", "unknown token", Some("nope")),
        ("/admin/report", "reader", Some("bob-token")),
        ("/admin/report", "admin", Some("alice-token")),
        ("/admin/report", "admin again", Some("alice-token")),
        ("/me", "reader", Some("bob-token")),
    ] {
        let reply = http_get(server.addr, path, token).await?;
        println!(
            "  GET {path:<13} {label:<13} -> {}  {}",
            reply.status, reply.body
        );
    }
    let (hits, misses) = cache.info();
    println!(
        "report handler ran {} time(s); cache hits={hits} misses={misses}",
        state.report_runs.load(Ordering::SeqCst)
    );
    println!("body limit on POST /admin/notes, as admin:");
    for size in [MAX_NOTE_BYTES, MAX_NOTE_BYTES + 1] {
        let note = vec![b'n'; size];
        let (addr, token) = (server.addr, Some("alice-token"));
        let reply =
            http_request(addr, "POST", "/admin/notes", token, &note).await?;
        println!("  {size} bytes -> {}  {}", reply.status, reply.body);
    }
    server.stop().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    decorate_functions();
    decorate_routes().await
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn plain(token: Option<&str>) -> PlainResponse {
        with_auth(Role::Admin, report_handler)(&PlainRequest::get(
            "/admin/report",
            token,
        ))
    }

    #[test]
    fn closure_decorator_maps_each_case_to_its_status_and_challenge() {
        let missing = plain(None);
        assert_eq!(missing.status, 401);
        assert_eq!(
            missing.www_authenticate.as_deref(),
            Some(r#"Bearer realm="api""#)
        );
        let unknown = plain(Some("nope"));
        assert_eq!(unknown.status, 401);
        assert_eq!(
            unknown.www_authenticate.as_deref(),
            Some(r#"Bearer realm="api", error="invalid_token""#)
        );
        let reader = plain(Some("bob-token"));
        assert_eq!(reader.status, 403);
        assert_eq!(
            reader.www_authenticate.as_deref(),
            Some(
                r#"Bearer realm="api", error="insufficient_scope", scope="admin""#
            )
        );
        assert_eq!(
            plain(Some("alice-token")),
            PlainResponse::ok("quarterly report for alice")
        );
    }

    #[test]
    fn check_rejects_other_schemes_empty_and_non_text_tokens() {
        assert_eq!(
            check(Authorization::Text("Basic YWxpY2U6cHc="), Role::Reader),
            Err(AuthError::MissingCredentials)
        );
        assert_eq!(
            check(Authorization::Text("Bearer"), Role::Reader),
            Err(AuthError::MissingCredentials)
        );
        assert_eq!(
            check(Authorization::Text("Bearer "), Role::Reader),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            check(Authorization::NotText, Role::Reader),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            check(Authorization::Text("Bearer  alice-token "), Role::Admin)
                .map(|p| p.user),
            Ok("alice")
        );
        // Admin outranks Reader.
        assert_eq!(
            check(Authorization::Text("Bearer alice-token"), Role::Reader)
                .map(|p| p.role),
            Ok(Role::Admin)
        );
    }

    #[test]
    fn wrapping_order_decides_what_the_outer_layer_sees() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let outer = logged(
            "outer",
            Rc::clone(&log),
            logged("inner", Rc::clone(&log), |_r: &PlainRequest| {
                PlainResponse::ok("x")
            }),
        );
        outer(&PlainRequest::get("/", None));
        assert_eq!(
            *log.borrow(),
            [
                "enter outer",
                "enter inner",
                "exit inner 200",
                "exit outer 200"
            ]
        );

        log.borrow_mut().clear();
        let log_outside = logged(
            "log",
            Rc::clone(&log),
            with_auth(Role::Admin, report_handler),
        );
        assert_eq!(log_outside(&PlainRequest::get("/", None)).status, 401);
        assert_eq!(*log.borrow(), ["enter log", "exit log 401"]);
    }

    #[test]
    fn memoize_counts_hits_and_misses_and_calls_through_once_per_key() {
        let mut calls = Vec::new();
        let mut square = memoize(|x: &i32| {
            calls.push(*x);
            x * x
        });
        let results: Vec<i32> = [3, 4, 3, 3, 5]
            .into_iter()
            .map(|x| square.call(x))
            .collect();
        assert_eq!(results, [9, 16, 9, 9, 25]);
        assert_eq!(
            square.info(),
            CacheInfo {
                hits: 2,
                misses: 3,
                size: 3
            }
        );
        drop(square);
        assert_eq!(calls, [3, 4, 5]);
    }

    async fn send(
        app: &Router,
        path: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, Option<String>, String) {
        let request = Request::builder().uri(path);
        send_request(app, request, authorization, Body::empty()).await
    }

    async fn post(
        app: &Router,
        path: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Option<String>, String) {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_LENGTH, body.len());
        send_request(app, request, authorization, Body::from(body)).await
    }

    async fn send_request(
        app: &Router,
        mut builder: axum::http::request::Builder,
        authorization: Option<&str>,
        body: Body,
    ) -> (StatusCode, Option<String>, String) {
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let request = builder.body(body).expect("valid request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            challenge,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn layer_answers_401_403_200() {
        let app = app(AppState::default(), CacheLayer::default());
        let (status, challenge, _) = send(&app, "/admin/report", None).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="api""#))
        );
        let (status, challenge, _) =
            send(&app, "/admin/report", Some("Bearer nope")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            challenge.is_some_and(|c| c.contains(r#"error="invalid_token""#))
        );
        let (status, challenge, _) =
            send(&app, "/admin/report", Some("Bearer bob-token")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            challenge
                .is_some_and(|c| c.contains(r#"error="insufficient_scope""#))
        );
        let (status, challenge, body) =
            send(&app, "/admin/report", Some("Bearer alice-token")).await;
        assert_eq!((status, challenge), (StatusCode::OK, None));
        assert_eq!(body, "quarterly report (generated 1 time(s))");
    }

    #[tokio::test]
    async fn layer_passes_the_principal_to_the_handler() {
        let app = app(AppState::default(), CacheLayer::default());
        assert_eq!(
            send(&app, "/me", Some("Bearer bob-token")).await.2,
            "hello, bob"
        );
        assert_eq!(send(&app, "/me", None).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn non_text_authorization_header_is_an_invalid_token() {
        let app = app(AppState::default(), CacheLayer::default());
        let request = Request::builder()
            .uri("/me")
            .header(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(b"Bearer \xff")
                    .expect("opaque bytes are allowed"),
            )
            .body(Body::empty())
            .expect("valid request");
        let response = app.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn cached_handler_runs_once_for_two_identical_requests() {
        let state = AppState::default();
        let cache = CacheLayer::default();
        let app = app(state.clone(), cache.clone());
        let first =
            send(&app, "/admin/report", Some("Bearer alice-token")).await;
        let second =
            send(&app, "/admin/report", Some("Bearer alice-token")).await;
        assert_eq!(first, second);
        assert_eq!(state.report_runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.info(), (1, 1));
        // A different URI is a different key.
        send(&app, "/admin/report?quarter=4", Some("Bearer alice-token")).await;
        assert_eq!(state.report_runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn cache_inside_auth_never_serves_an_unchecked_request() {
        let state = AppState::default();
        let cache = CacheLayer::default();
        let app = app(state.clone(), cache.clone());
        send(&app, "/admin/report", Some("Bearer alice-token")).await;
        let (status, _, body) = send(&app, "/admin/report", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(!body.contains("quarterly"));
        assert_eq!(
            cache.info(),
            (0, 1),
            "the refused request never reached the cache"
        );
    }

    #[tokio::test]
    async fn over_a_real_tcp_socket() {
        let state = AppState::default();
        let server =
            serve_on_loopback(app(state.clone(), CacheLayer::default()))
                .await
                .expect("bind loopback");
        let addr = server.addr;
        let anonymous =
            http_get(addr, "/admin/report", None).await.expect("reply");
        assert_eq!(anonymous.status, 401);
        assert_eq!(
            anonymous.header("www-authenticate"),
            Some(r#"Bearer realm="api""#)
        );
        assert_eq!(
            http_get(addr, "/admin/report", Some("bob-token"))
                .await
                .expect("reply")
                .status,
            403
        );
        let first = http_get(addr, "/admin/report", Some("alice-token"))
            .await
            .expect("reply");
        let second = http_get(addr, "/admin/report", Some("alice-token"))
            .await
            .expect("reply");
        assert_eq!((first.status, second.status), (200, 200));
        assert_eq!(first.body, second.body);
        assert_eq!(state.report_runs.load(Ordering::SeqCst), 1);
        server.stop().await.expect("clean shutdown");
    }

    const ADMIN: Option<&str> = Some("Bearer alice-token");

    #[tokio::test]
    async fn body_limit_accepts_up_to_the_limit_and_answers_413_above_it() {
        let app = app(AppState::default(), CacheLayer::default());
        for size in [0, 1, MAX_NOTE_BYTES - 1, MAX_NOTE_BYTES] {
            let (status, _, body) =
                post(&app, "/admin/notes", ADMIN, vec![b'n'; size]).await;
            assert_eq!(status, StatusCode::OK, "{size} bytes");
            assert_eq!(body, format!("stored a note of {size} bytes"));
        }
        for size in [MAX_NOTE_BYTES + 1, 2 * MAX_NOTE_BYTES, 1 << 20] {
            let (status, _, body) =
                post(&app, "/admin/notes", ADMIN, vec![b'n'; size]).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes");
            assert_eq!(body, "request body is over the 65536-byte limit");
        }
    }

    #[tokio::test]
    async fn body_limit_sits_inside_auth() {
        let app = app(AppState::default(), CacheLayer::default());
        let big = vec![b'n'; MAX_NOTE_BYTES + 1];
        let (status, challenge, _) =
            post(&app, "/admin/notes", None, big.clone()).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="api""#))
        );
        let reader = Some("Bearer bob-token");
        let (status, _, _) = post(&app, "/admin/notes", reader, big).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn body_limit_over_a_real_tcp_socket() {
        let server =
            serve_on_loopback(app(AppState::default(), CacheLayer::default()))
                .await
                .expect("bind loopback");
        let addr = server.addr;
        for (size, status) in [
            (MAX_NOTE_BYTES - 1, 200),
            (MAX_NOTE_BYTES, 200),
            (MAX_NOTE_BYTES + 1, 413),
        ] {
            let note = vec![b'n'; size];
            let token = Some("alice-token");
            let reply =
                http_request(addr, "POST", "/admin/notes", token, &note)
                    .await
                    .expect("reply");
            assert_eq!(reply.status, status, "{size} bytes");
        }
        server.stop().await.expect("clean shutdown");
    }

    #[tokio::test]
    async fn body_limit_applies_without_a_content_length() {
        // A chunked body declares no size up front; the limit still holds.
        let server =
            serve_on_loopback(app(AppState::default(), CacheLayer::default()))
                .await
                .expect("bind loopback");
        for (size, status) in [(MAX_NOTE_BYTES, 200), (MAX_NOTE_BYTES + 1, 413)]
        {
            let mut stream =
                TcpStream::connect(server.addr).await.expect("connect");
            let head = "POST /admin/notes HTTP/1.1\r\nHost: test\r\n\
                 Authorization: Bearer alice-token\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            let mut request = head.as_bytes().to_vec();
            request.extend(format!("{size:x}\r\n").as_bytes());
            request.extend(vec![b'n'; size]);
            request.extend(b"\r\n0\r\n\r\n");
            stream.write_all(&request).await.expect("send");
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.expect("read");
            let reply = parse_reply(&raw).expect("well formed");
            assert_eq!(reply.status, status, "{size} bytes, chunked");
        }
        server.stop().await.expect("clean shutdown");
    }

    #[tokio::test]
    async fn cache_passes_a_large_response_through_uncached() {
        let runs = Arc::new(AtomicU64::new(0));
        let cache = CacheLayer::default();
        let counted = Arc::clone(&runs);
        let app = Router::new().route(
            "/export/{size}",
            get(
                move |axum::extract::Path(size): axum::extract::Path<usize>| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async move { "x".repeat(size) }
                },
            )
            .layer(cache.clone()),
        );
        // Just over the cache's limit: 200 both times, the full body, and
        // the handler runs twice because nothing was stored.
        let over = format!("/export/{}", MAX_CACHED_BODY + 1);
        for _ in 0..2 {
            let (status, _, body) = send(&app, &over, None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body.len(), MAX_CACHED_BODY + 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Exactly at the limit: stored, so the second request is a hit.
        let at = format!("/export/{MAX_CACHED_BODY}");
        for _ in 0..2 {
            let (status, _, body) = send(&app, &at, None).await;
            assert_eq!((status, body.len()), (StatusCode::OK, MAX_CACHED_BODY));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(cache.info(), (1, 3));
    }

    #[test]
    fn parse_reply_rejects_malformed_responses() {
        assert!(matches!(
            parse_reply(b"HTTP/1.1 200 OK\r\n"),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"hello\r\n\r\n"),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"HTTP/1.1 abc OK\r\n\r\n"),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"HTTP/1.1 200 OK\r\nno-colon\r\n\r\n"),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"\xff\r\n\r\n"),
            Err(ClientError::Malformed(_))
        ));
        let reply = parse_reply(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
            .expect("well formed");
        assert_eq!(
            (reply.status, reply.header("x-a"), reply.body.as_str()),
            (204, Some("1"), "")
        );
    }
}
