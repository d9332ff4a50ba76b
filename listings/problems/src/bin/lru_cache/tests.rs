use super::*;
use proptest::prelude::*;

fn entries<K: Hash + Eq + Clone, V: Clone>(
    cache: &LruCache<K, V>,
) -> Vec<(K, V)> {
    cache.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The list and the map describe the same entries, and the links agree in
/// both directions.
fn assert_consistent<K: Hash + Eq + Clone + std::fmt::Debug, V>(
    cache: &LruCache<K, V>,
) {
    assert!(cache.nodes.len() <= cache.capacity);
    assert_eq!(cache.slots.len(), cache.nodes.len());
    let forward: Vec<usize> =
        std::iter::successors(cache.head, |&s| cache.nodes[s].next).collect();
    let mut backward: Vec<usize> =
        std::iter::successors(cache.tail, |&s| cache.nodes[s].prev).collect();
    backward.reverse();
    assert_eq!(forward, backward, "prev and next links disagree");
    assert_eq!(forward.len(), cache.nodes.len(), "a slot is off the list");
    for (key, &slot) in &cache.slots {
        assert_eq!(&cache.nodes[slot].key, key, "map points at the wrong slot");
    }
}

#[test]
fn leetcode_146_example() {
    let mut cache = LruCache::new(2);
    assert_eq!(cache.put(1, 1), None);
    assert_eq!(cache.put(2, 2), None);
    assert_eq!(cache.get(&1), Some(&1));
    assert_eq!(cache.put(3, 3), Some((2, 2)), "2 was least recently used");
    assert_eq!(cache.get(&2), None);
    assert_eq!(cache.put(4, 4), Some((1, 1)));
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.get(&3), Some(&3));
    assert_eq!(cache.get(&4), Some(&4));
    assert_consistent(&cache);
}

#[test]
fn capacity_zero_stores_nothing_and_returns_the_entry() {
    let mut cache = LruCache::new(0);
    assert_eq!(cache.put("k", 1), Some(("k", 1)));
    assert_eq!(cache.put("k", 2), Some(("k", 2)));
    assert_eq!(cache.get("k"), None);
    assert!(cache.is_empty());
    assert_eq!(cache.capacity(), 0);
    assert_consistent(&cache);
}

#[test]
fn capacity_one_keeps_only_the_latest_entry() {
    let mut cache = LruCache::new(1);
    assert_eq!(cache.put(1, 'a'), None);
    assert_eq!(cache.put(1, 'b'), None, "an update evicts nothing");
    assert_eq!(cache.get(&1), Some(&'b'));
    assert_eq!(cache.put(2, 'c'), Some((1, 'b')));
    assert_eq!(cache.get(&1), None);
    assert_eq!(entries(&cache), vec![(2, 'c')]);
    assert_consistent(&cache);
}

#[test]
fn get_makes_an_entry_most_recent() {
    let mut cache = LruCache::new(3);
    for k in 1..=3 {
        cache.put(k, k * 10);
    }
    assert_eq!(entries(&cache), vec![(3, 30), (2, 20), (1, 10)]);
    assert_eq!(cache.get(&1), Some(&10));
    assert_eq!(entries(&cache), vec![(1, 10), (3, 30), (2, 20)]);
    assert_eq!(cache.put(4, 40), Some((2, 20)));
    assert_consistent(&cache);
}

#[test]
fn a_miss_changes_nothing() {
    let mut cache = LruCache::new(2);
    cache.put(1, 1);
    cache.put(2, 2);
    assert_eq!(cache.get(&9), None);
    assert_eq!(entries(&cache), vec![(2, 2), (1, 1)]);
}

