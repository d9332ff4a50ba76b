//! 3.5 Resumable file uploads: a tus 1.0.0 server in axum (core protocol
//! without `X-HTTP-Method-Override`, plus the creation, checksum,
//! expiration and termination extensions).
//!
//! Choices made here:
//! - The upload's data file *is* its offset: bytes are appended as they
//!   arrive (tokio fs, one body frame at a time, never the whole upload),
//!   and a PATCH that must be discarded (checksum mismatch, too many bytes,
//!   a type outside the allow-list) truncates the file back. An interrupted
//!   PATCH without a checksum keeps what arrived, as the protocol asks.
//! - One lock per upload serialises PATCH, HEAD and DELETE on it.
//! - Server-side names are 128 random bits; the client's file name is only
//!   metadata, validated against an allow-list of characters, and used in
//!   `Content-Disposition` on download.
//! - The type comes from the first bytes (PNG, JPEG, GIF, PDF), never from
//!   the client; downloads carry `nosniff` and `attachment`.
//!
//! `cargo run --bin tus_server` runs a scripted session against a server on
//! a random port; `cargo run --bin tus_server -- serve --port 1080` serves
//! until stopped (the pytest file with the tuspy client uses that mode).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{options, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

mod client;
mod sha1;

const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,checksum,expiration,termination";
const CHECKSUMS: &str = "sha1,sha256";
/// How many leading bytes the type detection needs.
const SNIFF: u64 = 8;
/// A PATCH whose body stalls this long is treated as interrupted.
const IDLE: Duration = Duration::from_secs(10);
const INTERRUPTED: &str = "body interrupted";

// ANCHOR: errors
/// Every refusal the protocol names, with a reason for the client.
#[derive(Debug, thiserror::Error)]
enum TusError {
    #[error("unsupported Tus-Resumable version")]
    Version,
    #[error("bad request: {0}")]
    Bad(&'static str),
    #[error("Upload-Offset {0} does not match the upload's offset {1}")]
    Offset(u64, u64),
    #[error("upload larger than its Upload-Length or Tus-Max-Size")]
    TooLarge,
    #[error("PATCH needs Content-Type: application/offset+octet-stream")]
    ContentType,
    #[error("content is not one of the allowed types")]
    TypeNotAllowed,
    #[error("checksum mismatch: the chunk was discarded")]
    Checksum,
    #[error("no such upload")]
    NotFound,
    #[error("upload expired")]
    Gone,
    #[error("storage error")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for TusError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Version => StatusCode::PRECONDITION_FAILED,
            Self::Bad(_) => StatusCode::BAD_REQUEST,
            Self::Offset(..) => StatusCode::CONFLICT,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TypeNotAllowed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Checksum => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Gone => StatusCode::GONE,
            Self::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = (status, self.to_string()).into_response();
        if matches!(self, Self::Version) {
            let h = response.headers_mut();
            h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
        }
        response
    }
}
// ANCHOR_END: errors

/// What the server keeps beside each upload's data file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Info {
    length: u64,
    /// The client's `Upload-Metadata`, echoed by HEAD.
    metadata: Option<String>,
    filename: Option<String>,
    /// Unix seconds after which an unfinished upload is gone.
    expires: u64,
    /// Set when complete: the type detected from the content.
    mime: Option<String>,
    expired: bool,
}

pub struct Config {
    pub dir: PathBuf,
    pub max_size: u64,
    pub ttl: Duration,
}

/// The server's state: storage folder, locks, a test clock and a meter.
pub struct Tus {
    cfg: Config,
    locks: Locks,
    /// Seconds added to the wall clock (tests move time forward).
    skew: AtomicU64,
    /// The largest body frame held in memory at once, and bytes stored.
    peak_frame: AtomicU64,
    stored: AtomicU64,
}

type Locks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// A handle on one upload's lock. The last handle dropped removes the
/// entry, so the map holds only the uploads in use.
struct UploadLock<'a> {
    locks: &'a Locks,
    id: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::ops::Deref for UploadLock<'_> {
    type Target = tokio::sync::Mutex<()>;

    fn deref(&self) -> &Self::Target {
        &self.lock
    }
}

