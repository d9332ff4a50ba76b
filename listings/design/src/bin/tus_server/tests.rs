use std::sync::Arc;

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::client::{
    OCTETS, TUS, b64, create, patch, png_like, send, send_parts, settled_head,
    temp_tus,
};
use super::*;

const MIB: usize = 1024 * 1024;

async fn server(ttl: u64, max: u64) -> Option<(Arc<Tus>, SocketAddr)> {
    let tus = temp_tus(ttl, max);
    let addr = support::skip::in_test(
        "tus_server",
        "loopback",
        start(tus.clone(), 0).await,
    )?;
    Some((tus, addr))
}

fn files(tus: &Tus) -> usize {
    std::fs::read_dir(&tus.cfg.dir).map_or(0, |d| d.count())
}

fn cleanup(tus: &Tus) {
    let _ = std::fs::remove_dir_all(&tus.cfg.dir);
}

async fn new_upload(addr: SocketAddr, len: usize) -> String {
    let r = create(addr, len as u64, "photo.png").await.unwrap();
    assert_eq!(r.status, 201);
    r.header("location").unwrap().to_string()
}

async fn head_offset(addr: SocketAddr, url: &str) -> Option<u64> {
    send(addr, "HEAD", url, &[TUS], b"").await.unwrap().offset()
}

#[tokio::test]
async fn options_advertises_version_extensions_limits_and_checksums() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let r = send(addr, "OPTIONS", "/files", &[], b"").await.unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("tus-version"), Some("1.0.0"));
    assert_eq!(
        r.header("tus-extension"),
        Some("creation,checksum,expiration,termination")
    );
    assert_eq!(r.header("tus-max-size"), Some("1000"));
    assert_eq!(r.header("tus-checksum-algorithm"), Some("sha1,sha256"));
    cleanup(&tus);
}

#[tokio::test]
async fn creation_answers_201_with_location_and_expiry() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let r = create(addr, 100, "a.pdf").await.unwrap();
    assert_eq!(r.status, 201);
    let url = r.header("location").unwrap();
    let id = url.strip_prefix("/files/").unwrap();
    assert!(valid_id(id), "random 128-bit hex id, got {id}");
    assert!(r.header("upload-expires").unwrap().ends_with(" GMT"));
    let h = send(addr, "HEAD", url, &[TUS], b"").await.unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.offset(), Some(0));
    assert_eq!(h.header("upload-length"), Some("100"));
    assert_eq!(h.header("cache-control"), Some("no-store"));
    assert_eq!(h.header("tus-resumable"), Some("1.0.0"));
    let meta = format!("filename {}", b64(b"a.pdf"));
    assert_eq!(h.header("upload-metadata"), Some(meta.as_str()));
    // Two uploads never share a name.
    let other = create(addr, 100, "a.pdf").await.unwrap();
    assert_ne!(other.header("location"), Some(url));
    cleanup(&tus);
}

#[tokio::test]
async fn bad_creation_requests_are_refused_and_store_nothing() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let meta = |name: &[u8]| format!("filename {}", b64(name));
    let cases: Vec<(Vec<(&str, String)>, u16)> = vec![
        (vec![], 400),
        (vec![("Upload-Length", "-1".into())], 400),
        (vec![("Upload-Length", "12abc".into())], 400),
        (
            vec![("Upload-Length", "99999999999999999999999".into())],
            400,
        ),
        (vec![("Upload-Length", "1001".into())], 413),
        (vec![("Upload-Defer-Length", "1".into())], 400),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", "filename not*base64".into()),
            ],
            400,
        ),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", "a YQ==,a Yg==".into()),
            ],
            400,
        ),
    ];
    let traversal: [&[u8]; 7] = [
        b"../../etc/passwd",
        b"..\\..\\boot.ini",
        b"/etc/passwd",
        b".htaccess",
        b"a\0.png",
        b"photo\".png",
        b"caf\xc3\xa9.png",
    ];
    let mut all = cases;
    for name in traversal {
        let h = vec![
            ("Upload-Length", "10".into()),
            ("Upload-Metadata", meta(name)),
        ];
        all.push((h, 400));
    }
    for (headers, want) in all {
        let mut h: Vec<(&str, &str)> = vec![TUS];
        h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let r = send(addr, "POST", "/files", &h, b"").await.unwrap();
        assert_eq!(r.status, want, "{headers:?}");
        assert!(!String::from_utf8_lossy(&r.body).is_empty(), "a reason");
    }
    assert_eq!(files(&tus), 0, "no refused request left a file");
    cleanup(&tus);
}

