use super::*;

#[test]
fn the_arithmetic() {
    let n = compute();
    assert_eq!(n.connected, 1_000_000);
    // 1,000,000 x 1.5 / 50,000 = 30.
    assert_eq!(n.servers, 30);
    assert_eq!(n.messages_per_day, 400_000_000);
    assert!((n.mean_per_s - 4_629.6).abs() < 0.1);
    assert!((n.peak_per_s - 13_888.9).abs() < 0.1);
    // 0.8 x 1 + 0.2 x 12.
    assert!((n.recipients_per_message - 3.2).abs() < 1e-9);
    assert!((n.deliveries_peak_per_s - 44_444.4).abs() < 0.1);
    // 1,000,000 connections / 10 s.
    assert!((n.presence_writes_per_s - 100_000.0).abs() < 1e-6);
    // 400 M x 300 B = 120 GB a day; x 365 = 43.8 TB.
    assert!((n.stored_gb_per_day - 120.0).abs() < 1e-9);
    assert!((n.stored_tb_per_year - 43.8).abs() < 1e-9);
}

#[test]
fn the_design_has_its_headroom() {
    let n = compute();
    let capacity = n.servers * CONNECTIONS_PER_SERVER;
    assert!(capacity as f64 >= n.connected as f64 * HEADROOM);
    // Losing a third of the servers still holds everyone.
    assert!(capacity * 2 / 3 >= n.connected);
}
