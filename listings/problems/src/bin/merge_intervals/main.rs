//! 4.3 Merge intervals: collapse overlapping intervals into disjoint ones.
//!
//! Semantics chosen for what the question leaves open:
//! - An interval is `[start, end]`, written as a two-element array like the
//!   question's `[[1,3],[2,6],[8,10]]`. `merge` treats it as closed: both
//!   ends belong to it, so `[1, 3]` and `[3, 5]` share the point 3 and merge
//!   into `[1, 5]`. `[1, 2]` and `[3, 4]` do not: over a continuous domain
//!   (times, prices) the gap between 2 and 3 is real.
//! - `merge_half_open` reads `[start, end]` as `[start, end)`, the convention
//!   of Python's `range` and of PostgreSQL's `int4range`. Touching intervals
//!   still merge (`[1, 3)` and `[3, 5)` cover `[1, 5)` without a gap), and an
//!   empty interval `[a, a)` covers nothing, so it is dropped.
//! - `start > end` is a caller error: the first such interval, by index, comes
//!   back as `IntervalError::Reversed`. A zero-length closed `[a, a]` is a
//!   valid point.
//! - Input may be unsorted, nested, duplicated or empty. The output is sorted
//!   by start, and consecutive outputs are separated by a real gap.
//! - Bounds are any `Ord + Copy` type (`i64`, ISO dates as `&str`, ...). The
//!   sweep only compares bounds and never adds to them, so `i64::MIN` and
//!   `i64::MAX` cannot overflow.

use std::error::Error;
use std::fmt;

/// `[start, end]`, in the question's notation.
pub type Interval<T> = [T; 2];

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntervalError<T> {
    /// The interval at `index` ends before it starts.
    Reversed { index: usize, start: T, end: T },
}

impl<T: fmt::Display> fmt::Display for IntervalError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntervalError::Reversed { index, start, end } => write!(
                f,
                "interval {index} is reversed: start {start} is after end {end}"
            ),
        }
    }
}

impl<T: fmt::Debug + fmt::Display> Error for IntervalError<T> {}

// ANCHOR: merge
/// Merges closed intervals: overlapping or touching ones become one.
pub fn merge<T: Ord + Copy>(
    intervals: &[Interval<T>],
) -> Result<Vec<Interval<T>>, IntervalError<T>> {
    check_not_reversed(intervals)?;
    let mut by_start = intervals.to_vec();
    sort_by_start(&mut by_start);
    Ok(sweep(by_start))
}

/// Merges half-open intervals `[start, end)`. Empty ones cover no point.
pub fn merge_half_open<T: Ord + Copy>(
    intervals: &[Interval<T>],
) -> Result<Vec<Interval<T>>, IntervalError<T>> {
    check_not_reversed(intervals)?;
    let mut by_start: Vec<Interval<T>> = intervals
        .iter()
        .copied()
        .filter(|&[start, end]| start < end)
        .collect();
    sort_by_start(&mut by_start);
    Ok(sweep(by_start))
}

fn check_not_reversed<T: Ord + Copy>(
    intervals: &[Interval<T>],
) -> Result<(), IntervalError<T>> {
    match intervals.iter().position(|&[start, end]| start > end) {
        Some(index) => {
            let [start, end] = intervals[index];
            Err(IntervalError::Reversed { index, start, end })
        }
        None => Ok(()),
    }
}

fn sort_by_start<T: Ord + Copy>(intervals: &mut [Interval<T>]) {
    // Ties on start need no order: the sweep takes the larger end either way.
    intervals.sort_unstable_by_key(|&[start, _]| start);
}
// ANCHOR_END: merge

// ANCHOR: sweep
/// One pass over intervals sorted by start. Invariant: `merged` is sorted,
/// disjoint and gapped, and only its last interval can still grow.
fn sweep<T: Ord + Copy>(by_start: Vec<Interval<T>>) -> Vec<Interval<T>> {
    let mut merged: Vec<Interval<T>> = Vec::with_capacity(by_start.len());
    for [start, end] in by_start {
        match merged.last_mut() {
            // `<=`, not `<`: an interval starting exactly where the last one
            // ends touches it. `max`, not assignment: a nested interval must
            // not shrink the one that contains it.
            Some([_, last_end]) if start <= *last_end => {
                *last_end = (*last_end).max(end)
            }
            _ => merged.push([start, end]),
        }
    }
    merged
}
// ANCHOR_END: sweep

// ANCHOR: main
fn show<T: Ord + Copy + fmt::Debug + fmt::Display>(
    label: &str,
    intervals: &[Interval<T>],
) {
    match merge(intervals) {
        Ok(merged) => println!("{label}: {intervals:?} -> {merged:?}"),
        Err(e) => println!("{label}: {intervals:?} -> error: {e}"),
    }
}

fn main() {
    show("question", &[[1, 3], [2, 6], [8, 10]]);
    show("touching", &[[1, 3], [3, 5]]);
    show("adjacent integers", &[[1, 2], [3, 4]]);
    show("unsorted, nested", &[[5, 6], [1, 10], [2, 3], [12, 12]]);
    show::<i64>("empty", &[]);
    show("extremes", &[[i64::MIN, -1], [-1, 0], [1, i64::MAX]]);
    show(
        "ISO dates",
        &[["2024-03-05", "2024-03-20"], ["2024-03-01", "2024-03-10"]],
    );
    show("reversed", &[[1, 3], [6, 2], [9, 4]]);

    let half_open = [[1, 3], [3, 3], [3, 5], [7, 7]];
    match merge_half_open(&half_open) {
        Ok(merged) => {
            println!("half-open [start, end): {half_open:?} -> {merged:?}")
        }
        Err(e) => println!("half-open [start, end): error: {e}"),
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
