//! 3.4's back-of-the-envelope numbers for a recommendation service: the
//! serving load, the memory of precomputed lists in Redis, why item-item
//! similarity is kept as top-N neighbours, and how many users an A/B test
//! needs to see a small lift. Every input is an assumption stated here;
//! the program only does the arithmetic.
//! Run: `cargo run --bin recommendation_numbers`.

// ANCHOR: inputs
/// Daily active users, home-page loads per user per day, peak / mean.
const DAU: f64 = 10_000_000.0;
const LOADS_PER_USER: f64 = 5.0;
const PEAK_FACTOR: f64 = 3.0;
/// Interaction events (views, clicks, purchases) per user per day, and
/// the bytes one event takes in the log.
const EVENTS_PER_USER: f64 = 20.0;
const EVENT_BYTES: f64 = 50.0;
/// Items in the catalogue; neighbours kept per item.
const ITEMS: f64 = 1_000_000.0;
const NEIGHBOURS: f64 = 50.0;
/// Precomputed list per user: items, bytes per item (u32 id + f32
/// score), and Redis's overhead per key (key name, expiry, bookkeeping).
const LIST_LEN: f64 = 100.0;
const BYTES_PER_ENTRY: f64 = 8.0;
const KEY_OVERHEAD: f64 = 100.0;
/// The batch job rewrites every active user's list within this window.
const BATCH_WINDOW_S: f64 = 3_600.0;
/// A/B test: baseline click-through of the recommendations, the smallest
/// relative lift worth detecting, two-sided alpha, power, and the share
/// of users in the experiment (split evenly between two arms).
const BASELINE: f64 = 0.05;
const RELATIVE_LIFT: f64 = 0.02;
const ALPHA: f64 = 0.05;
const POWER: f64 = 0.8;
const TRAFFIC_SHARE: f64 = 0.05;
// ANCHOR_END: inputs

#[derive(Debug, PartialEq)]
pub struct Numbers {
    pub peak_reads_per_s: f64,
    pub events_per_s: f64,
    pub event_gb_per_day: f64,
    pub redis_gb: f64,
    pub batch_writes_per_s: f64,
    pub dense_similarity_tb: f64,
    pub neighbours_mb: f64,
    pub ab_per_arm: f64,
    pub ab_lehr_per_arm: f64,
    pub ab_days: f64,
}

// ANCHOR: quantile
/// The standard normal quantile (inverse CDF), by Peter Acklam's rational
/// approximation: relative error below 1.2e-9 on (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "a probability strictly inside (0, 1)");
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let poly = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, k| acc * x + k);
    let tail = |q: f64| poly(&C, q) / (poly(&D, q) * q + 1.0);
    match p {
        p if p < 0.02425 => tail((-2.0 * p.ln()).sqrt()),
        p if p > 1.0 - 0.02425 => -tail((-2.0 * (1.0 - p).ln()).sqrt()),
        p => {
            let q = p - 0.5;
            let r = q * q;
            poly(&A, r) * q / (poly(&B, r) * r + 1.0)
        }
    }
}
// ANCHOR_END: quantile

// ANCHOR: sample_size
/// Users per arm to detect p1 against p2 with a two-sided z-test of two
/// proportions (pooled variance under the null, unpooled under the
/// alternative), before any continuity correction.
pub fn per_arm(p1: f64, p2: f64, alpha: f64, power: f64) -> f64 {
    let z_a = normal_quantile(1.0 - alpha / 2.0);
    let z_b = normal_quantile(power);
    let mean = (p1 + p2) / 2.0;
    let null = (2.0 * mean * (1.0 - mean)).sqrt();
    let alt = (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    ((z_a * null + z_b * alt) / (p1 - p2)).powi(2)
}

/// The continuity correction of Fleiss, Tytun and Ury (1980); with it,
/// `per_arm` matches Zar's published 127.2343 (see the tests).
pub fn with_continuity(n: f64, p1: f64, p2: f64) -> f64 {
    let d = (p1 - p2).abs();
    n / 4.0 * (1.0 + (1.0 + 4.0 / (n * d)).sqrt()).powi(2)
}

/// Lehr's rule of thumb for alpha 0.05 and power 0.8: 16 s^2 / d^2 per
/// arm, where a rate's variance s^2 is p(1-p).
pub fn lehr(p1: f64, p2: f64) -> f64 {
    let mean = (p1 + p2) / 2.0;
    16.0 * mean * (1.0 - mean) / (p1 - p2).powi(2)
}
// ANCHOR_END: sample_size

// ANCHOR: compute
pub fn compute() -> Numbers {
    const DAY_S: f64 = 86_400.0;
    let p2 = BASELINE * (1.0 + RELATIVE_LIFT);
    let n = per_arm(BASELINE, p2, ALPHA, POWER).ceil();
    let users_per_arm_per_day = DAU * TRAFFIC_SHARE / 2.0;
    let list_bytes = LIST_LEN * BYTES_PER_ENTRY + KEY_OVERHEAD;
    Numbers {
        peak_reads_per_s: DAU * LOADS_PER_USER / DAY_S * PEAK_FACTOR,
        events_per_s: DAU * EVENTS_PER_USER / DAY_S,
        event_gb_per_day: DAU * EVENTS_PER_USER * EVENT_BYTES / 1e9,
        redis_gb: DAU * list_bytes / 1e9,
        batch_writes_per_s: DAU / BATCH_WINDOW_S,
        // A dense f32 matrix of every pair, against top-N per item.
        dense_similarity_tb: ITEMS * ITEMS * 4.0 / 1e12,
        neighbours_mb: ITEMS * NEIGHBOURS * BYTES_PER_ENTRY / 1e6,
        ab_per_arm: n,
        ab_lehr_per_arm: lehr(BASELINE, p2).ceil(),
        ab_days: (n / users_per_arm_per_day).ceil(),
    }
}
// ANCHOR_END: compute

fn main() {
    let n = compute();
    println!("serving");
    println!(
        "  peak reads                 {:>10.0} /s",
        n.peak_reads_per_s
    );
    println!("  interaction events         {:>10.0} /s", n.events_per_s);
    println!(
        "  event log                  {:>10.0} GB/day",
        n.event_gb_per_day
    );
    println!("precomputed lists in Redis");
    println!("  memory, {LIST_LEN} items a user  {:>10.1} GB", n.redis_gb);
    println!(
        "  batch writes, 1 h window   {:>10.0} SET/s",
        n.batch_writes_per_s
    );
    println!("item-item similarity");
    println!(
        "  dense f32, every pair      {:>10.0} TB",
        n.dense_similarity_tb
    );
    println!(
        "  top {NEIGHBOURS} neighbours per item {:>10.0} MB",
        n.neighbours_mb
    );
    let lift = BASELINE * (1.0 + RELATIVE_LIFT) * 100.0;
    println!(
        "A/B test: {:.2}% vs {lift:.2}% click-through, alpha {ALPHA}, \
         power {POWER}",
        BASELINE * 100.0
    );
    println!("  users per arm              {:>10.0}", n.ab_per_arm);
    println!("  Lehr's 16 p(1-p)/d^2       {:>10.0}", n.ab_lehr_per_arm);
    println!(
        "  days at {:.0}% of traffic     {:>10.0}",
        TRAFFIC_SHARE * 100.0,
        n.ab_days
    );
}

#[cfg(test)]
mod tests;
