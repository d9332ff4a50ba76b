//! 3.6 Chat backend: WebSocket servers (axum) that any number of instances
//! can run side by side. Messages are stored in PostgreSQL with a sequence
//! number per conversation, acknowledged after the commit, published on a
//! Redis channel per conversation, and delivered by whichever instance
//! holds the recipient's connection. A client that was away asks for what
//! came after the last sequence it saw. Presence is an expiring Redis key.
//!
//! At the handshake, before the upgrade: a signed token (401 without a
//! valid one) and the `Origin` (403 when a browser page from elsewhere
//! opens the socket). On the connection: a size limit per message (close
//! 1009) and a token bucket per connection (close 1008).
//!
//! `cargo run --bin chat_server` runs a scripted session on two instances
//! (PostgreSQL at `DATABASE_URL`, Redis at `REDIS_URL`);
//! `chat_server serve --schema S --prefix P --secret K --port 0` serves
//! until killed (the Python `websockets` tests use that mode).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

mod client;
mod hub;
mod store;

use hub::Hub;
use store::{Stamped, Store, StoreError};

pub struct Config {
    pub secret: Vec<u8>,
    /// Pages allowed to open a socket; a request without `Origin` (not a
    /// browser) passes, since the token is what authenticates it.
    pub origins: Vec<String>,
    pub max_message_bytes: usize,
    /// Token bucket per connection: a burst, then a steady rate.
    pub burst: f64,
    pub per_second: f64,
    pub presence_ttl: Duration,
}

impl Config {
    pub fn new(secret: &[u8]) -> Config {
        Config {
            secret: secret.to_vec(),
            // Lower case: browsers send the origin serialised that way.
            origins: vec!["https://chat.example".into()],
            max_message_bytes: 4096,
            burst: 10.0,
            per_second: 5.0,
            presence_ttl: Duration::from_secs(30),
        }
    }
}

pub struct App {
    pub cfg: Config,
    pub store: Store,
    pub hub: Arc<Hub>,
}

// ---------------------------------------------------------------------
// Tokens: `user.expiry.signature`, the signature an HMAC-SHA256 of
// `user.expiry` with the server's secret, in unpadded base64url.

// ANCHOR: token
pub fn sign(secret: &[u8], user: &str, expires: u64) -> String {
    let payload = format!("{user}.{expires}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any size");
    mac.update(payload.as_bytes());
    let tag = B64.encode(mac.finalize().into_bytes());
    format!("{payload}.{tag}")
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    Signature,
    #[error("token expired")]
    Expired,
}

/// The user a token names, if its signature holds and it has not expired.
pub fn verify(
    secret: &[u8],
    token: &str,
    now: u64,
) -> Result<String, TokenError> {
    let mut parts = token.rsplitn(3, '.');
    let (Some(tag), Some(expires), Some(user)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let valid_user = (1..=32).contains(&user.len())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let tag = B64.decode(tag).map_err(|_| TokenError::Malformed)?;
    if !valid_user {
        return Err(TokenError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any size");
    mac.update(format!("{user}.{expires}").as_bytes());
    mac.verify_slice(&tag).map_err(|_| TokenError::Signature)?; // constant time
    if now >= expires {
        return Err(TokenError::Expired);
    }
    Ok(user.to_string())
}
// ANCHOR_END: token

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------
// The handshake.

#[derive(Deserialize)]
struct Params {
    token: Option<String>,
}

// ANCHOR: handshake
/// Everything is checked before the 101: a refused client never gets a
/// socket, and the refusal is an HTTP status it can read.
async fn handshake(
    State(app): State<Arc<App>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // RFC 6455, 4.2.2: the origin compares in lower case. A request
    // without one is not from a browser page; its token decides.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| {
            let o = o.to_ascii_lowercase();
            app.cfg.origins.contains(&o)
        });
        if !allowed {
            return (StatusCode::FORBIDDEN, "origin not allowed\n")
                .into_response();
        }
    }
    // A header for clients that can set one; browsers cannot, so they use
    // the query string (keep such URLs out of access logs).
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or(params.token.as_deref()).unwrap_or("");
    let user = match verify(&app.cfg.secret, token, unix_now()) {
        Ok(user) => user,
        Err(e) => return unauthorized(e),
    };
    // The library's own caps, far above ours: a frame whose header
    // announces more is refused before its payload is read (without a
    // close code of our choosing); the default would buffer 16 MiB.
    ws.max_frame_size(64 * 1024)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| session(socket, app, user))
}
// ANCHOR_END: handshake

