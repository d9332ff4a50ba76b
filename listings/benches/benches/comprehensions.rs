//! Iterator adapters against hand-written loops, and a streaming sum against
//! building the whole list first (1.8).
//!
//! The input is `n` pseudo-random `u32`s (splitmix64, fixed seed), so the
//! compiler cannot replace the work by a closed formula. Contenders, each
//! for n = 1,000 and n = 1,000,000:
//! - `collect_adapters` / `collect_loop`: `filter` + `map` + `collect`
//!   against a `for` loop that pushes, the list comprehension both ways;
//! - `sum_adapters` / `sum_loop`: the generator-expression sum both ways;
//! - `sum_after_collect`: build the `Vec` of squares, then sum it, as
//!   `sum([...])` does in Python.
//!
//! It prints the ratios that 1.8 discusses: adapters against loops, and
//! collecting first against streaming.
//!
//! Run: `cargo xtask bench comprehensions`.

#[allow(dead_code)]
#[path = "../../python/src/bin/comprehensions/main.rs"]
mod comprehensions;

use std::hint::black_box;

use benches::Harness;
use comprehensions::{
    even_squares_adapters, even_squares_loop, sum_even_squares_collected,
    sum_even_squares_loop, sum_even_squares_streaming,
};

const SIZES: [usize; 2] = [1_000, 1_000_000];
const SEED: u64 = 0x5EED_0108;

fn main() {
    same_results_everywhere();
    let inputs = SIZES.map(|n| (n, input(n)));
    let h = &mut Harness::new("comprehensions", "items");
    at_each_size(h, &inputs, "collect_adapters", even_squares_adapters);
    at_each_size(h, &inputs, "collect_loop", even_squares_loop);
    at_each_size(h, &inputs, "sum_adapters", sum_even_squares_streaming);
    at_each_size(h, &inputs, "sum_loop", sum_even_squares_loop);
    at_each_size(h, &inputs, "sum_after_collect", sum_even_squares_collected);
    h.run();
    h.print_table();
    h.ratios_at("sum_adapters", "sum_loop", &SIZES);
    h.ratios_at("sum_after_collect", "sum_adapters", &SIZES);
    h.ratios_at("collect_adapters", "collect_loop", &SIZES);
}

fn at_each_size<'a, T: 'a>(
    h: &mut Harness<'a>,
    inputs: &'a [(usize, Vec<u32>)],
    name: &str,
    f: impl Fn(&[u32]) -> T + Copy + 'a,
) {
    for (n, xs) in inputs {
        h.bench(name, n, move || f(black_box(xs)));
    }
}

fn input(n: usize) -> Vec<u32> {
    let mut state = SEED;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 32) as u32
        })
        .collect()
}

/// Every contender must compute the same thing, or the timings compare
/// different work.
fn same_results_everywhere() {
    for n in SIZES {
        let xs = input(n);
        let list = comprehensions::even_squares_adapters(&xs);
        assert_eq!(comprehensions::even_squares_loop(&xs), list);
        let sum = comprehensions::sum_even_squares_streaming(&xs);
        assert_eq!(comprehensions::sum_even_squares_loop(&xs), sum);
        assert_eq!(comprehensions::sum_even_squares_collected(&xs), sum);
    }
}
