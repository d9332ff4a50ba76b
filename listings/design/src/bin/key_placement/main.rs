//! Where keys and requests go: a consistent-hash ring with virtual nodes and
//! jump consistent hash (Lamping & Veach 2014) against `hash % n` when a
//! node joins, and a seeded simulation of four load-balancing policies
//! (random, round-robin, least connections, power of two choices).
//!
//! Run: `cargo run --bin key_placement`

use std::collections::BTreeMap;

/// SplitMix64's finaliser: a fixed, portable 64-bit mix (std's hasher
/// is not guaranteed stable across Rust releases).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded generator (SplitMix64), so every run prints the same figures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in `0..n` (the multiply-shift reduction).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ANCHOR: modulo
fn modulo(key: u64, nodes: u32) -> u32 {
    (mix(key) % u64::from(nodes)) as u32
}
// ANCHOR_END: modulo

// ANCHOR: ring
/// A consistent-hash ring: each node owns `vnodes` points on a 64-bit
/// circle, and a key belongs to the first point at or after its hash.
struct Ring {
    points: BTreeMap<u64, u32>,
    vnodes: u32,
}

impl Ring {
    fn new(nodes: u32, vnodes: u32) -> Ring {
        let mut ring = Ring {
            points: BTreeMap::new(),
            vnodes,
        };
        for node in 0..nodes {
            ring.add(node);
        }
        ring
    }

    fn add(&mut self, node: u32) {
        for v in 0..self.vnodes {
            let point = mix((u64::from(node) << 32) | u64::from(v));
            self.points.insert(point, node);
        }
    }

    fn lookup(&self, key: u64) -> Option<u32> {
        let h = mix(key);
        let next = self.points.range(h..).next();
        // Past the last point, wrap around to the first.
        let (_, node) = next.or_else(|| self.points.iter().next())?;
        Some(*node)
    }
}
// ANCHOR_END: ring

// ANCHOR: jump
/// Jump consistent hash, as published by Lamping and Veach (2014): no
/// table at all, and growing from n to n + 1 buckets moves only keys
/// into the new bucket. Buckets must be numbered 0..n (no removal in
/// the middle), which suits shards better than cache servers.
fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let r = (1u64 << 31) as f64 / ((key >> 33) + 1) as f64;
        j = ((b + 1) as f64 * r) as i64;
    }
    b as u32
}
// ANCHOR_END: jump

// ANCHOR: moved
/// The fraction of `keys` whose owner changes when node `n` joins.
fn moved(keys: u64, n: u32, place: impl Fn(u64, u32) -> u32) -> f64 {
    let changed = (0..keys).filter(|&k| place(k, n) != place(k, n + 1));
    changed.count() as f64 / keys as f64
}

/// Load spread on a ring: the busiest node's keys over the mean.
fn ring_spread(keys: u64, nodes: u32, vnodes: u32) -> f64 {
    let ring = Ring::new(nodes, vnodes);
    let mut load = vec![0u64; nodes as usize];
    for k in 0..keys {
        if let Some(node) = ring.lookup(k) {
            load[node as usize] += 1;
        }
    }
    let max = load.iter().copied().max().unwrap_or(0);
    max as f64 / (keys as f64 / f64::from(nodes))
}
// ANCHOR_END: moved

// ANCHOR: policies
#[derive(Clone, Copy, Debug, PartialEq)]
enum Policy {
    Random,
    RoundRobin,
    LeastConnections,
    TwoChoices,
}

/// Picks a server for the next request, given each one's queue length.
fn pick(p: Policy, q: &[u32], rr: &mut usize, rng: &mut Rng) -> usize {
    match p {
        Policy::Random => rng.below(q.len()),
        Policy::RoundRobin => {
            *rr = (*rr + 1) % q.len();
            *rr
        }
        // Full, fresh knowledge of every queue (one balancer).
        Policy::LeastConnections => {
            (0..q.len()).min_by_key(|&i| q[i]).unwrap_or(0)
        }
        // Mitzenmacher: sample two at random, join the shorter.
        Policy::TwoChoices => {
            let (a, b) = (rng.below(q.len()), rng.below(q.len()));
            if q[b] < q[a] { b } else { a }
        }
    }
}
// ANCHOR_END: policies