/// 401 must carry a challenge (RFC 9110, 15.5.2); ours names the scheme.
fn unauthorized(e: TokenError) -> Response {
    let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
    (StatusCode::UNAUTHORIZED, challenge, format!("{e}\n")).into_response()
}

// ---------------------------------------------------------------------
// The protocol: JSON text frames.

#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ClientMsg {
    /// `id` is chosen by the client and reused when it retries.
    Send {
        conv: i64,
        id: String,
        body: String,
    },
    /// What came after `after` (the last sequence the client has).
    Sync {
        conv: i64,
        after: i64,
    },
    Presence {
        users: Vec<String>,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMsg {
    Ready {
        user: String,
        conversations: Vec<i64>,
    },
    Ack {
        conv: i64,
        id: String,
        seq: i64,
        duplicate: bool,
    },
    Msg(Stamped),
    Synced {
        conv: i64,
        last: i64,
        more: bool,
    },
    Presence {
        online: Vec<String>,
    },
    Error {
        error: String,
    },
}

/// Messages per `sync` reply; the client asks again while `more`.
const PAGE: i64 = 100;

// ANCHOR: bucket
/// A token bucket per connection: `burst` messages at once, then
/// `per_second`.
pub struct Bucket {
    tokens: f64,
    at: Instant,
    burst: f64,
    per_second: f64,
}

impl Bucket {
    pub fn new(burst: f64, per_second: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            at: now,
            burst,
            per_second,
        }
    }

    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
// ANCHOR_END: bucket

/// RFC 6455, section 7.4.1.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
}

fn text(msg: &ServerMsg) -> Message {
    // Serialising our own enum cannot fail; an empty object if it did.
    Message::Text(serde_json::to_string(msg).unwrap_or_default().into())
}

