use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::api::check_slug;
use crate::client::Reply;
use crate::policy::{ACTIONS, Action, ROLES};
use crate::preview::PreviewError;
use crate::sitemap::{Entry, Limits, PROTOCOL, Sitemap, SitemapError};
use crate::workflow::{STATES, State};

// ---- pure parts -------------------------------------------------------

#[test]
fn only_the_listed_transitions_are_legal() {
    use State::*;
    let legal = [
        (Draft, Review),
        (Review, Draft),
        (Review, Published),
        (Published, Published),
        (Published, Archived),
        (Archived, Draft),
    ];
    for from in STATES {
        for to in STATES {
            let ok = workflow::transition(from, to).is_some();
            assert_eq!(ok, legal.contains(&(from, to)), "{from:?} -> {to:?}");
        }
    }
    assert_eq!(workflow::next_states(Draft), ["review"]);
    assert_eq!(workflow::next_states(Archived), ["draft"]);
}

fn entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            loc: format!("https://cms.example/p/page-{i}"),
            lastmod: T0 + i as i64,
        })
        .collect()
}

// ANCHOR: at_the_limit
#[test]
fn fifty_thousand_urls_fit_one_file_and_one_more_needs_an_index() {
    let Sitemap::Single(file) =
        sitemap::build(&entries(50_000), PROTOCOL, "").unwrap()
    else {
        panic!("50,000 URLs must fit one file");
    };
    assert_eq!(file.urls, 50_000);
    assert_eq!(file.xml.matches("<url>").count(), 50_000);
    assert!(file.xml.len() <= PROTOCOL.max_bytes);

    let built =
        sitemap::build(&entries(50_001), PROTOCOL, "https://cms.example");
    let Ok(Sitemap::Index { index, files }) = built else {
        panic!("50,001 URLs need an index");
    };
    let counts: Vec<usize> = files.iter().map(|f| f.urls).collect();
    assert_eq!(counts, [50_000, 1]);
    assert_eq!(index.matches("<sitemap>").count(), 2);
    assert!(index.contains("<loc>https://cms.example/sitemap/2.xml</loc>"));
    // The second file's lastmod is its newest entry's.
    let last = sitemap::w3c_datetime(T0 + 50_000);
    assert!(index.contains(&format!("<lastmod>{last}</lastmod>")));
    assert!(files[1].xml.contains("page-50000<"));
}
// ANCHOR_END: at_the_limit

#[test]
fn files_split_on_bytes_too_and_keep_every_entry_in_order() {
    let one = sitemap::split(&entries(1), PROTOCOL).unwrap()[0].xml.len();
    // Room for about three entries per file.
    let limits = Limits {
        max_urls: 50_000,
        max_bytes: one + 2 * 90,
    };
    let all = entries(10);
    let files = sitemap::split(&all, limits).unwrap();
    assert!(files.len() > 1);
    for file in &files {
        assert!(file.xml.len() <= limits.max_bytes, "{}", file.xml.len());
        assert!(file.xml.ends_with("</urlset>\n"));
    }
    let listed: String = files.iter().map(|f| f.xml.as_str()).collect();
    let mut at = 0;
    for entry in &all {
        let found = listed[at..].find(&format!("{}<", entry.loc)).unwrap();
        at += found + 1;
    }
    assert_eq!(files.iter().map(|f| f.urls).sum::<usize>(), 10);
}

#[test]
fn what_cannot_fit_is_an_error_not_a_truncation() {
    let tiny = Limits {
        max_urls: 1,
        max_bytes: 200,
    };
    let long = Entry {
        loc: format!("https://cms.example/p/{}", "a".repeat(150)),
        lastmod: T0,
    };
    let error = sitemap::split(&[long], tiny).unwrap_err();
    assert!(matches!(error, SitemapError::EntryTooLarge(_)));
    // "less than 2,048 characters": 2,047 is the longest allowed.
    let loc = |n: usize| Entry {
        loc: format!("https://cms.example/{}", "a".repeat(n - 20)),
        lastmod: T0,
    };
    assert!(sitemap::split(&[loc(2_047)], PROTOCOL).is_ok());
    let error = sitemap::split(&[loc(2_048)], PROTOCOL).unwrap_err();
    assert_eq!(error, SitemapError::LocTooLong(2_048));
    // One URL per file and one sitemap per index: two pages are too many.
    let one_each = Limits {
        max_urls: 1,
        max_bytes: PROTOCOL.max_bytes,
    };
    let error = sitemap::build(&entries(2), one_each, "").unwrap_err();
    assert_eq!(error, SitemapError::TooManyFiles(2));
}

