//! 3.8's load test: the axum service of `load_shedding` (a pool of 4
//! PostgreSQL connections, each request holding one for 5 ms of server
//! time) driven over loopback by an open-loop client: requests leave at a
//! fixed rate whether or not earlier ones have returned, as real users do.
//!
//! 1. Saturation: rising offered rates without shedding; the service is
//!    saturated where goodput stops following the offered rate.
//! 2. Overload at twice the measured capacity, without and with load
//!    shedding (global concurrency limit 8, then 503 + Retry-After).
//!
//! A client gives up after 1 s (counted as a timeout). Client and server
//! share this machine's cores, so the figures are for this machine only.
//!
//! Run: `cargo xtask bench million_rpm` (needs PostgreSQL; about 30 s).

// Its `main` is unused here, and its tests do not run here.
#[allow(dead_code, unused_imports)]
#[path = "../../design/src/bin/load_shedding.rs"]
mod load_shedding;

use std::time::{Duration, Instant};

use load_shedding::{App, HttpClient, app_with_pool, client, fetch, start};

const POOL: usize = 4;
const WORK_MS: i32 = 5;
const LIMIT: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Stats {
    offered: u32,
    sent: usize,
    ok: usize,
    shed: usize,
    timeouts: usize,
    errors: usize,
    ok_ms: Vec<f64>,
    window: f64,
}

impl Stats {
    fn pct(&self, p: usize) -> f64 {
        if self.ok_ms.is_empty() {
            return f64::NAN;
        }
        self.ok_ms[(self.ok_ms.len() - 1) * p / 100]
    }
    fn goodput(&self) -> f64 {
        self.ok as f64 / self.window
    }
}

enum Outcome {
    Ok(f64),
    Shed,
    Timeout,
    Error,
}

async fn one(client: HttpClient, url: String) -> Outcome {
    match tokio::time::timeout(TIMEOUT, fetch(&client, &url)).await {
        Err(_) => Outcome::Timeout,
        Ok(Err(_)) => Outcome::Error,
        Ok(Ok(r)) if r.status == 200 => {
            Outcome::Ok(r.latency.as_secs_f64() * 1000.0)
        }
        Ok(Ok(r)) if r.status == 503 => Outcome::Shed,
        Ok(Ok(_)) => Outcome::Error,
    }
}

/// Sends `rate` requests per second for `secs` seconds, on schedule.
async fn open_loop(url: &str, rate: u32, secs: f64) -> Stats {
    let client = client();
    let target = format!("{url}/work?ms={WORK_MS}");
    let total = (f64::from(rate) * secs) as usize;
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        tasks.spawn(one(client.clone(), target.clone()));
    }
    let mut s = Stats {
        offered: rate,
        sent: total,
        ..Stats::default()
    };
    for outcome in tasks.join_all().await {
        match outcome {
            Outcome::Ok(ms) => {
                s.ok += 1;
                s.ok_ms.push(ms);
            }
            Outcome::Shed => s.shed += 1,
            Outcome::Timeout => s.timeouts += 1,
            Outcome::Error => s.errors += 1,
        }
    }
    s.window = started.elapsed().as_secs_f64();
    s.ok_ms.sort_by(f64::total_cmp);
    s
}

async fn fresh(limit: Option<usize>) -> (App, String) {
    let app = app_with_pool(POOL).await.unwrap_or_else(|e| {
        support::skip::exit_unavailable("million_rpm", "PostgreSQL", e)
    });
    let url = start(app.clone(), limit).await.expect("listen on loopback");
    (app, url)
}

fn header() {
    println!(
        "{:<10}{:>8}{:>7}{:>7}{:>6}{:>6}{:>9}{:>8}{:>8}",
        "run",
        "offered",
        "sent",
        "ok",
        "503",
        "t/o",
        "goodput",
        "p50 ms",
        "p99 ms"
    );
}

fn row(run: &str, s: &Stats) {
    println!(
        "{:<10}{:>8}{:>7}{:>7}{:>6}{:>6}{:>9.0}{:>8.1}{:>8.1}",
        run,
        s.offered,
        s.sent,
        s.ok,
        s.shed,
        s.timeouts + s.errors,
        s.goodput(),
        s.pct(50),
        s.pct(99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "pool {POOL} connections x {WORK_MS} ms of pg_sleep per request \
         (ceiling {} req/s)",
        POOL as i32 * 1000 / WORK_MS
    );
    println!("1. saturation, no shedding, 2 s per rate");
    header();
    let mut capacity = 0.0f64;
    let mut saturated_at = None;
    for rate in [100, 200, 300, 400, 500, 600, 700, 800] {
        let (_app, url) = fresh(None).await;
        eprintln!("million_rpm: {rate} req/s");
        let s = open_loop(&url, rate, 2.0).await;
        row("no limit", &s);
        capacity = capacity.max(s.goodput());
        let behind = s.goodput() < 0.95 * f64::from(rate) || s.pct(99) > 100.0;
        if behind && saturated_at.is_none() {
            saturated_at = Some(rate);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    match saturated_at {
        Some(rate) => println!(
            "saturated at {rate} req/s offered (goodput < 95% of offered \
             or p99 > 100 ms); best goodput {capacity:.0} req/s"
        ),
        None => println!("not saturated up to 800 req/s"),
    }

    let overload = ((2.0 * capacity) as u32).max(200);
    println!("2. overload at 2 x best goodput, 3 s each");
    header();
    let (_app, url) = fresh(None).await;
    eprintln!("million_rpm: overload without shedding");
    let without = open_loop(&url, overload, 3.0).await;
    row("no limit", &without);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_app, url) = fresh(Some(LIMIT)).await;
    eprintln!("million_rpm: overload with shedding");
    let with = open_loop(&url, overload, 3.0).await;
    row(&format!("limit {LIMIT}"), &with);
    println!(
        "p99 of answered requests: {:.1} ms without shedding, \
         {:.1} ms with ({:.0}x lower)",
        without.pct(99),
        with.pct(99),
        without.pct(99) / with.pct(99)
    );
}