// ANCHOR: session
/// How a session ends: the client went away (`None`), or we close it
/// with a code and a reason.
type End = Option<(u16, &'static str)>;

async fn session(mut socket: WebSocket, app: Arc<App>, user: String) {
    let conn: u64 = rand::random();
    let Ok(convs) = app.store.conversations_of(&user).await else {
        return finish(socket, close::INTERNAL_ERROR, "database").await;
    };
    let (outbox, mut inbox) = tokio::sync::mpsc::channel(64);
    if app.hub.join(&user, conn, &convs, outbox).await.is_err() {
        let _ = app.hub.leave(&user, conn, &convs).await;
        return finish(socket, close::INTERNAL_ERROR, "redis").await;
    }
    let ready = ServerMsg::Ready {
        user: user.clone(),
        conversations: convs.clone(),
    };
    let mut end = socket.send(text(&ready)).await.err().map(|_| None);
    let (cfg, now) = (&app.cfg, Instant::now());
    let mut bucket = Bucket::new(cfg.burst, cfg.per_second, now);
    let mut heartbeat = tokio::time::interval(cfg.presence_ttl / 3);
    let mut heard = now; // the last frame from the client, pongs included
    // ANCHOR_END: session
    // ANCHOR: session_loop
    while end.is_none() {
        tokio::select! {
            incoming = socket.recv() => {
                heard = Instant::now();
                end = match incoming {
                    Some(Ok(Message::Text(t))) => {
                        match limits(cfg, &mut bucket, t.len()) {
                            Some(why) => Some(Some(why)),
                            None => {
                                let replies =
                                    handle(&app, &user, conn, &convs, &t).await;
                                send_all(&mut socket, replies).await
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        Some(Some((close::UNSUPPORTED_DATA, "text only")))
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    _ => Some(None), // a Close frame, an error, or EOF
                };
            }
            Some(msg) = inbox.recv() => {
                end = send_all(&mut socket, vec![ServerMsg::Msg(msg)]).await;
            }
            _ = heartbeat.tick() => {
                // Silent for a whole TTL, even to our pings: the client is
                // gone, though a half-open TCP connection never says so.
                let ping = Message::Ping(Default::default());
                if heard.elapsed() > cfg.presence_ttl
                    || socket.send(ping).await.is_err()
                {
                    end = Some(None);
                } else {
                    let _ = app.hub.refresh_presence(&user).await;
                }
            }
        }
    }
    let _ = app.hub.leave(&user, conn, &convs).await;
    if let Some(Some((code, reason))) = end {
        finish(socket, code, reason).await;
    }
}

// ANCHOR_END: session_loop

// ANCHOR: limits
/// The size limit first (1009), then the rate (1008).
fn limits(cfg: &Config, bucket: &mut Bucket, bytes: usize) -> End {
    if bytes > cfg.max_message_bytes {
        return Some((close::MESSAGE_TOO_BIG, "message too big"));
    }
    if !bucket.take(Instant::now()) {
        return Some((close::POLICY_VIOLATION, "rate limit"));
    }
    None
}
// ANCHOR_END: limits

/// `Some(None)` when the client is gone.
async fn send_all(
    socket: &mut WebSocket,
    replies: Vec<ServerMsg>,
) -> Option<End> {
    for reply in replies {
        if socket.send(text(&reply)).await.is_err() {
            return Some(None);
        }
    }
    None
}

/// Sends a close frame and waits (briefly) for the client's, so the
/// client reads our code before the TCP connection goes away.
async fn finish(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        let drain = async { while let Some(Ok(_)) = socket.recv().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
}

// ANCHOR: handle
async fn handle(
    app: &App,
    user: &str,
    conn: u64,
    convs: &[i64],
    text: &str,
) -> Vec<ServerMsg> {
    let error = |e: &str| vec![ServerMsg::Error { error: e.into() }];
    let msg: ClientMsg = match serde_json::from_str(text) {
        Ok(msg) => msg,
        Err(e) => return error(&format!("bad message: {e}")),
    };
    match msg {
        ClientMsg::Send { conv, id, body } => {
            if id.is_empty() || id.len() > 64 {
                return error("id must be 1 to 64 bytes");
            }
            // PostgreSQL text cannot hold NUL: refuse it here, or the
            // failed insert would read as "retry" forever.
            if id.contains('\0') || body.contains('\0') {
                return error("id and body must not contain NUL");
            }
            let stored = match app.store.send(conv, user, &id, &body).await {
                Ok(stored) => stored,
                Err(StoreError::NotMember) => return error("not a member"),
                // Nothing was stored: the client retries with the same id.
                Err(StoreError::Db(_)) => return error("not stored, retry"),
            };
            let seq = stored.seq;
            if !stored.duplicate {
                let from = user.to_string();
                let msg = Stamped {
                    conv,
                    seq,
                    from,
                    id: id.clone(),
                    body,
                };
                // Stored already: a lost publish delays the message
                // until the recipient syncs, it does not lose it.
                let _ = app.hub.publish(conn, &msg).await;
            }
            let duplicate = stored.duplicate;
            vec![ServerMsg::Ack {
                conv,
                id,
                seq,
                duplicate,
            }]
        }
        // ANCHOR_END: handle
        // ANCHOR: sync
        ClientMsg::Sync { conv, after } => {
            if !convs.contains(&conv) {
                return error("not a member");
            }
            let Ok(page) = app.store.history(conv, after, PAGE).await else {
                return error("history unavailable, retry");
            };
            let more = page.len() as i64 == PAGE;
            let last = page.last().map_or(after, |m| m.seq);
            let mut replies: Vec<_> =
                page.into_iter().map(ServerMsg::Msg).collect();
            replies.push(ServerMsg::Synced { conv, last, more });
            replies
        }
        ClientMsg::Presence { users } if users.len() <= 100 => {
            match app.hub.online(&users).await {
                Ok(online) => vec![ServerMsg::Presence { online }],
                Err(_) => error("presence unavailable"),
            }
        }
        ClientMsg::Presence { .. } => error("at most 100 users"),
    }
}
// ANCHOR_END: sync

// ---------------------------------------------------------------------
// Starting an instance.

pub struct Instance {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    server: tokio::task::JoinHandle<()>,
}

impl Instance {
    /// Serves `/ws` on `port` (0: any free port) on loopback.
    pub async fn start(
        cfg: Config,
        schema: &str,
        prefix: &str,
        port: u16,
    ) -> Result<Instance, Box<dyn std::error::Error + Send + Sync>> {
        let url = support::pg::database_url();
        let store = Store::open(&url, schema, 2).await?;
        let redis = redis::Client::open(support::redis::redis_url())?;
        let name = format!("{:016x}", rand::random::<u64>());
        let hub = Hub::start(&redis, prefix, &name, cfg.presence_ttl).await?;
        let app = Arc::new(App { cfg, store, hub });
        let listener = tokio::net::TcpListener::bind((
            std::net::Ipv4Addr::LOCALHOST,
            port,
        ))
        .await?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/ws", get(handshake))
            .with_state(app.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Instance { addr, app, server })
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn stop(self) {
        self.server.abort();
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).map(String::as_str)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 60
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// `serve --schema S --prefix P --secret K [--port N] [--origin O]
/// [--presence-ttl-ms T] [--max-bytes B]`: makes the tables in schema S
/// (with conversation 1: alice and bob), prints `listening on ws://...`,
/// serves until killed.
async fn serve(args: &[String]) {
    let fail = |why: String| -> ! {
        eprintln!("chat_server: {why}");
        std::process::exit(2)
    };
    let need = |name: &str| {
        flag(args, name).unwrap_or_else(|| fail(format!("{name} is required")))
    };
    let number = |name: &str, default: u64| match flag(args, name) {
        None => default,
        Some(v) => v
            .parse()
            .unwrap_or_else(|_| fail(format!("{name} must be a number"))),
    };
    let (schema, prefix) = (need("--schema"), need("--prefix"));
    if !is_identifier(schema) || !is_identifier(prefix) {
        fail("--schema and --prefix must be [a-z_][a-z0-9_]*".into());
    }
    let mut cfg = Config::new(need("--secret").as_bytes());
    if let Some(origin) = flag(args, "--origin") {
        cfg.origins = vec![origin.to_ascii_lowercase()];
    }
    cfg.presence_ttl =
        Duration::from_millis(number("--presence-ttl-ms", 30_000).max(30));
    cfg.max_message_bytes = number("--max-bytes", 4096) as usize;
    let url = support::pg::database_url();
    let members: &[&str] = &["alice", "bob"];
    if let Err(e) = store::prepare(&url, schema, &[(1, members)]).await {
        support::skip::exit_unavailable("chat_server", "PostgreSQL", e);
    }
    let port = u16::try_from(number("--port", 0))
        .unwrap_or_else(|_| fail("bad --port".into()));
    match Instance::start(cfg, schema, prefix, port).await {
        Ok(instance) => println!("listening on {}", instance.url()),
        Err(e) => support::skip::exit_unavailable("chat_server", "a server", e),
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "serve") {
        serve(&args).await;
    } else {
        client::demo().await;
    }
}

#[cfg(test)]
mod tests;