#[test]
fn no_pages_is_one_empty_urlset_and_urls_are_escaped() {
    let Ok(Sitemap::Single(file)) = sitemap::build(&[], PROTOCOL, "") else {
        panic!("one file");
    };
    assert_eq!(file.urls, 0);
    let ns = "http://www.sitemaps.org/schemas/sitemap/0.9";
    let empty = format!("<urlset xmlns=\"{ns}\">\n</urlset>\n");
    assert!(file.xml.ends_with(&empty));
    let odd = Entry {
        loc: "https://cms.example/p/a?x=1&y=<2>'\"".into(),
        lastmod: 0,
    };
    let xml = sitemap::split(&[odd], PROTOCOL).unwrap().remove(0).xml;
    assert!(xml.contains(
        "<loc>https://cms.example/p/a?x=1&amp;y=&lt;2&gt;&apos;&quot;</loc>"
    ));
    assert!(xml.contains("<lastmod>1970-01-01T00:00:00Z</lastmod>"));
}

#[test]
fn w3c_datetimes_of_known_instants() {
    assert_eq!(sitemap::w3c_datetime(0), "1970-01-01T00:00:00Z");
    assert_eq!(sitemap::w3c_datetime(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(sitemap::w3c_datetime(T0), "2026-01-05T09:00:00Z");
    assert_eq!(sitemap::w3c_datetime(-1), "1969-12-31T23:59:59Z");
}

proptest! {
    #[test]
    fn w3c_datetime_agrees_with_jiff(t in 0i64..253_402_300_800) {
        let jiff = jiff::Timestamp::from_second(t).unwrap();
        let expected = jiff.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        prop_assert_eq!(sitemap::w3c_datetime(t), expected);
    }
}

#[test]
fn preview_signatures_cover_page_revision_and_expiry() {
    let key = b"k";
    let query = preview::sign(key, 7, 3, T0 + 60);
    let (exp, sig) = query
        .strip_prefix("exp=")
        .and_then(|q| q.split_once("&sig="))
        .unwrap();
    let check = |key: &[u8], page, rev, exp: &str, sig: &str, now| {
        preview::verify(key, page, rev, Some(exp), Some(sig), now)
    };
    assert_eq!(check(key, 7, 3, exp, sig, T0), Ok(()));
    assert_eq!(
        check(key, 7, 3, exp, sig, T0 + 60),
        Err(PreviewError::Expired(T0 + 60))
    );
    let later = (T0 + 6_000).to_string();
    let bad = Err(PreviewError::BadSignature);
    assert_eq!(check(key, 7, 3, &later, sig, T0), bad);
    assert_eq!(check(key, 8, 3, exp, sig, T0), bad);
    assert_eq!(check(key, 7, 4, exp, sig, T0), bad);
    assert_eq!(check(b"other key", 7, 3, exp, sig, T0), bad);
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    assert_eq!(check(key, 7, 3, exp, &flipped, T0), bad);
    let malformed = Err(PreviewError::Malformed);
    assert_eq!(check(key, 7, 3, exp, &sig[..10], T0), malformed);
    assert_eq!(check(key, 7, 3, "soon", sig, T0), malformed);
    assert_eq!(preview::verify(key, 7, 3, None, Some(sig), T0), malformed);
}

#[test]
fn slugs_are_checked() {
    for good in ["a", "pricing", "plans-2026", "a-b-c"] {
        assert!(check_slug(good).is_ok(), "{good}");
    }
    let long = "a".repeat(101);
    for bad in ["", "-a", "a-", "a--b", "A", "a b", "a/b", "é", "a_b", &long] {
        assert!(check_slug(bad).is_err(), "{bad:?}");
    }
}

// ---- against PostgreSQL, over HTTP -----------------------------------

async fn start(test: &str, limits: Limits) -> Option<(Server, Http)> {
    let config = Config {
        base_url: "https://cms.example".into(),
        preview_key: b"test key".to_vec(),
        limits,
    };
    let server = support::skip::in_test(
        test,
        "PostgreSQL",
        Server::start(config, T0).await,
    )?;
    let http = Http::new(server.addr);
    Some((server, http))
}

/// Creates users through the API; returns name -> (id, token).
async fn users(
    server: &Server,
    http: &Http,
    list: &[(&str, &str)],
) -> HashMap<String, (i64, String)> {
    let mut out = HashMap::new();
    for (name, role) in list {
        let body = json!({"name": name, "role": role});
        let reply = http
            .post("/api/users", &server.admin_token, body)
            .await
            .unwrap();
        assert_eq!(reply.status, 201, "{}", reply.body);
        let json = reply.json();
        let id = json["id"].as_i64().unwrap();
        out.insert(
            name.to_string(),
            (id, json["token"].as_str().unwrap().to_string()),
        );
    }
    out
}

/// A page owned by `owner` in `state`, made in SQL (test setup).
async fn page_of(server: &Server, owner: i64, slug: &str, state: &str) -> i64 {
    let sql = "WITH p AS (INSERT INTO page (owner_id, slug, state) \
               VALUES ($1, $2, $3) RETURNING id) \
               INSERT INTO revision \
               (page_id, rev, title, body, author_id, created_at) \
               SELECT id, 1, 'T', 'B', $1, 0 FROM p RETURNING page_id";
    server
        .sql
        .query_one(sql, &[&owner, &slug, &state])
        .await
        .unwrap()
        .get(0)
}

/// The page as the test made it: still there, at revision 1, unpublished.
async fn untouched(server: &Server, id: i64) -> bool {
    let sql = "SELECT 1 FROM page WHERE id = $1 AND head_rev = 1 \
               AND published_rev IS NULL";
    let row = server.sql.query_opt(sql, &[&id]).await.unwrap();
    row.is_some()
}

async fn head(server: &Server, id: i64) -> Option<i32> {
    let sql = "SELECT head_rev FROM page WHERE id = $1";
    server
        .sql
        .query_opt(sql, &[&id])
        .await
        .unwrap()
        .map(|r| r.get(0))
}

fn edit(base: i32, body: &str) -> serde_json::Value {
    json!({"base_revision": base, "title": "T", "body": body})
}

/// Tries `action` as the user `me` (with `token`) on a fresh page; the
/// page's id (0 for user management) and the reply.
async fn attempt(
    server: &Server,
    http: &Http,
    action: Action,
    (me, token): (i64, &str),
    owner: i64,
    slug: &str,
) -> (i64, Reply) {
    let (id, status) = match action {
        Action::ReadDraft => {
            let id = page_of(server, owner, slug, "draft").await;
            (id, http.get(&format!("/api/pages/{id}"), Some(token)).await)
        }
        Action::EditOwn | Action::EditAny => {
            let who = if action == Action::EditOwn { me } else { owner };
            let id = page_of(server, who, slug, "draft").await;
            let path = format!("/api/pages/{id}");
            (id, http.put(&path, token, edit(1, "new")).await)
        }
        Action::Publish => {
            let id = page_of(server, owner, slug, "review").await;
            let path = format!("/api/pages/{id}/transition");
            let to = json!({"to": "published"});
            (id, http.post(&path, token, to).await)
        }
        Action::Delete => {
            let id = page_of(server, me, slug, "draft").await;
            let path = format!("/api/pages/{id}");
            (id, http.call("DELETE", &path, Some(token), None).await)
        }
        Action::ManageUsers => {
            let body = json!({"name": slug, "role": "admin"});
            (0, http.post("/api/users", token, body).await)
        }
    };
    (id, status.expect("the server answers"))
}

// ANCHOR: matrix
/// The whole role x action matrix, over HTTP: allowed, or 403 and
/// nothing changed. The expected table is written out here, not
/// computed from the policy under test.
#[tokio::test]
async fn the_role_action_matrix_is_enforced_on_the_server() {
    let test = "the_role_action_matrix_is_enforced_on_the_server";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let expected: [(&str, [bool; 6]); 4] = [
        // read-draft, edit-own, edit-any, publish, delete, manage-users
        ("viewer", [false, false, false, false, false, false]),
        ("author", [false, true, false, false, false, false]),
        ("editor", [true, true, true, true, false, false]),
        ("admin", [true, true, true, true, true, true]),
    ];
    let mut people = vec![("owner", "author")];
    people.extend(ROLES.map(|r| (r.name(), r.name())));
    let users = users(&server, &http, &people).await;
    let owner = users["owner"].0;
    for (role, row) in expected {
        for (action, allowed) in ACTIONS.into_iter().zip(row) {
            let me = (users[role].0, users[role].1.as_str());
            let slug = format!("{role}-{action}");
            let (id, reply) =
                attempt(&server, &http, action, me, owner, &slug).await;
            let cell =
                format!("{role} {action}: {} {}", reply.status, reply.body);
            if allowed {
                assert!((200..300).contains(&reply.status), "{cell}");
            } else {
                assert_eq!(reply.status, 403, "{cell}");
                assert!(reply.error().contains(&format!("{action}")), "{cell}");
                if id != 0 {
                    assert!(untouched(&server, id).await, "{cell}");
                }
            }
        }
    }
    // ANCHOR_END: matrix
    // Escalation through user management is refused too.
    let n: i64 = server
        .sql
        .query_one("SELECT count(*) FROM users WHERE role = 'admin'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3, "root, admin, and the one admin created by an admin");
    // Ownership: an author reads their own draft, not another's.
    let author = users["author"].1.as_str();
    let mine = page_of(&server, users["author"].0, "mine", "draft").await;
    let theirs = page_of(&server, owner, "theirs", "draft").await;
    let r = http
        .get(&format!("/api/pages/{mine}"), Some(author))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = http
        .get(&format!("/api/pages/{theirs}"), Some(author))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    // No token, or a wrong one: 401 with a challenge.
    for token in [None, Some("nope")] {
        let r = http
            .get(&format!("/api/pages/{mine}"), token)
            .await
            .unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    server.stop().await;
}

#[tokio::test]
async fn revisions_are_immutable_and_a_revert_is_a_new_revision() {
    let test = "revisions_are_immutable_and_a_revert_is_a_new_revision";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users = users(&server, &http, &[("ed", "editor")]).await;
    let ed = users["ed"].1.as_str();
    let page = json!({"slug": "home", "title": "T", "body": "one"});
    assert_eq!(http.post("/api/pages", ed, page).await.unwrap().status, 201);
    let r = http.put("/api/pages/1", ed, edit(1, "two")).await.unwrap();
    assert_eq!(r.json()["revision"], 2);
    for to in ["review", "published"] {
        let r = http
            .post("/api/pages/1/transition", ed, json!({"to": to}))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Edits after publishing move the head, not the published pointer.
    http.put("/api/pages/1", ed, edit(2, "three"))
        .await
        .unwrap();
    let revert = json!({"base_revision": 3, "to_revision": 1});
    let r = http.post("/api/pages/1/revert", ed, revert).await.unwrap();
    assert_eq!(r.json()["revision"], 4);
    let public = http.get("/p/home", None).await.unwrap();
    assert_eq!(public.json()["body"], "two");
    let r = http.get("/api/pages/1", Some(ed)).await.unwrap().json();
    assert_eq!(
        (r["revision"].clone(), r["body"].clone()),
        (json!(4), json!("one"))
    );
    assert_eq!(r["published_revision"], 2);
    let history = http
        .get("/api/pages/1/revisions", Some(ed))
        .await
        .unwrap()
        .json();
    let reverted: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["reverted_from"].clone())
        .collect();
    assert_eq!(reverted, [json!(null), json!(null), json!(null), json!(1)]);
    // Republishing moves the pointer to the head.
    let r = http
        .post("/api/pages/1/transition", ed, json!({"to": "published"}))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        http.get("/p/home", None).await.unwrap().json()["body"],
        "one"
    );
    // The database itself refuses to rewrite history.
    let e = server
        .sql
        .execute("UPDATE revision SET body = 'forged' WHERE page_id = 1", &[])
        .await
        .unwrap_err();
    assert!(e.as_db_error().unwrap().message().contains("immutable"));
    // A revert to a revision that does not exist changes nothing.
    let revert = json!({"base_revision": 4, "to_revision": 99});
    let r = http.post("/api/pages/1/revert", ed, revert).await.unwrap();
    assert_eq!((r.status, r.error()), (404, "no such revision".into()));
    assert_eq!(head(&server, 1).await, Some(4));
    server.stop().await;
}

// ANCHOR: stale
#[tokio::test]
async fn two_edits_of_one_revision_one_wins_one_gets_409() {
    let test = "two_edits_of_one_revision_one_wins_one_gets_409";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users =
        users(&server, &http, &[("a", "editor"), ("b", "editor")]).await;
    let (a, b) = (users["a"].1.as_str(), users["b"].1.as_str());
    let page = json!({"slug": "doc", "title": "T", "body": "base"});
    http.post("/api/pages", a, page).await.unwrap();
    let (ra, rb) = tokio::join!(
        http.put("/api/pages/1", a, edit(1, "from a")),
        http.put("/api/pages/1", b, edit(1, "from b")),
    );
    let mut statuses = [ra.unwrap().status, rb.unwrap().status];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let r = http.put("/api/pages/1", b, edit(1, "again")).await.unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(
        r.error(),
        "stale revision: the edit is based on 1, the page is at 2"
    );
    // Nothing was lost or overwritten: two revisions, the winner's on top.
    let n: i64 = server
        .sql
        .query_one("SELECT count(*) FROM revision", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    let r = http
        .put("/api/pages/1", b, edit(2, "rebased"))
        .await
        .unwrap();
    assert_eq!(r.json()["revision"], 3);
    server.stop().await;
}
// ANCHOR_END: stale

/// The compare-and-set holds across API instances, not only behind this
/// process's mutex: another instance's save, in flight in its own
/// transaction, holds the page's row; our save waits for it, then finds
/// the head moved and answers 409. A read-then-write check would have
/// read the old head and gone ahead.
#[tokio::test]
async fn a_save_waiting_on_another_instances_save_gets_409() {
    let test = "a_save_waiting_on_another_instances_save_gets_409";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users = users(&server, &http, &[("a", "editor")]).await;
    let a = users["a"].1.as_str();
    let page = json!({"slug": "doc", "title": "T", "body": "base"});
    http.post("/api/pages", a, page).await.unwrap();
    let other_instance = "BEGIN; WITH bumped AS (
          UPDATE page SET head_rev = head_rev + 1
          WHERE id = 1 AND head_rev = 1 RETURNING id, head_rev)
        INSERT INTO revision (page_id, rev, title, body, author_id,
          created_at)
        SELECT id, head_rev, 'T', 'other', 1, 0 FROM bumped";
    server.sql.batch_execute(other_instance).await.unwrap();
    let commit_once_blocked = async {
        let blocked = "SELECT count(*) FROM pg_stat_activity \
                       WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))";
        for _ in 0..500 {
            let n: i64 =
                server.sql.query_one(blocked, &[]).await.unwrap().get(0);
            if n > 0 {
                return server.sql.batch_execute("COMMIT").await.unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the save never waited for the other transaction");
    };
    let (r, ()) = tokio::join!(
        http.put("/api/pages/1", a, edit(1, "mine")),
        commit_once_blocked,
    );
    let r = r.unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.error(),
        "stale revision: the edit is based on 1, the page is at 2"
    );
    let sql = "SELECT body FROM revision WHERE page_id = 1 ORDER BY rev";
    let bodies: Vec<String> = server
        .sql
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(bodies, ["base", "other"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let test = "bad_input_gets_a_clear_error_and_changes_nothing";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users = users(&server, &http, &[("ed", "editor")]).await;
    let ed = users["ed"].1.as_str();
    let page = json!({"slug": "doc", "title": "T", "body": "b"});
    http.post("/api/pages", ed, page.clone()).await.unwrap();
    let cases = [
        (
            "PUT",
            "/api/pages/1",
            json!({"title": "T", "body": "b"}),
            400,
            "base_revision",
        ),
        ("PUT", "/api/pages/1", edit(1, "").clone(), 200, ""),
        (
            "PUT",
            "/api/pages/1",
            json!({"base_revision": 2, "title": " ", "body": "b"}),
            400,
            "title",
        ),
        ("POST", "/api/pages", page, 409, "taken"),
        (
            "POST",
            "/api/pages",
            json!({"slug": "Bad Slug", "title": "T", "body": "b"}),
            400,
            "slug",
        ),
        (
            "POST",
            "/api/pages/1/transition",
            json!({"to": "live"}),
            400,
            "unknown state",
        ),
        (
            "POST",
            "/api/pages/1/transition",
            json!({"to": "published"}),
            409,
            "from draft: review",
        ),
        (
            "POST",
            "/api/pages/1/preview",
            json!({"revision": 1, "ttl_s": 0}),
            400,
            "ttl_s",
        ),
        ("PUT", "/api/pages/99", edit(1, "x"), 404, "no such page"),
        (
            "POST",
            "/api/users",
            json!({"name": "x", "role": "god"}),
            403,
            "manage-users",
        ),
    ];
    for (method, path, body, status, needle) in cases {
        let r = http.call(method, path, Some(ed), Some(body)).await.unwrap();
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert!(r.body.contains(needle), "{method} {path}: {}", r.body);
    }
    let root = server.admin_token.as_str();
    for (user, status, needle) in [
        (json!({"name": "x y", "role": "viewer"}), 400, "name"),
        (json!({"name": "x", "role": "god"}), 400, "unknown role"),
        (json!({"name": "ed", "role": "viewer"}), 409, "exists"),
    ] {
        let r = http.post("/api/users", root, user).await.unwrap();
        assert_eq!(r.status, status, "{}", r.body);
        assert!(r.error().contains(needle), "{}", r.body);
    }
    let r = http
        .call("PUT", "/api/pages/1", Some(ed), None)
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    let r = http
        .call("PUT", "/api/pages/abc", Some(ed), Some(edit(1, "x")))
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    // PostgreSQL's text cannot hold U+0000: a 400, not a 500 from the
    // database.
    let nul = json!({"base_revision": 2, "title": "T", "body": "a\u{0}b"});
    let r = http.put("/api/pages/1", ed, nul).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.error().contains("U+0000"), "{}", r.body);
    let page = json!({"slug": "doc-2", "title": "a\u{0}", "body": "b"});
    let r = http.post("/api/pages", ed, page).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    let r = http.get("/p/a%00b", None).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(head(&server, 1).await, Some(2));
    server.stop().await;
}

#[tokio::test]
async fn illegal_transitions_are_refused_and_archived_pages_are_read_only() {
    let test =
        "illegal_transitions_are_refused_and_archived_pages_are_read_only";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users = users(&server, &http, &[("ed", "editor")]).await;
    let ed = users["ed"].1.as_str();
    let page = json!({"slug": "doc", "title": "T", "body": "b"});
    http.post("/api/pages", ed, page).await.unwrap();
    let go = |to: &'static str| {
        let http = &http;
        async move {
            http.post("/api/pages/1/transition", ed, json!({"to": to}))
                .await
                .unwrap()
        }
    };
    let state = || async {
        let sql = "SELECT state FROM page WHERE id = 1";
        server
            .sql
            .query_one(sql, &[])
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    for to in ["draft", "published", "archived"] {
        let r = go(to).await;
        assert_eq!(r.status, 409, "draft -> {to}");
        assert_eq!(
            r.error(),
            format!("illegal transition draft -> {to}; from draft: review")
        );
        assert_eq!(state().await, "draft");
    }
    assert_eq!(go("review").await.status, 200);
    assert_eq!(
        go("archived").await.error(),
        "illegal transition review -> archived; from review: draft, published"
    );
    assert_eq!(go("published").await.status, 200);
    assert_eq!(go("review").await.status, 409);
    assert_eq!(go("archived").await.status, 200);
    let r = http.put("/api/pages/1", ed, edit(1, "x")).await.unwrap();
    assert_eq!(
        (r.status, r.error()),
        (
            409,
            "archived pages are read-only; restore to draft first".into()
        )
    );
    assert_eq!(http.get("/p/doc", None).await.unwrap().status, 410);
    assert_eq!(go("published").await.status, 409);
    assert_eq!(go("draft").await.status, 200);
    assert_eq!(
        http.put("/api/pages/1", ed, edit(1, "x"))
            .await
            .unwrap()
            .status,
        200
    );
    server.stop().await;
}

// ANCHOR: scheduled
#[tokio::test]
async fn a_scheduled_page_goes_live_when_the_clock_reaches_it() {
    let test = "a_scheduled_page_goes_live_when_the_clock_reaches_it";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users = users(&server, &http, &[("ed", "editor")]).await;
    let ed = users["ed"].1.as_str();
    let page = json!({"slug": "launch", "title": "T", "body": "b"});
    http.post("/api/pages", ed, page).await.unwrap();
    let path = "/api/pages/1/transition";
    http.post(path, ed, json!({"to": "review"})).await.unwrap();
    let past = json!({"to": "published", "publish_at": T0 - 1});
    assert_eq!(http.post(path, ed, past).await.unwrap().status, 400);
    let due = T0 + 86_400;
    let at = json!({"to": "published", "publish_at": due});
    assert_eq!(http.post(path, ed, at).await.unwrap().status, 200);
    let in_sitemap = || async {
        let xml = http.get("/sitemap.xml", None).await.unwrap().body;
        xml.contains("/p/launch</loc>")
    };
    server.advance(86_399); // one second early
    assert_eq!(http.get("/p/launch", None).await.unwrap().status, 404);
    assert!(!in_sitemap().await);
    server.advance(1);
    assert_eq!(http.get("/p/launch", None).await.unwrap().status, 200);
    assert!(in_sitemap().await);
    let xml = http.get("/sitemap.xml", None).await.unwrap().body;
    let lastmod = format!("<lastmod>{}</lastmod>", sitemap::w3c_datetime(due));
    assert!(xml.contains(&lastmod), "{xml}");
    assert_eq!(lastmod, "<lastmod>2026-01-06T09:00:00Z</lastmod>");
    server.stop().await;
}
// ANCHOR_END: scheduled

#[tokio::test]
async fn renames_leave_one_hop_redirects_and_never_a_loop() {
    let test = "renames_leave_one_hop_redirects_and_never_a_loop";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users = users(&server, &http, &[("ed", "editor")]).await;
    let ed = users["ed"].1.as_str();
    for slug in ["a", "other"] {
        let page = json!({"slug": slug, "title": "T", "body": "b"});
        http.post("/api/pages", ed, page).await.unwrap();
    }
    for to in ["review", "published"] {
        http.post("/api/pages/1/transition", ed, json!({"to": to}))
            .await
            .unwrap();
    }
    let rename = |slug: &'static str| {
        let http = &http;
        async move {
            http.put("/api/pages/1/slug", ed, json!({"slug": slug}))
                .await
                .unwrap()
        }
    };
    let location = |slug: &'static str| {
        let http = &http;
        async move {
            let r = http.get(&format!("/p/{slug}"), None).await.unwrap();
            (r.status, r.header("location").unwrap_or("").to_string())
        }
    };
    rename("b").await;
    rename("c").await;
    assert_eq!(location("a").await, (301, "/p/c".into())); // not via /p/b
    assert_eq!(location("b").await, (301, "/p/c".into()));
    assert_eq!(location("c").await, (200, String::new()));
    // Taking an old name back: it is live again, the rest point at it.
    rename("a").await;
    assert_eq!(location("a").await, (200, String::new()));
    assert_eq!(location("b").await, (301, "/p/a".into()));
    assert_eq!(location("c").await, (301, "/p/a".into()));
    let n: i64 = server
        .sql
        .query_one("SELECT count(*) FROM redirect WHERE from_slug = 'a'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // Another page cannot take a slug that redirects, nor a live one.
    for slug in ["b", "a"] {
        let r = http
            .put("/api/pages/2/slug", ed, json!({"slug": slug}))
            .await
            .unwrap();
        assert_eq!(r.status, 409, "{slug}");
        let page = json!({"slug": slug, "title": "T", "body": "b"});
        assert_eq!(
            http.post("/api/pages", ed, page).await.unwrap().status,
            409
        );
    }
    // The canonical URL names the current slug, without the query string.
    let r = http.get("/p/a?utm_source=mail&ref=x", None).await.unwrap();
    assert_eq!(
        r.header("link"),
        Some("<https://cms.example/p/a>; rel=\"canonical\"")
    );
    assert_eq!(r.json()["canonical"], "https://cms.example/p/a");
    // An unpublished page's old slug does not reveal it.
    http.put("/api/pages/2/slug", ed, json!({"slug": "other-2"}))
        .await
        .unwrap();
    assert_eq!(location("other").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn preview_links_expire_refuse_tampering_and_say_noindex() {
    let test = "preview_links_expire_refuse_tampering_and_say_noindex";
    let Some((server, http)) = start(test, PROTOCOL).await else {
        return;
    };
    let users =
        users(&server, &http, &[("au", "author"), ("vi", "viewer")]).await;
    let (au, vi) = (users["au"].1.as_str(), users["vi"].1.as_str());
    let page = json!({"slug": "draft", "title": "T", "body": "secret"});
    http.post("/api/pages", au, page).await.unwrap();
    // ANCHOR: preview_test
    let ask = json!({"revision": 1, "ttl_s": 600});
    let r = http
        .post("/api/pages/1/preview", vi, ask.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 403); // a viewer may not mint one
    let url = http
        .post("/api/pages/1/preview", au, ask)
        .await
        .unwrap()
        .json()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(http.get("/p/draft", None).await.unwrap().status, 404);
    let r = http.get(&url, None).await.unwrap(); // no token needed
    assert_eq!((r.status, r.json()["body"].clone()), (200, json!("secret")));
    let (exp, sig) = url
        .split_once("?exp=")
        .unwrap()
        .1
        .split_once("&sig=")
        .unwrap();
    let later = (exp.parse::<i64>().unwrap() + 86_400).to_string();
    let forged_sig = format!(
        "{}{}",
        &sig[..63],
        if sig.ends_with('0') { "1" } else { "0" }
    );
    let tampered = [
        url.replace(&format!("exp={exp}"), &format!("exp={later}")),
        url.replace(sig, &forged_sig),
        url.replace("/preview/1/", "/preview/2/"),
        url.split("&sig=").next().unwrap().to_string(),
        format!("{url}&exp=1"), // two expiries: which one was signed?
    ];
    for bad in &tampered {
        let r = http.get(bad, None).await.unwrap();
        assert_eq!(r.status, 403, "{bad}");
        assert_eq!(r.header("x-robots-tag"), Some("noindex"));
    }
    server.advance(599);
    assert_eq!(http.get(&url, None).await.unwrap().status, 200);
    server.advance(1);
    let r = http.get(&url, None).await.unwrap();
    assert_eq!(r.status, 410);
    assert!(r.error().starts_with("preview link expired"));
    for r in [&r, &http.get(&tampered[0], None).await.unwrap()] {
        assert_eq!(r.header("x-robots-tag"), Some("noindex"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // ANCHOR_END: preview_test
    server.stop().await;
}

#[tokio::test]
async fn the_sitemap_lists_only_live_pages_and_splits_into_an_index() {
    let test = "the_sitemap_lists_only_live_pages_and_splits_into_an_index";
    let small = Limits {
        max_urls: 2,
        max_bytes: PROTOCOL.max_bytes,
    };
    let Some((server, http)) = start(test, small).await else {
        return;
    };
    let users = users(&server, &http, &[("ed", "editor")]).await;
    let ed = users["ed"].1.as_str();
    let plan = [
        ("draft", vec![]),
        ("in-review", vec!["review"]),
        ("live-1", vec!["review", "published"]),
        ("live-2", vec!["review", "published"]),
        ("live-3", vec!["review", "published"]),
        ("gone", vec!["review", "published", "archived"]),
    ];
    for (n, (slug, steps)) in plan.iter().enumerate() {
        let page = json!({"slug": slug, "title": "T", "body": "b"});
        http.post("/api/pages", ed, page).await.unwrap();
        for to in steps {
            let path = format!("/api/pages/{}/transition", n + 1);
            http.post(&path, ed, json!({"to": to})).await.unwrap();
        }
    }
    let later = json!({"to": "published", "publish_at": T0 + 60});
    let page = json!({"slug": "soon", "title": "T", "body": "b"});
    http.post("/api/pages", ed, page).await.unwrap();
    http.post("/api/pages/7/transition", ed, json!({"to": "review"}))
        .await
        .unwrap();
    http.post("/api/pages/7/transition", ed, later)
        .await
        .unwrap();
    let index = http.get("/sitemap.xml", None).await.unwrap();
    assert_eq!(
        index.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert!(index.body.contains("<sitemapindex"), "{}", index.body);
    assert_eq!(index.body.matches("<sitemap>").count(), 2);
    let one = http.get("/sitemap/1.xml", None).await.unwrap().body;
    let two = http.get("/sitemap/2.xml", None).await.unwrap().body;
    let listed = format!("{one}{two}");
    for slug in ["live-1", "live-2", "live-3"] {
        assert!(listed.contains(&format!("/p/{slug}</loc>")), "{slug}");
    }
    for slug in ["draft", "in-review", "gone", "soon"] {
        assert!(!listed.contains(&format!("/p/{slug}</loc>")), "{slug}");
    }
    assert_eq!(
        listed
            .matches("<lastmod>2026-01-05T09:00:00Z</lastmod>")
            .count(),
        3
    );
    for missing in ["/sitemap/3.xml", "/sitemap/0.xml", "/sitemap/x.xml"] {
        assert_eq!(http.get(missing, None).await.unwrap().status, 404);
    }
    server.stop().await;
}
