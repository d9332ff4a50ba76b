//! 1.5 Generators, coroutines and async/await, in Rust: iterators and futures.
//!
//! - Iterators are the generator analogue: a chain of adapters over log lines
//!   (read -> parse -> filter -> aggregate) does nothing until something pulls
//!   from it, then reads and parses one line per item, as Python's generator
//!   pipeline does.
//! - A future is the coroutine analogue: calling an `async fn` runs none of its
//!   body; an executor (here a tokio runtime built by hand, single-threaded
//!   like asyncio's event loop) polls it.
//! - `tokio::time::timeout` and `JoinHandle::abort` cancel by dropping the
//!   future: a `DropGuard` held across the `.await` records that its
//!   destructor ran, which is Rust's `finally`.
//! - `std::thread::sleep` inside a task blocks the runtime's only thread, so a
//!   ticker task gets no turn; `tokio::time::sleep` and
//!   `tokio::task::spawn_blocking` leave it free.
//! - A `JoinSet` fans out tasks; on the first error the rest are aborted and
//!   drained, as `asyncio.TaskGroup` cancels the siblings of a failed task.
//!
//! Semantics chosen: a log line is `METHOD PATH STATUS MILLIS`; any other line
//! is a `ParseError` that the pipeline counts and skips. Orderings that depend
//! on timers use gaps of 50 ms or more between deadlines, and no duration is
//! printed, so the output is the same on any machine.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{error::Elapsed, sleep, timeout};

/// A shared, ordered record of events, to assert orderings.
#[derive(Clone, Default)]
pub struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    pub fn record(&self, event: impl Into<String>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.into());
    }

    pub fn events(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

const ACCESS_LOG: &str = "\
GET /api/users 200 12
GET /api/orders 500 340
this line is garbage
GET /api/orders 503 1200
GET /api/users 200 9
";

// ANCHOR: parse_line
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub path: String,
    pub status: u16,
    pub millis: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    WrongFieldCount { found: usize },
    NotANumber { field: &'static str },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::WrongFieldCount { found } => {
                write!(f, "expected 4 fields, found {found}")
            }
            ParseError::NotANumber { field } => {
                write!(f, "{field} is not a number")
            }
        }
    }
}

impl std::error::Error for ParseError {}

pub fn parse_line(line: &str) -> Result<Record, ParseError> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [_method, path, status, millis] = fields[..] else {
        return Err(ParseError::WrongFieldCount {
            found: fields.len(),
        });
    };
    Ok(Record {
        path: path.to_string(),
        status: status
            .parse()
            .map_err(|_| ParseError::NotANumber { field: "status" })?,
        millis: millis
            .parse()
            .map_err(|_| ParseError::NotANumber { field: "millis" })?,
    })
}

// ANCHOR_END: parse_line

// ANCHOR: pipeline
/// read -> parse, lazily: each `next()` reads and parses one line.
pub fn parsed<'a>(
    text: &'a str,
    trace: &'a Trace,
) -> impl Iterator<Item = Result<Record, ParseError>> + 'a {
    text.lines().inspect(|_| trace.record("read")).map(|line| {
        let parsed = parse_line(line);
        if parsed.is_ok() {
            trace.record("parse");
        }
        parsed
    })
}

pub fn server_errors(
    records: impl Iterator<Item = Result<Record, ParseError>>,
) -> impl Iterator<Item = Record> {
    records
        .filter_map(Result::ok)
        .filter(|record| record.status >= 500)
}

pub fn errors_by_path(
    records: impl Iterator<Item = Record>,
) -> BTreeMap<String, usize> {
    records.fold(BTreeMap::new(), |mut counts, record| {
        *counts.entry(record.path).or_default() += 1;
        counts
    })
}
// ANCHOR_END: pipeline

// ANCHOR: drop_guard
/// Records when it is dropped: the destructor is Rust's `finally`.
pub struct DropGuard {
    trace: Trace,
    label: &'static str,
}

impl DropGuard {
    pub fn new(trace: &Trace, label: &'static str) -> Self {
        DropGuard {
            trace: trace.clone(),
            label,
        }
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.trace.record(format!("{} dropped", self.label));
    }
}
// ANCHOR_END: drop_guard

// ANCHOR: runtime
/// One thread, like asyncio's event loop; the timer driver enabled.
pub fn event_loop() -> std::io::Result<Runtime> {
    Builder::new_current_thread().enable_time().build()
}

pub async fn step(trace: Trace, label: &'static str) -> &'static str {
    trace.record(label);
    label
}
// ANCHOR_END: runtime

// ANCHOR: timeout
pub async fn slow_call(trace: Trace) -> &'static str {
    let _guard = DropGuard::new(&trace, "slow_call");
    trace.record("slow_call started");
    sleep(Duration::from_secs(10)).await;
    trace.record("slow_call finished"); // never reached when cancelled
    "done"
}

pub async fn call_with_timeout(
    trace: Trace,
    limit: Duration,
) -> Result<&'static str, Elapsed> {
    // On expiry, `timeout` returns Err and drops the inner future mid-await.
    timeout(limit, slow_call(trace)).await
}

