//! 2.10 API versioning: one axum service, one core, several versions.
//!
//! - The core speaks only the newest shape. Each breaking change is a
//!   `Change` dated by the version that introduced it, with a function that
//!   walks a response back across it and one that walks an old request
//!   forward across it (Stripe's model of version transformers).
//! - Two ways to pick a version: the path's major version (`/v1`, `/v2`),
//!   and within v2 a date in the `Api-Version` header (GitHub's and
//!   Stripe's model). `/v1` is the date 2024-01-01, frozen.
//! - `/v1` is deprecated: its responses carry `Deprecation` (RFC 9745, a
//!   Structured Field Date), `Sunset` (RFC 8594, an HTTP-date) and `Link`
//!   with the `deprecation` and `sunset` relations.
//! - Bad input gets a clear 4xx problem body (RFC 9457) and changes
//!   nothing: an unknown or malformed version lists the supported ones.
//! - Contracts recorded from old clients (`contracts/*.json`) are replayed
//!   against the server; a release that renames a field without a `Change`
//!   fails the replay.
//!
//! No server is needed: requests go through the axum `Router` in process
//! (`tower::ServiceExt::oneshot`), the same service `axum::serve` runs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

// ANCHOR: version
/// An API version is the date its breaking changes shipped: `2025-06-01`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    year: u16,
    month: u8,
    day: u8,
}

impl ApiVersion {
    const fn new(year: u16, month: u8, day: u8) -> Self {
        ApiVersion { year, month, day }
    }

    /// Strictly `YYYY-MM-DD` with a real calendar date; nothing else.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b[r].iter().try_fold(0u16, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u16::from(c - b'0'))
            })
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then(|| ApiVersion::new(year, month as u8, day as u8))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub const V2024_01_01: ApiVersion = ApiVersion::new(2024, 1, 1);
pub const V2025_01_15: ApiVersion = ApiVersion::new(2025, 1, 15);
pub const V2025_06_01: ApiVersion = ApiVersion::new(2025, 6, 1);
/// `/v1` is one frozen date; `/v2` accepts these in `Api-Version`, and a
/// request without the header gets the first (as GitHub does).
pub const V1: ApiVersion = V2024_01_01;
pub const V2_VERSIONS: [ApiVersion; 2] = [V2025_01_15, V2025_06_01];
// ANCHOR_END: version

// ANCHOR: changes
/// One breaking change, dated by the version that introduced it.
pub struct Change {
    pub version: ApiVersion,
    pub summary: &'static str,
    /// Turns a response of this version into one of the version before.
    pub downgrade_response: fn(&mut Map<String, Value>),
    /// Turns a request of the version before into one of this version,
    /// or refuses a field the version before did not have.
    pub upgrade_request: fn(&mut Map<String, Value>) -> Result<(), String>,
}

/// Every breaking change since the oldest supported version, oldest first.
pub const CHANGES: &[Change] = &[
    Change {
        version: V2025_01_15,
        summary: "`name` is renamed `display_name`",
        downgrade_response: |c| rename(c, "display_name", "name"),
        upgrade_request: |c| rename_request(c, "name", "display_name"),
    },
    Change {
        version: V2025_06_01,
        summary: "`status` gains the value `paused`",
        // Older clients know two statuses: a paused customer is inactive.
        downgrade_response: |c| {
            if c.get("status") == Some(&json!("paused")) {
                c.insert("status".into(), json!("inactive"));
            }
        },
        upgrade_request: |_| Ok(()), // requests never carry a status
    },
];

// ANCHOR_END: changes

// ANCHOR: walk
/// Renames a response field, never over an existing one.
fn rename(object: &mut Map<String, Value>, from: &str, to: &str) {
    if object.contains_key(to) {
        return;
    }
    if let Some(value) = object.remove(from) {
        object.insert(to.into(), value);
    }
}

