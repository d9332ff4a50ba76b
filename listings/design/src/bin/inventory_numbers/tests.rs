use super::*;

#[test]
fn average_and_peak_rates() {
    // 1,000,000 / 86,400 = 11.57..., rounded up.
    assert_eq!(average_orders_per_second(&SHOP), 12);
    assert_eq!(peak_orders_per_second(&SHOP), 120);
}

#[test]
fn a_year_of_rows_and_bytes() {
    assert_eq!(
        rows_per_year(&SHOP),
        (365_000_000, 1_095_000_000, 2_190_000_000)
    );
    // 365e6 x 400 + 1,095e6 x 200 + 2,190e6 x 300 bytes.
    assert_eq!(bytes_per_year(&SHOP), 1_022_000_000_000);
}

#[test]
fn hot_row_ceiling_is_the_inverse_of_the_hold_time() {
    assert_eq!(max_updates_per_second(1_000), 1_000);
    assert_eq!(max_updates_per_second(5_000), 200);
    assert_eq!(max_updates_per_second(200_000), 5);
    assert_eq!(flash_attempts_per_second(&SHOP), 50_000);
    // 490,000 of 500,000 buyers lose.
    assert_eq!(sold_out_percent(&SHOP), 98);
    assert_eq!(buckets_needed(50_000, 1_000), 50);
    assert_eq!(buckets_needed(50_000, 5_000), 250);
    // Never rounded in our favour.
    assert_eq!(buckets_needed(1_001, 1_000), 2);
}
