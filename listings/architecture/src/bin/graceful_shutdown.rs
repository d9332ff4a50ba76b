//! 2.8 Containers: graceful shutdown, for real. An axum server that, on
//! SIGTERM, turns its readiness probe to 503 at once, keeps accepting for a
//! short drain (the time Kubernetes needs to take the pod out of the
//! Service's endpoints), then stops accepting, lets the requests in flight
//! finish, and exits 0, or exits 1 when its own deadline (a stand-in for
//! `terminationGracePeriodSeconds`) passes first.
//!
//! `cargo run --bin graceful_shutdown` runs the scenario: it starts itself
//! as a child process (`graceful_shutdown serve <drain ms> <deadline ms>`),
//! starts a slow request, sends the child SIGTERM with `kill -TERM <pid>`,
//! and prints what a client sees. Loopback only, no other server needed.

use std::net::SocketAddr;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

/// The longest `/slow` request a caller may ask for.
const MAX_SLOW_MS: u64 = 10_000;

// ANCHOR: state
/// What the probes read. `ready` goes false on SIGTERM, before anything
/// else happens; `in_flight` counts `/slow` requests being served.
#[derive(Clone, Default)]
struct Health {
    ready: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
}

fn app(health: Health) -> Router {
    Router::new()
        // Liveness: the process answers. Never tied to dependencies.
        .route("/healthz", get(|| async { "alive" }))
        // Readiness: send me traffic. 503 once shutdown has begun.
        .route("/readyz", get(readyz))
        .route("/slow", get(slow))
        .with_state(health)
}

async fn readyz(State(h): State<Health>) -> (StatusCode, String) {
    let n = h.in_flight.load(Ordering::SeqCst);
    if h.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, format!("ready in_flight={n}"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("draining in_flight={n}"),
        )
    }
}
// ANCHOR_END: state

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

/// Decrements the in-flight count however the request ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request that takes `ms` milliseconds (a malformed or missing `ms` is
/// a 400 from the `Query` extractor; more than 10 s is refused).
async fn slow(
    State(h): State<Health>,
    Query(p): Query<SlowParams>,
) -> (StatusCode, String) {
    if p.ms > MAX_SLOW_MS {
        let msg = format!("ms must be at most {MAX_SLOW_MS}, got {}", p.ms);
        return (StatusCode::BAD_REQUEST, msg);
    }
    h.in_flight.fetch_add(1, Ordering::SeqCst);
    let _guard = InFlight(h.in_flight.clone());
    tokio::time::sleep(Duration::from_millis(p.ms)).await;
    (StatusCode::OK, format!("done after {} ms", p.ms))
}

/// How shutdown is paced: `drain` after SIGTERM while still accepting,
/// and `deadline` (from SIGTERM) before giving up on requests in flight.
#[derive(Clone, Copy)]
struct Timing {
    drain: Duration,
    deadline: Duration,
}

// ANCHOR: serve
/// Serves until SIGTERM; the exit status: 0 drained, 1 deadline passed.
async fn serve(listener: TcpListener, timing: Timing) -> u8 {
    let health = Health::default();
    health.ready.store(true, Ordering::SeqCst);
    let Ok(mut sigterm) = signal(SignalKind::terminate()) else {
        eprintln!("cannot install a SIGTERM handler");
        return 2;
    };
    let term = Arc::new(Notify::new());
    let shutdown = {
        let (health, term) = (health.clone(), term.clone());
        async move {
            sigterm.recv().await;
            health.ready.store(false, Ordering::SeqCst); // 503 at once
            term.notify_one(); // the deadline starts now
            // Still accepting: the endpoints update is on its way.
            tokio::time::sleep(timing.drain).await;
        } // axum now closes the listener and waits for in-flight requests
    };
    let server = axum::serve(listener, app(health))
        .with_graceful_shutdown(shutdown)
        .into_future();
    let deadline = async {
        term.notified().await;
        tokio::time::sleep(timing.deadline).await;
    };
    tokio::select! {
        done = server => match done {
            Ok(()) => 0,
            Err(e) => { eprintln!("server error: {e}"); 2 }
        },
        () = deadline => {
            eprintln!("deadline passed with requests in flight");
            1
        }
    }
}
// ANCHOR_END: serve

/// `serve <drain ms> <deadline ms>`: bind a loopback port, print it on the
/// first line of stdout (the parent reads it), serve until SIGTERM.
async fn serve_main(args: &[String]) -> u8 {
    let ms = |i: usize| {
        args.get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    let (Some(drain), Some(deadline)) = (ms(0), ms(1)) else {
        eprintln!("usage: graceful_shutdown serve <drain ms> <deadline ms>");
        return 2;
    };
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind: {e}");
            return 2;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => {
            eprintln!("no local address: {e}");
            return 2;
        }
    }
    serve(listener, Timing { drain, deadline }).await
}