/// Renames a request field; the new name is a field that an older client
/// cannot know, so it is refused rather than silently accepted.
fn rename_request(
    object: &mut Map<String, Value>,
    from: &str,
    to: &str,
) -> Result<(), String> {
    if object.contains_key(to) {
        return Err(format!("unknown field `{to}` in this version"));
    }
    rename(object, from, to);
    Ok(())
}

/// Walks a newest-shape response back to `pinned`, newest change first.
pub fn downgrade(mut body: Value, pinned: ApiVersion) -> Value {
    if let Value::Object(object) = &mut body {
        for change in CHANGES.iter().rev().filter(|c| c.version > pinned) {
            (change.downgrade_response)(object);
        }
    }
    body
}

/// Walks a request made at `pinned` forward, oldest change first.
pub fn upgrade(mut body: Value, pinned: ApiVersion) -> Result<Value, String> {
    if let Value::Object(object) = &mut body {
        for change in CHANGES.iter().filter(|c| c.version > pinned) {
            (change.upgrade_request)(object)?;
        }
    }
    Ok(body)
}
// ANCHOR_END: walk

// ANCHOR: core
/// The core: one model, in the newest shape only.
#[derive(Clone, Debug, Serialize)]
pub struct Customer {
    pub id: u64,
    pub display_name: String,
    pub email: String,
    pub status: Status,
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
    Paused,
}

/// What a client may send to create a customer (newest shape). Unknown
/// fields are refused: a misspelt optional field must not vanish silently.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub display_name: String,
    pub email: String,
}
// ANCHOR_END: core

/// A release of the service: the store, and how the core renders a
/// customer. `broken()` is this release after a careless refactor.
#[derive(Clone)]
pub struct Release {
    store: Arc<Mutex<BTreeMap<u64, Customer>>>,
    render: fn(&Customer) -> Value,
}

fn render_current(customer: &Customer) -> Value {
    serde_json::to_value(customer).unwrap_or(Value::Null)
}

// ANCHOR: broken
/// A refactor renames `email` in the core and ships no `Change` for it:
/// every version now answers `contact_email`, old clients included.
fn render_broken(customer: &Customer) -> Value {
    let mut body = render_current(customer);
    if let Value::Object(object) = &mut body {
        rename(object, "email", "contact_email");
    }
    body
}
// ANCHOR_END: broken

impl Release {
    fn seeded(render: fn(&Customer) -> Value) -> Self {
        let seed = [
            (1, "Ada Lovelace", "ada@example.com", Status::Active),
            (2, "Grace Hopper", "grace@example.com", Status::Paused),
        ];
        let store = seed
            .into_iter()
            .map(|(id, name, email, status)| {
                let display_name = name.to_string();
                let email = email.to_string();
                (
                    id,
                    Customer {
                        id,
                        display_name,
                        email,
                        status,
                    },
                )
            })
            .collect();
        Release {
            store: Arc::new(Mutex::new(store)),
            render,
        }
    }

    pub fn current() -> Self {
        Release::seeded(render_current)
    }

    pub fn broken() -> Self {
        Release::seeded(render_broken)
    }

    pub fn customer_count(&self) -> usize {
        self.store.lock().map(|s| s.len()).unwrap_or(0)
    }
}

