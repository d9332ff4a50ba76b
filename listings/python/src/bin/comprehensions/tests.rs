use super::*;
use proptest::prelude::*;

/// The three ways to sum, which must always agree.
fn all_sums(xs: &[u32]) -> [u128; 3] {
    [
        sum_even_squares_streaming(xs),
        sum_even_squares_collected(xs),
        sum_even_squares_loop(xs),
    ]
}

#[test]
fn the_closure_runs_only_for_pulled_items() {
    assert_eq!(pull_counted_squares(0), (vec![], 0));
    assert_eq!(pull_counted_squares(3), (vec![1, 4, 9], 3));
    assert_eq!(pull_counted_squares(5).1, 5);
}

#[test]
fn find_stops_at_the_first_match() {
    assert_eq!(first_square_above(50), (Some(64), 8));
    assert_eq!(first_square_above(0), (Some(1), 1));
}

#[test]
fn every_u32_square_fits_in_u64() {
    let largest = square(u32::MAX);
    assert_eq!(largest, 18_446_744_065_119_617_025);
    assert!(largest < u64::MAX);
}

#[test]
fn small_example() {
    let xs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    assert_eq!(even_squares_adapters(&xs), vec![0, 4, 16, 36, 64]);
    assert_eq!(all_sums(&xs), [120; 3]);
}

#[test]
fn empty_and_all_odd_inputs() {
    assert!(even_squares_adapters(&[]).is_empty());
    assert!(even_squares_loop(&[1, 3, 5]).is_empty());
    assert_eq!(all_sums(&[]), [0; 3]);
    assert_eq!(all_sums(&[1, 3]), [0; 3]);
}

#[test]
fn largest_inputs_do_not_overflow() {
    let xs = [u32::MAX - 1; 4];
    let one = u128::from(square(u32::MAX - 1));
    assert_eq!(all_sums(&xs), [4 * one; 3]);
}

#[test]
fn a_lazy_pipeline_holds_no_items() {
    let xs: Vec<u32> = (0..1_000).collect();
    let pipeline = xs.iter().copied().filter(|&x| is_even(x)).map(square);
    // A slice iterator and two zero-sized closures: two pointers.
    assert_eq!(
        std::mem::size_of_val(&pipeline),
        2 * std::mem::size_of::<usize>()
    );
}

/// Oracle: the comprehension spelled with integer arithmetic in u128,
/// sharing no helper with the code under test.
fn oracle(xs: &[u32]) -> Vec<u64> {
    let mut out = Vec::new();
    for &x in xs {
        let wide = u128::from(x);
        if wide & 1 == 0 {
            out.push(
                u64::try_from(wide * wide).expect("a u32 square fits in u64"),
            );
        }
    }
    out
}

proptest! {
    #[test]
    fn adapters_and_loops_agree(xs in prop::collection::vec(any::<u32>(), 0..200)) {
        let expected = oracle(&xs);
        prop_assert_eq!(&even_squares_adapters(&xs), &expected);
        prop_assert_eq!(&even_squares_loop(&xs), &expected);
        let total: u128 = expected.iter().map(|&s| u128::from(s)).sum();
        prop_assert_eq!(all_sums(&xs), [total; 3]);
    }
}