impl Drop for UploadLock<'_> {
    fn drop(&mut self) {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Handles are made only under the map's mutex, held here: two
        // references (the map's and this one) mean nobody else holds it.
        if Arc::strong_count(&self.lock) == 2 {
            locks.remove(&self.id);
        }
    }
}

impl Tus {
    pub fn new(cfg: Config) -> Arc<Self> {
        Arc::new(Self {
            cfg,
            locks: Mutex::new(HashMap::new()),
            skew: AtomicU64::new(0),
            peak_frame: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        wall + self.skew.load(Ordering::Relaxed)
    }

    fn data_path(&self, id: &str) -> PathBuf {
        self.cfg.dir.join(format!("{id}.bin"))
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.cfg.dir.join(format!("{id}.json"))
    }

    fn lock(&self, id: &str) -> UploadLock<'_> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        let lock = locks.entry(id.to_string()).or_default().clone();
        UploadLock {
            locks: &self.locks,
            id: id.to_string(),
            lock,
        }
    }

    async fn save(&self, id: &str, info: &Info) -> Result<(), TusError> {
        let json = serde_json::to_vec(info).map_err(std::io::Error::other)?;
        // Write then rename: a crash never leaves half an info file.
        let tmp = self.cfg.dir.join(format!("{id}.json.tmp"));
        tokio::fs::write(&tmp, json).await?;
        tokio::fs::rename(&tmp, self.info_path(id)).await?;
        Ok(())
    }

    // ANCHOR: load
    /// The upload's info, or 404 / 410. An unfinished upload past its
    /// expiry loses its data here and is remembered as expired (410).
    async fn load(&self, id: &str) -> Result<Info, TusError> {
        if !valid_id(id) {
            return Err(TusError::NotFound);
        }
        let raw = match tokio::fs::read(self.info_path(id)).await {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TusError::NotFound);
            }
            Err(e) => return Err(e.into()),
        };
        let mut info: Info =
            serde_json::from_slice(&raw).map_err(std::io::Error::other)?;
        if !info.expired && info.mime.is_none() && self.now() > info.expires {
            let _ = tokio::fs::remove_file(self.data_path(id)).await;
            info.expired = true;
            self.save(id, &info).await?;
        }
        if info.expired {
            return Err(TusError::Gone);
        }
        Ok(info)
    }
    // ANCHOR_END: load

    /// Expires every unfinished upload past its deadline (a periodic job
    /// in production); returns how many it removed.
    pub async fn sweep(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        let mut dir = tokio::fs::read_dir(&self.cfg.dir).await?;
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            let lock = self.lock(id);
            let _held = lock.lock().await;
            if matches!(self.load(id).await, Err(TusError::Gone))
                && !tokio::fs::try_exists(self.data_path(id)).await?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

// ANCHOR: router
pub fn router(tus: Arc<Tus>) -> Router {
    Router::new()
        .route("/files", post(create).options(discover))
        .route(
            "/files/{id}",
            options(discover)
                .head(offset)
                .patch(append)
                .delete(terminate)
                .get(download),
        )
        .layer(middleware::from_fn(tus_resumable))
        .with_state(tus)
}

/// Every request but OPTIONS must speak 1.0.0 (412 otherwise, and the
/// handler never runs); every response says which version it speaks.
async fn tus_resumable(request: Request, next: Next) -> Response {
    let version = request.headers().get("tus-resumable");
    let is_get = request.method() == Method::GET;
    let mut response = if request.method() == Method::OPTIONS
        || is_get
        || version.is_some_and(|v| v == TUS_VERSION)
    {
        next.run(request).await
    } else {
        TusError::Version.into_response()
    };
    let h = response.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    response
}

async fn discover(State(tus): State<Arc<Tus>>) -> Response {
    let mut h = HeaderMap::new();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static(EXTENSIONS));
    h.insert("tus-max-size", tus.cfg.max_size.into());
    h.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(CHECKSUMS),
    );
    (StatusCode::NO_CONTENT, h).into_response()
}
// ANCHOR_END: router

fn number(headers: &HeaderMap, name: &str) -> Option<Result<u64, TusError>> {
    let value = headers.get(name)?;
    Some(
        value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or(TusError::Bad("header is not a non-negative integer")),
    )
}

