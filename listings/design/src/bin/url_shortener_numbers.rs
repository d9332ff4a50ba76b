//! 3.1 URL shortener: the back-of-the-envelope numbers, the birthday bound
//! for codes made by truncating a hash (and a seeded simulation that checks
//! it), and the extrapolation from the measured redirect rate (the bench's
//! recorded results, read at compile time) to the target's peak.
//!
//! Every figure the chapter quotes is printed here; the assumptions are the
//! constants at the top.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

// ANCHOR: assumptions
/// The assumptions: change one and every figure below follows.
const NEW_PER_MONTH: f64 = 100e6;
const READS_PER_WRITE: f64 = 100.0;
/// Peak over average for both reads and writes (a link going viral).
const PEAK_FACTOR: f64 = 10.0;
const YEARS: f64 = 5.0;
/// One row with its index entries: a ~100-byte URL, the code, timestamps,
/// the counter, PostgreSQL's tuple header, and the unique index on code.
const ROW_BYTES: f64 = 500.0;
/// The cache holds the links behind 20 % of a day's redirects.
const HOT_SHARE: f64 = 0.2;
const CODE_CHARS: i32 = 7;
/// One instance runs at no more than half of what it was measured to do.
const HEADROOM: f64 = 0.5;
// ANCHOR_END: assumptions

const SECONDS_PER_MONTH: f64 = 30.0 * 86_400.0;

// ANCHOR: envelope
pub struct Envelope {
    pub writes_per_s: f64,
    pub reads_per_s: f64,
    pub links: f64,
    pub storage_bytes: f64,
    pub cache_bytes: f64,
    pub keyspace: f64,
}

pub fn envelope() -> Envelope {
    let writes_per_s = NEW_PER_MONTH / SECONDS_PER_MONTH;
    let reads_per_s = writes_per_s * READS_PER_WRITE;
    let links = NEW_PER_MONTH * 12.0 * YEARS;
    let reads_per_day = reads_per_s * 86_400.0;
    Envelope {
        writes_per_s,
        reads_per_s,
        links,
        storage_bytes: links * ROW_BYTES,
        cache_bytes: reads_per_day * HOT_SHARE * ROW_BYTES,
        keyspace: 62f64.powi(CODE_CHARS),
    }
}
// ANCHOR_END: envelope

// ANCHOR: birthday
/// The chance that `n` random codes out of `space` hold at least one
/// pair that collides: 1 - e^(-n(n-1) / 2N).
pub fn p_collision(n: f64, space: f64) -> f64 {
    1.0 - (-n * (n - 1.0) / (2.0 * space)).exp()
}

/// The number of codes at which that chance reaches `p`:
/// n = sqrt(2N ln(1 / (1 - p))).
pub fn codes_for(p: f64, space: f64) -> f64 {
    (2.0 * space * (1.0 / (1.0 - p)).ln()).sqrt()
}
// ANCHOR_END: birthday

// ANCHOR: simulate
/// A code made the way weak answers make one: SHA-256 of the URL, the
/// first 8 bytes read as a number, kept to `chars` base62 digits.
pub fn truncated_code(url: &str, chars: i32) -> u64 {
    let digest = Sha256::digest(url.as_bytes());
    let first = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    first % 62u64.pow(chars as u32)
}

/// For each trial, how many distinct URLs went in before the first two
/// got the same code. The URLs are the seed: the run is repeatable.
pub fn first_collisions(trials: u32, chars: i32) -> Vec<u64> {
    (0..trials)
        .map(|trial| {
            let mut seen = HashSet::new();
            (1..)
                .find(|i| {
                    let url = format!("https://example.com/{trial}/{i}");
                    !seen.insert(truncated_code(&url, chars))
                })
                .expect("a collision comes within 62^chars + 1")
        })
        .collect()
}
// ANCHOR_END: simulate

/// The simulation: 3-character codes (62^3 = 238,328), so a trial needs
/// hundreds of hashes rather than millions; the bound scales as sqrt(N).
const SIM_CHARS: i32 = 3;
const SIM_TRIALS: u32 = 400;

// ANCHOR: measured
/// The bench's recorded table (`cargo xtask bench url_shortener`).
const BENCH: &str = include_str!("../../../benches/results/url_shortener.txt");

/// Redirects per second of a row of that table (`redis+postgres` or
/// `postgres only`).
pub fn measured_rate(results: &str, mode: &str) -> Option<f64> {
    let line = results.lines().find(|line| line.starts_with(mode))?;
    let columns: Vec<&str> = line[mode.len()..].split_whitespace().collect();
    columns.get(1)?.parse().ok()
}
// ANCHOR_END: measured

fn si(x: f64) -> String {
    let (value, unit) = match x {
        x if x >= 1e12 => (x / 1e12, " T"),
        x if x >= 1e9 => (x / 1e9, " G"),
        x if x >= 1e6 => (x / 1e6, " M"),
        x if x >= 1e3 => (x / 1e3, " k"),
        x => (x, ""),
    };
    format!("{value:.2}{unit}")
}

