//! 4.1 Two sum, all pairs: which pairs of transactions add up to a target?
//!
//! Two readings of "all pairs", both answered in linear expected time:
//! - `value_pairs`: every distinct pair of amounts `(a, b)` with `a <= b`
//!   and `a + b == target`, each reported once. `(a, a)` needs `a` twice.
//!   At most n/2 pairs come out, so the whole run is O(n).
//! - `index_pairs`: every pair of positions `i < j`, which is what a fraud
//!   report wants when equal amounts are different transactions. The output
//!   alone can hold n(n-1)/2 pairs, so this one is O(n + k) for k pairs.
//!
//! Amounts are `i64` (minor units, e.g. cents). `target - x` is computed with
//! `checked_sub`: when it overflows, no `i64` can complete the pair.

use std::collections::{HashMap, HashSet};

// ANCHOR: value_pairs
/// Distinct value pairs `(a, b)`, `a <= b`, in the order the scan completes
/// them. One pass: a pair is reported when its second member arrives.
pub fn value_pairs(amounts: &[i64], target: i64) -> Vec<(i64, i64)> {
    let mut seen: HashSet<i64> = HashSet::with_capacity(amounts.len());
    let mut reported: HashSet<(i64, i64)> = HashSet::new();
    let mut pairs = Vec::new();
    for &x in amounts {
        if let Some(complement) = target.checked_sub(x)
            && seen.contains(&complement)
        {
            let pair = (x.min(complement), x.max(complement));
            if reported.insert(pair) {
                pairs.push(pair);
            }
        }
        seen.insert(x);
    }
    pairs
}
// ANCHOR_END: value_pairs

// ANCHOR: index_pairs
/// Every pair of positions `(i, j)`, `i < j`, whose amounts sum to `target`,
/// ordered by `j` then `i`. Equal amounts at different positions count as
/// different transactions.
pub fn index_pairs(amounts: &[i64], target: i64) -> Vec<(usize, usize)> {
    let mut positions: HashMap<i64, Vec<usize>> = HashMap::with_capacity(amounts.len());
    let mut pairs = Vec::new();
    for (j, &x) in amounts.iter().enumerate() {
        if let Some(earlier) = target.checked_sub(x).and_then(|c| positions.get(&c)) {
            pairs.extend(earlier.iter().map(|&i| (i, j)));
        }
        positions.entry(x).or_default().push(j);
    }
    pairs
}
// ANCHOR_END: index_pairs

// ANCHOR: main
fn main() {
    let transactions = [1, 2, 3, 4];
    println!(
        "value pairs of {transactions:?} summing to 5: {:?}",
        value_pairs(&transactions, 5)
    );

    let repeated = [3, 3, 3, 2, 4];
    println!(
        "value pairs of {repeated:?} summing to 6: {:?}",
        value_pairs(&repeated, 6)
    );
    println!(
        "index pairs of {repeated:?} summing to 6: {:?}",
        index_pairs(&repeated, 6)
    );

    let signed = [-5, 12, 0, 7, -3];
    println!(
        "value pairs of {signed:?} summing to 7: {:?}",
        value_pairs(&signed, 7)
    );

    let extreme = [i64::MIN, i64::MAX, -1, 0];
    println!(
        "value pairs of [MIN, MAX, -1, 0] summing to -1: {:?}",
        value_pairs(&extreme, -1)
    );
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn sorted(mut pairs: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
        pairs.sort();
        pairs
    }

    #[test]
    fn example_from_the_question() {
        assert_eq!(sorted(value_pairs(&[1, 2, 3, 4], 5)), vec![(1, 4), (2, 3)]);
    }

    #[test]
    fn empty_and_single_inputs_have_no_pairs() {
        assert!(value_pairs(&[], 0).is_empty());
        assert!(value_pairs(&[5], 10).is_empty());
        assert!(index_pairs(&[5], 10).is_empty());
    }

    #[test]
    fn a_value_pairs_with_itself_only_when_it_occurs_twice() {
        assert!(value_pairs(&[3], 6).is_empty());
        assert_eq!(value_pairs(&[3, 3], 6), vec![(3, 3)]);
        assert_eq!(value_pairs(&[3, 3, 3], 6), vec![(3, 3)]);
        assert_eq!(index_pairs(&[3, 3, 3], 6), vec![(0, 1), (0, 2), (1, 2)]);
    }

    #[test]
    fn repeated_values_are_reported_once_as_values() {
        assert_eq!(value_pairs(&[1, 4, 1, 4, 4], 5), vec![(1, 4)]);
        assert_eq!(index_pairs(&[1, 4, 1, 4], 5).len(), 4);
    }

    #[test]
    fn negative_amounts_and_zero_target() {
        assert_eq!(
            sorted(value_pairs(&[-2, 2, -1, 1, 0], 0)),
            vec![(-2, 2), (-1, 1)]
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        assert_eq!(
            value_pairs(&[i64::MIN, i64::MAX], -1),
            vec![(i64::MIN, i64::MAX)]
        );
        assert!(value_pairs(&[i64::MAX, i64::MAX], i64::MIN).is_empty());
        assert!(value_pairs(&[i64::MIN, 1], i64::MAX).is_empty());
        assert!(value_pairs(&[i64::MIN, i64::MIN + 1], i64::MIN + 1).is_empty());
        assert_eq!(index_pairs(&[i64::MAX, i64::MIN], -1), vec![(0, 1)]);
    }

    /// The obviously correct oracle: try every pair of positions, in i128.
    fn brute_force(amounts: &[i64], target: i64) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for j in 0..amounts.len() {
            for i in 0..j {
                if amounts[i] as i128 + amounts[j] as i128 == target as i128 {
                    pairs.push((i, j));
                }
            }
        }
        pairs
    }

    fn amounts() -> impl Strategy<Value = Vec<i64>> {
        // Small values collide often; extremes probe overflow.
        let amount = prop_oneof![
            4 => -8i64..8,
            1 => prop::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX]),
            1 => any::<i64>(),
        ];
        prop::collection::vec(amount, 0..40)
    }

    fn target() -> impl Strategy<Value = i64> {
        prop_oneof![4 => -16i64..16, 1 => any::<i64>(), 1 => Just(-1i64), 1 => Just(i64::MAX)]
    }

    proptest! {
        #[test]
        fn index_pairs_match_brute_force(xs in amounts(), t in target()) {
            prop_assert_eq!(index_pairs(&xs, t), {
                let mut expected = brute_force(&xs, t);
                expected.sort_by_key(|&(i, j)| (j, i));
                expected
            });
        }

        #[test]
        fn value_pairs_match_brute_force(xs in amounts(), t in target()) {
            let expected: BTreeSet<(i64, i64)> = brute_force(&xs, t)
                .into_iter()
                .map(|(i, j)| (xs[i].min(xs[j]), xs[i].max(xs[j])))
                .collect();
            let got = value_pairs(&xs, t);
            let unique: BTreeSet<(i64, i64)> = got.iter().copied().collect();
            prop_assert_eq!(unique.len(), got.len(), "a pair was reported twice");
            prop_assert_eq!(unique, expected);
        }
    }
}