// ANCHOR: metadata
/// `Upload-Metadata`: `key base64,key base64,...`; returns the file name.
fn parse_metadata(raw: &str) -> Result<Option<String>, TusError> {
    let mut seen = Vec::new();
    let mut filename = None;
    for pair in raw.split(',') {
        let pair = pair.trim();
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        if key.is_empty() || seen.contains(&key) {
            return Err(TusError::Bad("metadata key empty or repeated"));
        }
        seen.push(key);
        let value = B64
            .decode(value)
            .map_err(|_| TusError::Bad("metadata value is not base64"))?;
        if key == "filename" {
            let name = String::from_utf8(value)
                .map_err(|_| TusError::Bad("file name is not UTF-8"))?;
            filename = Some(safe_filename(name)?);
        }
    }
    Ok(filename)
}

/// A name that can only ever be a name: no separators, no `..`, no
/// leading dot, no quotes or control characters, at most 255 bytes.
fn safe_filename(name: String) -> Result<String, TusError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._- ()".contains(c);
    if name.is_empty()
        || name.len() > 255
        || name.starts_with('.')
        || name.contains("..")
        || !name.chars().all(allowed)
    {
        return Err(TusError::Bad("unsafe file name"));
    }
    Ok(name)
}
// ANCHOR_END: metadata

// ANCHOR: create
async fn create(
    State(tus): State<Arc<Tus>>,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    if headers.contains_key("upload-defer-length") {
        return Err(TusError::Bad("creation-defer-length is not supported"));
    }
    let length = number(&headers, "upload-length")
        .ok_or(TusError::Bad("Upload-Length is required"))??;
    if length > tus.cfg.max_size {
        return Err(TusError::TooLarge);
    }
    let metadata = match headers.get("upload-metadata") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| TusError::Bad("metadata is not ASCII"))?
                .to_string(),
        ),
        None => None,
    };
    let filename = metadata.as_deref().map(parse_metadata).transpose()?;
    // 128 random bits: unguessable, and never derived from client input.
    let id = format!("{:032x}", rand::random::<u128>());
    let expires = tus.now() + tus.cfg.ttl.as_secs();
    let info = Info {
        length,
        metadata,
        filename: filename.flatten(),
        expires,
        mime: None,
        expired: false,
    };
    tokio::fs::File::create_new(tus.data_path(&id)).await?;
    tus.save(&id, &info).await?;
    let mut h = HeaderMap::new();
    let location = HeaderValue::try_from(format!("/files/{id}"))
        .map_err(|_| TusError::Bad("id"))?;
    h.insert(header::LOCATION, location);
    h.insert("upload-expires", http_date_value(expires)?);
    Ok((StatusCode::CREATED, h).into_response())
}
// ANCHOR_END: create

// ANCHOR: head
async fn offset(
    State(tus): State<Arc<Tus>>,
    Path(id): Path<String>,
) -> Result<Response, TusError> {
    let lock = tus.lock(&id);
    let _held = lock.lock().await;
    let info = tus.load(&id).await?;
    let stored = tokio::fs::metadata(tus.data_path(&id)).await?.len();
    let mut h = HeaderMap::new();
    h.insert("upload-offset", stored.into());
    h.insert("upload-length", info.length.into());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(m) = info.metadata.as_deref() {
        let m = HeaderValue::try_from(m).map_err(|_| TusError::Bad("meta"))?;
        h.insert("upload-metadata", m);
    }
    if info.mime.is_none() {
        h.insert("upload-expires", http_date_value(info.expires)?);
    }
    Ok((StatusCode::OK, h).into_response())
}
// ANCHOR_END: head

enum Hasher {
    Sha1(Box<sha1::Sha1>),
    Sha256(Sha256),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn finish(&self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.clone().finish().to_vec(),
            Self::Sha256(h) => h.clone().finalize().to_vec(),
        }
    }
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
fn checksum(
    headers: &HeaderMap,
) -> Result<Option<(Hasher, Vec<u8>)>, TusError> {
    let Some(value) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| TusError::Bad("checksum"))?;
    let (algorithm, digest) = value
        .split_once(' ')
        .ok_or(TusError::Bad("Upload-Checksum needs an algorithm"))?;
    let digest = B64
        .decode(digest)
        .map_err(|_| TusError::Bad("checksum is not base64"))?;
    let hasher = match algorithm {
        "sha1" => Hasher::Sha1(Box::new(sha1::Sha1::new())),
        "sha256" => Hasher::Sha256(Sha256::new()),
        _ => return Err(TusError::Bad("unsupported checksum algorithm")),
    };
    Ok(Some((hasher, digest)))
}

