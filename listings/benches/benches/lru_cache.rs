//! The index-linked `LruCache` of 4.2 against the `lru` crate, on one seeded
//! read-through workload: for each key, `get`; on a miss, `put`.
//!
//! Keys are drawn uniformly (splitmix64, fixed seed) from a key space twice
//! the capacity, so about half the lookups miss and each miss at a full cache
//! evicts. Every run starts from an empty cache, so filling it is measured
//! too. Four contenders:
//! - `index_linked_siphash`: the chapter's cache (std `HashMap`, SipHash-1-3),
//!   made with `new`, so it grows while it fills;
//! - `index_linked_reserved_siphash`: the same, made with
//!   `try_with_capacity`, so it allocates once, as `lru::LruCache::new` does;
//! - `lru_crate_siphash`: `lru::LruCache` with the same std hasher, so the
//!   difference is the data structure alone;
//! - `lru_crate_foldhash`: `lru::LruCache` as it comes (hashbrown's default
//!   hasher, foldhash).
//!
//! It prints the ratios that 4.2 discusses: the two data structures with the
//! same hasher, growing against reserving, and the two hashers, plus the
//! time per key of this cache.
//!
//! Run: `cargo xtask bench lru_cache`.

use std::collections::hash_map::RandomState;
use std::hint::black_box;
use std::num::NonZeroUsize;

use benches::Harness;

#[allow(dead_code)]
#[path = "../../problems/src/bin/lru_cache/main.rs"]
mod lru_cache;

const OPERATIONS: usize = 100_000;
const CAPACITIES: [usize; 3] = [100, 1_000, 10_000];
const SEED: u64 = 0x5EED_0042;

fn main() {
    same_hits_everywhere();
    // 25 samples of a 100,000-key run each: the medians settle, and the
    // whole table takes seconds.
    let mut h = Harness::new("lru_cache", "capacity").samples(25);
    for capacity in CAPACITIES {
        let keys = workload(capacity);
        h.bench("index_linked_siphash", capacity, move || {
            let cache = lru_cache::LruCache::new(black_box(capacity));
            run_index_linked(cache, &keys)
        });
    }
    for capacity in CAPACITIES {
        let keys = workload(capacity);
        h.bench("index_linked_reserved_siphash", capacity, move || {
            let capacity = black_box(capacity);
            let cache = lru_cache::LruCache::try_with_capacity(capacity)
                .expect("benchmark capacities fit in memory");
            run_index_linked(cache, &keys)
        });
    }
    for capacity in CAPACITIES {
        let keys = workload(capacity);
        h.bench("lru_crate_siphash", capacity, move || {
            let capacity = non_zero(black_box(capacity));
            let cache =
                lru::LruCache::with_hasher(capacity, RandomState::new());
            run_lru_crate(cache, &keys)
        });
    }
    for capacity in CAPACITIES {
        let keys = workload(capacity);
        h.bench("lru_crate_foldhash", capacity, move || {
            let cache = lru::LruCache::new(non_zero(black_box(capacity)));
            run_lru_crate(cache, &keys)
        });
    }
    h.run();
    h.print_table();
    let ours = "index_linked_reserved_siphash";
    h.ratios_at(ours, "lru_crate_siphash", &CAPACITIES);
    h.ratios_at("index_linked_siphash", ours, &CAPACITIES);
    h.ratios_at("lru_crate_siphash", "lru_crate_foldhash", &CAPACITIES);
    h.per_item(&format!("{ours} at {}", CAPACITIES[0]), OPERATIONS, "key");
}

/// splitmix64: a tiny, well-mixed generator, enough for a fixed workload.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The key sequence for one capacity: uniform over `2 * capacity` keys.
fn workload(capacity: usize) -> Vec<u64> {
    let mut rng = SplitMix64(SEED ^ capacity as u64);
    let key_space = 2 * capacity as u64;
    (0..OPERATIONS).map(|_| rng.next() % key_space).collect()
}

fn non_zero(capacity: usize) -> NonZeroUsize {
    NonZeroUsize::new(capacity).expect("benchmark capacities are non-zero")
}

fn run_index_linked(
    mut cache: lru_cache::LruCache<u64, u64>,
    keys: &[u64],
) -> usize {
    let mut hits = 0;
    for &key in keys {
        if cache.get(&key).is_some() {
            hits += 1;
        } else {
            cache.put(key, key);
        }
    }
    hits
}

fn run_lru_crate<S: std::hash::BuildHasher>(
    mut cache: lru::LruCache<u64, u64, S>,
    keys: &[u64],
) -> usize {
    let mut hits = 0;
    for &key in keys {
        if cache.get(&key).is_some() {
            hits += 1;
        } else {
            cache.put(key, key);
        }
    }
    hits
}

/// Both caches are LRU, so on the same workload they must hit the same
/// number of times; otherwise the timings would compare different work.
fn same_hits_everywhere() {
    for capacity in CAPACITIES {
        let keys = workload(capacity);
        let ours = run_index_linked(lru_cache::LruCache::new(capacity), &keys);
        let theirs =
            run_lru_crate(lru::LruCache::new(non_zero(capacity)), &keys);
        assert_eq!(ours, theirs, "hit counts differ at capacity {capacity}");
    }
}
