//! 3.9's back-of-the-envelope numbers for one payment-and-catalogue
//! provider: its rate limit against our peak, the worst case of retries
//! stacked on retries, the timeout budget inside a user's deadline, and
//! the bulkhead size from Little's law. Every input is an assumption
//! stated here; the program only does the arithmetic.
//! Run: `cargo run --bin third_party_numbers`.

// ANCHOR: inputs
/// The provider allows this many calls per second per account.
const PROVIDER_LIMIT_PER_S: f64 = 100.0;
/// Our peak: checkouts per minute, each a quote and a charge.
const PEAK_CHECKOUTS_PER_MIN: f64 = 1_800.0;
const CALLS_PER_CHECKOUT: f64 = 2.0;
/// Catalogue reads per second at peak, and the share the cache answers.
const PEAK_READS_PER_S: f64 = 200.0;
const CACHE_HIT_RATIO: f64 = 0.9;
/// Attempts per call at each of three layers (browser SDK, our API, our
/// worker), when every layer retries on its own.
const ATTEMPTS_PER_LAYER: u32 = 3;
const LAYERS: u32 = 3;
/// Retries allowed as a share of calls (the retry budget).
const BUDGET_RATIO: f64 = 0.1;
/// The user's deadline and what our own work takes of it, in ms.
const USER_DEADLINE_MS: u64 = 2_000;
const OWN_WORK_MS: u64 = 300;
/// Per attempt timeout, and backoff base and cap, in ms.
const ATTEMPT_TIMEOUT_MS: u64 = 400;
const BACKOFF_BASE_MS: u64 = 50;
const BACKOFF_CAP_MS: u64 = 200;
const MAX_ATTEMPTS: u32 = 3;
/// The provider's p99 latency when healthy, in seconds.
const P99_S: f64 = 0.25;
// ANCHOR_END: inputs

#[derive(Debug, PartialEq)]
pub struct Numbers {
    pub demand_per_s: f64,
    pub utilisation: f64,
    pub uncached_demand_per_s: f64,
    pub stacked_amplification: u32,
    pub budget_amplification: f64,
    pub worst_case_ms: u64,
    pub spare_ms: i64,
    pub in_flight_healthy: f64,
    pub in_flight_slow: f64,
}

// ANCHOR: compute
pub fn compute() -> Numbers {
    let checkout_calls = PEAK_CHECKOUTS_PER_MIN / 60.0 * CALLS_PER_CHECKOUT;
    let uncached_reads = PEAK_READS_PER_S * (1.0 - CACHE_HIT_RATIO);
    let demand = checkout_calls + uncached_reads;
    // Worst case: every attempt of every layer fails and is retried.
    let stacked = ATTEMPTS_PER_LAYER.pow(LAYERS);
    // Worst case of the timeout budget: every attempt times out, and
    // each wait between attempts is the full (capped) backoff.
    let waits: u64 = (0..MAX_ATTEMPTS - 1)
        .map(|r| (BACKOFF_BASE_MS << r).min(BACKOFF_CAP_MS))
        .sum();
    let worst = u64::from(MAX_ATTEMPTS) * ATTEMPT_TIMEOUT_MS + waits;
    let left = USER_DEADLINE_MS as i64 - OWN_WORK_MS as i64;
    let attempt_s = ATTEMPT_TIMEOUT_MS as f64 / 1000.0;
    Numbers {
        demand_per_s: demand,
        utilisation: demand / PROVIDER_LIMIT_PER_S,
        uncached_demand_per_s: checkout_calls + PEAK_READS_PER_S,
        stacked_amplification: stacked,
        budget_amplification: 1.0 + BUDGET_RATIO,
        worst_case_ms: worst,
        spare_ms: left - worst as i64,
        // Little's law: in flight = arrival rate x time in the system.
        in_flight_healthy: demand * P99_S,
        in_flight_slow: demand * f64::from(MAX_ATTEMPTS) * attempt_s,
    }
}
// ANCHOR_END: compute

fn main() {
    let n = compute();
    println!("rate limit");
    println!(
        "  provider limit             {PROVIDER_LIMIT_PER_S:>8.0} calls/s"
    );
    println!(
        "  our peak, cache in front   {:>8.0} calls/s",
        n.demand_per_s
    );
    println!(
        "  share of the limit         {:>8.0} %",
        n.utilisation * 100.0
    );
    println!(
        "  our peak without the cache {:>8.0} calls/s",
        n.uncached_demand_per_s
    );
    println!("retry amplification, provider down");
    let (a, l) = (ATTEMPTS_PER_LAYER, LAYERS);
    let stacked = n.stacked_amplification;
    println!("  {a} attempts x {l} layers       {stacked:>8} calls per action");
    println!(
        "  one layer, 10% budget      {:>8.1} x the calls",
        n.budget_amplification
    );
    println!("timeout budget (ms)");
    println!(
        "  user deadline - own work   {:>8}",
        USER_DEADLINE_MS - OWN_WORK_MS
    );
    println!(
        "  {MAX_ATTEMPTS} x {ATTEMPT_TIMEOUT_MS} + backoff waits    {:>8}",
        n.worst_case_ms
    );
    println!("  spare                      {:>8}", n.spare_ms);
    println!("bulkhead (Little's law, calls in flight)");
    println!(
        "  healthy, p99 {P99_S} s          {:>8.0}",
        n.in_flight_healthy
    );
    println!("  every attempt timing out   {:>8.0}", n.in_flight_slow);
}

#[cfg(test)]
mod tests;
