//! 2.1 Authentication endpoint and token revocation: a real axum service with
//! login, refresh, logout and a protected route, run against PostgreSQL and
//! Redis.
//!
//! Choices made here:
//! - Passwords are hashed with Argon2id at the minimum that OWASP's Password
//!   Storage Cheat Sheet recommends first (m = 19 MiB, t = 2, p = 1), off the
//!   async runtime. An unknown user is checked against a dummy hash, so both
//!   failures cost one Argon2 run and get the same answer (the counter
//!   `argon2_runs` proves it in tests).
//! - Access tokens are JWTs signed with RS256 by a key pair generated at
//!   start-up (no private key on disk); verification pins the algorithm,
//!   the `typ` (`at+jwt`), the `kid`, `iss`, `aud`, `exp` and `nbf`.
//! - Refresh tokens are 256 random bits, stored as SHA-256 digests in
//!   PostgreSQL, rotated on every use; a rotated token presented again
//!   (reuse detection, RFC 9700 §4.14.2) revokes its whole family.
//! - Logout puts the access token's `jti` on a Redis denylist whose TTL is
//!   the token's remaining life plus the clock-skew leeway.
//! - Failed logins are counted in Redis per account and per IP; past the
//!   limit, login answers 429 with `Retry-After`.
//! - Every error is a JSON body with a clear status; 401s carry a
//!   `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).
//! - Servers come from `DATABASE_URL` and `REDIS_URL`; without them `main`
//!   exits with code 77 and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`). Each run has its own schema and key prefix.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode,
    decode_header, encode,
};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://api.example.com";
const REALM: &str = "example";
/// The client the tokens are issued to (RFC 9068 §2.2 requires the claim).
const CLIENT_ID: &str = "example-web";
/// Access-token life, seconds: short, because a JWT cannot be recalled.
const ACCESS_TTL: u64 = 300;
/// Refresh-token life, seconds (14 days).
const REFRESH_TTL: u64 = 14 * 24 * 3600;
/// Clock skew accepted on `exp` and `nbf`, seconds.
const LEEWAY: u64 = 30;
/// Failed logins allowed per account and per IP in one window.
const MAX_FAILS_PER_ACCOUNT: u64 = 5;
const MAX_FAILS_PER_IP: u64 = 20;
const FAIL_WINDOW: u64 = 15 * 60;
/// Largest request body accepted, bytes.
const BODY_LIMIT: usize = 4 * 1024;
const MAX_PASSWORD_BYTES: usize = 1024;

// ANCHOR: errors
/// Every way a request can fail, each with its status and JSON body.
#[derive(Debug, thiserror::Error)]
enum AuthError {
    /// No Bearer credentials at all: a bare challenge (RFC 6750 §3.1).
    #[error("authentication required")]
    MissingToken,
    /// A malformed `Authorization` header (RFC 6750 §3.1).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// A well-formed body with a value we refuse.
    #[error("{0}")]
    InvalidField(&'static str),
    #[error("{0}")]
    InvalidToken(&'static str),
    /// Wrong password and unknown user alike: one answer for both.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("too many failed logins")]
    TooManyAttempts { retry_after: u64 },
    #[error("{1}")]
    BadBody(StatusCode, String),
    /// A server-side failure: logged, never shown to the caller.
    #[error("internal error")]
    Internal(String),
}
// ANCHOR_END: errors

// ANCHOR: into_response
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        use AuthError::*;
        let (status, code) = match &self {
            MissingToken => (StatusCode::UNAUTHORIZED, "unauthorized"),
            InvalidRequest(_) | InvalidField(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, "invalid_credentials")
            }
            InvalidRefreshToken => {
                (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
            }
            TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            BadBody(status, _) => (*status, "invalid_body"),
            Internal(detail) => {
                eprintln!("auth_service: internal error: {detail}");
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
        };
        let description = self.to_string();
        let mut challenge = format!("Bearer realm=\"{REALM}\"");
        if let InvalidRequest(_) | InvalidToken(_) = &self {
            challenge += &format!(
                ", error=\"{code}\", error_description=\"{description}\""
            );
        }
        let body = json!({"error": code, "error_description": description});
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED
            || matches!(self, InvalidRequest(_))
        {
            headers.insert(WWW_AUTHENTICATE, header_value(&challenge));
        }
        if let TooManyAttempts { retry_after } = self {
            headers.insert(RETRY_AFTER, header_value(&retry_after.to_string()));
        }
        response
    }
}
// ANCHOR_END: into_response

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("invalid"))
}