#[tokio::test]
async fn another_tus_version_gets_412_and_changes_nothing() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let url = new_upload(addr, 20).await;
    let old = [("Tus-Resumable", "0.2.2"), ("Upload-Length", "10")];
    let r = send(addr, "POST", "/files", &old, b"").await.unwrap();
    assert_eq!(r.status, 412);
    assert_eq!(r.header("tus-version"), Some("1.0.0"));
    let h = [("Tus-Resumable", "0.2.2"), OCTETS, ("Upload-Offset", "0")];
    let r = send(addr, "PATCH", &url, &h, &png_like(20)).await.unwrap();
    assert_eq!(r.status, 412);
    let missing = [OCTETS, ("Upload-Offset", "0")];
    let r = send(addr, "PATCH", &url, &missing, &png_like(20))
        .await
        .unwrap();
    assert_eq!(r.status, 412);
    assert_eq!(head_offset(addr, &url).await, Some(0));
    assert_eq!(files(&tus), 2, "one upload: data and info");
    cleanup(&tus);
}

#[tokio::test]
async fn patch_refusals_leave_the_offset_alone() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let url = new_upload(addr, 100).await;
    let data = png_like(100);
    assert_eq!(
        patch(addr, &url, 0, &data[..40], &[]).await.unwrap().status,
        204
    );
    let plain = [TUS, ("Content-Type", "text/plain"), ("Upload-Offset", "40")];
    let r = send(addr, "PATCH", &url, &plain, &data[40..])
        .await
        .unwrap();
    assert_eq!(r.status, 415);
    let none = [TUS, ("Upload-Offset", "40")];
    let r = send(addr, "PATCH", &url, &none, &data[40..]).await.unwrap();
    assert_eq!(r.status, 415);
    let r = patch(addr, &url, 10, &data[10..], &[]).await.unwrap();
    assert_eq!(r.status, 409);
    let r = patch(addr, &url, 41, &data[41..], &[]).await.unwrap();
    assert_eq!(r.status, 409);
    let bad = [TUS, OCTETS, ("Upload-Offset", "forty")];
    let r = send(addr, "PATCH", &url, &bad, &data[40..]).await.unwrap();
    assert_eq!(r.status, 400);
    let r = patch(addr, &url, 40, &png_like(61), &[]).await.unwrap();
    assert_eq!(r.status, 413, "one byte past Upload-Length");
    for unknown in ["/files/0123456789abcdef0123456789abcdef", "/files/..%2F.."]
    {
        let r = patch(addr, unknown, 0, b"x", &[]).await.unwrap();
        assert_eq!(r.status, 404, "{unknown}");
    }
    assert_eq!(head_offset(addr, &url).await, Some(40));
    let r = patch(addr, &url, 40, &data[40..], &[]).await.unwrap();
    assert_eq!((r.status, r.offset()), (204, Some(100)));
    cleanup(&tus);
}

#[tokio::test]
async fn checksums_verify_each_chunk_and_a_mismatch_discards_it() {
    let Some((tus, addr)) = server(60, 10 * MIB as u64).await else {
        return;
    };
    let data = png_like(300_000);
    let url = new_upload(addr, data.len()).await;
    let wrong = format!("sha1 {}", b64(&[7; 20]));
    let h = [("Upload-Checksum", wrong.as_str())];
    let r = patch(addr, &url, 0, &data[..100_000], &h).await.unwrap();
    assert_eq!(r.status, 460);
    assert_eq!(head_offset(addr, &url).await, Some(0));
    let mut sha1 = sha1::Sha1::new();
    sha1.update(&data[..100_000]);
    let right = format!("sha1 {}", b64(&sha1.finish()));
    let h = [("Upload-Checksum", right.as_str())];
    let r = patch(addr, &url, 0, &data[..100_000], &h).await.unwrap();
    assert_eq!((r.status, r.offset()), (204, Some(100_000)));
    for bad in ["md5 AAAA", "sha256 not-base64!", "sha256"] {
        let h = [("Upload-Checksum", bad)];
        let r = patch(addr, &url, 100_000, &data[100_000..], &h)
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{bad}");
    }
    let sum = format!("sha256 {}", b64(&Sha256::digest(&data[100_000..])));
    let h = [("Upload-Checksum", sum.as_str())];
    let r = patch(addr, &url, 100_000, &data[100_000..], &h)
        .await
        .unwrap();
    assert_eq!((r.status, r.offset()), (204, Some(300_000)));
    cleanup(&tus);
}

