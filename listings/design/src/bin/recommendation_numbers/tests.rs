use super::*;

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn the_quantile_matches_published_values() {
    // Standard normal table values, to 9 decimals.
    for (p, z) in [
        (0.5, 0.0),
        (0.8, 0.841_621_234),
        (0.9, 1.281_551_566),
        (0.95, 1.644_853_627),
        (0.975, 1.959_963_985),
        (0.995, 2.575_829_304),
        (0.01, -2.326_347_874),
        (0.001, -3.090_232_306),
    ] {
        assert!(close(normal_quantile(p), z, 1e-8), "{p}");
    }
}

#[test]
#[should_panic(expected = "strictly inside")]
fn a_quantile_of_one_is_refused() {
    normal_quantile(1.0);
}

#[test]
fn sample_size_matches_jmp_documentation_example() {
    // JMP 13.2, "Two Sample Proportions": 0.08 against 0.06, alpha
    // 0.05 two-sided, power 0.8: 2554 per group.
    assert_eq!(per_arm(0.08, 0.06, 0.05, 0.8).ceil(), 2554.0);
}

#[test]
fn sample_size_matches_zar_example_24_26() {
    // Zar, Biostatistical Analysis (4th ed., 1999), Example 24.26, as
    // the Unistat manual reproduces it: 0.45 against 0.25, alpha 0.05
    // two-sided, power 0.9: 127.2343 per group. The formula alone gives
    // 117.4; the continuity correction brings it to Zar's figure.
    let n = per_arm(0.45, 0.25, 0.05, 0.9);
    assert!(close(n, 117.43, 0.01), "{n}");
    let corrected = with_continuity(n, 0.45, 0.25);
    assert!(close(corrected, 127.2343, 1e-3), "{corrected}");
}

#[test]
fn lehr_is_close_to_the_exact_formula() {
    // 16 is 2 x (1.96 + 0.84)^2 = 15.7, rounded up: about 2% more.
    let ratio = lehr(0.05, 0.051) / per_arm(0.05, 0.051, 0.05, 0.8);
    assert!(ratio > 1.0 && ratio < 1.03, "{ratio}");
}

#[test]
fn the_arithmetic() {
    let n = compute();
    // 10M x 5 / 86,400 x 3.
    assert!(close(n.peak_reads_per_s, 1_736.1, 0.1));
    // 10M x (100 x 8 + 100) bytes.
    assert_eq!(n.redis_gb, 9.0);
    assert_eq!(n.dense_similarity_tb, 4.0);
    assert_eq!(n.neighbours_mb, 400.0);
    // Halving the lift quadruples the users.
    let half = per_arm(0.05, 0.05 * 1.01, 0.05, 0.8);
    assert!(close(half / per_arm(0.05, 0.051, 0.05, 0.8), 4.0, 0.05));
    // 5% of 10M users, half per arm: 250,000 a day.
    assert_eq!(n.ab_days, (n.ab_per_arm / 250_000.0).ceil());
}