// ANCHOR: simulate
/// What an arriving request found at the server it was sent to.
#[derive(Debug)]
struct Seen {
    mean: f64,
    p99: u32,
    max: u32,
}

/// The "supermarket model": Poisson arrivals at rate `load * n`, each
/// server serves its queue at rate 1 (exponential). Uniformised: every
/// event is an arrival with probability load / (load + 1), otherwise a
/// service completion at a random server (a no-op if it is idle).
fn simulate(
    p: Policy,
    n: usize,
    load: f64,
    arrivals: usize,
    seed: u64,
) -> Seen {
    let mut rng = Rng(seed);
    let (mut q, mut rr) = (vec![0u32; n], 0);
    let mut seen = Vec::with_capacity(arrivals);
    let warmup = arrivals / 10;
    while seen.len() < arrivals {
        if rng.unit() < load / (load + 1.0) {
            let i = pick(p, &q, &mut rr, &mut rng);
            seen.push(q[i]);
            q[i] += 1;
        } else {
            let i = rng.below(n);
            q[i] = q[i].saturating_sub(1);
        }
    }
    let mut kept = seen.split_off(warmup);
    kept.sort_unstable();
    let sum: u64 = kept.iter().map(|&x| u64::from(x)).sum();
    Seen {
        mean: sum as f64 / kept.len() as f64,
        p99: kept[kept.len() * 99 / 100],
        max: kept.last().copied().unwrap_or(0),
    }
}
// ANCHOR_END: simulate

// ANCHOR: balls
/// Static balls into bins: `n` requests into `n` servers, none leave.
fn max_load(n: usize, choices: usize, seed: u64) -> u32 {
    let mut rng = Rng(seed);
    let mut bins = vec![0u32; n];
    for _ in 0..n {
        let best = (0..choices)
            .map(|_| rng.below(n))
            .min_by_key(|&i| bins[i])
            .unwrap_or(0);
        bins[best] += 1;
    }
    bins.into_iter().max().unwrap_or(0)
}
// ANCHOR_END: balls

const KEYS: u64 = 100_000;
const SEED: u64 = 2014;
const POLICIES: [Policy; 4] = [
    Policy::Random,
    Policy::RoundRobin,
    Policy::LeastConnections,
    Policy::TwoChoices,
];

// ANCHOR: main
fn main() {
    println!("keys moved when node 11 joins 10 ({KEYS} keys):");
    let ring = Ring::new(10, 100);
    let mut ring11 = Ring::new(10, 100);
    ring11.add(10);
    let ring_moved = (0..KEYS)
        .filter(|&k| ring.lookup(k) != ring11.lookup(k))
        .count() as f64
        / KEYS as f64;
    println!(
        "  hash % n           {:>6.1}%",
        100.0 * moved(KEYS, 10, modulo)
    );
    println!("  ring, 100 vnodes   {:>6.1}%", 100.0 * ring_moved);
    println!(
        "  jump hash          {:>6.1}%",
        100.0 * moved(KEYS, 10, jump)
    );
    println!("  ideal (1/11)       {:>6.1}%", 100.0 / 11.0);
    println!("ring load spread, 10 nodes (busiest / mean):");
    for vnodes in [1, 10, 100, 1000] {
        let spread = ring_spread(KEYS, 10, vnodes);
        println!("  {vnodes:>4} vnodes/node  {spread:>6.2}");
    }
    println!("100 servers at 90% load, 200000 requests (queue found):");
    println!("  {:<18}{:>6}{:>5}{:>5}", "policy", "mean", "p99", "max");
    for p in POLICIES {
        let s = simulate(p, 100, 0.9, 200_000, SEED);
        let name = format!("{p:?}");
        println!("  {name:<18}{:>6.2}{:>5}{:>5}", s.mean, s.p99, s.max);
    }
    println!("100000 requests into 100000 servers (max per server):");
    for (name, d) in [("one random choice", 1), ("two choices", 2)] {
        println!("  {name:<18}{:>6}", max_load(100_000, d, SEED));
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