impl From<JsonRejection> for AuthError {
    fn from(rejection: JsonRejection) -> Self {
        AuthError::BadBody(rejection.status(), rejection.body_text())
    }
}

impl From<tokio_postgres::Error> for AuthError {
    fn from(e: tokio_postgres::Error) -> Self {
        AuthError::Internal(format!("PostgreSQL: {e}"))
    }
}

impl From<redis::RedisError> for AuthError {
    fn from(e: redis::RedisError) -> Self {
        AuthError::Internal(format!("Redis: {e}"))
    }
}

// ANCHOR: claims
/// The access token's payload (RFC 7519 §4.1 names, RFC 9068 profile).
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    client_id: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    /// Unique per token: the denylist's key.
    jti: String,
    /// The refresh-token family (one per login), to end a whole session.
    sid: String,
}
// ANCHOR_END: claims

/// The signing key and the verification keys by `kid`.
struct Keys {
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    /// Kept for the tests' algorithm-confusion attack.
    #[cfg_attr(not(test), allow(dead_code))]
    public_der: Vec<u8>,
}

// ANCHOR: keys
/// A 2048-bit RSA key, made at start-up: no private key on disk.
fn generate_private_key() -> Result<rsa::PrivateKey, String> {
    rsa::PrivateKey::new(&mut rand::rng(), 2048).map_err(|e| e.to_string())
}

impl Keys {
    /// Signing and verification keys; the `kid` is a digest of the public
    /// key, so a new key pair gets a new `kid`.
    fn from_private(private: &rsa::PrivateKey) -> Result<Keys, String> {
        let private_der = private.to_pkcs1_der().map_err(|e| e.to_string())?;
        let public_der = private
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| e.to_string())?
            .into_vec();
        let kid = hex(&Sha256::digest(&public_der)[..8]);
        let decoding = DecodingKey::from_rsa_der(&public_der);
        Ok(Keys {
            encoding: EncodingKey::from_rsa_der(private_der.as_bytes()),
            decoding: HashMap::from([(kid.clone(), decoding)]),
            kid,
            public_der,
        })
    }
}

/// What every access token must satisfy besides its signature.
fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::RS256); // the only algorithm
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    v.validate_nbf = true; // off by default in jsonwebtoken
    v.leeway = LEEWAY; // 60 s by default
    v
}
// ANCHOR_END: keys

/// The service's shared state.
struct App {
    keys: Keys,
    validation: Validation,
    db: tokio_postgres::Client,
    redis: MultiplexedConnection,
    /// Prefix of every Redis key (a run's own namespace).
    prefix: String,
    hasher: Argon2<'static>,
    /// Verified against when the user does not exist.
    dummy_hash: String,
    /// How many Argon2 verifications ran: the tests' proof.
    argon2_runs: AtomicU64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes);
    bytes
}

// ANCHOR: hashing
/// Argon2id at OWASP's minimum: 19 MiB of memory, 2 passes, 1 lane.
fn password_hasher() -> Result<Argon2<'static>, String> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| e.to_string())?;
    Ok(Argon2::new(
        Argon2Algorithm::Argon2id,
        Version::V0x13,
        params,
    ))
}

fn hash_password(hasher: &Argon2, password: &str) -> Result<String, String> {
    let hash = hasher
        .hash_password(password.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(hash.to_string())
}

/// Runs Argon2 on a blocking thread: about as long whether `stored` is a
/// real user's hash or the dummy one.
async fn verify_password(
    app: &Arc<App>,
    password: String,
    stored: Option<String>,
) -> Result<bool, AuthError> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || {
        let phc = stored.as_deref().unwrap_or(&app.dummy_hash);
        let hash = PasswordHash::new(phc)
            .map_err(|e| AuthError::Internal(format!("stored hash: {e}")))?;
        app.argon2_runs.fetch_add(1, Ordering::Relaxed);
        let matches = app
            .hasher
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        Ok(matches && stored.is_some())
    })
    .await
    .map_err(|e| AuthError::Internal(format!("hashing task: {e}")))?
}
// ANCHOR_END: hashing

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