// ANCHOR: test_resume
#[tokio::test]
async fn an_interrupted_upload_resumes_and_the_stored_file_matches() {
    let Some((tus, addr)) = server(60, 10 * MIB as u64).await else {
        return;
    };
    let data = png_like(2 * MIB);
    let url = new_upload(addr, data.len()).await;
    // Declares the whole file, sends 700,001 bytes, then the link dies.
    let cut = 700_001;
    let h = [TUS, OCTETS, ("Upload-Offset", "0")];
    let part = std::iter::once(data[..cut].to_vec());
    let _ = send_parts(addr, "PATCH", &url, &h, data.len() as u64, part).await;
    let r = settled_head(addr, &url, cut as u64).await.unwrap();
    assert_eq!(r.offset(), Some(cut as u64), "kept what arrived");
    let r = patch(addr, &url, cut as u64, &data[cut..], &[])
        .await
        .unwrap();
    assert_eq!((r.status, r.offset()), (204, Some(data.len() as u64)));
    let got = send(addr, "GET", &url, &[], b"").await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(Sha256::digest(&got.body), Sha256::digest(&data));
    cleanup(&tus);
}
// ANCHOR_END: test_resume

#[tokio::test]
async fn an_interrupted_chunk_with_a_checksum_is_discarded() {
    let Some((tus, addr)) = server(60, 10 * MIB as u64).await else {
        return;
    };
    let data = png_like(MIB);
    let url = new_upload(addr, data.len()).await;
    let sum = format!("sha256 {}", b64(&Sha256::digest(&data)));
    let h = [
        TUS,
        OCTETS,
        ("Upload-Offset", "0"),
        ("Upload-Checksum", &sum),
    ];
    let part = std::iter::once(data[..400_000].to_vec());
    let _ = send_parts(addr, "PATCH", &url, &h, data.len() as u64, part).await;
    // Give the server time to finish with the broken connection.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(head_offset(addr, &url).await, Some(0));
    cleanup(&tus);
}

#[tokio::test]
async fn concurrent_patches_at_one_offset_one_wins_one_conflicts() {
    let Some((tus, addr)) = server(60, 10 * MIB as u64).await else {
        return;
    };
    let data = png_like(2 * MIB);
    let url = new_upload(addr, data.len()).await;
    let (a, b) = tokio::join!(
        patch(addr, &url, 0, &data[..MIB], &[]),
        patch(addr, &url, 0, &data[..MIB], &[]),
    );
    let mut statuses = [a.unwrap().status, b.unwrap().status];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 409]);
    assert_eq!(head_offset(addr, &url).await, Some(MIB as u64));
    // Both requests are answered: no upload's lock is left in the map.
    assert_eq!(tus.locks.lock().unwrap().len(), 0);
    cleanup(&tus);
}

#[test]
fn an_upload_lock_is_removed_with_its_last_handle() {
    let tus = temp_tus(60, 10);
    let first = tus.lock("a");
    let second = tus.lock("a");
    let other = tus.lock("b");
    assert_eq!(tus.locks.lock().unwrap().len(), 2);
    drop(first);
    assert_eq!(tus.locks.lock().unwrap().len(), 2, "still held");
    drop((second, other));
    assert_eq!(tus.locks.lock().unwrap().len(), 0);
    cleanup(&tus);
}

// ANCHOR: test_memory
#[tokio::test]
async fn a_large_upload_is_streamed_not_buffered() {
    let size = 32 * MIB;
    let Some((tus, addr)) = server(60, size as u64).await else {
        return;
    };
    let url = new_upload(addr, size).await;
    let head = png_like(64 * 1024);
    // 32 MiB generated on the fly, 64 KiB at a time.
    let parts = (0..size / head.len()).map(|_| head.clone());
    let h = [TUS, OCTETS, ("Upload-Offset", "0")];
    let r = send_parts(addr, "PATCH", &url, &h, size as u64, parts).await;
    assert_eq!(r.unwrap().offset(), Some(size as u64));
    assert_eq!(tus.stored.load(Ordering::Relaxed), size as u64);
    let peak = tus.peak_frame.load(Ordering::Relaxed);
    assert!(peak <= 1024 * 1024, "largest frame held: {peak} bytes");
    let on_disk = std::fs::metadata(tus.data_path(&url[7..])).unwrap().len();
    assert_eq!(on_disk, size as u64);
    cleanup(&tus);
}
// ANCHOR_END: test_memory