// ANCHOR: sniff
/// The allow-list, by magic bytes: the client's Content-Type and file
/// extension are never trusted.
fn sniff(head: &[u8]) -> Option<&'static str> {
    const TYPES: [(&[u8], &str); 5] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
    ];
    TYPES
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, mime)| *mime)
}
// ANCHOR_END: sniff

// ANCHOR: patch
async fn append(
    State(tus): State<Arc<Tus>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TusError> {
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes() != b"application/offset+octet-stream")
    {
        return Err(TusError::ContentType);
    }
    let claimed = number(&headers, "upload-offset")
        .ok_or(TusError::Bad("Upload-Offset is required"))??;
    let mut check = checksum(&headers)?;
    let lock = tus.lock(&id);
    let _held = lock.lock().await;
    let mut info = tus.load(&id).await?;
    let path = tus.data_path(&id);
    let start = tokio::fs::metadata(&path).await?.len();
    if claimed != start {
        return Err(TusError::Offset(claimed, start));
    }
    let room = info.length - start;
    let declared = number(&headers, "content-length").transpose()?;
    if declared.is_some_and(|n| n > room) {
        return Err(TusError::TooLarge);
    }
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .await?;
    let outcome = receive(&tus, body, &mut file, &mut check, room).await;
    file.flush().await?;
    let written = tokio::fs::metadata(&path).await?.len() - start;
    let verdict = match (outcome, check) {
        // Interrupted without a checksum: what arrived stays, if allowed.
        (Err(TusError::Bad(INTERRUPTED)), None) => {
            let kept = admit(&tus, &id, &mut info, start + written).await;
            kept.and(Err(TusError::Bad(INTERRUPTED)))
        }
        (Err(e), _) => Err(e),
        (Ok(()), Some((hasher, want))) if hasher.finish() != want => {
            Err(TusError::Checksum)
        }
        (Ok(()), _) => admit(&tus, &id, &mut info, start + written).await,
    };
    // ANCHOR_END: patch
    // ANCHOR: patch_end
    match verdict {
        Ok(()) => {}
        Err(TusError::Bad(INTERRUPTED)) if check_absent(&headers) => {
            return Err(TusError::Bad(INTERRUPTED));
        }
        Err(e) => {
            file.set_len(start).await?;
            return Err(e);
        }
    }
    let mut h = HeaderMap::new();
    h.insert("upload-offset", (start + written).into());
    if info.mime.is_none() {
        h.insert("upload-expires", http_date_value(info.expires)?);
    }
    Ok((StatusCode::NO_CONTENT, h).into_response())
}

fn check_absent(headers: &HeaderMap) -> bool {
    !headers.contains_key("upload-checksum")
}
// ANCHOR_END: patch_end