// ANCHOR: login
async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, AuthError> {
    let Json(LoginRequest { username, password }) = body?;
    if username.is_empty() || username.len() > 64 {
        return Err(AuthError::InvalidField("username must be 1-64 bytes"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidField("password too long"));
    }
    let counters = [
        (
            format!("{}:fail:user:{username}", app.prefix),
            MAX_FAILS_PER_ACCOUNT,
        ),
        (
            format!("{}:fail:ip:{}", app.prefix, peer.ip()),
            MAX_FAILS_PER_IP,
        ),
    ];
    refuse_if_locked(&app, &counters).await?;
    let row = app
        .db
        .query_opt(
            "SELECT id, password_hash FROM users WHERE username = $1",
            &[&username],
        )
        .await?;
    let (user_id, stored) = match row {
        Some(row) => (row.get::<_, i64>(0), Some(row.get::<_, String>(1))),
        None => (0, None), // still hash: same work, same answer
    };
    if !verify_password(&app, password, stored).await? {
        record_failure(&app, &counters).await?;
        return Err(AuthError::InvalidCredentials);
    }
    let _: () = app.redis.clone().del(&counters[0].0).await?;
    let (family, refresh) = start_family(&app, user_id).await?;
    token_response(&app, user_id, &family, refresh)
}
// ANCHOR_END: login

// ANCHOR: rate_limit
/// 429 while any counter is at its limit, with the seconds it has left.
async fn refuse_if_locked(
    app: &App,
    counters: &[(String, u64)],
) -> Result<(), AuthError> {
    let mut redis = app.redis.clone();
    for (key, limit) in counters {
        let fails: Option<u64> = redis.get(key).await?;
        if fails.unwrap_or(0) >= *limit {
            let ttl: i64 = redis.ttl(key).await?;
            let retry_after = u64::try_from(ttl).unwrap_or(1).max(1);
            return Err(AuthError::TooManyAttempts { retry_after });
        }
    }
    Ok(())
}

/// One more failure on each counter; the window starts at the first.
async fn record_failure(
    app: &App,
    counters: &[(String, u64)],
) -> Result<(), AuthError> {
    let mut pipe = redis::pipe();
    for (key, _) in counters {
        pipe.incr(key, 1).ignore();
        pipe.cmd("EXPIRE")
            .arg(key)
            .arg(FAIL_WINDOW)
            .arg("NX")
            .ignore();
    }
    let _: () = pipe.query_async(&mut app.redis.clone()).await?;
    Ok(())
}
// ANCHOR_END: rate_limit

// ANCHOR: new_family
/// 256 random bits for the client, and the SHA-256 digest we keep.
fn new_refresh_token() -> (String, Vec<u8>) {
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let digest = Sha256::digest(token.as_bytes()).to_vec();
    (token, digest)
}

/// A new session: a family id and its first refresh token, stored hashed.
async fn start_family(
    app: &App,
    user_id: i64,
) -> Result<(String, String), AuthError> {
    let family = hex(&random_bytes::<16>());
    let (refresh, digest) = new_refresh_token();
    app.db
        .execute(
            "INSERT INTO refresh_tokens
                (token_hash, family_id, user_id, expires_at)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
            &[&digest, &family, &user_id, &(REFRESH_TTL as f64)],
        )
        .await?;
    Ok((family, refresh))
}

// ANCHOR_END: new_family

// ANCHOR: issue
/// A signed access token beside the refresh token, never to be cached.
fn token_response(
    app: &App,
    user_id: i64,
    family: &str,
    refresh: String,
) -> Result<Response, AuthError> {
    let iat = now();
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user_id.to_string(),
        client_id: CLIENT_ID.into(),
        iat,
        nbf: iat,
        exp: iat + ACCESS_TTL,
        jti: hex(&random_bytes::<16>()),
        sid: family.into(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into()); // RFC 9068 §2.1
    header.kid = Some(app.keys.kid.clone());
    let access = encode(&header, &claims, &app.keys.encoding)
        .map_err(|e| AuthError::Internal(format!("signing: {e}")))?;
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
    });
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
// ANCHOR_END: issue

