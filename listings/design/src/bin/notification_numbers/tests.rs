use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn the_arithmetic() {
    let n = compute();
    // 50 M users x 8 = 400 M a day; / 86,400 s = 4,629.6 a second.
    assert_eq!(n.per_day, 400_000_000.0);
    assert!(close(n.avg_per_s, 400e6 / 86_400.0));
    assert!(close(n.peak_per_s, 3.0 * 400e6 / 86_400.0));
    // 400 M x 200 B x 90 days = 7.2 TB.
    assert!(close(n.storage_tb, 7.2));
    // 10 M rows x 200 B = 2 GB; at 200 k rows/s, 50 s.
    assert_eq!(n.write_rows_per_post, 10_000_000.0);
    assert!(close(n.write_gb_per_post, 2.0));
    assert!(close(n.write_last_row_s, 50.0));
    // 5 posts x 10 M = 50 M of 400 M = 12.5 %.
    assert!(close(n.write_share_of_day, 0.125));
    // 2 % of 10 M = 200 k pushes; 40 workers x 500/s = 20 k/s: 10 s.
    assert!(close(n.pushes_per_post, 200_000.0));
    assert!(close(n.push_drain_s, 10.0));
    // 50 M x 10 opens x 5 accounts = 2.5 G lookups a day.
    assert!(close(n.read_lookups_per_day, 2.5e9));
}

#[test]
fn one_account_on_write_is_a_visible_share_of_all_traffic() {
    let n = compute();
    // The reason for the hybrid: one account's fan-out is a real slice
    // of the whole day, and its followers wait up to a minute.
    assert!(n.write_share_of_day > 0.1);
    assert!(n.write_last_row_s > 30.0);
    // The lookups on read are many but each is a cached read of one
    // account's recent posts: spread over the day they are a rate a
    // cache serves.
    assert!(n.read_lookups_per_s < 100_000.0);
}
