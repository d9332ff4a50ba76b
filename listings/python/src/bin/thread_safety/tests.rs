use super::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicUsize;

#[test]
fn the_barrier_makes_every_round_lose_all_but_one_update() {
    assert_eq!(racy_increments(4, 100), 100);
    assert_eq!(racy_increments(2, 50), 50);
    // One thread alone cannot race with anybody.
    assert_eq!(racy_increments(1, 30), 30);
}

#[test]
fn mutex_and_atomic_counts_are_exact() {
    for (threads, per_thread) in [(1, 1), (4, 10_000), (8, 1_000)] {
        let expected = expected_total(threads, per_thread).expect("fits");
        assert_eq!(mutex_increments(threads, per_thread), Ok(expected));
        assert_eq!(atomic_increments(threads, per_thread), Ok(expected));
    }
}

#[test]
fn no_threads_or_no_work_count_zero() {
    assert_eq!(mutex_increments(0, 100), Ok(0));
    assert_eq!(atomic_increments(3, 0), Ok(0));
    assert_eq!(channel_sum(0, 10), Ok((0, 0)));
    assert_eq!(channel_sum(3, 0), Ok((0, 0)));
}

#[test]
fn the_channel_delivers_every_item_once() {
    // Items 0..2000 in total: sum = 2000 * 1999 / 2.
    assert_eq!(channel_sum(4, 500), Ok((2_000, 1_999_000)));
    assert_eq!(channel_sum(1, 1), Ok((1, 0)));
}

#[test]
fn totals_that_do_not_fit_are_errors() {
    assert_eq!(expected_total(2, u64::MAX), Err(CountError::Overflow));
    assert_eq!(mutex_increments(2, u64::MAX), Err(CountError::Overflow));
    assert_eq!(
        atomic_increments(3, u64::MAX / 2),
        Err(CountError::Overflow)
    );
    assert_eq!(channel_sum(u64::MAX, 2), Err(CountError::Overflow));
    assert_eq!(
        CountError::Overflow.to_string(),
        "threads * increments does not fit in a u64"
    );
}

// The compile-fail check: what the type system rejects.

const RC_ACROSS_THREADS: &str = r#"
use std::rc::Rc;
use std::thread;

fn main() {
let shared = Rc::new(5);
let clone = Rc::clone(&shared);
let handle = thread::spawn(move || *clone + 1);
println!("{}", handle.join().unwrap() + *shared);
}
"#;

/// A temporary directory of its own for each compilation.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir()
        .join(format!("thread-safety-compile-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Type-checks `source` with bare rustc, as the Rust Playground would.
fn rustc_check(source: &str) -> Output {
    let dir = scratch_dir();
    let file = dir.join("snippet.rs");
    std::fs::write(&file, source).expect("write snippet");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "bin",
            "--emit=metadata",
        ])
        .arg("--out-dir")
        .arg(&dir)
        .arg(&file)
        .output()
        .expect("run rustc");
    let _ = std::fs::remove_dir_all(&dir);
    output
}

#[test]
fn sending_an_rc_to_another_thread_does_not_compile() {
    let output = rustc_check(RC_ACROSS_THREADS);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "Rc crossed threads:\n{stderr}");
    assert!(stderr.contains("error[E0277]"), "{stderr}");
    assert!(
        stderr.contains("cannot be sent between threads safely"),
        "{stderr}"
    );
}

#[test]
fn the_same_program_with_arc_compiles() {
    let with_arc = RC_ACROSS_THREADS
        .replace("std::rc::Rc", "std::sync::Arc")
        .replace("Rc::", "Arc::");
    assert!(with_arc.contains("Arc::new(5)"));
    let output = rustc_check(&with_arc);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// The Python listing's switch-point claim, across CPython versions: 3.9
// could switch threads in the middle of `counter.value += 1`, 3.10 and
// later cannot (they check for a switch request only at backward jumps,
// function starts and after most calls), and a Python call between the read
// and the write loses updates on every version. The captured output runs
// only 3.11+, so this test runs `py/thread_safety.py`'s own functions under
// every CPython 3.9+ it finds, as `support::python` finds interpreters.

const MEASURE: &str = "import thread_safety as t; \
    print(t.gil_enabled(), t.lost_updates(t.plain_increment), \
    t.lost_updates(t.increment_through_a_call))";

/// `(minor, path)` of one CPython 3.9+ per version, found as the
/// project's Python environments find theirs (`support::python`).
fn cpythons_from_3_9() -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = support::python::cpythons_from(9)
        .into_iter()
        .map(|i| (i.minor, i.path))
        .collect();
    found.sort();
    found
}

#[test]
fn switch_points_moved_in_3_10_and_calls_still_lose_updates() {
    let found = cpythons_from_3_9();
    if found.is_empty() {
        println!("skipped: no CPython 3.9+ found");
        return;
    }
    if !found.iter().any(|(minor, _)| *minor <= 9) {
        println!("skipped (for 3.9 only): no CPython 3.9 found");
    }
    let py_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("py");
    for (minor, python) in found {
        let out = Command::new(&python)
            .args(["-c", MEASURE])
            .current_dir(&py_dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("run the interpreter");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "3.{minor}: {stderr}");
        let words: Vec<&str> = stdout.split_whitespace().collect();
        let [gil, plain, through_call] = words.as_slice() else {
            panic!("3.{minor}: unexpected output {stdout:?}")
        };
        let plain: u64 = plain.parse().expect("a count");
        let through_call: u64 = through_call.parse().expect("a count");
        println!(
            "CPython 3.{minor} (GIL {gil}): updates lost by `+=` {plain}, \
             through a call {through_call}"
        );
        assert!(through_call > 0, "3.{minor}: a call is a switch point");
        match (minor, *gil) {
            (9, _) => assert!(plain > 0, "3.9 switched inside `+=`"),
            (_, "True") => assert_eq!(plain, 0, "3.{minor}: `+=` lost"),
            _ => {} // free-threaded: `+=` may lose updates too
        }
    }
}
