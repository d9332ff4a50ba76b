//! 3.10 A CMS backend on PostgreSQL behind an axum API: roles and
//! object-level permissions checked on the server, append-only revisions
//! with a published pointer, revert as a new revision, optimistic locking
//! (409 on a stale base revision), a draft -> review -> published ->
//! archived workflow with scheduled publishing, slugs that leave 301
//! redirects, canonical URLs, signed expiring preview links served with
//! `X-Robots-Tag: noindex`, and a sitemap split at the protocol's limits.
//!
//! - Every run works in a scratch schema of its own, dropped at the end.
//! - Time comes from an injectable clock (unix seconds): scheduled
//!   publishing and link expiry are tested by moving it, never by sleeping.
//! - Server: `DATABASE_URL` (local default). Without it, `main` exits 77
//!   and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`).

mod api;
mod client;
mod policy;
mod preview;
mod sitemap;
mod workflow;

use std::collections::HashMap;

use serde_json::json;

use api::{Config, Server};
use client::{Http, Reply};

/// 2026-01-05T09:00:00Z, where the demo's clock starts.
const T0: i64 = 1_767_603_600;

fn show(what: &str, reply: &Reply) {
    let detail = match reply.error() {
        e if !e.is_empty() => e,
        _ if reply.status == 301 => {
            format!("Location: {}", reply.header("location").unwrap_or("-"))
        }
        _ => reply.body.chars().take(60).collect(),
    };
    println!("{what:<40} {} {detail}", reply.status);
}

fn edit(base: i32, body: &str) -> serde_json::Value {
    json!({"base_revision": base, "title": "Pricing", "body": body})
}

// ANCHOR: demo
async fn demo() -> Result<(), client::Error> {
    let config = Config {
        base_url: "https://cms.example".into(),
        preview_key: b"demo preview key".to_vec(),
        limits: sitemap::PROTOCOL,
    };
    let server = Server::start(config, T0).await?;
    let http = Http::new(server.addr);
    let root = server.admin_token.clone();
    let mut tokens = HashMap::new();
    for (name, role) in
        [("ann", "author"), ("eve", "editor"), ("vic", "viewer")]
    {
        let body = json!({"name": name, "role": role});
        let reply = http.post("/api/users", &root, body).await?;
        let token = reply.json()["token"].as_str().unwrap_or("").to_string();
        tokens.insert(name, token);
    }
    let (ann, eve, vic) = (&tokens["ann"], &tokens["eve"], &tokens["vic"]);
    let page = json!({"slug": "pricing", "title": "Pricing", "body": "v1"});
    let r = http.post("/api/pages", ann, page).await?;
    show("author creates /p/pricing", &r);
    let r = http.put("/api/pages/1", vic, edit(1, "x")).await?;
    show("viewer edits it", &r);
    let r = http.put("/api/pages/1", ann, edit(1, "v2")).await?;
    show("author edits revision 1", &r);
    let r = http.put("/api/pages/1", eve, edit(1, "v2 too")).await?;
    show("editor edits revision 1 too", &r);
    let to = |state: &str| json!({"to": state});
    let r = http
        .post("/api/pages/1/transition", ann, to("published"))
        .await?;
    show("author publishes a draft", &r);
    let r = http
        .post("/api/pages/1/transition", ann, to("review"))
        .await?;
    show("author submits for review", &r);
    let r = http
        .post("/api/pages/1/transition", ann, to("published"))
        .await?;
    show("author publishes", &r);
    let at = json!({"to": "published", "publish_at": T0 + 3_600});
    let r = http.post("/api/pages/1/transition", eve, at).await?;
    show("editor schedules it for +1 h", &r);
    show("GET /p/pricing", &http.get("/p/pricing", None).await?);
    // ANCHOR_END: demo
    // ANCHOR: demo_rest
    server.advance(3_600);
    let r = http.get("/p/pricing", None).await?;
    show("GET /p/pricing an hour later", &r);
    println!("  Link: {}", r.header("link").unwrap_or("-"));
    for slug in ["plans", "plans-2026"] {
        let r = http
            .put("/api/pages/1/slug", eve, json!({"slug": slug}))
            .await?;
        show(&format!("editor renames it to {slug}"), &r);
    }
    show("GET /p/pricing", &http.get("/p/pricing", None).await?);
    show("GET /p/plans", &http.get("/p/plans", None).await?);
    let r = http.put("/api/pages/1", ann, edit(2, "v3, a typo")).await?;
    show("author edits revision 2", &r);
    let revert = json!({"base_revision": 3, "to_revision": 1});
    let r = http.post("/api/pages/1/revert", ann, revert).await?;
    show("author reverts to revision 1", &r);
    let r = http.get("/p/plans-2026", None).await?;
    show("GET /p/plans-2026 (published: 2)", &r);
    let link = json!({"revision": 4, "ttl_s": 600});
    let r = http.post("/api/pages/1/preview", ann, link).await?;
    let url = r.json()["url"].as_str().unwrap_or("").to_string();
    let r = http.get(&url, None).await?;
    show("preview of revision 4", &r);
    println!(
        "  X-Robots-Tag: {}",
        r.header("x-robots-tag").unwrap_or("-")
    );
    let forged = url.replace("/4?", "/3?");
    show(
        "same signature, revision 3",
        &http.get(&forged, None).await?,
    );
    server.advance(600);
    show("preview 10 minutes later", &http.get(&url, None).await?);
    println!("GET /sitemap.xml");
    print!("{}", http.get("/sitemap.xml", None).await?.body);
    let r = http
        .post("/api/pages/1/transition", eve, to("archived"))
        .await?;
    show("editor archives it", &r);
    show("GET /p/plans-2026", &http.get("/p/plans-2026", None).await?);
    server.stop().await;
    Ok(())
}
// ANCHOR_END: demo_rest

fn main() {
    let _ = support::pg::connect_or_exit("cms");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if let Err(error) = runtime.block_on(demo()) {
        eprintln!("cms: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests;
