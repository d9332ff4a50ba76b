//! Many slow, independent checks run side by side in one process.
//!
//! `cargo test` runs its test binaries one after another, and libtest runs
//! only as many tests at once as there are cores. The listings' checks
//! (run a program and compare its output, run one pytest file) mostly wait:
//! on a server, on a child process, on a lock. So the guide-wide test in
//! `xtask` gathers every package's checks as [`Job`]s and runs them from
//! one queue with a few workers, in the order given: the first jobs start
//! first, so a caller puts what the others wait for (the Python
//! environments) at the front.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::skip::services_required;

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It ran and matched what was captured (or passed), with a summary.
    Passed(String),
    /// `UPDATE_OUTPUTS=1`: the captured output was rewritten.
    Updated,
    /// What it needs is absent (a server, an interpreter): why.
    Skipped(String),
    /// It failed: the report.
    Failed(String),
}

/// One check: a label and the work, run on one of the workers.
pub struct Job {
    pub label: String,
    run: Box<dyn FnOnce() -> Verdict + Send>,
}

impl Job {
    pub fn new(
        label: impl Into<String>,
        run: impl FnOnce() -> Verdict + Send + 'static,
    ) -> Job {
        Job {
            label: label.into(),
            run: Box::new(run),
        }
    }
}

/// How many checks run at once: the cores, at least two and at most four.
/// A few at a time, not more: some listings check timing with wide margins
/// that a fully loaded two-core machine could still eat into.
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4)
}

/// Runs `jobs` on [`workers`] threads, in order; returns each job's label
/// and verdict. A job that panics is a failure, not a lost result. The
/// slowest jobs are printed with their times (shown by libtest when the
/// test fails, or with `--nocapture`): where to look when the run is slow.
pub fn run(jobs: Vec<Job>) -> Vec<(String, Verdict)> {
    let queue = Mutex::new(VecDeque::from(jobs));
    let mut timed: Vec<(String, Verdict, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers())
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .pop_front();
                        let Some(job) = next else { break };
                        let label = job.label;
                        let started = std::time::Instant::now();
                        let verdict = std::panic::catch_unwind(
                            std::panic::AssertUnwindSafe(job.run),
                        )
                        .unwrap_or_else(|_| {
                            Verdict::Failed(format!("{label}: panicked"))
                        });
                        let took = started.elapsed().as_secs_f64();
                        done.push((label, verdict, took));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    timed.sort_by(|a, b| b.2.total_cmp(&a.2));
    let slowest: Vec<String> = timed
        .iter()
        .take(10)
        .map(|(label, _, took)| format!("{took:.1} s {label}"))
        .collect();
    eprintln!("slowest checks: {}", slowest.join(", "));
    timed.into_iter().map(|(l, v, _)| (l, v)).collect()
}

/// Prints a one-line summary of `verdicts` (and each skip), then panics
/// with every failure: a skip counts as a failure under
/// `REQUIRE_SERVICES=1`. Panics too when nothing ran at all.
pub fn assert_passed(what: &str, verdicts: &[(String, Verdict)]) {
    let mut failures = Vec::new();
    let (mut passed, mut updated, mut skipped) = (0, 0, 0);
    for (_, verdict) in verdicts {
        match verdict {
            Verdict::Passed(_) => passed += 1,
            Verdict::Updated => updated += 1,
            Verdict::Skipped(why) if services_required() => failures.push(
                format!("{why} (REQUIRE_SERVICES=1, so this is a failure)"),
            ),
            Verdict::Skipped(why) => {
                skipped += 1;
                eprintln!("skipped: {why}");
            }
            Verdict::Failed(why) => failures.push(why.clone()),
        }
    }
    eprintln!(
        "{what}: {passed} passed, {updated} rewritten, {skipped} skipped, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(passed + updated + skipped > 0, "{what}: nothing to check");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_runs_once_and_a_panic_is_a_failure() {
        let mut jobs: Vec<Job> = (0..10)
            .map(|i| {
                Job::new(format!("job {i}"), move || {
                    Verdict::Passed(i.to_string())
                })
            })
            .collect();
        jobs.push(Job::new("boom", || panic!("boom")));
        let mut verdicts = run(jobs);
        verdicts.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(verdicts.len(), 11);
        assert_eq!(verdicts[0].1, Verdict::Failed("boom: panicked".into()));
        assert_eq!(verdicts[1].1, Verdict::Passed("0".into()));
    }

    #[test]
    #[should_panic(expected = "it broke")]
    fn a_failure_fails_the_check() {
        assert_passed(
            "t",
            &[
                ("a".into(), Verdict::Passed(String::new())),
                ("b".into(), Verdict::Failed("it broke".into())),
            ],
        );
    }
}
