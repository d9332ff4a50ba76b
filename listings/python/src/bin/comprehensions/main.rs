//! 1.8 Comprehensions, generator expressions and map/filter, in Rust terms.
//!
//! Rust's iterator adapters (`filter`, `map`, ...) behave like Python's
//! generator expressions and Python 3's `map`/`filter`: building a pipeline
//! does no work; items are computed one at a time when a consumer (`collect`,
//! `sum`, `find`, a `for` loop) pulls them. `collect::<Vec<_>>()` plays the
//! list comprehension: it runs the whole pipeline at once and keeps every
//! result in memory.
//!
//! The running example keeps the even numbers of a slice and squares them.
//! Inputs are `u32` so a square always fits in `u64`; sums are `u128`, which
//! holds the sum of up to 2^64 such squares, so no input can overflow.
//! The hand-written loops produce exactly the same results as the adapters;
//! `listings/benches/comprehensions.rs` times the two.

use std::cell::Cell;

fn is_even(x: u32) -> bool {
    x.is_multiple_of(2)
}

fn square(x: u32) -> u64 {
    u64::from(x) * u64::from(x)
}

// ANCHOR: adapters
/// The list comprehension `[x * x for x in xs if x % 2 == 0]`.
pub fn even_squares_adapters(xs: &[u32]) -> Vec<u64> {
    xs.iter()
        .copied()
        .filter(|&x| is_even(x))
        .map(square)
        .collect()
}

/// The same, as the loop a comprehension replaces.
pub fn even_squares_loop(xs: &[u32]) -> Vec<u64> {
    let mut out = Vec::new();
    for &x in xs {
        if is_even(x) {
            out.push(square(x));
        }
    }
    out
}
// ANCHOR_END: adapters

// ANCHOR: sums
/// `sum(x * x for x in xs if x % 2 == 0)`: streams, allocates nothing.
pub fn sum_even_squares_streaming(xs: &[u32]) -> u128 {
    xs.iter()
        .copied()
        .filter(|&x| is_even(x))
        .map(|x| u128::from(square(x)))
        .sum()
}

/// `sum([x * x for x in xs if x % 2 == 0])`: builds the list, then sums it.
pub fn sum_even_squares_collected(xs: &[u32]) -> u128 {
    even_squares_adapters(xs).into_iter().map(u128::from).sum()
}

/// The hand-written loop, for the benchmark's baseline.
pub fn sum_even_squares_loop(xs: &[u32]) -> u128 {
    let mut total = 0u128;
    for &x in xs {
        if is_even(x) {
            total += u128::from(square(x));
        }
    }
    total
}
// ANCHOR_END: sums

// ANCHOR: laziness
/// Squares 1, 2, 3, ... through a counting closure and pulls `take` items.
/// Returns the items and how many times the closure ran.
pub fn pull_counted_squares(take: usize) -> (Vec<u64>, usize) {
    let calls = Cell::new(0);
    let squares = (1u32..).map(|x| {
        calls.set(calls.get() + 1);
        square(x)
    });
    // Nothing has run yet: `squares` is a recipe, like a generator object.
    assert_eq!(calls.get(), 0);
    let items: Vec<u64> = squares.take(take).collect();
    (items, calls.get())
}

/// The first square above `threshold`, and how many squares were computed
/// to find it: `next(s for s in squares if s > threshold)`.
pub fn first_square_above(threshold: u64) -> (Option<u64>, usize) {
    let calls = Cell::new(0);
    let found = (1u32..=u32::MAX)
        .map(|x| {
            calls.set(calls.get() + 1);
            square(x)
        })
        .find(|&s| s > threshold);
    (found, calls.get())
}
// ANCHOR_END: laziness

// ANCHOR: main
fn main() {
    let (items, calls) = pull_counted_squares(3);
    println!(
        "pulled {items:?} from an endless lazy pipeline: \
         the closure ran {calls} times"
    );

    let (found, calls) = first_square_above(50);
    println!(
        "first square above 50: {found:?}, after computing {calls} squares"
    );

    let xs: Vec<u32> = (0..10).collect();
    let adapters = even_squares_adapters(&xs);
    let looped = even_squares_loop(&xs);
    println!("even squares of 0..10: adapters {adapters:?}, loop {looped:?}");

    let million: Vec<u32> = (0..1_000_000).collect();
    let streaming = sum_even_squares_streaming(&million);
    let collected = sum_even_squares_collected(&million);
    let looped = sum_even_squares_loop(&million);
    println!(
        "sum of even squares below 1,000,000: {streaming} \
         (streaming, collected and loop agree: {})",
        streaming == collected && collected == looped
    );

    let pipeline = million.iter().copied().filter(|&x| is_even(x)).map(square);
    let pipeline_bytes = std::mem::size_of_val(&pipeline);
    let list = even_squares_adapters(&million);
    let list_bytes = list.len() * std::mem::size_of::<u64>();
    println!(
        "the lazy pipeline is {pipeline_bytes} bytes of state; \
         the collected Vec holds {} squares in at least {list_bytes} bytes",
        list.len()
    );
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
