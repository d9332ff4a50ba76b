use super::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn jump_moves_keys_only_into_the_new_bucket(
        key in any::<u64>(), n in 1u32..2000,
    ) {
        let before = jump(key, n);
        let after = jump(key, n + 1);
        prop_assert!(before < n);
        prop_assert!(after == before || after == n);
    }

    #[test]
    fn ring_lookup_is_stable_and_moves_only_to_the_new_node(
        key in any::<u64>(), nodes in 1u32..20, vnodes in 1u32..50,
    ) {
        let ring = Ring::new(nodes, vnodes);
        let owner = ring.lookup(key).unwrap();
        prop_assert!(owner < nodes);
        prop_assert_eq!(ring.lookup(key), Some(owner));
        let mut grown = Ring::new(nodes, vnodes);
        grown.add(nodes);
        let now = grown.lookup(key).unwrap();
        prop_assert!(now == owner || now == nodes);
    }
}

#[test]
fn an_empty_ring_owns_nothing() {
    assert_eq!(Ring::new(0, 100).lookup(42), None);
}

#[test]
fn modulo_moves_most_keys_and_consistent_hashing_few() {
    let m = moved(20_000, 10, modulo);
    let j = moved(20_000, 10, jump);
    assert!(m > 0.85, "modulo moved {m}");
    assert!((0.07..0.11).contains(&j), "jump moved {j}");
}

#[test]
fn more_vnodes_spread_load_more_evenly() {
    let one = ring_spread(20_000, 10, 1);
    let many = ring_spread(20_000, 10, 500);
    assert!(many < one, "{many} >= {one}");
    assert!(many < 1.25, "{many}");
}

#[test]
fn two_choices_beats_random_and_nears_least_connections() {
    let run = |p| simulate(p, 50, 0.9, 40_000, 7);
    let random = run(Policy::Random);
    let two = run(Policy::TwoChoices);
    let least = run(Policy::LeastConnections);
    assert!(two.p99 * 3 < random.p99, "{two:?} vs {random:?}");
    assert!(least.max <= two.max, "{least:?} vs {two:?}");
    assert!(max_load(20_000, 2, 1) < max_load(20_000, 1, 1));
}

#[test]
fn round_robin_cycles_through_every_server() {
    let (mut rr, mut rng) = (0, Rng(1));
    let q = [0u32; 3];
    let picks: Vec<usize> = (0..6)
        .map(|_| pick(Policy::RoundRobin, &q, &mut rr, &mut rng))
        .collect();
    assert_eq!(picks, [1, 2, 0, 1, 2, 0]);
}
