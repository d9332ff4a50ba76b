use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn the_arithmetic() {
    let n = compute();
    // 2,000 x 12 = 24,000 lines/s; x 86,400 s.
    assert!(close(n.lines_per_day, 2_073_600_000.0));
    // x 400 bytes.
    assert!(close(n.raw_gb_per_day, 829.44));
    assert!(close(n.peak_lines_per_s, 72_000.0));
    assert!(close(n.peak_mb_per_s, 28.8));
    assert!(close(n.stored_gb_per_day, 1_658.88));
    assert!(close(n.hot_tb, 49.7664));
    // 829.44 / 10 x 365 / 1,000.
    assert!(close(n.cold_tb, 30.27456));
    // 72,000 / 50 nodes x 60 s.
    assert!(close(n.buffer_lines_per_node, 86_400.0));
    assert!(close(n.buffer_mb_per_node, 34.56));
    assert!(close(n.peak_inserts_per_s, 144.0));
}

#[test]
fn the_design_holds_together() {
    let n = compute();
    // A day's partition is a bounded unit: one DROP per day of retention.
    assert!(n.stored_gb_per_day < n.hot_tb * 1_000.0);
    // The buffer that rides out a minute fits in an agent's memory.
    assert!(n.buffer_mb_per_node < 100.0);
    // Batching keeps the statement rate far below the line rate.
    assert!(n.peak_inserts_per_s * 100.0 < n.peak_lines_per_s);
}