// ANCHOR: refresh
async fn refresh(
    State(app): State<Arc<App>>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Response, AuthError> {
    let Json(RefreshRequest { refresh_token }) = body?;
    let digest = Sha256::digest(refresh_token.as_bytes()).to_vec();
    let (next, next_digest) = new_refresh_token();
    // One statement, so one transaction: mark the token used if it is
    // live, and store its successor in the same family. A concurrent use
    // of the same token waits on the row lock, then finds `used_at` set.
    let rotated = app
        .db
        .query_opt(
            "WITH old AS (
                UPDATE refresh_tokens SET used_at = now()
                WHERE token_hash = $1 AND used_at IS NULL
                AND revoked_at IS NULL AND expires_at > now()
                RETURNING user_id, family_id)
            INSERT INTO refresh_tokens
                (token_hash, family_id, user_id, expires_at)
            SELECT $2, family_id, user_id,
                now() + make_interval(secs => $3) FROM old
            RETURNING user_id, family_id",
            &[&digest, &next_digest, &(REFRESH_TTL as f64)],
        )
        .await?;
    if let Some(row) = rotated {
        return token_response(&app, row.get(0), row.get(1), next);
    }
    let reused = app
        .db
        .query_opt(
            "SELECT family_id FROM refresh_tokens \
             WHERE token_hash = $1 AND used_at IS NOT NULL",
            &[&digest],
        )
        .await?;
    if let Some(row) = reused {
        // A rotated token came back: a thief or the victim holds a copy.
        // End the whole session, refresh tokens and access tokens alike.
        revoke_family(&app, row.get(0)).await?;
        let key = format!("{}:deny:sid:{}", app.prefix, row.get::<_, &str>(0));
        let _: () = app
            .redis
            .clone()
            .set_ex(&key, 1, ACCESS_TTL + LEEWAY)
            .await?;
    }
    Err(AuthError::InvalidRefreshToken)
}
// ANCHOR_END: refresh

// ANCHOR: revoke
async fn revoke_family(app: &App, family: &str) -> Result<(), AuthError> {
    app.db
        .execute(
            "UPDATE refresh_tokens SET revoked_at = now() \
             WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family],
        )
        .await?;
    Ok(())
}
// ANCHOR_END: revoke

// ANCHOR: bearer
/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::MissingToken);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest("more than one Authorization"));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("Authorization is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken); // another scheme: no Bearer
    }
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    let body = token.trim_end_matches('=');
    if body.is_empty() || !body.chars().all(b64token) {
        return Err(AuthError::InvalidRequest("malformed Bearer token"));
    }
    Ok(token)
}
// ANCHOR_END: bearer

// ANCHOR: verify
/// The claims of a valid, unrevoked access token.
async fn authenticate(
    app: &App,
    headers: &HeaderMap,
) -> Result<Claims, AuthError> {
    use AuthError::InvalidToken;
    let token = bearer_token(headers)?;
    let header = decode_header(token)
        .map_err(|_| InvalidToken("malformed token or unsupported alg"))?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(InvalidToken("not an access token"));
    }
    let kid = header.kid.ok_or(InvalidToken("no kid"))?;
    let key = app
        .keys
        .decoding
        .get(&kid)
        .ok_or(InvalidToken("unknown kid"))?;
    let claims = decode::<Claims>(token, key, &app.validation)
        .map_err(|e| InvalidToken(reason(e.kind())))?
        .claims;
    let keys = [
        format!("{}:deny:jti:{}", app.prefix, claims.jti),
        format!("{}:deny:sid:{}", app.prefix, claims.sid),
    ];
    let denied: u64 = app.redis.clone().exists(&keys).await?;
    if denied > 0 {
        return Err(InvalidToken("token revoked"));
    }
    Ok(claims)
}

fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidAlgorithm => "algorithm not allowed",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        _ => "malformed token",
    }
}
// ANCHOR_END: verify

