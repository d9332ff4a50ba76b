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
//! Run: `cargo xtask bench comprehensions`.

#[allow(dead_code)]
#[path = "../../python/src/bin/comprehensions/main.rs"]
mod comprehensions;

const SIZES: [usize; 2] = [1_000, 1_000_000];
const SEED: u64 = 0x5EED_0108;

fn main() {
    same_results_everywhere();
    divan::main();
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

#[divan::bench(args = SIZES)]
fn collect_adapters(bencher: divan::Bencher, n: usize) {
    let xs = input(n);
    bencher.bench_local(|| comprehensions::even_squares_adapters(divan::black_box(&xs)));
}

#[divan::bench(args = SIZES)]
fn collect_loop(bencher: divan::Bencher, n: usize) {
    let xs = input(n);
    bencher.bench_local(|| comprehensions::even_squares_loop(divan::black_box(&xs)));
}

#[divan::bench(args = SIZES)]
fn sum_adapters(bencher: divan::Bencher, n: usize) {
    let xs = input(n);
    bencher.bench_local(|| comprehensions::sum_even_squares_streaming(divan::black_box(&xs)));
}

#[divan::bench(args = SIZES)]
fn sum_loop(bencher: divan::Bencher, n: usize) {
    let xs = input(n);
    bencher.bench_local(|| comprehensions::sum_even_squares_loop(divan::black_box(&xs)));
}

#[divan::bench(args = SIZES)]
fn sum_after_collect(bencher: divan::Bencher, n: usize) {
    let xs = input(n);
    bencher.bench_local(|| comprehensions::sum_even_squares_collected(divan::black_box(&xs)));
}
