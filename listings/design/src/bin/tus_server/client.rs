//! A minimal HTTP/1.1 client over raw TCP (so a test can also cut a body
//! off half-way), and the scripted session `main` prints.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Config, Tus};

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn offset(&self) -> Option<u64> {
        self.header("upload-offset")?.parse().ok()
    }
}

/// One request on its own connection. `declared` is the Content-Length
/// sent; `parts` the body actually written (fewer bytes = interrupted).
pub async fn send_parts(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    declared: u64,
    parts: impl Iterator<Item = Vec<u8>>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Length: {declared}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut sent = 0;
    for part in parts {
        // The server may answer early (413, 409) and close: stop writing.
        if stream.write_all(&part).await.is_err() {
            break;
        }
        sent += part.len() as u64;
    }
    if sent < declared {
        // Interrupted: the server sees the body end too soon.
        let _ = stream.shutdown().await;
    }
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .map_err(|_| std::io::Error::other("no reply within 10 s"))??;
    parse(&raw)
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let parts = body.chunks(64 * 1024).map(<[u8]>::to_vec);
    send_parts(addr, method, path, headers, body.len() as u64, parts).await
}

fn parse(raw: &[u8]) -> std::io::Result<Reply> {
    let bad = || std::io::Error::other("malformed HTTP response");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let text = std::str::from_utf8(&raw[..end]).map_err(|_| bad())?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

pub const TUS: (&str, &str) = ("Tus-Resumable", "1.0.0");
pub const OCTETS: (&str, &str) =
    ("Content-Type", "application/offset+octet-stream");

/// Deterministic content that starts like a PNG file.
pub fn png_like(len: usize) -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x: u32 = 0x2545_F491;
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push(x as u8);
    }
    data.truncate(len);
    data
}

pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

pub async fn create(
    addr: SocketAddr,
    length: u64,
    filename: &str,
) -> std::io::Result<Reply> {
    let length = length.to_string();
    let meta = format!("filename {}", b64(filename.as_bytes()));
    let headers = [TUS, ("Upload-Length", &length), ("Upload-Metadata", &meta)];
    send(addr, "POST", "/files", &headers, b"").await
}

pub async fn patch(
    addr: SocketAddr,
    path: &str,
    offset: u64,
    body: &[u8],
    extra: &[(&str, &str)],
) -> std::io::Result<Reply> {
    let offset = offset.to_string();
    let mut headers = vec![TUS, OCTETS, ("Upload-Offset", offset.as_str())];
    headers.extend_from_slice(extra);
    send(addr, "PATCH", path, &headers, body).await
}

pub fn temp_tus(ttl: u64, max_size: u64) -> std::sync::Arc<Tus> {
    let dir = std::env::temp_dir().join(support::unique_name("tus"));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    Tus::new(Config {
        dir,
        max_size,
        ttl: Duration::from_secs(ttl),
    })
}

/// HEAD, repeated (up to 2 s) until the offset reaches `expected`: the
/// server may still be writing the bytes of a connection that just broke.
pub async fn settled_head(
    addr: SocketAddr,
    url: &str,
    expected: u64,
) -> std::io::Result<Reply> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let r = send(addr, "HEAD", url, &[TUS], b"").await?;
        if r.offset() == Some(expected)
            || tokio::time::Instant::now() > deadline
        {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ANCHOR: demo
/// The session `main` prints: create, upload, interrupt, resume, verify.
pub async fn demo() {
    let tus = temp_tus(24 * 3600, 64 * 1024 * 1024);
    let dir = tus.cfg.dir.clone();
    let addr = match crate::start(tus.clone(), 0).await {
        Ok(addr) => addr,
        Err(e) => support::skip::exit_unavailable("tus_server", "loopback", e),
    };
    if let Err(e) = session(addr).await {
        eprintln!("tus_server: {e}");
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn session(addr: SocketAddr) -> std::io::Result<()> {
    const MIB: usize = 1024 * 1024;
    let file = png_like(3 * MIB);
    let r = send(addr, "OPTIONS", "/files", &[], b"").await?;
    println!("OPTIONS /files -> {}", r.status);
    for h in ["tus-version", "tus-extension", "tus-max-size"] {
        println!("  {h}: {}", r.header(h).unwrap_or("-"));
    }
    let algorithms = r.header("tus-checksum-algorithm").unwrap_or("-");
    println!("  tus-checksum-algorithm: {algorithms}");
    let r = create(addr, file.len() as u64, "holiday.png").await?;
    let url = r.header("location").unwrap_or("/files/?").to_string();
    println!("POST Upload-Length {} -> {}", file.len(), r.status);
    let r = patch(addr, &url, 0, &file[..MIB], &[]).await?;
    println!(
        "PATCH offset 0, 1 MiB -> {} offset {}",
        r.status,
        r.offset().unwrap_or(0)
    );
    // The connection drops after half of the second MiB.
    let (off, declared) = ("1048576", MIB as u64);
    let h = [TUS, OCTETS, ("Upload-Offset", off)];
    let half = vec![file[MIB..MIB + MIB / 2].to_vec()];
    let r = send_parts(addr, "PATCH", &url, &h, declared, half.into_iter());
    let _ = r.await; // the client saw the connection fail
    let r = settled_head(addr, &url, (MIB + MIB / 2) as u64).await?;
    let now = r.offset().unwrap_or(0);
    println!(
        "connection lost mid-PATCH; HEAD -> {} offset {now}",
        r.status
    );
    println!(
        "  cache-control: {}",
        r.header("cache-control").unwrap_or("-")
    );
    let r = patch(addr, &url, 0, &file[..10], &[]).await?;
    println!("PATCH with stale offset 0 -> {}", r.status);
    let rest = &file[now as usize..];
    let wrong = format!("sha1 {}", b64(&[0; 20]));
    let bad = [("Upload-Checksum", wrong.as_str())];
    let r = patch(addr, &url, now, rest, &bad).await?;
    println!("PATCH rest with a wrong sha1 -> {}", r.status);
    let sum = format!("sha256 {}", b64(&Sha256::digest(rest)));
    let r = patch(addr, &url, now, rest, &[("Upload-Checksum", &sum)]).await?;
    println!(
        "PATCH rest with its sha256 -> {} offset {}",
        r.status,
        r.offset().unwrap_or(0)
    );
    let r = send(addr, "GET", &url, &[], b"").await?;
    println!(
        "GET -> {} {}",
        r.status,
        r.header("content-type").unwrap_or("-")
    );
    for h in ["x-content-type-options", "content-disposition"] {
        println!("  {h}: {}", r.header(h).unwrap_or("-"));
    }
    let same = Sha256::digest(&r.body) == Sha256::digest(&file);
    println!("  stored SHA-256 equals the original's: {same}");
    let r = send(addr, "DELETE", &url, &[TUS], b"").await?;
    let after = send(addr, "HEAD", &url, &[TUS], b"").await?;
    println!("DELETE -> {}, then HEAD -> {}", r.status, after.status);
    Ok(())
}
// ANCHOR_END: demo