#[test]
fn put_on_an_existing_key_updates_in_place_and_promotes() {
    let mut cache = LruCache::new(2);
    cache.put("a", 1);
    cache.put("b", 2);
    assert_eq!(cache.put("a", 10), None);
    assert_eq!(cache.len(), 2);
    assert_eq!(entries(&cache), vec![("a", 10), ("b", 2)]);
    assert_eq!(
        cache.put("c", 3),
        Some(("b", 2)),
        "b, not a, was least recent"
    );
    assert_consistent(&cache);
}

#[test]
fn a_full_cache_reuses_the_evicted_slot() {
    let mut cache = LruCache::new(4);
    for k in 0..1_000u32 {
        cache.put(k, k);
    }
    assert_eq!(cache.nodes.len(), 4);
    assert_eq!(
        entries(&cache),
        vec![(999, 999), (998, 998), (997, 997), (996, 996)]
    );
    assert_consistent(&cache);
}

#[test]
fn owned_keys_are_looked_up_by_borrowed_form() {
    let mut cache: LruCache<String, usize> = LruCache::new(2);
    cache.put("alpha".to_string(), 5);
    assert_eq!(cache.get("alpha"), Some(&5));
    assert_eq!(cache.get("beta"), None);
}

#[test]
fn reserving_up_front_fails_cleanly_when_impossible() {
    assert!(LruCache::<u64, u64>::try_with_capacity(usize::MAX).is_err());
    let mut cache = LruCache::<u64, u64>::try_with_capacity(1_000)
        .expect("1,000 entries fit");
    assert!(cache.nodes.capacity() >= 1_000 && cache.slots.capacity() >= 1_000);
    assert_eq!(cache.put(1, 1), None);
    assert_eq!(cache.capacity(), 1_000);
}

#[test]
fn a_huge_capacity_allocates_nothing_up_front() {
    let mut cache = LruCache::new(usize::MAX);
    assert_eq!(cache.put(1u8, ()), None);
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.capacity(), usize::MAX);
}

/// The obviously correct oracle: a Vec of entries, most recent first,
/// with a linear search per operation.
struct Oracle {
    capacity: usize,
    entries: Vec<(u8, u32)>,
}

impl Oracle {
    fn get(&mut self, key: u8) -> Option<u32> {
        let at = self.entries.iter().position(|&(k, _)| k == key)?;
        let entry = self.entries.remove(at);
        self.entries.insert(0, entry);
        Some(entry.1)
    }

    fn put(&mut self, key: u8, value: u32) -> Option<(u8, u32)> {
        if let Some(at) = self.entries.iter().position(|&(k, _)| k == key) {
            self.entries.remove(at);
        }
        self.entries.insert(0, (key, value));
        if self.entries.len() > self.capacity {
            self.entries.pop()
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Get(u8),
    Put(u8, u32),
}

fn op() -> impl Strategy<Value = Op> {
    // Keys from a space a little larger than the capacities, so gets both
    // hit and miss and puts both update and evict.
    prop_oneof![
        (0u8..10).prop_map(Op::Get),
        (0u8..10, any::<u32>()).prop_map(|(k, v)| Op::Put(k, v)),
    ]
}

proptest! {
    #[test]
    fn behaves_like_the_oracle(capacity in 0usize..6, ops in prop::collection::vec(op(), 0..200)) {
        let mut cache = LruCache::new(capacity);
        let mut oracle = Oracle { capacity, entries: Vec::new() };
        for op in ops {
            match op {
                Op::Get(k) => prop_assert_eq!(cache.get(&k).copied(), oracle.get(k)),
                Op::Put(k, v) => prop_assert_eq!(cache.put(k, v), oracle.put(k, v)),
            }
            prop_assert_eq!(entries(&cache), oracle.entries.clone());
            assert_consistent(&cache);
        }
    }
}

// Found by mutation testing (cargo-mutants): nothing checked `is_empty`.
#[test]
fn is_empty_follows_the_entries() {
    let mut cache = LruCache::new(1);
    assert!(cache.is_empty());
    cache.put("a", 1);
    assert!(!cache.is_empty());
}