fn main() {
    let e = envelope();
    println!("Traffic (30-day month, peak = {PEAK_FACTOR}x average):");
    println!(
        "  writes: {} / {} s = {:.1}/s, peak {:.0}/s",
        si(NEW_PER_MONTH),
        SECONDS_PER_MONTH,
        e.writes_per_s,
        e.writes_per_s * PEAK_FACTOR
    );
    println!(
        "  reads:  {:.1}/s x {READS_PER_WRITE} = {:.0}/s, peak {:.0}/s",
        e.writes_per_s,
        e.reads_per_s,
        e.reads_per_s * PEAK_FACTOR
    );
    println!("Storage after {YEARS} years:");
    println!(
        "  links: {} x 12 x {YEARS} = {}",
        si(NEW_PER_MONTH),
        si(e.links)
    );
    println!(
        "  rows:  {} x {ROW_BYTES} B = {}B",
        si(e.links),
        si(e.storage_bytes)
    );
    println!(
        "  cache: {}/day x {HOT_SHARE} x {ROW_BYTES} B = {}B",
        si(e.reads_per_s * 86_400.0),
        si(e.cache_bytes)
    );
    println!("Keyspace of {CODE_CHARS} base62 characters:");
    println!(
        "  62^{CODE_CHARS} = {:.0} ({}), {:.3} % used after {YEARS} years",
        e.keyspace,
        si(e.keyspace),
        100.0 * e.links / e.keyspace
    );
    println!(
        "  a random code hits a live link 1 time in {:.0}",
        e.keyspace / e.links
    );
    println!("Hash truncated to {CODE_CHARS} characters (birthday bound):");
    for p in [0.01, 0.5] {
        println!(
            "  P(any collision) = {p}: after {} codes",
            si(codes_for(p, e.keyspace))
        );
    }
    println!(
        "  after {} codes: expected colliding pairs n^2/2N = {}",
        si(e.links),
        si(e.links * e.links / (2.0 * e.keyspace))
    );
    let sim_space = 62f64.powi(SIM_CHARS);
    let firsts = first_collisions(SIM_TRIALS, SIM_CHARS);
    println!(
        "Simulation: SHA-256 to {SIM_CHARS} characters (N = {sim_space}), \
         {SIM_TRIALS} trials"
    );
    println!("  {:>7}  {:>10}  {:>10}", "codes", "predicted", "observed");
    for p in [0.1, 0.5, 0.9] {
        let n = codes_for(p, sim_space).round();
        let hit = firsts.iter().filter(|&&first| first as f64 <= n).count();
        let observed = hit as f64 / f64::from(SIM_TRIALS);
        println!(
            "  {n:>7}  {:>9.1}%  {:>9.1}%",
            100.0 * p_collision(n, sim_space),
            100.0 * observed
        );
    }
    let peak = e.reads_per_s * PEAK_FACTOR;
    println!("Peak redirects against the bench's measured rates:");
    for mode in ["redis+postgres", "postgres only"] {
        let Some(rate) = measured_rate(BENCH, mode) else {
            println!("  {mode}: no figure in the bench results");
            continue;
        };
        println!(
            "  {mode:<14} {peak:.0} / ({rate:.0} x {HEADROOM}) = {:.1} \
             -> {} instances",
            peak / (rate * HEADROOM),
            (peak / (rate * HEADROOM)).ceil()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_adds_up() {
        let e = envelope();
        assert!((e.writes_per_s - 38.58).abs() < 0.01);
        assert!((e.reads_per_s - 3858.0).abs() < 1.0);
        assert_eq!(e.links, 6e9);
        assert_eq!(e.storage_bytes, 3e12);
        assert_eq!(e.keyspace, 3_521_614_606_208.0);
    }

    #[test]
    fn the_birthday_bound_is_about_1_18_sqrt_n() {
        let n = 1e12;
        let half = codes_for(0.5, n);
        assert!((half / n.sqrt() - 1.1774).abs() < 1e-3);
        assert!((p_collision(half, n) - 0.5).abs() < 1e-6);
        assert_eq!(p_collision(1.0, n), 0.0, "one code cannot collide");
    }

    #[test]
    fn the_simulation_agrees_with_the_bound() {
        let space = 62f64.powi(SIM_CHARS);
        let trials = 200;
        let firsts = first_collisions(trials, SIM_CHARS);
        for p in [0.1, 0.5, 0.9] {
            let n = codes_for(p, space);
            let hit = firsts.iter().filter(|&&f| f as f64 <= n).count();
            let observed = hit as f64 / f64::from(trials);
            // Four standard deviations of a binomial proportion.
            let sigma = (p * (1.0 - p) / f64::from(trials)).sqrt();
            assert!((observed - p).abs() < 4.0 * sigma, "{p}: {observed}");
        }
    }

    #[test]
    fn truncated_codes_stay_in_range() {
        for url in ["", "https://a.example", "https://b.example/é"] {
            assert!(truncated_code(url, 2) < 62 * 62);
        }
    }

    #[test]
    fn the_bench_table_is_read_and_bad_tables_are_not() {
        let table = "mode  requests  redirects/s  p50  p99\n\
                     redis+postgres  1000  2500  1.0 ms  2.0 ms\n\
                     postgres only  400  900  3.0 ms  9.0 ms\n";
        assert_eq!(measured_rate(table, "redis+postgres"), Some(2500.0));
        assert_eq!(measured_rate(table, "postgres only"), Some(900.0));
        assert_eq!(measured_rate(table, "memcached"), None);
        assert_eq!(
            measured_rate("redis+postgres 10 fast", "redis+postgres"),
            None
        );
        assert!(measured_rate(BENCH, "redis+postgres").is_some());
        assert!(measured_rate(BENCH, "postgres only").is_some());
    }
}
