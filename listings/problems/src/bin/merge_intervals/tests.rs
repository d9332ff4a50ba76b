use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

#[test]
fn example_from_the_question() {
    assert_eq!(merge(&[[1, 3], [2, 6], [8, 10]]), Ok(vec![[1, 6], [8, 10]]));
}

#[test]
fn touching_closed_intervals_merge_but_adjacent_integers_do_not() {
    assert_eq!(merge(&[[1, 3], [3, 5]]), Ok(vec![[1, 5]]));
    assert_eq!(merge(&[[3, 5], [1, 3]]), Ok(vec![[1, 5]]));
    assert_eq!(merge(&[[1, 2], [3, 4]]), Ok(vec![[1, 2], [3, 4]]));
}

#[test]
fn nested_and_duplicate_intervals_collapse_into_the_outer_one() {
    assert_eq!(merge(&[[1, 10], [2, 3], [4, 5]]), Ok(vec![[1, 10]]));
    assert_eq!(merge(&[[2, 3], [1, 10], [2, 3]]), Ok(vec![[1, 10]]));
    assert_eq!(merge(&[[1, 4], [1, 4]]), Ok(vec![[1, 4]]));
    // Same start, shorter one last: the end must not shrink back to 2.
    assert_eq!(merge(&[[1, 9], [1, 2]]), Ok(vec![[1, 9]]));
}

#[test]
fn unsorted_input_is_sorted_by_start() {
    assert_eq!(
        merge(&[[8, 10], [15, 18], [1, 3], [2, 6]]),
        Ok(vec![[1, 6], [8, 10], [15, 18]])
    );
}

#[test]
fn chains_merge_transitively() {
    assert_eq!(
        merge(&[[1, 2], [5, 6], [2, 3], [4, 5], [3, 4]]),
        Ok(vec![[1, 6]])
    );
}

#[test]
fn empty_and_single_inputs() {
    assert_eq!(merge::<i64>(&[]), Ok(vec![]));
    assert_eq!(merge(&[[4, 7]]), Ok(vec![[4, 7]]));
    assert_eq!(merge_half_open::<i64>(&[]), Ok(vec![]));
}

#[test]
fn a_zero_length_closed_interval_is_a_point() {
    assert_eq!(merge(&[[5, 5]]), Ok(vec![[5, 5]]));
    assert_eq!(merge(&[[1, 5], [5, 5], [7, 7]]), Ok(vec![[1, 5], [7, 7]]));
}

#[test]
fn extreme_bounds_do_not_overflow() {
    assert_eq!(
        merge(&[[i64::MIN, 0], [0, i64::MAX]]),
        Ok(vec![[i64::MIN, i64::MAX]])
    );
    assert_eq!(
        merge(&[[i64::MAX, i64::MAX], [i64::MIN, i64::MIN]]),
        Ok(vec![[i64::MIN, i64::MIN], [i64::MAX, i64::MAX]])
    );
    assert_eq!(
        merge(&[[i64::MIN, i64::MAX], [-1, 1]]),
        Ok(vec![[i64::MIN, i64::MAX]])
    );
    assert_eq!(
        merge_half_open(&[[i64::MIN, i64::MIN], [i64::MAX - 1, i64::MAX]]),
        Ok(vec![[i64::MAX - 1, i64::MAX]])
    );
}