// ANCHOR: errors
/// Why a request was refused before it reached the core.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no API major version `{0}`")]
    UnknownMajor(String),
    #[error("Api-Version must be one YYYY-MM-DD date, got {0:?}")]
    MalformedVersion(String),
    #[error("Api-Version {0} is not a version of /v2")]
    UnknownVersion(ApiVersion),
    #[error("/v1 is fixed at {V1}: Api-Version applies to /v2 only")]
    VersionOnV1,
    #[error("request body: {0}")]
    Body(String, StatusCode),
    #[error("no customer {0}")]
    NoSuchCustomer(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::UnknownMajor(_) | ApiError::NoSuchCustomer(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Body(_, status) => *status,
            _ => StatusCode::BAD_REQUEST,
        };
        let versions = |vs: &[ApiVersion]| -> Vec<String> {
            vs.iter().map(ToString::to_string).collect()
        };
        // RFC 9457 problem details, with the versions a client may use.
        let body = json!({
            "title": status.canonical_reason(),
            "status": status.as_u16(),
            "detail": self.to_string(),
            "supported_versions": {
                "/v1": versions(&[V1]),
                "/v2": versions(&V2_VERSIONS),
            },
        });
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
// ANCHOR_END: errors

// ANCHOR: resolve
/// The version a request speaks: its path's major version and, under
/// `/v2`, the one `Api-Version` header (absent: the first v2 date).
pub fn resolve(
    major: &str,
    headers: &HeaderMap,
) -> Result<ApiVersion, ApiError> {
    let mut sent = headers.get_all("api-version").iter();
    let pinned = match (sent.next(), sent.next()) {
        (None, _) => None,
        (Some(one), None) => {
            let text = one
                .to_str()
                .map_err(|_| ApiError::MalformedVersion(format!("{one:?}")))?;
            let version = ApiVersion::parse(text)
                .ok_or_else(|| ApiError::MalformedVersion(text.into()))?;
            Some(version)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::MalformedVersion("two headers".into()));
        }
    };
    match (major, pinned) {
        ("v1", None) => Ok(V1),
        ("v1", Some(_)) => Err(ApiError::VersionOnV1),
        ("v2", None) => Ok(V2_VERSIONS[0]),
        ("v2", Some(v)) if V2_VERSIONS.contains(&v) => Ok(v),
        ("v2", Some(v)) => Err(ApiError::UnknownVersion(v)),
        (other, _) => Err(ApiError::UnknownMajor(other.into())),
    }
}
// ANCHOR_END: resolve

// ANCHOR: deprecation
/// `/v1` was deprecated at 2026-01-01T00:00:00Z and is switched off at
/// 2027-07-01T00:00:00Z (Unix seconds).
pub const V1_DEPRECATED_AT: i64 = 1_767_225_600;
pub const V1_SUNSET_AT: i64 = 1_814_400_000;
pub const V1_LINKS: &str = "<https://api.example.com/docs/deprecations/v1>\
    ; rel=\"deprecation\"; type=\"text/html\", \
    <https://api.example.com/docs/migrate-to-v2>\
    ; rel=\"sunset\"; type=\"text/html\"";

fn mark_deprecated(headers: &mut HeaderMap) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    };
    // RFC 9745: a Structured Field Date, `@` and Unix seconds.
    set("deprecation", format!("@{V1_DEPRECATED_AT}"));
    // RFC 8594: an HTTP-date (IMF-fixdate).
    set("sunset", http_date(V1_SUNSET_AT));
    set("link", V1_LINKS.to_string());
}
// ANCHOR_END: deprecation

/// Unix seconds as an IMF-fixdate (RFC 9110, section 5.6.7).
pub fn http_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
        "Nov", "Dec",
    ];
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
    )
}

