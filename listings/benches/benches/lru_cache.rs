//! The index-linked `LruCache` of 4.2 against the `lru` crate, on one seeded
//! read-through workload: for each key, `get`; on a miss, `put`.
//!
//! Keys are drawn uniformly (splitmix64, fixed seed) from a key space twice
//! the capacity, so about half the lookups miss and each miss at a full cache
//! evicts. Every run starts from an empty cache, so filling it is measured
//! too. Three contenders:
//! - `index_linked_siphash`: the chapter's cache (std `HashMap`, SipHash-1-3),
//!   made with `new`, so it grows while it fills;
//! - `index_linked_reserved_siphash`: the same, made with
//!   `try_with_capacity`, so it allocates once, as `lru::LruCache::new` does;
//! - `lru_crate_siphash`: `lru::LruCache` with the same std hasher, so the
//!   difference is the data structure alone;
//! - `lru_crate_foldhash`: `lru::LruCache` as it comes (hashbrown's default
//!   hasher, foldhash).
//!
//! Run: `cargo xtask bench lru_cache`.

use std::collections::hash_map::RandomState;
use std::num::NonZeroUsize;

#[allow(dead_code)]
#[path = "../../problems/src/bin/lru_cache/main.rs"]
mod lru_cache;

const OPERATIONS: usize = 100_000;
const CAPACITIES: [usize; 3] = [100, 1_000, 10_000];
const SEED: u64 = 0x5EED_0042;

fn main() {
    // The check doubles as a warm-up, so the first benchmark in the table
    // does not pay for a cold process (page faults, caches) alone.
    for _ in 0..10 {
        same_hits_everywhere();
    }
    // 25 samples of a 100,000-key run each: medians settle, and the whole
    // table takes seconds, which keeps it clear of bursts of other load.
    divan::Divan::from_args().sample_count(25).main();
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

fn run_index_linked(mut cache: lru_cache::LruCache<u64, u64>, keys: &[u64]) -> usize {
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
        let theirs = run_lru_crate(lru::LruCache::new(non_zero(capacity)), &keys);
        assert_eq!(ours, theirs, "hit counts differ at capacity {capacity}");
    }
}

#[divan::bench(args = CAPACITIES)]
fn index_linked_siphash(bencher: divan::Bencher, capacity: usize) {
    let keys = workload(capacity);
    bencher.bench_local(|| {
        let cache = lru_cache::LruCache::new(divan::black_box(capacity));
        run_index_linked(cache, &keys)
    });
}

#[divan::bench(args = CAPACITIES)]
fn index_linked_reserved_siphash(bencher: divan::Bencher, capacity: usize) {
    let keys = workload(capacity);
    bencher.bench_local(|| {
        let cache = lru_cache::LruCache::try_with_capacity(divan::black_box(capacity))
            .expect("benchmark capacities fit in memory");
        run_index_linked(cache, &keys)
    });
}

#[divan::bench(args = CAPACITIES)]
fn lru_crate_siphash(bencher: divan::Bencher, capacity: usize) {
    let keys = workload(capacity);
    bencher.bench_local(|| {
        let cache =
            lru::LruCache::with_hasher(non_zero(divan::black_box(capacity)), RandomState::new());
        run_lru_crate(cache, &keys)
    });
}

#[divan::bench(args = CAPACITIES)]
fn lru_crate_foldhash(bencher: divan::Bencher, capacity: usize) {
    let keys = workload(capacity);
    bencher.bench_local(|| {
        run_lru_crate(
            lru::LruCache::new(non_zero(divan::black_box(capacity))),
            &keys,
        )
    });
}