/// The server as a child process, and the address it listens on.
struct Server {
    child: Child,
    addr: SocketAddr,
    _stdout: BufReader<ChildStdout>,
}

/// `graceful_shutdown serve <drain> <deadline>`: this very program.
#[cfg(not(test))]
fn server_command(drain_ms: u64, deadline_ms: u64) -> std::io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["serve", &drain_ms.to_string(), &deadline_ms.to_string()]);
    Ok(command)
}

/// Under `cargo test` the current executable is the test harness: it runs
/// the ignored test `tests::child_server`, which serves (see below).
#[cfg(test)]
fn server_command(drain_ms: u64, deadline_ms: u64) -> std::io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["tests::child_server", "--exact", "--ignored", "--nocapture"])
        .env(
            "GRACEFUL_SHUTDOWN_SERVE",
            format!("{drain_ms} {deadline_ms}"),
        );
    Ok(command)
}

impl Server {
    async fn start(drain_ms: u64, deadline_ms: u64) -> std::io::Result<Self> {
        let mut child = server_command(drain_ms, deadline_ms)?
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or(std::io::Error::other("no stdout"))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // The first line that names the address (libtest prints its own first).
        let addr = loop {
            line.clear();
            if stdout.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::other(
                    "the server printed no address",
                ));
            }
            if let Some(addr) = line.trim().strip_prefix("listening on ") {
                break addr.parse().map_err(std::io::Error::other)?;
            }
        };
        Ok(Self {
            child,
            addr,
            _stdout: stdout,
        })
    }

    /// What `docker stop` and the kubelet do first.
    async fn sigterm(&self) -> std::io::Result<()> {
        let pid = self.child.id().ok_or(std::io::Error::other("exited"))?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("kill: {status}")))
        }
    }

    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }
}