#[tokio::test]
async fn content_outside_the_allow_list_is_refused_by_its_bytes() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    // An ELF executable called photo.png.
    let elf = b"\x7fELF\x02\x01\x01\0 payload".to_vec();
    let url = new_upload(addr, elf.len()).await;
    let r = patch(addr, &url, 0, &elf, &[]).await.unwrap();
    assert_eq!(r.status, 422);
    assert_eq!(head_offset(addr, &url).await, Some(0));
    // HTML sent in small pieces is caught once 8 bytes are in.
    let html = b"<script>alert(1)</script>".to_vec();
    let url = new_upload(addr, html.len()).await;
    let r = patch(addr, &url, 0, &html[..5], &[]).await.unwrap();
    assert_eq!(r.status, 204);
    let r = patch(addr, &url, 5, &html[5..], &[]).await.unwrap();
    assert_eq!(r.status, 422);
    assert_eq!(head_offset(addr, &url).await, Some(5));
    assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
    assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
    assert_eq!(sniff(b"PK\x03\x04"), None);
    cleanup(&tus);
}

#[tokio::test]
async fn downloads_are_attachments_typed_by_content_with_nosniff() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let pdf = b"%PDF-1.7 tiny".to_vec();
    let url = new_upload(addr, pdf.len()).await; // named photo.png
    let r = send(addr, "GET", &url, &[], b"").await.unwrap();
    assert_eq!(r.status, 404, "not downloadable before it is complete");
    patch(addr, &url, 0, &pdf, &[]).await.unwrap();
    let r = send(addr, "GET", &url, &[], b"").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"photo.png\"")
    );
    assert_eq!(r.body, pdf);
    let h = send(addr, "HEAD", &url, &[TUS], b"").await.unwrap();
    assert_eq!(h.header("upload-expires"), None, "complete: never expires");
    cleanup(&tus);
}

#[tokio::test]
async fn an_expired_upload_is_gone_and_swept() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let data = png_like(100);
    let url = new_upload(addr, 100).await;
    let r = patch(addr, &url, 0, &data[..50], &[]).await.unwrap();
    let expires = r.header("upload-expires").unwrap().to_string();
    assert_eq!(expires, http_date(tus.now() + 60));
    let done = new_upload(addr, 100).await;
    patch(addr, &done, 0, &data, &[]).await.unwrap();
    tus.skew.store(61, Ordering::Relaxed);
    assert_eq!(tus.sweep().await.unwrap(), 1, "only the unfinished one");
    assert!(!tus.data_path(&url[7..]).exists(), "its data is deleted");
    let r = send(addr, "HEAD", &url, &[TUS], b"").await.unwrap();
    assert_eq!((r.status, r.offset()), (410, None));
    let r = patch(addr, &url, 50, &data[50..], &[]).await.unwrap();
    assert_eq!(r.status, 410);
    assert_eq!(head_offset(addr, &done).await, Some(100), "complete: kept");
    cleanup(&tus);
}

#[tokio::test]
async fn termination_frees_the_upload() {
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let url = new_upload(addr, 100).await;
    patch(addr, &url, 0, &png_like(30), &[]).await.unwrap();
    let r = send(addr, "DELETE", &url, &[TUS], b"").await.unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(files(&tus), 0);
    for method in ["HEAD", "DELETE"] {
        let r = send(addr, method, &url, &[TUS], b"").await.unwrap();
        assert_eq!(r.status, 404, "{method}");
    }
    assert_eq!(patch(addr, &url, 30, b"x", &[]).await.unwrap().status, 404);
    cleanup(&tus);
}

#[test]
fn http_dates_are_imf_fixdate() {
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    // The tus specification's own example, and a leap day.
    assert_eq!(http_date(1_403_712_000), "Wed, 25 Jun 2014 16:00:00 GMT");
    assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

proptest! {
    #[test]
    fn an_accepted_file_name_can_only_be_a_name(name in "\\PC{0,20}") {
        if let Ok(ok) = safe_filename(name) {
            prop_assert!(!ok.contains('/') && !ok.contains('\\'));
            prop_assert!(!ok.contains("..") && !ok.starts_with('.'));
            prop_assert!(!ok.contains('"') && !ok.is_empty());
        }
    }

    #[test]
    fn metadata_parsing_never_panics(raw in "[ -~]{0,40}") {
        let _ = parse_metadata(&raw);
    }
}

#[tokio::test]
async fn a_chunked_body_is_cut_at_the_first_byte_past_the_length() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some((tus, addr)) = server(60, 1000).await else {
        return;
    };
    let url = new_upload(addr, 100).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Nothing declared: 60 + 60 bytes arrive for an upload of 100.
    let data = png_like(120);
    for part in data.chunks(60) {
        let size = format!("{:x}\r\n", part.len());
        let chunk = [size.as_bytes(), part, b"\r\n"].concat();
        let _ = stream.write_all(&chunk).await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    assert!(
        raw.starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(head_offset(addr, &url).await, Some(0), "nothing kept");
    cleanup(&tus);
}
