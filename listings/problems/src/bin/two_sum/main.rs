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
    let mut positions: HashMap<i64, Vec<usize>> =
        HashMap::with_capacity(amounts.len());
    let mut pairs = Vec::new();
    for (j, &x) in amounts.iter().enumerate() {
        if let Some(earlier) =
            target.checked_sub(x).and_then(|c| positions.get(&c))
        {
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
mod tests;
