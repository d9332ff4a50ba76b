use super::*;

#[test]
fn the_arithmetic() {
    let n = compute();
    // 1800/60 x 2 = 60 checkout calls, 200 x 0.1 = 20 reads.
    assert_eq!(n.demand_per_s, 80.0);
    assert_eq!(n.uncached_demand_per_s, 260.0);
    assert_eq!(n.stacked_amplification, 27);
    // 3 x 400 + 50 + 100.
    assert_eq!(n.worst_case_ms, 1_350);
    assert_eq!(n.spare_ms, 350);
    assert_eq!(n.in_flight_healthy, 20.0);
    assert!((n.in_flight_slow - 96.0).abs() < 1e-9);
}

#[test]
fn the_design_fits_its_budgets() {
    let n = compute();
    assert!(n.spare_ms >= 0, "the retries outlive the user's deadline");
    // Under the limit only because of the cache.
    assert!(n.utilisation < 1.0);
    assert!(n.uncached_demand_per_s > PROVIDER_LIMIT_PER_S);
    assert!(n.budget_amplification < f64::from(n.stacked_amplification));
}
