//! The HTTP API over PostgreSQL: every permission is checked here, on the
//! server, against the page row it is about.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State as Ax};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::policy::{self, Action, Role};
use crate::preview::{self, PreviewError};
use crate::sitemap::{self, Entry, Limits, Sitemap};
use crate::workflow::{self, State};

// ANCHOR: schema
pub const SCHEMA: &str = "
CREATE TABLE users (
  id    bigserial PRIMARY KEY,
  name  text NOT NULL UNIQUE,
  role  text NOT NULL
        CHECK (role IN ('viewer', 'author', 'editor', 'admin')),
  token text NOT NULL UNIQUE         -- stands in for a real session
);
CREATE TABLE page (
  id            bigserial PRIMARY KEY,
  owner_id      bigint NOT NULL REFERENCES users,
  slug          text NOT NULL UNIQUE,
  state         text NOT NULL DEFAULT 'draft' CHECK (state IN
                ('draft', 'review', 'published', 'archived')),
  head_rev      int NOT NULL DEFAULT 1, -- the latest revision
  published_rev int,                    -- the published pointer
  publish_at    bigint                  -- live from then (unix s)
);
CREATE TABLE revision (                -- append-only
  page_id       bigint NOT NULL REFERENCES page ON DELETE CASCADE,
  rev           int NOT NULL,
  title         text NOT NULL,
  body          text NOT NULL,
  author_id     bigint NOT NULL REFERENCES users,
  created_at    bigint NOT NULL,
  reverted_from int,
  PRIMARY KEY (page_id, rev)
);
ALTER TABLE page ADD FOREIGN KEY (id, head_rev)
  REFERENCES revision DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE page ADD FOREIGN KEY (id, published_rev)
  REFERENCES revision DEFERRABLE INITIALLY DEFERRED;
CREATE FUNCTION revision_is_immutable() RETURNS trigger
  LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'revisions are immutable'; END $$;
CREATE TRIGGER revision_no_update BEFORE UPDATE ON revision
  FOR EACH ROW EXECUTE FUNCTION revision_is_immutable();