// ANCHOR: logout
async fn me(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, AuthError> {
    let claims = authenticate(&app, &headers).await?;
    Ok(Json(json!({"sub": claims.sub})).into_response())
}

/// Ends the session: this access token at once (denylist by `jti`), the
/// session's other access tokens (by `sid`), and its refresh tokens.
async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, AuthError> {
    let claims = authenticate(&app, &headers).await?;
    // Keep each entry as long as a token could still pass `exp`.
    let ttl = (claims.exp + LEEWAY).saturating_sub(now()).max(1);
    let jti = format!("{}:deny:jti:{}", app.prefix, claims.jti);
    let sid = format!("{}:deny:sid:{}", app.prefix, claims.sid);
    let _: () = redis::pipe()
        .set_ex(&jti, 1, ttl)
        .set_ex(&sid, 1, ACCESS_TTL + LEEWAY)
        .query_async(&mut app.redis.clone())
        .await?;
    revoke_family(&app, &claims.sid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
// ANCHOR_END: logout

// ANCHOR: router
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .fallback(|| async {
            (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"})))
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}
// ANCHOR_END: router

// ANCHOR: schema
const SCHEMA: &str = "
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL  -- PHC string: $argon2id$v=19$m=19456,...
);
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,  -- SHA-256 of the token, never the token
    family_id text NOT NULL,       -- one per login, kept across rotations
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,           -- set when rotated
    revoked_at timestamptz         -- set on logout or on reuse
);
CREATE INDEX ON refresh_tokens (family_id);
";
// ANCHOR_END: schema

/// A running service: its address, state and scratch names.
struct Service {
    addr: SocketAddr,
    app: Arc<App>,
    schema: String,
    server: tokio::task::JoinHandle<()>,
}

/// Connects both servers, makes a scratch schema and a key prefix, and
/// serves on a loopback port.
async fn start(private: &rsa::PrivateKey) -> Result<Service, String> {
    let schema = support::unique_name("auth");
    let (db, connection) = tokio_postgres::connect(
        &support::pg::database_url(),
        tokio_postgres::NoTls,
    )
    .await
    .map_err(|e| format!("PostgreSQL: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("auth_service: PostgreSQL connection: {e}");
        }
    });
    db.batch_execute(&format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}; {SCHEMA}"
    ))
    .await
    .map_err(|e| format!("PostgreSQL: {e}"))?;
    let redis = redis::Client::open(support::redis::redis_url())
        .map_err(|e| format!("Redis: {e}"))?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("Redis: {e}"))?;
    let hasher = password_hasher()?;
    let dummy = hex(&random_bytes::<16>());
    let app = Arc::new(App {
        keys: Keys::from_private(private)?,
        validation: validation(),
        dummy_hash: hash_password(&hasher, &dummy)?,
        hasher,
        db,
        redis,
        prefix: schema.clone(),
        argon2_runs: AtomicU64::new(0),
    });
    let (listener, addr) =
        support::loopback::listener().map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| e.to_string())?;
    let service = router(Arc::clone(&app))
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("auth_service: server: {e}");
        }
    });
    Ok(Service {
        addr,
        app,
        schema,
        server,
    })
}

impl Service {
    /// A user, as a registration endpoint would store them.
    async fn add_user(&self, name: &str, password: &str) -> Result<(), String> {
        let hash = hash_password(&self.app.hasher, password)?;
        self.app
            .db
            .execute(
                "INSERT INTO users (username, password_hash) VALUES ($1, $2)",
                &[&name, &hash],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Stops serving, drops the schema and deletes the run's keys.
    async fn stop(self) {
        self.server.abort();
        let drop = format!("DROP SCHEMA {} CASCADE", self.schema);
        if let Err(e) = self.app.db.batch_execute(&drop).await {
            eprintln!("auth_service: cleanup: {e}");
        }
        let mut redis = self.app.redis.clone();
        let pattern = format!("{}:*", self.app.prefix);
        let keys: Vec<String> = redis.keys(&pattern).await.unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis.del(&keys).await;
        }
    }
}

/// A response as the tiny client sees it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    fn field(&self, name: &str) -> String {
        self.json()[name].as_str().unwrap_or_default().to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection, with the headers given
/// verbatim. The reply ends at its `Content-Length` (a server may keep
/// reading a body it refused), and the whole exchange within 10 s.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, String> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        request += &format!("Content-Length: {}\r\n", body.len());
    }
    request += &format!("Connection: close\r\n\r\n{body}");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(reply) = parse_reply(&raw) {
                return Ok(reply);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return parse_reply(&raw).ok_or(std::io::Error::other(
                    "connection closed before a complete reply",
                ));
            }
            raw.extend_from_slice(&chunk[..n]);
        }
    };
    let timeout = std::time::Duration::from_secs(10);
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("{method} {path}: no reply within 10 s")),
    }
}