// ANCHOR: receive
/// Streams the body to the file one frame at a time: memory held is one
/// frame (what hyper read from the socket), whatever the upload's size.
async fn receive(
    tus: &Tus,
    mut body: Body,
    file: &mut tokio::fs::File,
    check: &mut Option<(Hasher, Vec<u8>)>,
    room: u64,
) -> Result<(), TusError> {
    let mut received = 0u64;
    loop {
        let frame = match tokio::time::timeout(IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return Ok(()),
            Ok(Some(Err(_))) | Err(_) => {
                return Err(TusError::Bad(INTERRUPTED));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not announced, ignored
        };
        received += data.len() as u64;
        if received > room {
            return Err(TusError::TooLarge);
        }
        tus.peak_frame
            .fetch_max(data.len() as u64, Ordering::Relaxed);
        if let Some((hasher, _)) = check.as_mut() {
            hasher.update(&data);
        }
        file.write_all(&data).await?;
        tus.stored.fetch_add(data.len() as u64, Ordering::Relaxed);
    }
}
// ANCHOR_END: receive

// ANCHOR: admit
/// After the bytes are on disk: check the type once the first bytes are
/// in, record completion, or push the expiry forward.
async fn admit(
    tus: &Tus,
    id: &str,
    info: &mut Info,
    end: u64,
) -> Result<(), TusError> {
    let start_of_file_done = end >= SNIFF.min(info.length);
    let mut head = Vec::with_capacity(SNIFF as usize);
    if start_of_file_done {
        let file = tokio::fs::File::open(tus.data_path(id)).await?;
        file.take(SNIFF).read_to_end(&mut head).await?;
        if sniff(&head).is_none() {
            return Err(TusError::TypeNotAllowed);
        }
    }
    if end == info.length {
        info.mime = sniff(&head).map(str::to_string);
    } else {
        info.expires = tus.now() + tus.cfg.ttl.as_secs();
    }
    tus.save(id, info).await
}
// ANCHOR_END: admit

async fn terminate(
    State(tus): State<Arc<Tus>>,
    Path(id): Path<String>,
) -> Result<Response, TusError> {
    let lock = tus.lock(&id);
    let _held = lock.lock().await;
    tus.load(&id).await?;
    tokio::fs::remove_file(tus.data_path(&id)).await?;
    tokio::fs::remove_file(tus.info_path(&id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ANCHOR: download
async fn download(
    State(tus): State<Arc<Tus>>,
    Path(id): Path<String>,
) -> Result<Response, TusError> {
    let info = tus.load(&id).await?;
    let mime = info.mime.ok_or(TusError::NotFound)?;
    let file = tokio::fs::File::open(tus.data_path(&id)).await?;
    let name = info.filename.unwrap_or_else(|| "download".into());
    let disposition = format!("attachment; filename=\"{name}\"");
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_of(&mime)),
    );
    h.insert(header::CONTENT_LENGTH, info.length.into());
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::try_from(disposition).map_err(|_| TusError::NotFound)?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok((h, Body::new(FileBody::new(file))).into_response())
}
// ANCHOR_END: download

fn mime_of(mime: &str) -> &'static str {
    match mime {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "application/pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// A response body that reads the file 64 KiB at a time.
struct FileBody {
    file: tokio::fs::File,
    buf: Vec<u8>,
}

impl FileBody {
    fn new(file: tokio::fs::File) -> Self {
        Self {
            file,
            buf: vec![0; 64 * 1024],
        }
    }
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let mut read = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if read.filled().is_empty() => {
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) => {
                let data = Bytes::copy_from_slice(read.filled());
                Poll::Ready(Some(Ok(hyper::body::Frame::data(data))))
            }
        }
    }
}

/// RFC 9110 §5.6.7 IMF-fixdate, e.g. `Wed, 25 Jun 2014 16:00:00 GMT`.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
        "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let weekday = DAYS[(days % 7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!("{weekday}, {day:02} {month} {year} {h:02}:{m:02}:{s:02} GMT")
}

fn http_date_value(secs: u64) -> Result<HeaderValue, TusError> {
    HeaderValue::try_from(http_date(secs)).map_err(|_| TusError::Bad("date"))
}

pub async fn start(tus: Arc<Tus>, port: u16) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(tus)).await;
    });
    Ok(addr)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
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

/// `serve [--port P] [--dir D] [--max-size BYTES] [--ttl SECONDS]`:
/// prints the address on one line, then serves until killed.
async fn serve(args: &[String]) {
    let parse = |name: &str, default: u64| match flag(args, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("tus_server: {name} must be a number, got {v:?}");
            std::process::exit(2)
        }),
    };
    let dir = flag(args, "--dir").map_or_else(
        || std::env::temp_dir().join(support::unique_name("tus")),
        PathBuf::from,
    );
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("tus_server: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let cfg = Config {
        dir,
        max_size: parse("--max-size", 64 * 1024 * 1024),
        ttl: Duration::from_secs(parse("--ttl", 24 * 3600)),
    };
    let port = u16::try_from(parse("--port", 1080)).unwrap_or(1080);
    match start(Tus::new(cfg), port).await {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(e) => {
            eprintln!("tus_server: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests;
