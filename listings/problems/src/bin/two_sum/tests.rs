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