/// A complete reply, once the head and `Content-Length` bytes are in.
fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let text = std::str::from_utf8(raw).ok()?;
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body = rest.get(..length)?.to_string();
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// A JSON POST.
async fn post_json(
    addr: SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> Result<Reply, String> {
    let headers = [("Content-Type", "application/json")];
    http(addr, "POST", path, &headers, &body.to_string()).await
}

/// A request carrying `Authorization: Bearer <token>`.
async fn with_token(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
) -> Result<Reply, String> {
    let bearer = format!("Bearer {token}");
    http(addr, method, path, &[("Authorization", &bearer)], "").await
}

async fn login_as(
    addr: SocketAddr,
    username: &str,
    password: &str,
) -> Result<Reply, String> {
    let body = json!({"username": username, "password": password});
    post_json(addr, "/auth/login", &body).await
}

async fn refresh_with(addr: SocketAddr, token: &str) -> Result<Reply, String> {
    post_json(addr, "/auth/refresh", &json!({"refresh_token": token})).await
}

/// One line of the transcript: the request, its status and what matters.
fn line(label: &str, reply: &Reply, extra: &str) -> String {
    let mut error = reply.field("error");
    if error == "invalid_token" {
        error += &format!(" ({})", reply.field("error_description"));
    }
    if !error.is_empty() {
        error.insert(0, ' ');
    }
    format!("{label:<34} -> {}{error}{extra}", reply.status)
}

// ANCHOR: session
/// The scripted session `main` prints: no token value is ever shown.
async fn session(service: &Service) -> Result<Vec<String>, String> {
    let addr = service.addr;
    service
        .add_user("alice", "correct horse battery staple")
        .await?;
    let mut out =
        vec!["alice registered (Argon2id, m=19456 KiB, t=2, p=1)".into()];
    let wrong = login_as(addr, "alice", "guess").await?;
    out.push(line("login, wrong password", &wrong, ""));
    let unknown = login_as(addr, "mallory", "guess").await?;
    let same = unknown.body == wrong.body
        && unknown.header("www-authenticate")
            == wrong.header("www-authenticate");
    out.push(line(
        "login, unknown user",
        &unknown,
        &format!(", same answer: {same}"),
    ));
    let ok = login_as(addr, "alice", "correct horse battery staple").await?;
    let cache = ok.header("cache-control").unwrap_or("-");
    out.push(line("login", &ok, &format!(", Cache-Control: {cache}")));
    let (access, first) = (ok.field("access_token"), ok.field("refresh_token"));
    let me = with_token(addr, "GET", "/me", &access).await?;
    out.push(line("GET /me", &me, &format!(" {}", me.body)));
    let rotated = refresh_with(addr, &first).await?;
    let second = rotated.field("refresh_token");
    out.push(line(
        "refresh",
        &rotated,
        &format!(", new token: {}", second != first),
    ));
    let reuse = refresh_with(addr, &first).await?;
    out.push(line("refresh with the old token (reuse)", &reuse, ""));
    let newest = refresh_with(addr, &second).await?;
    out.push(line("refresh with the newest token", &newest, ""));
    let killed =
        with_token(addr, "GET", "/me", &rotated.field("access_token")).await?;
    out.push(line("GET /me, access of that family", &killed, ""));
    let again = login_as(addr, "alice", "correct horse battery staple").await?;
    let access = again.field("access_token");
    out.push(line("login again", &again, ""));
    let bye = with_token(addr, "POST", "/auth/logout", &access).await?;
    out.push(line("logout", &bye, ""));
    let after = with_token(addr, "GET", "/me", &access).await?;
    out.push(line("GET /me after logout", &after, ""));
    let runs = service.app.argon2_runs.load(Ordering::Relaxed);
    out.push(format!(
        "Argon2 verifications: {runs} (one per login attempt)"
    ));
    Ok(out)
}
// ANCHOR_END: session

fn main() {
    require_services();
    let runtime = tokio::runtime::Runtime::new()
        .unwrap_or_else(|e| fail(&format!("runtime: {e}")));
    let key = generate_private_key()
        .unwrap_or_else(|e| fail(&format!("key generation: {e}")));
    let result = runtime.block_on(async {
        let service = start(&key).await?;
        let result = session(&service).await;
        service.stop().await;
        result
    });
    match result {
        Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("auth_service: {message}");
    std::process::exit(1)
}

/// Exits with code 77 (saying why) when PostgreSQL or Redis is absent.
/// (The sync clients run before the async runtime starts.)
fn require_services() {
    support::pg::connect_or_exit("auth_service");
    support::redis::client_or_exit("auth_service");
}

#[cfg(test)]
mod tests;