/// Spawn a task, abort it while it waits, and report whether it was cancelled.
pub async fn abort_while_waiting(trace: Trace) -> Result<bool, JoinError> {
    let (started, has_started) = oneshot::channel();
    let task_trace = trace.clone();
    let handle = tokio::spawn(async move {
        let _guard = DropGuard::new(&task_trace, "worker");
        let _ = started.send(());
        sleep(Duration::from_secs(10)).await;
        task_trace.record("worker finished");
    });
    let _ = has_started.await; // the worker now holds its guard
    handle.abort();
    match handle.await {
        Ok(()) => Ok(false),
        Err(error) if error.is_cancelled() => Ok(true),
        Err(error) => Err(error),
    }
}
// ANCHOR_END: timeout

// ANCHOR: blocking
#[derive(Clone, Copy, Debug)]
pub enum Work {
    /// `time.sleep` inside a coroutine.
    ThreadSleep,
    /// `await asyncio.sleep(...)`.
    AsyncSleep,
    /// `await asyncio.to_thread(time.sleep, ...)`.
    SpawnBlocking,
}

const WORK: Duration = Duration::from_millis(200);
const TICK: Duration = Duration::from_millis(10);

async fn ticker(
    trace: Trace,
    stop: Arc<AtomicBool>,
    started: oneshot::Sender<()>,
) {
    trace.record("tick");
    let _ = started.send(());
    while !stop.load(Ordering::SeqCst) {
        sleep(TICK).await;
        trace.record("tick");
    }
}

/// How many ticks another task got while `work` ran. Meaningful on a
/// current-thread runtime, where all tasks share one thread.
pub async fn ticks_during(work: Work) -> Result<usize, JoinError> {
    let trace = Trace::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (started, has_started) = oneshot::channel();
    let ticking =
        tokio::spawn(ticker(trace.clone(), Arc::clone(&stop), started));
    let _ = has_started.await;
    trace.record("start");
    match work {
        Work::ThreadSleep => std::thread::sleep(WORK), // blocks every task
        Work::AsyncSleep => sleep(WORK).await,
        Work::SpawnBlocking => {
            tokio::task::spawn_blocking(|| std::thread::sleep(WORK)).await?
        }
    }
    trace.record("end");
    stop.store(true, Ordering::SeqCst);
    ticking.await?;
    let events = trace.events();
    let during = events
        .iter()
        .skip_while(|e| *e != "start")
        .take_while(|e| *e != "end");
    Ok(during.filter(|e| *e == "tick").count())
}
// ANCHOR_END: blocking

// ANCHOR: fan_out
/// Three fetches at once; returns names in the order they completed.
pub async fn fan_out() -> Result<Vec<&'static str>, JoinError> {
    let mut set = JoinSet::new();
    for (name, millis) in [("a", 150), ("b", 50), ("c", 100)] {
        set.spawn(async move {
            sleep(Duration::from_millis(millis)).await;
            name
        });
    }
    let mut finished = Vec::new();
    while let Some(joined) = set.join_next().await {
        finished.push(joined?);
    }
    Ok(finished)
}

/// The first error aborts the siblings, and we wait until they are gone.
pub async fn first_error_cancels_siblings(trace: Trace) -> Result<(), String> {
    let mut set = JoinSet::new();
    set.spawn(async {
        sleep(Duration::from_millis(10)).await;
        Err("upstream returned 502".to_string())
    });
    let sibling_trace = trace.clone();
    set.spawn(async move {
        let _guard = DropGuard::new(&sibling_trace, "sibling");
        sleep(Duration::from_secs(10)).await;
        Ok(())
    });
    while let Some(joined) = set.join_next().await {
        let outcome =
            joined.map_err(|e| e.to_string()).and_then(|result| result);
        if let Err(error) = outcome {
            set.abort_all();
            while set.join_next().await.is_some() {}
            return Err(error);
        }
    }
    Ok(())
}
// ANCHOR_END: fan_out