CREATE TABLE redirect (                -- old slug -> the page itself
  from_slug text PRIMARY KEY,
  page_id   bigint NOT NULL REFERENCES page ON DELETE CASCADE
);";
// ANCHOR_END: schema

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("missing or unknown bearer token")]
    Unauthenticated,
    #[error("role {role} may not {action}")]
    Forbidden { role: &'static str, action: Action },
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(
        "stale revision: the edit is based on {base}, the page is at {head}"
    )]
    Stale { base: i32, head: i32 },
    #[error("illegal transition {from} -> {to}; from {from}: {allowed}")]
    Illegal {
        from: &'static str,
        to: &'static str,
        allowed: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("page archived")]
    Gone,
    #[error(transparent)]
    Preview(#[from] PreviewError),
    #[error("sitemap: {0}")]
    Sitemap(#[from] sitemap::SitemapError),
    #[error("database: {0}")]
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for CmsError {
    /// PostgreSQL's `text` cannot hold U+0000, which JSON and a
    /// percent-encoded path can carry: the client's error, not ours.
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code() {
            Some(&SqlState::CHARACTER_NOT_IN_REPERTOIRE) => {
                CmsError::BadRequest("text may not contain U+0000".into())
            }
            _ => CmsError::Db(e),
        }
    }
}

impl CmsError {
    pub fn status(&self) -> StatusCode {
        match self {
            CmsError::Unauthenticated => StatusCode::UNAUTHORIZED,
            CmsError::Forbidden { .. } => StatusCode::FORBIDDEN,
            CmsError::NotFound(_) => StatusCode::NOT_FOUND,
            CmsError::Stale { .. }
            | CmsError::Illegal { .. }
            | CmsError::Conflict(_) => StatusCode::CONFLICT,
            CmsError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CmsError::Gone | CmsError::Preview(PreviewError::Expired(_)) => {
                StatusCode::GONE
            }
            CmsError::Preview(_) => StatusCode::FORBIDDEN,
            CmsError::Sitemap(_) | CmsError::Db(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for CmsError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            eprintln!("cms: {self}");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let mut response =
            (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

type Reply = Result<Response, CmsError>;

pub struct Config {
    pub base_url: String,
    pub preview_key: Vec<u8>,
    pub limits: Limits,
}

/// The service's state. One connection behind a mutex keeps the listing
/// short; a service would use a pool, and nothing below relies on the
/// mutex for correctness: every write is conditional on what it read.
pub struct App {
    db: Mutex<Client>,
    clock: Arc<AtomicI64>,
    config: Config,
}

impl App {
    fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn canonical(&self, slug: &str) -> String {
        format!("{}/p/{slug}", self.config.base_url)
    }
}

struct User {
    id: i64,
    role: Role,
}

async fn user(db: &Client, headers: &HeaderMap) -> Result<User, CmsError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(CmsError::Unauthenticated)?;
    let row = db
        .query_opt("SELECT id, role FROM users WHERE token = $1", &[&token])
        .await?
        .ok_or(CmsError::Unauthenticated)?;
    let role = Role::parse(row.get(1)).ok_or(CmsError::Unauthenticated)?;
    Ok(User {
        id: row.get(0),
        role,
    })
}

// ANCHOR: require
fn require(user: &User, action: Action) -> Result<(), CmsError> {
    if policy::grants(user.role, action) {
        return Ok(());
    }
    let role = user.role.name();
    Err(CmsError::Forbidden { role, action })
}

/// Edit rights on this page: edit-own if the user owns it, else edit-any.
fn require_edit(user: &User, page: &Page) -> Result<(), CmsError> {
    let owns = page.owner == user.id;
    if policy::may_edit(user.role, owns) {
        return Ok(());
    }
    let action = if owns {
        Action::EditOwn
    } else {
        Action::EditAny
    };
    let role = user.role.name();
    Err(CmsError::Forbidden { role, action })
}

fn require_read_draft(user: &User, page: &Page) -> Result<(), CmsError> {
    if policy::may_read_draft(user.role, page.owner == user.id) {
        return Ok(());
    }
    require(user, Action::ReadDraft)
}
// ANCHOR_END: require

struct Page {
    id: i64,
    owner: i64,
    slug: String,
    state: State,
    head: i32,
    published: Option<i32>,
    publish_at: Option<i64>,
}

const PAGE_COLUMNS: &str =
    "id, owner_id, slug, state, head_rev, published_rev, publish_at";

fn page_from(row: &tokio_postgres::Row) -> Page {
    Page {
        id: row.get(0),
        owner: row.get(1),
        slug: row.get(2),
        state: State::parse(row.get(3)).unwrap_or(State::Draft),
        head: row.get(4),
        published: row.get(5),
        publish_at: row.get(6),
    }
}

async fn page(db: &Client, id: i64) -> Result<Page, CmsError> {
    let sql = format!("SELECT {PAGE_COLUMNS} FROM page WHERE id = $1");
    let row = db.query_opt(&sql, &[&id]).await?;
    row.map(|r| page_from(&r)).ok_or(CmsError::NotFound("page"))
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, CmsError> {
    body.map(|Json(t)| t)
        .map_err(|e| CmsError::BadRequest(e.body_text()))
}

/// Lower-case words joined by single hyphens, at most 100 bytes.
pub fn check_slug(slug: &str) -> Result<(), CmsError> {
    let words_ok = slug.split('-').all(|w| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if slug.len() <= 100 && words_ok {
        Ok(())
    } else {
        Err(CmsError::BadRequest(format!(
            "slug {slug:?}: lower-case letters and digits in words \
             joined by single hyphens, at most 100 bytes"
        )))
    }
}

fn check_text(title: &str, body: &str) -> Result<(), CmsError> {
    if title.trim().is_empty() || title.len() > 200 {
        return Err(CmsError::BadRequest("title: 1 to 200 bytes".into()));
    }
    if body.len() > 100_000 {
        return Err(CmsError::BadRequest("body: at most 100,000 bytes".into()));
    }
    Ok(())
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    role: String,
}

async fn create_user(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    new: Result<Json<NewUser>, JsonRejection>,
) -> Reply {
    let db = app.db.lock().await;
    require(&user(&db, &headers).await?, Action::ManageUsers)?;
    let new = body(new)?;
    let name_ok = new
        .name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if new.name.is_empty() || new.name.len() > 64 || !name_ok {
        let why = "name: 1 to 64 ASCII letters, digits or hyphens";
        return Err(CmsError::BadRequest(why.into()));
    }
    let role = Role::parse(&new.role).ok_or_else(|| {
        CmsError::BadRequest(format!("unknown role {:?}", new.role))
    })?;
    let token = format!("{:032x}", rand::random::<u128>());
    let sql = "INSERT INTO users (name, role, token) VALUES ($1, $2, $3) \
               RETURNING id";
    let row = db
        .query_one(sql, &[&new.name, &role.name(), &token])
        .await
        .map_err(|e| match is_unique_violation(&e) {
            true => CmsError::Conflict(format!("user {:?} exists", new.name)),
            false => e.into(),
        })?;
    let id: i64 = row.get(0);
    Ok(
        (StatusCode::CREATED, Json(json!({"id": id, "token": token})))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct NewPage {
    slug: String,
    title: String,
    body: String,
}

async fn create_page(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    new: Result<Json<NewPage>, JsonRejection>,
) -> Reply {
    let mut db = app.db.lock().await;
    let author = user(&db, &headers).await?;
    require(&author, Action::EditOwn)?;
    let new = body(new)?;
    check_slug(&new.slug)?;
    check_text(&new.title, &new.body)?;
    let tx = db.transaction().await?;
    let held = "SELECT 1 FROM redirect WHERE from_slug = $1";
    if tx.query_opt(held, &[&new.slug]).await?.is_some() {
        return Err(CmsError::Conflict(format!(
            "slug {:?} redirects to another page",
            new.slug
        )));
    }
    let sql = "INSERT INTO page (owner_id, slug) VALUES ($1, $2) RETURNING id";
    let id: i64 = match tx.query_one(sql, &[&author.id, &new.slug]).await {
        Ok(row) => row.get(0),
        Err(e) if is_unique_violation(&e) => {
            return Err(CmsError::Conflict(format!(
                "slug {:?} is taken",
                new.slug
            )));
        }
        Err(e) => return Err(e.into()),
    };
    tx.execute(
        "INSERT INTO revision (page_id, rev, title, body, author_id, \
         created_at) VALUES ($1, 1, $2, $3, $4, $5)",
        &[&id, &new.title, &new.body, &author.id, &app.now()],
    )
    .await?;
    tx.commit().await?;
    let reply = json!({"id": id, "revision": 1});
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

async fn get_page(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Reply {
    let db = app.db.lock().await;
    let reader = user(&db, &headers).await?;
    let page = page(&db, id).await?;
    require_read_draft(&reader, &page)?;
    let row = db
        .query_one(
            "SELECT title, body FROM revision WHERE page_id = $1 AND rev = $2",
            &[&id, &page.head],
        )
        .await?;
    let (title, body): (String, String) = (row.get(0), row.get(1));
    Ok(Json(json!({
        "id": id, "slug": page.slug, "state": page.state.name(),
        "revision": page.head, "published_revision": page.published,
        "publish_at": page.publish_at, "title": title, "body": body,
    }))
    .into_response())
}

// ANCHOR: new_revision
/// Appends a revision if, and only if, the page is still at `base`: the
/// compare-and-set and the insert are one statement.
async fn new_revision(
    db: &Client,
    page: &Page,
    editor: &User,
    base: i32,
    content: (&str, &str),
    reverted_from: Option<i32>,
    now: i64,
) -> Result<i32, CmsError> {
    let sql = "
      WITH bumped AS (
        UPDATE page SET head_rev = head_rev + 1
        WHERE id = $1 AND head_rev = $2 AND state <> 'archived'
        RETURNING id, head_rev)
      INSERT INTO revision
        (page_id, rev, title, body, author_id, created_at, reverted_from)
      SELECT id, head_rev, $3, $4, $5, $6, $7 FROM bumped
      RETURNING rev";
    let (title, body) = content;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &page.id,
        &base,
        &title,
        &body,
        &editor.id,
        &now,
        &reverted_from,
    ];
    match db.query_opt(sql, &params).await? {
        Some(row) => Ok(row.get(0)),
        None if page.state == State::Archived => Err(CmsError::Conflict(
            "archived pages are read-only; restore to draft first".into(),
        )),
        None => {
            let head = self::page(db, page.id).await?.head;
            Err(CmsError::Stale { base, head })
        }
    }
}
// ANCHOR_END: new_revision

#[derive(Deserialize)]
struct Edit {
    base_revision: i32,
    title: String,
    body: String,
}

async fn edit(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    edit: Result<Json<Edit>, JsonRejection>,
) -> Reply {
    let db = app.db.lock().await;
    let editor = user(&db, &headers).await?;
    let page = page(&db, id).await?;
    require_edit(&editor, &page)?;
    let edit = body(edit)?;
    check_text(&edit.title, &edit.body)?;
    let content = (edit.title.as_str(), edit.body.as_str());
    let rev = new_revision(
        &db,
        &page,
        &editor,
        edit.base_revision,
        content,
        None,
        app.now(),
    )
    .await?;
    Ok(Json(json!({"revision": rev})).into_response())
}

#[derive(Deserialize)]
struct Revert {
    base_revision: i32,
    to_revision: i32,
}

// ANCHOR: revert
/// Reverting copies an old revision's content into a new revision: the
/// history only grows, and the revert itself can be reverted.
async fn revert(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    revert: Result<Json<Revert>, JsonRejection>,
) -> Reply {
    let db = app.db.lock().await;
    let editor = user(&db, &headers).await?;
    let page = page(&db, id).await?;
    require_edit(&editor, &page)?;
    let revert = body(revert)?;
    let sql =
        "SELECT title, body FROM revision WHERE page_id = $1 AND rev = $2";
    let old = db
        .query_opt(sql, &[&id, &revert.to_revision])
        .await?
        .ok_or(CmsError::NotFound("revision"))?;
    let content: (&str, &str) = (old.get(0), old.get(1));
    let from = Some(revert.to_revision);
    let (base, now) = (revert.base_revision, app.now());
    let rev =
        new_revision(&db, &page, &editor, base, content, from, now).await?;
    Ok(Json(json!({"revision": rev, "reverted_from": from})).into_response())
}
// ANCHOR_END: revert

#[derive(Deserialize)]
struct NewSlug {
    slug: String,
}

// ANCHOR: slug
/// A redirect points at the page, not at the next slug, so a chain of
/// renames is always one hop; taking an old slug back deletes its
/// redirect, so there is never a loop.
async fn change_slug(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    new: Result<Json<NewSlug>, JsonRejection>,
) -> Reply {
    let mut db = app.db.lock().await;
    let editor = user(&db, &headers).await?;
    let page = page(&db, id).await?;
    require_edit(&editor, &page)?;
    let new = body(new)?.slug;
    check_slug(&new)?;
    if new == page.slug {
        return Ok(Json(json!({"slug": new})).into_response());
    }
    let tx = db.transaction().await?;
    let taken = "SELECT 1 FROM page WHERE slug = $1 UNION ALL \
                 SELECT 1 FROM redirect WHERE from_slug = $1 AND page_id <> $2";
    if !tx.query(taken, &[&new, &id]).await?.is_empty() {
        return Err(CmsError::Conflict(format!("slug {new:?} is taken")));
    }
    let own = "DELETE FROM redirect WHERE from_slug = $1";
    tx.execute(own, &[&new]).await?;
    let keep = "INSERT INTO redirect (from_slug, page_id) VALUES ($1, $2)";
    tx.execute(keep, &[&page.slug, &id]).await?;
    let moved = "UPDATE page SET slug = $1 WHERE id = $2 AND slug = $3";
    if tx.execute(moved, &[&new, &id, &page.slug]).await? == 0 {
        return Err(CmsError::Conflict("the slug changed meanwhile".into()));
    }
    tx.commit().await?;
    Ok(Json(json!({"slug": new, "redirect_from": page.slug})).into_response())
}
// ANCHOR_END: slug

#[derive(Deserialize)]
struct Move {
    to: String,
    publish_at: Option<i64>,
}

// ANCHOR: transition
async fn transition(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    step: Result<Json<Move>, JsonRejection>,
) -> Reply {
    let db = app.db.lock().await;
    let actor = user(&db, &headers).await?;
    let page = page(&db, id).await?;
    let step = body(step)?;
    let to = State::parse(&step.to).ok_or_else(|| {
        CmsError::BadRequest(format!("unknown state {:?}", step.to))
    })?;
    let (from, now) = (page.state, app.now());
    match workflow::transition(from, to) {
        None => {
            let allowed = workflow::next_states(from).join(", ");
            let (from, to) = (from.name(), to.name());
            return Err(CmsError::Illegal { from, to, allowed });
        }
        Some(None) => require_edit(&actor, &page)?,
        Some(Some(action)) => require(&actor, action)?,
    }
    let publish_at = step.publish_at.unwrap_or(now);
    if to == State::Published && publish_at < now {
        return Err(CmsError::BadRequest("publish_at is in the past".into()));
    }
    if from == State::Published && publish_at > now {
        return Err(CmsError::BadRequest(
            "a live page is republished at once; schedule from review".into(),
        ));
    }
    // Publishing moves the pointer to the head and sets the time it goes
    // live; the row changes only if nobody moved the page meanwhile.
    let sql = "UPDATE page SET state = $1,
                 published_rev = CASE WHEN $4 THEN head_rev
                                      ELSE published_rev END,
                 publish_at = CASE WHEN $4 THEN $5 ELSE publish_at END
               WHERE id = $2 AND state = $3";
    let publish = to == State::Published;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&to.name(), &id, &from.name(), &publish, &publish_at];
    if db.execute(sql, &params).await? == 0 {
        return Err(CmsError::Conflict("the page moved meanwhile".into()));
    }
    Ok(Json(json!({"state": to.name()})).into_response())
}
// ANCHOR_END: transition

async fn delete_page(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Reply {
    let db = app.db.lock().await;
    require(&user(&db, &headers).await?, Action::Delete)?;
    match db.execute("DELETE FROM page WHERE id = $1", &[&id]).await? {
        0 => Err(CmsError::NotFound("page")),
        _ => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn revisions(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Reply {
    let db = app.db.lock().await;
    let reader = user(&db, &headers).await?;
    require_read_draft(&reader, &page(&db, id).await?)?;
    let sql = "SELECT rev, title, reverted_from FROM revision \
               WHERE page_id = $1 ORDER BY rev";
    let list: Vec<_> = db
        .query(sql, &[&id])
        .await?
        .iter()
        .map(|r| {
            let (rev, title): (i32, String) = (r.get(0), r.get(1));
            let from: Option<i32> = r.get(2);
            json!({"revision": rev, "title": title, "reverted_from": from})
        })
        .collect();
    Ok(Json(json!(list)).into_response())
}

#[derive(Deserialize)]
struct PreviewRequest {
    revision: i32,
    ttl_s: i64,
}

async fn preview_link(
    Ax(app): Ax<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    wanted: Result<Json<PreviewRequest>, JsonRejection>,
) -> Reply {
    let db = app.db.lock().await;
    let reader = user(&db, &headers).await?;
    require_read_draft(&reader, &page(&db, id).await?)?;
    let wanted = body(wanted)?;
    if !(1..=7 * 86_400).contains(&wanted.ttl_s) {
        return Err(CmsError::BadRequest("ttl_s: 1 s to 7 days".into()));
    }
    let sql = "SELECT 1 FROM revision WHERE page_id = $1 AND rev = $2";
    if db.query_opt(sql, &[&id, &wanted.revision]).await?.is_none() {
        return Err(CmsError::NotFound("revision"));
    }
    let exp = app.now() + wanted.ttl_s;
    let key = &app.config.preview_key;
    let query = preview::sign(key, id, wanted.revision, exp);
    let url = format!("/preview/{id}/{}?{query}", wanted.revision);
    Ok(Json(json!({"url": url, "expires": exp})).into_response())
}

#[derive(Deserialize)]
struct Signed {
    exp: Option<String>,
    sig: Option<String>,
}

// ANCHOR: preview
/// A preview is readable by whoever holds the link until it expires,
/// and every answer, errors included, tells crawlers not to index it.
async fn preview(
    Ax(app): Ax<Arc<App>>,
    Path((id, rev)): Path<(String, String)>,
    signed: Result<Query<Signed>, QueryRejection>,
) -> Response {
    let shown = match signed {
        Ok(Query(signed)) => show_preview(&app, &id, &rev, signed).await,
        Err(_) => Err(PreviewError::Malformed.into()),
    };
    let mut response = shown.unwrap_or_else(IntoResponse::into_response);
    let headers = response.headers_mut();
    let noindex = header::HeaderValue::from_static("noindex");
    headers.insert("x-robots-tag", noindex);
    let no_store = header::HeaderValue::from_static("no-store");
    headers.insert(header::CACHE_CONTROL, no_store);
    response
}

async fn show_preview(app: &App, id: &str, rev: &str, signed: Signed) -> Reply {
    let (Ok(id), Ok(rev)) = (id.parse::<i64>(), rev.parse::<i32>()) else {
        return Err(PreviewError::Malformed.into());
    };
    let (exp, sig) = (signed.exp.as_deref(), signed.sig.as_deref());
    let key = &app.config.preview_key;
    preview::verify(key, id, rev, exp, sig, app.now())?;
    let db = app.db.lock().await;
    let sql =
        "SELECT title, body FROM revision WHERE page_id = $1 AND rev = $2";
    let row = db
        .query_opt(sql, &[&id, &rev])
        .await?
        .ok_or(CmsError::NotFound("revision"))?;
    let (title, body): (String, String) = (row.get(0), row.get(1));
    Ok(Json(json!({"title": title, "body": body, "revision": rev}))
        .into_response())
}
// ANCHOR_END: preview

// ANCHOR: public
/// The public site: the published revision of a live page, with its
/// canonical URL; an old slug answers 301 to the current one.
async fn public_page(Ax(app): Ax<Arc<App>>, Path(slug): Path<String>) -> Reply {
    let db = app.db.lock().await;
    let sql = format!("SELECT {PAGE_COLUMNS} FROM page WHERE slug = $1");
    let Some(row) = db.query_opt(&sql, &[&slug]).await? else {
        let sql = format!(
            "SELECT {PAGE_COLUMNS} FROM page p JOIN redirect r \
             ON r.page_id = p.id WHERE r.from_slug = $1"
        );
        let row = db.query_opt(&sql, &[&slug]).await?;
        return match row.map(|r| page_from(&r)) {
            Some(p) if is_live(&p, app.now()) => Ok((
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, format!("/p/{}", p.slug))],
            )
                .into_response()),
            _ => Err(CmsError::NotFound("page")),
        };
    };
    let page = page_from(&row);
    if page.state == State::Archived {
        return Err(CmsError::Gone);
    }
    let Some(rev) = page.published.filter(|_| is_live(&page, app.now())) else {
        return Err(CmsError::NotFound("page")); // draft, or not due yet
    };
    let sql =
        "SELECT title, body FROM revision WHERE page_id = $1 AND rev = $2";
    let row = db.query_one(sql, &[&page.id, &rev]).await?;
    let (title, body): (String, String) = (row.get(0), row.get(1));
    let canonical = app.canonical(&page.slug);
    let link = format!("<{canonical}>; rel=\"canonical\"");
    let json = json!({"title": title, "body": body, "canonical": canonical});
    Ok(([(header::LINK, link)], Json(json)).into_response())
}

fn is_live(page: &Page, now: i64) -> bool {
    page.state == State::Published && page.publish_at.is_some_and(|t| t <= now)
}
// ANCHOR_END: public

// ANCHOR: sitemap_query
async fn sitemap(app: &App) -> Result<Sitemap, CmsError> {
    let db = app.db.lock().await;
    let sql = "SELECT slug, publish_at FROM page \
               WHERE state = 'published' AND publish_at <= $1 ORDER BY id";
    let entries: Vec<Entry> = db
        .query(sql, &[&app.now()])
        .await?
        .iter()
        .map(|r| Entry {
            loc: app.canonical(r.get(0)),
            lastmod: r.get(1), // when this content went live
        })
        .collect();
    Ok(sitemap::build(
        &entries,
        app.config.limits,
        &app.config.base_url,
    )?)
}
// ANCHOR_END: sitemap_query

fn xml(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn sitemap_xml(Ax(app): Ax<Arc<App>>) -> Reply {
    Ok(match sitemap(&app).await? {
        Sitemap::Single(file) => xml(file.xml),
        Sitemap::Index { index, .. } => xml(index),
    })
}

async fn sitemap_file(
    Ax(app): Ax<Arc<App>>,
    Path(file): Path<String>,
) -> Reply {
    let n = file
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .ok_or(CmsError::NotFound("sitemap file"))?;
    match sitemap(&app).await? {
        Sitemap::Index { mut files, .. } if n <= files.len() => {
            Ok(xml(files.swap_remove(n - 1).xml))
        }
        _ => Err(CmsError::NotFound("sitemap file")),
    }
}

// ANCHOR: router
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/users", post(create_user))
        .route("/api/pages", post(create_page))
        .route(
            "/api/pages/{id}",
            get(get_page).put(edit).delete(delete_page),
        )
        .route("/api/pages/{id}/slug", put(change_slug))
        .route("/api/pages/{id}/revert", post(revert))
        .route("/api/pages/{id}/transition", post(transition))
        .route("/api/pages/{id}/revisions", get(revisions))
        .route("/api/pages/{id}/preview", post(preview_link))
        .route("/preview/{id}/{rev}", get(preview))
        .route("/p/{slug}", get(public_page))
        .route("/sitemap.xml", get(sitemap_xml))
        .route("/sitemap/{file}", get(sitemap_file))
        .layer(DefaultBodyLimit::max(256 * 1024))
        .with_state(app)
}
// ANCHOR_END: router

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

async fn connect(schema: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config =
        support::pg::database_url().parse()?;
    config.connect_timeout(std::time::Duration::from_secs(3));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    if !schema.is_empty() {
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .await?;
    }
    Ok(client)
}

/// A running CMS on a loopback port, in a scratch schema of its own that
/// [`Server::stop`] drops; its clock moves only when told to.
pub struct Server {
    pub addr: SocketAddr,
    pub admin_token: String,
    pub sql: Client,
    clock: Arc<AtomicI64>,
    schema: String,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(config: Config, now: i64) -> Result<Server, StartError> {
        let schema = support::unique_name("cms");
        let sql = connect("").await?;
        sql.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}; {SCHEMA}"
        ))
        .await?;
        let admin_token = format!("{:032x}", rand::random::<u128>());
        sql.execute(
            "INSERT INTO users (name, role, token) \
             VALUES ('root', 'admin', $1)",
            &[&admin_token],
        )
        .await?;
        let clock = Arc::new(AtomicI64::new(now));
        let app = Arc::new(App {
            db: Mutex::new(connect(&schema).await?),
            clock: clock.clone(),
            config,
        });
        let (listener, addr) = support::loopback::listener()?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let service = router(app);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        Ok(Server {
            addr,
            admin_token,
            sql,
            clock,
            schema,
            task,
        })
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = self.sql.batch_execute(&drop).await;
    }
}