#[test]
fn reversed_interval_is_an_error_naming_the_first_one() {
    let err = merge(&[[1, 3], [6, 2], [9, 4]]).unwrap_err();
    assert_eq!(
        err,
        IntervalError::Reversed {
            index: 1,
            start: 6,
            end: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "interval 1 is reversed: start 6 is after end 2"
    );
    let boxed: Box<dyn Error> = Box::new(err);
    assert!(boxed.to_string().starts_with("interval 1"));
}

#[test]
fn reversed_interval_is_an_error_in_half_open_mode_too() {
    assert_eq!(
        merge_half_open(&[[0, 0], [i64::MAX, i64::MIN]]),
        Err(IntervalError::Reversed {
            index: 1,
            start: i64::MAX,
            end: i64::MIN
        })
    );
}

#[test]
fn half_open_touching_intervals_merge_and_empty_ones_vanish() {
    assert_eq!(merge_half_open(&[[1, 3], [3, 5]]), Ok(vec![[1, 5]]));
    assert_eq!(
        merge_half_open(&[[1, 3], [3, 3], [3, 5], [7, 7]]),
        Ok(vec![[1, 5]])
    );
    assert_eq!(merge_half_open(&[[4, 4]]), Ok(vec![]));
    assert_eq!(merge_half_open(&[[1, 2], [3, 4]]), Ok(vec![[1, 2], [3, 4]]));
}

#[test]
fn bounds_can_be_any_ordered_type() {
    let bookings = [["2024-03-05", "2024-03-20"], ["2024-03-01", "2024-03-10"]];
    assert_eq!(merge(&bookings), Ok(vec![["2024-03-01", "2024-03-20"]]));
}

// Oracle 1: coverage. Mark every covered point of a small range, then
// read the runs back. Points are doubled (x -> 2x) so that the gap
// between [1, 2] and [3, 4] (the half-point 2.5 -> 5) is visible.
fn covered_closed(intervals: &[Interval<i64>]) -> BTreeSet<i64> {
    intervals
        .iter()
        .flat_map(|&[start, end]| 2 * start..=2 * end)
        .collect()
}

fn covered_half_open(intervals: &[Interval<i64>]) -> BTreeSet<i64> {
    intervals
        .iter()
        .flat_map(|&[start, end]| 2 * start..2 * end)
        .collect()
}

/// Maximal runs of consecutive doubled points, as `[first, last]`.
fn runs(points: &BTreeSet<i64>) -> Vec<[i64; 2]> {
    let mut runs: Vec<[i64; 2]> = Vec::new();
    for &p in points {
        match runs.last_mut() {
            Some([_, last]) if *last + 1 == p => *last = p,
            _ => runs.push([p, p]),
        }
    }
    runs
}

fn coverage_oracle_closed(intervals: &[Interval<i64>]) -> Vec<Interval<i64>> {
    runs(&covered_closed(intervals))
        .into_iter()
        .map(|[first, last]| [first / 2, last / 2])
        .collect()
}

fn coverage_oracle_half_open(
    intervals: &[Interval<i64>],
) -> Vec<Interval<i64>> {
    // A run of doubled points 2s..=2e-1 is the half-open [s, e).
    runs(&covered_half_open(intervals))
        .into_iter()
        .map(|[first, last]| [first / 2, (last + 1) / 2])
        .collect()
}

// Oracle 2: pairwise union until nothing overlaps. Only comparisons, so
// it is exact at i64::MIN and i64::MAX too.
fn fixpoint_oracle(intervals: &[Interval<i64>]) -> Vec<Interval<i64>> {
    let mut set = intervals.to_vec();
    'again: loop {
        for i in 0..set.len() {
            for j in i + 1..set.len() {
                let ([a, b], [c, d]) = (set[i], set[j]);
                if a.max(c) <= b.min(d) {
                    set[i] = [a.min(c), b.max(d)];
                    set.swap_remove(j);
                    continue 'again;
                }
            }
        }
        break;
    }
    set.sort();
    set
}

fn small_intervals() -> impl Strategy<Value = Vec<Interval<i64>>> {
    let interval =
        (-8i64..=8, 0i64..=5).prop_map(|(start, len)| [start, start + len]);
    prop::collection::vec(interval, 0..12)
}

fn extreme_intervals() -> impl Strategy<Value = Vec<Interval<i64>>> {
    let bound = prop_oneof![
        2 => -3i64..=3,
        2 => prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX]),
        1 => any::<i64>(),
    ];
    let interval =
        (bound.clone(), bound).prop_map(|(a, b)| [a.min(b), a.max(b)]);
    prop::collection::vec(interval, 0..10)
}

fn gapped_and_sorted(merged: &[Interval<i64>]) -> bool {
    merged.iter().all(|&[s, e]| s <= e)
        && merged.windows(2).all(|w| w[0][1] < w[1][0])
}

proptest! {
    #[test]
    fn closed_merge_matches_coverage(intervals in small_intervals()) {
        prop_assert_eq!(merge(&intervals), Ok(coverage_oracle_closed(&intervals)));
    }

    #[test]
    fn half_open_merge_matches_coverage(intervals in small_intervals()) {
        prop_assert_eq!(merge_half_open(&intervals), Ok(coverage_oracle_half_open(&intervals)));
    }

    #[test]
    fn closed_merge_matches_pairwise_fixpoint(intervals in extreme_intervals()) {
        let merged = merge(&intervals);
        prop_assert_eq!(&merged, &Ok(fixpoint_oracle(&intervals)));
        let merged = merged.unwrap_or_default();
        prop_assert!(gapped_and_sorted(&merged));
        for [s, e] in &intervals {
            prop_assert!(merged.iter().any(|[ms, me]| ms <= s && e <= me), "[{s}, {e}] lost");
        }
    }

    #[test]
    fn any_reversed_interval_is_reported_by_first_index(
        pairs in prop::collection::vec((-4i64..4, -4i64..4), 0..10)
    ) {
        let intervals: Vec<Interval<i64>> = pairs.iter().map(|&(a, b)| [a, b]).collect();
        let first_reversed = intervals.iter().position(|&[s, e]| s > e);
        for result in [merge(&intervals), merge_half_open(&intervals)] {
            match first_reversed {
                Some(index) => prop_assert_eq!(
                    result,
                    Err(IntervalError::Reversed { index, start: pairs[index].0, end: pairs[index].1 })
                ),
                None => prop_assert!(result.is_ok()),
            }
        }
    }
}
