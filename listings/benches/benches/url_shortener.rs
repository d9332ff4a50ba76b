//! 3.1's redirect path under load, on loopback: the service of
//! `url_shortener` with Redis in front of PostgreSQL, then with PostgreSQL
//! alone, each for a fixed time.
//!
//! - 1,000 links are created first; with the cache, one pass over them
//!   fills Redis, so the timed part measures hits (the steady state of a
//!   hot link set).
//! - 32 client tasks, each with its own keep-alive connection (hyper's
//!   client), send `GET /<code>` for codes picked by a seeded generator,
//!   and check every reply is the 302 to the right URL.
//! - Client, service, PostgreSQL and Redis share this machine's cores, so
//!   the figures are a floor for one service instance, not a capacity.
//! - Clicks are counted and flushed as in production (every second).
//!
//! Run: `cargo xtask bench url_shortener` (needs PostgreSQL and Redis).

#[allow(dead_code)]
#[path = "../../design/src/bin/url_shortener.rs"]
mod url_shortener;

use std::sync::Arc;
use std::time::{Duration, Instant};

use url_shortener::{
    Clock, Config, Created, Service, create_body, http_client, send,
};

const LINKS: usize = 1_000;
const CLIENTS: usize = 32;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

/// What one mode measured.
struct Run {
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn main() {
    let redis = support::redis::client_or_exit("url_shortener bench");
    let _ = support::pg::connect_or_exit("url_shortener bench");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let cached = runtime.block_on(measure(true, redis.clone()));
    let uncached = runtime.block_on(measure(false, redis));
    println!(
        "url_shortener: GET /<code> on loopback, {CLIENTS} keep-alive \
         clients,\n{LINKS} links, {} s per mode after {} s of warm-up",
        MEASURE.as_secs(),
        WARM_UP.as_secs()
    );
    println!(
        "{:<16} {:>9} {:>12} {:>10} {:>10}",
        "mode", "requests", "redirects/s", "p50", "p99"
    );
    for (name, run) in
        [("redis+postgres", &cached), ("postgres only", &uncached)]
    {
        println!(
            "{name:<16} {:>9} {:>12.0} {:>10} {:>10}",
            run.requests,
            run.per_second,
            ms(run.p50),
            ms(run.p99)
        );
    }
    println!(
        "\nRatio of redirects/s, cache / no cache: {:.2}x",
        cached.per_second / uncached.per_second
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(cache: bool, redis: redis::Client) -> Run {
    let service =
        Service::start(Config::new(cache, Clock::System), Some(redis))
            .await
            .expect("start the service");
    let http = http_client();
    let mut links = Vec::with_capacity(LINKS);
    for i in 0..LINKS {
        let url = format!("https://example.com/page/{i}");
        let body = create_body(&url, None, None);
        let reply = send(&http, service.addr, "POST", "/api/links", &body)
            .await
            .expect("create");
        assert_eq!(reply.status, 201, "{}", reply.body);
        let created: Created = serde_json::from_str(&reply.body).expect("json");
        links.push((format!("/{}", created.code), url));
    }
    let links = Arc::new(links);
    if cache {
        for (path, _) in links.iter() {
            send(&http, service.addr, "GET", path, "")
                .await
                .expect("fill");
        }
    }
    eprintln!("url_shortener bench: cache {cache}: warming up");
    let _ = load(&service, &links, WARM_UP).await;
    eprintln!("url_shortener bench: cache {cache}: measuring");
    let started = Instant::now();
    let mut latencies = load(&service, &links, MEASURE).await;
    let elapsed = started.elapsed();
    service.stop().await;
    latencies.sort();
    let at = |q: f64| {
        latencies
            [((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]
    };
    Run {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// `CLIENTS` tasks send redirects until `time` is up; every reply is
/// checked, and the latencies come back.
async fn load(
    service: &Service,
    links: &Arc<Vec<(String, String)>>,
    time: Duration,
) -> Vec<Duration> {
    let deadline = Instant::now() + time;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (links, addr) = (links.clone(), service.addr);
        tasks.push(tokio::spawn(async move {
            let http = http_client();
            let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ client as u64;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                // xorshift64: a seeded, repeatable choice of link.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let (path, url) = &links[(state % links.len() as u64) as usize];
                let sent = Instant::now();
                let reply =
                    send(&http, addr, "GET", path, "").await.expect("redirect");
                latencies.push(sent.elapsed());
                assert_eq!(reply.status, 302, "{path}: {}", reply.body);
                assert_eq!(reply.location.as_deref(), Some(url.as_str()));
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a client task"));
    }
    all
}
