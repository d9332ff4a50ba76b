//! A stateless axum service over a small PostgreSQL pool, with and without
//! load shedding: a global concurrency limit in front of the handler, and
//! `503 Service Unavailable` with `Retry-After` for what does not fit.
//! `cargo xtask bench million_rpm` drives it over loopback to find its
//! saturation point and to measure latency under overload.
//!
//! Run: `cargo run --bin load_shedding` (needs PostgreSQL).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{BoxError, Json, Router};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::{LoadShedLayer, error::Overloaded};

// ANCHOR: pool
/// A fixed set of connections; a request waits for a permit, then
/// borrows one. The wait queue is unbounded: that is the problem.
pub struct Pool {
    clients: Mutex<Vec<tokio_postgres::Client>>,
    permits: Semaphore,
}

impl Pool {
    pub async fn connect(url: &str, size: usize) -> Result<Pool, String> {
        let mut clients = Vec::with_capacity(size);
        for _ in 0..size {
            let (client, conn) =
                tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            clients.push(client);
        }
        let permits = Semaphore::new(size);
        Ok(Pool {
            clients: Mutex::new(clients),
            permits,
        })
    }

    /// Holds a connection for `ms` milliseconds of server time.
    async fn work(&self, ms: i32) -> Result<i32, String> {
        let _permit =
            self.permits.acquire().await.map_err(|e| e.to_string())?;
        let client = self.clients.lock().map_err(|e| e.to_string())?.pop();
        let client = client.ok_or("pool is empty")?;
        let sql = "SELECT $1::int4 FROM pg_sleep($1::int4 / 1000.0)";
        let result = client.query_one(sql, &[&ms]).await;
        if let Ok(mut clients) = self.clients.lock() {
            clients.push(client);
        }
        Ok(result.map_err(|e| e.to_string())?.get(0))
    }
}
// ANCHOR_END: pool

// ANCHOR: handler
#[derive(Clone)]
pub struct App {
    pub pool: Arc<Pool>,
    pub in_flight: Arc<AtomicUsize>,
}

#[derive(Deserialize)]
pub struct Work {
    ms: i32,
}

async fn work(State(app): State<App>, Query(w): Query<Work>) -> Response {
    if !(0..=1000).contains(&w.ms) {
        let msg = "ms must be between 0 and 1000";
        return (StatusCode::BAD_REQUEST, msg).into_response();
    }
    app.in_flight.fetch_add(1, Ordering::SeqCst);
    let result = app.pool.work(w.ms).await;
    app.in_flight.fetch_sub(1, Ordering::SeqCst);
    match result {
        Ok(ms) => Json(serde_json::json!({ "slept_ms": ms })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}
// ANCHOR_END: handler

// ANCHOR: shed
/// The service; with `limit`, at most that many requests are inside it,
/// and the rest are refused at once instead of queueing.
pub fn router(app: App, limit: Option<usize>) -> Router {
    let router = Router::new()
        .route("/work", routing::get(work))
        .with_state(app);
    let Some(max) = limit else { return router };
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(overloaded))
            .layer(LoadShedLayer::new())
            // One semaphore for every route and connection.
            .layer(GlobalConcurrencyLimitLayer::new(max)),
    )
}

async fn overloaded(err: BoxError) -> Response {
    if err.is::<Overloaded>() {
        let headers = [(RETRY_AFTER, "1")];
        let body = "overloaded, retry later";
        return (StatusCode::SERVICE_UNAVAILABLE, headers, body)
            .into_response();
    }
    (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response()
}
// ANCHOR_END: shed

/// Starts the service on a fresh loopback port; returns its base URL.
pub async fn start(app: App, limit: Option<usize>) -> std::io::Result<String> {
    let (listener, addr) = support::loopback::listener()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(app, limit)).await;
    });
    Ok(format!("http://{addr}"))
}

pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(4096)
        .build_http()
}

/// One GET: its status, `Retry-After`, body, and latency.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
    #[allow(dead_code)] // read by the bench
    pub latency: Duration,
}

pub async fn fetch(client: &HttpClient, url: &str) -> Result<Reply, String> {
    let started = Instant::now();
    let uri = url.parse::<hyper::Uri>().map_err(|e| e.to_string())?;
    let res = client.get(uri).await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = res.into_body().collect().await.map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&body.to_bytes()).into_owned();
    Ok(Reply {
        status,
        retry_after,
        body,
        latency: started.elapsed(),
    })
}