// ANCHOR: handlers
async fn get_customer(
    State(release): State<Release>,
    Path((major, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = resolve(&major, &headers).and_then(|version| {
        let store = release.store.lock().map_err(|_| gone(&id))?;
        let customer = id
            .parse::<u64>()
            .ok()
            .and_then(|id| store.get(&id))
            .ok_or_else(|| gone(&id))?;
        Ok((version, StatusCode::OK, (release.render)(customer)))
    });
    respond(&major, result)
}

// ANCHOR_END: handlers

// ANCHOR: create
async fn create_customer(
    State(release): State<Release>,
    Path(major): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let result = resolve(&major, &headers).and_then(|version| {
        // Malformed JSON or the wrong content type: axum says which.
        let Json(body) =
            body.map_err(|e| ApiError::Body(e.body_text(), e.status()))?;
        let body = upgrade(body, version).map_err(invalid)?;
        let new: NewCustomer =
            serde_json::from_value(body).map_err(|e| invalid(e.to_string()))?;
        if new.display_name.trim().is_empty() || !new.email.contains('@') {
            return Err(invalid("a name and an email address".into()));
        }
        let mut store = release.store.lock().map_err(|_| gone("new"))?;
        let id = store.keys().next_back().map_or(1, |last| last + 1);
        let customer = Customer {
            id,
            display_name: new.display_name,
            email: new.email,
            status: Status::Active,
        };
        let rendered = (release.render)(&customer);
        store.insert(id, customer);
        Ok((version, StatusCode::CREATED, rendered))
    });
    respond(&major, result)
}

// ANCHOR_END: create

// ANCHOR: respond
/// The core's answer, walked back to the client's version.
fn respond(
    major: &str,
    result: Result<(ApiVersion, StatusCode, Value), ApiError>,
) -> Response {
    let mut response = match result {
        Ok((version, status, body)) => {
            let mut response =
                (status, Json(downgrade(body, version))).into_response();
            if let Ok(v) = HeaderValue::try_from(version.to_string()) {
                response.headers_mut().insert("api-version", v);
            }
            response
        }
        Err(error) => error.into_response(),
    };
    if major == "v1" {
        mark_deprecated(response.headers_mut());
    }
    response
}

pub fn app(release: Release) -> Router {
    Router::new()
        .route("/{major}/customers/{id}", get(get_customer))
        .route("/{major}/customers", axum::routing::post(create_customer))
        .with_state(release)
}
// ANCHOR_END: respond

fn gone(id: &str) -> ApiError {
    ApiError::NoSuchCustomer(id.into())
}

fn invalid(why: String) -> ApiError {
    ApiError::Body(why, StatusCode::UNPROCESSABLE_ENTITY)
}

// ANCHOR: contract
/// An old client's recorded interactions (a consumer-driven contract).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub consumer: String,
    pub interactions: Vec<Interaction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub expect_status: u16,
    /// Only the fields this client reads: more are fine, none may change.
    #[serde(default)]
    pub expect_headers: BTreeMap<String, String>,
    pub expect_body: Value,
}
// ANCHOR_END: contract

/// The contracts recorded from the clients in use (compiled in).
pub const CONTRACTS: [(&str, &str); 2] = [
    (
        "mobile_app_v1.json",
        include_str!("../../contracts/mobile_app_v1.json"),
    ),
    (
        "billing_2025_01_15.json",
        include_str!("../../contracts/billing_2025_01_15.json"),
    ),
];

// ANCHOR: replay
/// Replays `contract` against a fresh `release`; returns every mismatch.
pub async fn replay(
    release: Release,
    contract: &Contract,
) -> Result<Vec<String>, axum::http::Error> {
    let router = app(release);
    let mut failures = Vec::new();
    for step in &contract.interactions {
        let mut request = Request::builder()
            .method(step.method.as_str())
            .uri(&step.path);
        for (name, value) in &step.headers {
            request = request.header(name, value);
        }
        let body = step.body.as_ref().map_or(String::new(), Value::to_string);
        let request = request.body(Body::from(body))?;
        let response = router.clone().oneshot(request).await;
        let Ok(response) = response;
        let seen = Seen::read(response).await;
        let at = format!("{} {}", step.method, step.path);
        if seen.status != step.expect_status {
            failures.push(format!("{at}: status {}", seen.status));
        }
        for (name, want) in &step.expect_headers {
            if seen.headers.get(name) != Some(want) {
                failures.push(format!("{at}: header {name}"));
            }
        }
        compare(
            &step.expect_body,
            &seen.body,
            &format!("{at}: body"),
            &mut failures,
        );
    }
    Ok(failures)
}

/// Every field the contract names must be there with an equal value;
/// fields it does not name are the server's business.
fn compare(want: &Value, got: &Value, at: &str, failures: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want) in want {
                match got.get(key) {
                    Some(got) => {
                        compare(want, got, &format!("{at}.{key}"), failures)
                    }
                    None => failures.push(format!("{at}.{key} is missing")),
                }
            }
        }
        _ if want == got => {}
        _ => failures.push(format!("{at} is {got}, expected {want}")),
    }
}
// ANCHOR_END: replay