// ANCHOR: main
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trace = Trace::default();
    let mut pipeline = server_errors(parsed(ACCESS_LOG, &trace));
    let nothing_yet = trace.events().is_empty();
    let first = pipeline.next();
    println!("iterator pipeline ran nothing until pulled: {nothing_yet}");
    println!(
        "after the first 5xx record the trace is {:?}",
        trace.events()
    );
    let counts = errors_by_path(first.into_iter().chain(pipeline));
    println!("5xx by path: {counts:?}");

    let runtime = event_loop()?;
    let trace = Trace::default();
    let future = step(trace.clone(), "async fn body ran");
    println!(
        "calling an async fn ran its body: {}",
        !trace.events().is_empty()
    );
    runtime.block_on(future);
    println!("after block_on: {:?}", trace.events());

    runtime.block_on(async {
        let trace = Trace::default();
        let outcome =
            call_with_timeout(trace.clone(), Duration::from_millis(50)).await;
        println!(
            "timeout(50 ms, slow_call): timed out = {}",
            outcome.is_err()
        );
        println!("  trace {:?}", trace.events());

        let trace = Trace::default();
        let cancelled = abort_while_waiting(trace.clone()).await?;
        println!(
            "JoinHandle::abort: cancelled = {cancelled}, trace {:?}",
            trace.events()
        );

        println!("JoinSet completion order: {:?}", fan_out().await?);
        let trace = Trace::default();
        let failure = first_error_cancels_siblings(trace.clone()).await;
        println!("first error {failure:?} -> {:?}", trace.events());

        for work in [Work::ThreadSleep, Work::AsyncSleep, Work::SpawnBlocking] {
            let ticks = ticks_during(work).await?;
            println!("ticker ran during {work:?}: {}", ticks > 0);
        }
        Ok::<(), JoinError>(())
    })?;
    Ok(())
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_line_accepts_four_fields_and_rejects_the_rest() {
        assert_eq!(
            parse_line("GET /x 503 7"),
            Ok(Record {
                path: "/x".into(),
                status: 503,
                millis: 7
            })
        );
        assert_eq!(
            parse_line(""),
            Err(ParseError::WrongFieldCount { found: 0 })
        );
        assert_eq!(
            parse_line("GET /x 200"),
            Err(ParseError::WrongFieldCount { found: 3 })
        );
        assert_eq!(
            parse_line("GET /x OK 1"),
            Err(ParseError::NotANumber { field: "status" })
        );
        assert_eq!(
            parse_line("GET /x 200 -1"),
            Err(ParseError::NotANumber { field: "millis" })
        );
        assert_eq!(
            parse_line("GET /x 70000 1"),
            Err(ParseError::NotANumber { field: "status" })
        );
    }

    #[test]
    fn pipeline_is_lazy_and_interleaves_read_and_parse() {
        let trace = Trace::default();
        let mut pipeline = server_errors(parsed(ACCESS_LOG, &trace));
        assert!(trace.events().is_empty(), "building the chain ran nothing");
        let first = pipeline.next().map(|r| r.status);
        assert_eq!(first, Some(500));
        assert_eq!(trace.events(), ["read", "parse", "read", "parse"]);
    }

    #[test]
    fn pipeline_counts_server_errors_and_skips_garbage() {
        let trace = Trace::default();
        let counts = errors_by_path(server_errors(parsed(ACCESS_LOG, &trace)));
        assert_eq!(counts, BTreeMap::from([("/api/orders".to_string(), 2)]));
        let events = trace.events();
        assert_eq!(events.iter().filter(|e| *e == "read").count(), 5);
        assert_eq!(events.iter().filter(|e| *e == "parse").count(), 4);
        assert!(errors_by_path(server_errors(parsed("", &trace))).is_empty());
    }

    #[test]
    fn an_async_fn_runs_nothing_until_polled() {
        let runtime = event_loop().expect("runtime");
        let trace = Trace::default();
        let future = step(trace.clone(), "ran");
        assert!(trace.events().is_empty());
        assert_eq!(runtime.block_on(future), "ran");
        assert_eq!(trace.events(), ["ran"]);
        // A future dropped without being polled never runs at all.
        drop(step(trace.clone(), "never"));
        assert_eq!(trace.events(), ["ran"]);
    }

    #[tokio::test]
    async fn timeout_drops_the_inner_future_and_runs_its_destructors() {
        let trace = Trace::default();
        let outcome =
            call_with_timeout(trace.clone(), Duration::from_millis(20)).await;
        assert!(outcome.is_err());
        assert_eq!(trace.events(), ["slow_call started", "slow_call dropped"]);
    }

    #[tokio::test]
    async fn timeout_that_does_not_expire_returns_the_value() {
        let value = timeout(Duration::from_secs(5), async { 7 }).await;
        assert_eq!(value.ok(), Some(7));
    }

    #[tokio::test]
    async fn abort_cancels_the_task_and_drops_its_guard() {
        let trace = Trace::default();
        assert_eq!(abort_while_waiting(trace.clone()).await.ok(), Some(true));
        assert_eq!(trace.events(), ["worker dropped"]);
    }

    #[tokio::test]
    async fn thread_sleep_starves_other_tasks_and_the_fixes_do_not() {
        assert_eq!(ticks_during(Work::ThreadSleep).await.ok(), Some(0));
        assert!(
            ticks_during(Work::AsyncSleep)
                .await
                .is_ok_and(|ticks| ticks > 0)
        );
        assert!(
            ticks_during(Work::SpawnBlocking)
                .await
                .is_ok_and(|ticks| ticks > 0)
        );
    }

    #[tokio::test]
    async fn join_set_yields_in_completion_order() {
        assert_eq!(fan_out().await.ok(), Some(vec!["b", "c", "a"]));
    }

    #[tokio::test]
    async fn first_error_aborts_and_drains_the_siblings() {
        let trace = Trace::default();
        let outcome = first_error_cancels_siblings(trace.clone()).await;
        assert_eq!(outcome, Err("upstream returned 502".to_string()));
        assert_eq!(trace.events(), ["sibling dropped"]);
    }
}