/// What the demonstration saw: admitted, shed, and bad requests.
#[derive(Debug, Default)]
pub struct Demo {
    pub admitted_ok: usize,
    pub shed_with_retry_after: usize,
    pub other: Vec<String>,
    pub bad_input: Vec<(String, u16)>,
    pub after_recovery: u16,
}

// ANCHOR: demo
/// Fills the service to its limit with slow requests, then sends a
/// burst: every request of the burst must be refused at once, every
/// admitted one must succeed, and the service must admit again after.
pub async fn demo(url: &str, app: &App, limit: usize, burst: usize) -> Demo {
    let client = client();
    let slow = format!("{url}/work?ms=1000");
    let mut held = tokio::task::JoinSet::new();
    for _ in 0..limit {
        let (c, u) = (client.clone(), slow.clone());
        held.spawn(async move { fetch(&c, &u).await });
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while app.in_flight.load(Ordering::SeqCst) < limit
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut demo = Demo::default();
    let mut burst_set = tokio::task::JoinSet::new();
    for _ in 0..burst {
        let (c, u) = (client.clone(), format!("{url}/work?ms=1"));
        burst_set.spawn(async move { fetch(&c, &u).await });
    }
    for reply in burst_set
        .join_all()
        .await
        .into_iter()
        .chain(held.join_all().await)
    {
        match reply {
            Ok(r)
                if r.status == 503 && r.retry_after.as_deref() == Some("1") =>
            {
                demo.shed_with_retry_after += 1;
            }
            Ok(r) if r.status == 200 && r.body.contains("\"slept_ms\"") => {
                demo.admitted_ok += 1;
            }
            Ok(r) => demo.other.push(format!("{} {}", r.status, r.body)),
            Err(e) => demo.other.push(e),
        }
    }
    for query in ["ms=abc", "ms=5000", "ms=-1", "nothing=1"] {
        let status = fetch(&client, &format!("{url}/work?{query}"))
            .await
            .map_or(0, |r| r.status);
        demo.bad_input.push((query.to_string(), status));
    }
    demo.after_recovery = fetch(&client, &format!("{url}/work?ms=1"))
        .await
        .map_or(0, |r| r.status);
    demo
}
// ANCHOR_END: demo

pub async fn app_with_pool(size: usize) -> Result<App, String> {
    let pool = Pool::connect(&support::pg::database_url(), size).await?;
    Ok(App {
        pool: Arc::new(pool),
        in_flight: Arc::new(AtomicUsize::new(0)),
    })
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let app = app_with_pool(4).await.unwrap_or_else(|e| {
        support::skip::exit_unavailable("load_shedding", "PostgreSQL", e)
    });
    let url = start(app.clone(), Some(8)).await.unwrap_or_else(|e| {
        eprintln!("load_shedding: cannot listen: {e}");
        std::process::exit(1)
    });
    let d = demo(&url, &app, 8, 24).await;
    println!("pool of 4 connections, concurrency limit 8:");
    println!("  8 slow requests admitted, then a burst of 24");
    println!("  admitted and answered 200: {}", d.admitted_ok);
    println!("  refused 503, Retry-After: 1: {}", d.shed_with_retry_after);
    println!("  anything else: {}", d.other.len());
    for (query, status) in &d.bad_input {
        println!("  /work?{query:<10} -> {status}");
    }
    println!("  after the burst, /work?ms=1 -> {}", d.after_recovery);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shed_requests_get_503_and_admitted_ones_succeed() {
        let Some(app) = support::skip::in_test(
            "load_shedding",
            "PostgreSQL",
            app_with_pool(2).await,
        ) else {
            return;
        };
        let url = start(app.clone(), Some(4)).await.unwrap();
        let d = demo(&url, &app, 4, 12).await;
        assert_eq!(d.admitted_ok, 4, "{d:?}");
        assert_eq!(d.shed_with_retry_after, 12, "{d:?}");
        assert!(d.other.is_empty(), "{d:?}");
        for (query, status) in &d.bad_input {
            assert_eq!(*status, 400, "{query}");
        }
        assert_eq!(d.after_recovery, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_limit_the_burst_queues_and_nothing_is_shed() {
        let Some(app) = support::skip::in_test(
            "load_shedding",
            "PostgreSQL",
            app_with_pool(2).await,
        ) else {
            return;
        };
        let url = start(app.clone(), None).await.unwrap();
        let d = demo(&url, &app, 2, 4).await;
        assert_eq!(d.admitted_ok, 6, "{d:?}");
        assert_eq!(d.shed_with_retry_after, 0, "{d:?}");
    }
}