/// A response, read whole.
pub struct Seen {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl Seen {
    async fn read(response: Response) -> Seen {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.into())))
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Seen {
            status,
            headers,
            body,
        }
    }
}

/// Sends one request to `router` in process.
pub async fn send(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Seen {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_string()));
    match request {
        Ok(request) => match router.clone().oneshot(request).await {
            Ok(response) => Seen::read(response).await,
        },
        Err(_) => Seen {
            status: 0,
            headers: BTreeMap::new(),
            body: Value::Null,
        },
    }
}

fn parse_contracts() -> Result<Vec<Contract>, String> {
    CONTRACTS
        .iter()
        .map(|(file, text)| {
            serde_json::from_str(text).map_err(|e| format!("{file}: {e}"))
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = app(Release::current());
    let show = |label: &str, seen: &Seen| {
        println!("{label} -> {}", seen.status);
        match seen.body.get("detail") {
            Some(detail) => println!("  detail: {detail}"),
            None => println!("  {}", seen.body),
        }
    };
    for (path, version) in [
        ("/v1/customers/2", None),
        ("/v2/customers/2", None),
        ("/v2/customers/2", Some("2025-06-01")),
        ("/v2/customers/2", Some("2024-01-01")),
        ("/v2/customers/2", Some("2025-6-1")),
        ("/v3/customers/2", None),
    ] {
        let headers: Vec<_> =
            version.map(|v| ("api-version", v)).into_iter().collect();
        let seen = send(&router, "GET", path, &headers, "").await;
        let label = match version {
            Some(v) => format!("GET {path} (Api-Version: {v})"),
            None => format!("GET {path}"),
        };
        show(&label, &seen);
        if path.starts_with("/v1") {
            for name in ["deprecation", "sunset", "link"] {
                let value = seen.headers.get(name).map_or("", String::as_str);
                // One line per link, to fit the page.
                println!("  {name}: {}", value.replace(", <", ",\n    <"));
            }
        }
    }
    let problem = send(
        &router,
        "GET",
        "/v2/customers/1",
        &[("api-version", "2023-01-01")],
        "",
    )
    .await;
    println!("a problem body in full:\n{:#}", problem.body);
    println!();
    for contract in parse_contracts()? {
        for (name, release) in [
            ("current", Release::current()),
            ("broken", Release::broken()),
        ] {
            let failures = replay(release, &contract).await?;
            println!(
                "{}, {name} release: {} interactions, {} failed",
                contract.consumer,
                contract.interactions.len(),
                failures.len(),
            );
            for failure in failures {
                println!("  {failure}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(router: &Router, path: &str, version: Option<&str>) -> Seen {
        let headers: Vec<_> =
            version.map(|v| ("api-version", v)).into_iter().collect();
        send(router, "GET", path, &headers, "").await
    }

    fn post(router: &Router, path: &str, ctype: &str, body: &str) -> Seen {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(send(
            router,
            "POST",
            path,
            &[("content-type", ctype)],
            body,
        ))
    }

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(ApiVersion::parse("2025-06-01"), Some(V2025_06_01));
        assert_eq!(
            ApiVersion::parse("2024-02-29").unwrap().to_string(),
            "2024-02-29"
        );
        for bad in [
            "2025-6-1",
            "2025-02-30",
            "2023-02-29",
            "2025-13-01",
            "2025-00-10",
            "20250601",
            " 2025-06-01",
            "2025-06-01 ",
            "2025/06/01",
            "",
            "2025-06-0a",
            "２０２５-06-01",
            "latest",
        ] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad:?}");
        }
        assert!(V2024_01_01 < V2025_01_15 && V2025_01_15 < V2025_06_01);
    }

    #[test]
    fn the_changes_are_dated_in_order_and_within_the_supported_range() {
        let dates: Vec<_> = CHANGES.iter().map(|c| c.version).collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]));
        assert!(dates.iter().all(|d| *d > V1 && *d <= V2025_06_01));
    }

    #[tokio::test]
    async fn each_version_gets_its_own_shape_from_one_core() {
        let router = app(Release::current());
        let v1 = get(&router, "/v1/customers/2", None).await;
        assert_eq!(v1.status, 200);
        assert_eq!(v1.body["name"], "Grace Hopper");
        assert!(v1.body.get("display_name").is_none());
        assert_eq!(v1.body["status"], "inactive");
        assert_eq!(v1.headers["api-version"], "2024-01-01");

        let v2 = get(&router, "/v2/customers/2", None).await;
        assert_eq!(v2.headers["api-version"], "2025-01-15");
        assert_eq!(v2.body["display_name"], "Grace Hopper");
        assert!(v2.body.get("name").is_none());
        assert_eq!(v2.body["status"], "inactive");

        let newest = get(&router, "/v2/customers/2", Some("2025-06-01")).await;
        assert_eq!(newest.headers["api-version"], "2025-06-01");
        assert_eq!(newest.body["status"], "paused");
        // An active customer is active in every version.
        let ada = get(&router, "/v1/customers/1", None).await;
        assert_eq!(ada.body["status"], "active");
    }

    #[test]
    fn an_old_request_is_upgraded_and_a_new_response_downgraded() {
        let old = json!({"name": "Alan Turing", "email": "a@example.com"});
        let up = upgrade(old.clone(), V1).unwrap();
        assert_eq!(
            up,
            json!({"display_name": "Alan Turing", "email": "a@example.com"})
        );
        // A request already at the newest version is left alone.
        assert_eq!(upgrade(up.clone(), V2025_06_01).unwrap(), up);
        // The newer name is not a field of the older version.
        let err = upgrade(up.clone(), V1).unwrap_err();
        assert!(err.contains("unknown field `display_name`"), "{err}");
        let newest = json!({"display_name": "G", "status": "paused"});
        assert_eq!(downgrade(newest.clone(), V2025_06_01), newest);
        assert_eq!(
            downgrade(newest.clone(), V2025_01_15),
            json!({"display_name": "G", "status": "inactive"})
        );
        assert_eq!(
            downgrade(newest, V1),
            json!({"name": "G", "status": "inactive"})
        );
    }

    fn supported(seen: &Seen) {
        assert_eq!(seen.headers["content-type"], "application/problem+json");
        assert_eq!(
            seen.body["supported_versions"],
            json!({"/v1": ["2024-01-01"], "/v2": ["2025-01-15", "2025-06-01"]})
        );
    }

    #[tokio::test]
    async fn unknown_and_malformed_versions_get_a_400_listing_the_supported() {
        let router = app(Release::current());
        for (version, detail) in [
            ("2023-01-01", "is not a version of /v2"),
            ("2024-01-01", "is not a version of /v2"),
            ("2025-02-30", "must be one YYYY-MM-DD date"),
            ("2025-6-1", "must be one YYYY-MM-DD date"),
            ("latest", "must be one YYYY-MM-DD date"),
        ] {
            let seen = get(&router, "/v2/customers/1", Some(version)).await;
            assert_eq!(seen.status, 400, "{version}");
            assert!(seen.body["detail"].as_str().unwrap().contains(detail));
            supported(&seen);
        }
        // Not UTF-8, and two headers: refused, never a guess.
        let bytes = Request::builder()
            .uri("/v2/customers/1")
            .header(
                "api-version",
                HeaderValue::from_bytes(b"2025-\xff").unwrap(),
            )
            .body(Body::empty())
            .unwrap();
        let seen =
            Seen::read(router.clone().oneshot(bytes).await.unwrap()).await;
        assert_eq!(seen.status, 400);
        supported(&seen);
        let two =
            [("api-version", "2025-01-15"), ("api-version", "2025-06-01")];
        let seen = send(&router, "GET", "/v2/customers/1", &two, "").await;
        assert_eq!(seen.status, 400);
        assert!(
            seen.body["detail"]
                .as_str()
                .unwrap()
                .contains("two headers")
        );
        // A date on /v1, and a major version that does not exist.
        let seen = get(&router, "/v1/customers/1", Some("2025-06-01")).await;
        assert_eq!(seen.status, 400);
        supported(&seen);
        let seen = get(&router, "/v3/customers/1", None).await;
        assert_eq!(seen.status, 404);
        supported(&seen);
    }

    /// Unix seconds from an IMF-fixdate, checking the weekday it names.
    fn parse_http_date(text: &str) -> Option<i64> {
        let parts: Vec<&str> = text.split(' ').collect();
        let [weekday, day, month, year, time, "GMT"] = parts[..] else {
            return None;
        };
        let months = "JanFebMarAprMayJunJulAugSepOctNovDec";
        let month = months.find(month).filter(|i| i % 3 == 0)? as i64 / 3 + 1;
        let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
        let hms: Vec<i64> = time
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        // Days since 1970-01-01, counted the slow, obvious way.
        let leap = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut days: i64 =
            (1970..year).map(|y| 365 + i64::from(leap(y))).sum();
        for m in 1..month {
            days +=
                month_days[(m - 1) as usize] + i64::from(m == 2 && leap(year));
        }
        days += day - 1;
        let names = ["Thu,", "Fri,", "Sat,", "Sun,", "Mon,", "Tue,", "Wed,"];
        (names[days.rem_euclid(7) as usize] == weekday).then_some(())?;
        Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
    }

    /// An RFC 9651 Date: `@` and an integer of at most 15 digits.
    fn parse_sf_date(text: &str) -> Option<i64> {
        let digits = text.strip_prefix('@')?;
        let unsigned = digits.strip_prefix('-').unwrap_or(digits);
        let ok = !unsigned.is_empty()
            && unsigned.len() <= 15
            && unsigned.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| digits.parse().ok())?
    }

    #[test]
    fn dates_render_as_the_rfcs_examples() {
        // RFC 9745's example: deprecated at @1688169599, sunset a year on.
        assert_eq!(http_date(1_688_169_599), "Fri, 30 Jun 2023 23:59:59 GMT");
        assert_eq!(http_date(1_719_791_999), "Sun, 30 Jun 2024 23:59:59 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        for unix in (0..4_102_444_800).step_by(7_777_777) {
            assert_eq!(parse_http_date(&http_date(unix)), Some(unix));
        }
        assert_eq!(parse_sf_date("@1688169599"), Some(1_688_169_599));
        for bad in ["1688169599", "@", "@1.5", "@1234567890123456", "@ 1"] {
            assert_eq!(parse_sf_date(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn v1_carries_deprecation_sunset_and_links_and_v2_does_not() {
        let router = app(Release::current());
        for path in ["/v1/customers/1", "/v1/customers/99"] {
            let seen = get(&router, path, None).await;
            let deprecated =
                parse_sf_date(&seen.headers["deprecation"]).unwrap();
            let sunset = parse_http_date(&seen.headers["sunset"]).unwrap();
            assert_eq!(deprecated, V1_DEPRECATED_AT);
            assert_eq!(sunset, V1_SUNSET_AT);
            // RFC 9745, section 4: the sunset is never before deprecation.
            assert!(sunset >= deprecated);
            let links: Vec<&str> = seen.headers["link"].split(", ").collect();
            assert_eq!(links.len(), 2);
            for (link, rel) in links.iter().zip(["deprecation", "sunset"]) {
                let (uri, params) = link.split_once(">; ").unwrap();
                assert!(uri.starts_with("<https://"));
                assert!(
                    params.split("; ").any(|p| p == format!("rel=\"{rel}\""))
                );
            }
        }
        let seen = get(&router, "/v2/customers/1", None).await;
        for name in ["deprecation", "sunset", "link"] {
            assert!(!seen.headers.contains_key(name), "{name}");
        }
    }

    #[test]
    fn bad_bodies_get_a_clear_4xx_and_change_nothing() {
        let release = Release::current();
        let router = app(release.clone());
        let json = "application/json";
        let good_v1 = r#"{"name": "Alan Turing", "email": "alan@example.com"}"#;
        for (ctype, body, status, says) in [
            ("text/plain", good_v1, 415, "Content-Type"),
            (json, r#"{"name": "Alan", "email": "#, 400, "EOF"),
            (
                json,
                r#"{"name": "Alan", "emial": "a@b"}"#,
                422,
                "unknown field",
            ),
            (json, r#"{"name": "Alan"}"#, 422, "missing field `email`"),
            (json, r#"{"name": " ", "email": "a@b"}"#, 422, "a name"),
            (json, r#"{"name": "Alan", "email": "nope"}"#, 422, "email"),
            (json, r#"{"name": 7, "email": "a@b"}"#, 422, "invalid type"),
            (json, "[1, 2]", 422, "invalid type"),
            // The v2 name sent to v1 is not v1's field: refused, not mixed,
            // whether it comes alone or next to the v1 name.
            (
                json,
                r#"{"display_name": "A", "name": "A", "email": "a@b"}"#,
                422,
                "unknown field `display_name`",
            ),
            (
                json,
                r#"{"display_name": "A", "email": "a@b"}"#,
                422,
                "unknown field `display_name`",
            ),
        ] {
            let seen = post(&router, "/v1/customers", ctype, body);
            assert_eq!(seen.status, status, "{body}");
            let detail = seen.body["detail"].as_str().unwrap();
            assert!(detail.contains(says), "{detail}");
            assert_eq!(
                seen.headers["content-type"],
                "application/problem+json"
            );
        }
        assert_eq!(release.customer_count(), 2, "nothing was stored");
        let seen = post(&router, "/v1/customers", json, good_v1);
        assert_eq!(seen.status, 201);
        assert_eq!(seen.body["name"], "Alan Turing");
        assert_eq!(release.customer_count(), 3);
    }

    #[tokio::test]
    async fn recorded_contracts_pass_against_the_current_release() {
        let contracts = parse_contracts().unwrap();
        assert_eq!(contracts.len(), CONTRACTS.len());
        for contract in &contracts {
            let failures = replay(Release::current(), contract).await.unwrap();
            assert_eq!(failures, Vec::<String>::new(), "{}", contract.consumer);
        }
    }

    #[tokio::test]
    async fn a_renamed_field_fails_every_contract_that_reads_it() {
        for contract in &parse_contracts().unwrap() {
            let failures = replay(Release::broken(), contract).await.unwrap();
            assert!(!failures.is_empty(), "{}", contract.consumer);
            assert!(
                failures
                    .iter()
                    .all(|f| f.ends_with("body.email is missing"))
            );
        }
    }

    #[test]
    fn the_checker_catches_type_changes_and_ignores_new_fields() {
        let mut failures = Vec::new();
        let want = json!({"id": 1, "tags": ["a"]});
        compare(
            &want,
            &json!({"id": 1, "tags": ["a"], "new": true}),
            "b",
            &mut failures,
        );
        assert!(failures.is_empty());
        compare(
            &want,
            &json!({"id": "1", "tags": ["a"]}),
            "b",
            &mut failures,
        );
        compare(
            &want,
            &json!({"id": 1, "tags": ["a", "b"]}),
            "b",
            &mut failures,
        );
        compare(&want, &json!([1]), "b", &mut failures);
        assert_eq!(failures.len(), 3, "{failures:?}");
    }

    #[test]
    fn a_malformed_contract_is_an_error_not_a_pass() {
        let typo = r#"{"consumer": "x", "interactions": [{"method": "GET",
            "path": "/v1/customers/1", "expected_status": 200,
            "expect_body": {}}]}"#;
        assert!(serde_json::from_str::<Contract>(typo).is_err());
    }
}