/// One HTTP/1.1 GET on a new connection: the status code and the body.
async fn http_get(
    addr: SocketAddr,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::other(format!("no status in {raw:?}"))
        })?;
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// Polls `/readyz` until `in_flight=<n>` shows (the slow request is inside).
async fn wait_in_flight(addr: SocketAddr, n: usize) -> std::io::Result<()> {
    let want = format!("in_flight={n}");
    for _ in 0..200 {
        if http_get(addr, "/readyz").await?.1.contains(&want) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(std::io::Error::other(format!("never saw {want}")))
}

/// What a client sees across one shutdown.
#[derive(Debug)]
struct Observed {
    ready_before: (u16, String),
    ready_after_sigterm: (u16, String),
    /// A new connection once the drain is over (the slow request still runs).
    connect_after_drain: std::io::Result<(u16, String)>,
    slow: std::io::Result<(u16, String)>,
    exit: ExitStatus,
    since_sigterm: Duration,
}

// ANCHOR: scenario
async fn scenario(t: Timing, slow_ms: u64) -> std::io::Result<Observed> {
    let mut server = Server::start(
        t.drain.as_millis() as u64,
        t.deadline.as_millis() as u64,
    )
    .await?;
    let addr = server.addr;
    let ready_before = http_get(addr, "/readyz").await?;
    let slow = tokio::spawn(async move {
        http_get(addr, &format!("/slow?ms={slow_ms}")).await
    });
    wait_in_flight(addr, 1).await?;
    server.sigterm().await?;
    let sent = Instant::now();
    let ready_after_sigterm = http_get(addr, "/readyz").await?;
    tokio::time::sleep(t.drain + Duration::from_millis(100)).await;
    let connect_after_drain = http_get(addr, "/healthz").await;
    let exit = server.wait().await?;
    let since_sigterm = sent.elapsed();
    let slow = slow.await.map_err(std::io::Error::other)?;
    Ok(Observed {
        ready_before,
        ready_after_sigterm,
        connect_after_drain,
        slow,
        exit,
        since_sigterm,
    })
}
// ANCHOR_END: scenario

fn describe(r: &std::io::Result<(u16, String)>) -> String {
    match r {
        Ok((status, body)) => format!("{status} {body}"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_string()
        }
        Err(e) => format!("error ({:?})", e.kind()),
    }
}

async fn demo() -> ExitCode {
    let timing = Timing {
        drain: Duration::from_millis(200),
        deadline: Duration::from_secs(5),
    };
    let seen = match scenario(timing, 800).await {
        Ok(seen) => seen,
        Err(e) => {
            eprintln!("graceful_shutdown: scenario failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("drain 200 ms, deadline 5 s, one request of 800 ms in flight");
    println!(
        "GET /readyz before SIGTERM:      {}",
        describe(&Ok(seen.ready_before))
    );
    println!(
        "GET /readyz right after SIGTERM: {}",
        describe(&Ok(seen.ready_after_sigterm))
    );
    println!(
        "new connection after the drain:  {}",
        describe(&seen.connect_after_drain)
    );
    println!("the request in flight:           {}", describe(&seen.slow));
    let code = seen
        .exit
        .code()
        .map_or("none (a signal)".into(), |c| c.to_string());
    println!("exit status: {code}");
    println!(
        "exited before the deadline: {}",
        seen.since_sigterm < timing.deadline
    );
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => ExitCode::from(serve_main(&args[1..]).await),
        _ => demo().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(drain_ms: u64, deadline_ms: u64) -> Timing {
        Timing {
            drain: Duration::from_millis(drain_ms),
            deadline: Duration::from_millis(deadline_ms),
        }
    }

    /// Not a test: the server, when a test starts this harness as a child
    /// with `GRACEFUL_SHUTDOWN_SERVE="<drain ms> <deadline ms>"`.
    #[tokio::test]
    #[ignore = "run as a child process by the other tests"]
    async fn child_server() {
        let Ok(spec) = std::env::var("GRACEFUL_SHUTDOWN_SERVE") else {
            return;
        };
        let args: Vec<String> = spec.split(' ').map(str::to_string).collect();
        std::process::exit(i32::from(serve_main(&args).await));
    }

    #[tokio::test]
    async fn sigterm_drains_then_finishes_the_request_in_flight() {
        let t = timing(200, 3000);
        let seen = scenario(t, 800).await.unwrap();
        assert_eq!(seen.ready_before, (200, "ready in_flight=0".into()));
        // Readiness fails at once, while the request is still in flight.
        assert_eq!(
            seen.ready_after_sigterm,
            (503, "draining in_flight=1".into())
        );
        // After the drain the listener is closed, the process still alive.
        let refused = seen.connect_after_drain.as_ref().unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            seen.slow.as_ref().unwrap(),
            &(200, "done after 800 ms".into())
        );
        assert_eq!(seen.exit.code(), Some(0));
        // It waited for the request (about 750 ms after SIGTERM), not for
        // the deadline.
        assert!(seen.since_sigterm >= Duration::from_millis(600), "{seen:?}");
        assert!(seen.since_sigterm < t.deadline, "{seen:?}");
    }

    #[tokio::test]
    async fn a_request_longer_than_the_deadline_makes_it_exit_1_on_time() {
        let t = timing(100, 600);
        let seen = scenario(t, 5000).await.unwrap();
        assert_eq!(seen.ready_after_sigterm.0, 503);
        assert_eq!(seen.exit.code(), Some(1));
        assert!(seen.since_sigterm >= Duration::from_millis(550), "{seen:?}");
        assert!(seen.since_sigterm < Duration::from_millis(2000), "{seen:?}");
        // The client of the cut request gets no response at all.
        assert!(seen.slow.is_err(), "{seen:?}");
    }

    #[tokio::test]
    async fn idle_server_exits_0_right_after_the_drain() {
        let mut server = Server::start(100, 3000).await.unwrap();
        assert_eq!(http_get(server.addr, "/healthz").await.unwrap().0, 200);
        server.sigterm().await.unwrap();
        let sent = Instant::now();
        let exit = server.wait().await.unwrap();
        assert_eq!(exit.code(), Some(0));
        assert!(sent.elapsed() >= Duration::from_millis(90));
        assert!(sent.elapsed() < Duration::from_millis(1000));
    }

    #[tokio::test]
    async fn malformed_slow_requests_get_400_and_change_nothing() {
        let mut server = Server::start(50, 1000).await.unwrap();
        let addr = server.addr;
        let (status, _) = http_get(addr, "/slow?ms=soon").await.unwrap();
        assert_eq!(status, 400);
        assert_eq!(http_get(addr, "/slow").await.unwrap().0, 400);
        let (status, body) = http_get(addr, "/slow?ms=999999").await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (400, "ms must be at most 10000, got 999999")
        );
        assert_eq!(
            http_get(addr, "/readyz").await.unwrap(),
            (200, "ready in_flight=0".into())
        );
        server.sigterm().await.unwrap();
        assert_eq!(server.wait().await.unwrap().code(), Some(0));
    }

    #[tokio::test]
    async fn serve_refuses_bad_arguments() {
        let args = ["soon".to_string(), "1000".to_string()];
        assert_eq!(serve_main(&args).await, 2);
        assert_eq!(serve_main(&args[1..]).await, 2);
    }
}
