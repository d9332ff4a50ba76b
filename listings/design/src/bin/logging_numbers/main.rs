//! 3.7's back-of-the-envelope numbers for the logs of a fleet of
//! services: lines and bytes per day, the ingest rate at peak, what 30
//! days cost in the searchable store and a year in cold storage, and
//! how much a collector's buffer holds while its sink is down. Every
//! input is an assumption stated here; the program does the arithmetic.
//! Run: `cargo run --bin logging_numbers`.

// ANCHOR: inputs
/// Requests per second at the edge, on average, and the peak factor.
const REQUESTS_PER_S: f64 = 2_000.0;
const PEAK_FACTOR: f64 = 3.0;
/// Log lines per request, summed over every service it touches
/// (INFO and above; DEBUG is off in production).
const LINES_PER_REQUEST: f64 = 12.0;
/// One JSON line: timestamp, level, service, trace and span ids,
/// message and a few fields.
const BYTES_PER_LINE: f64 = 400.0;
/// Indexes (trace id, full text) and row overhead in the searchable
/// store, as a multiple of the raw bytes.
const STORE_OVERHEAD: f64 = 2.0;
/// Days kept searchable (hot), and days kept in cold object storage,
/// compressed by this ratio.
const HOT_DAYS: f64 = 30.0;
const COLD_DAYS: f64 = 365.0;
const COLD_COMPRESSION: f64 = 10.0;
/// Nodes that run a collector agent, and how long a sink outage each
/// agent's buffer should ride out before it drops.
const NODES: f64 = 50.0;
const OUTAGE_S: f64 = 60.0;
/// Lines per INSERT batch from a sink.
const BATCH: f64 = 500.0;
// ANCHOR_END: inputs

const GB: f64 = 1e9;
const SECONDS_PER_DAY: f64 = 86_400.0;

#[derive(Debug, PartialEq)]
pub struct Numbers {
    pub lines_per_day: f64,
    pub raw_gb_per_day: f64,
    pub peak_lines_per_s: f64,
    pub peak_mb_per_s: f64,
    pub stored_gb_per_day: f64,
    pub hot_tb: f64,
    pub cold_tb: f64,
    pub buffer_lines_per_node: f64,
    pub buffer_mb_per_node: f64,
    pub peak_inserts_per_s: f64,
}

// ANCHOR: compute
pub fn compute() -> Numbers {
    let lines_per_s = REQUESTS_PER_S * LINES_PER_REQUEST;
    let lines_per_day = lines_per_s * SECONDS_PER_DAY;
    let raw_gb_per_day = lines_per_day * BYTES_PER_LINE / GB;
    let peak_lines_per_s = lines_per_s * PEAK_FACTOR;
    let stored_gb_per_day = raw_gb_per_day * STORE_OVERHEAD;
    // A buffer sized for the peak: an outage at the worst time.
    let buffer_lines_per_node = peak_lines_per_s / NODES * OUTAGE_S;
    Numbers {
        lines_per_day,
        raw_gb_per_day,
        peak_lines_per_s,
        peak_mb_per_s: peak_lines_per_s * BYTES_PER_LINE / 1e6,
        stored_gb_per_day,
        hot_tb: stored_gb_per_day * HOT_DAYS / 1_000.0,
        cold_tb: raw_gb_per_day / COLD_COMPRESSION * COLD_DAYS / 1_000.0,
        buffer_lines_per_node,
        buffer_mb_per_node: buffer_lines_per_node * BYTES_PER_LINE / 1e6,
        peak_inserts_per_s: peak_lines_per_s / BATCH,
    }
}
// ANCHOR_END: compute

fn main() {
    let n = compute();
    println!("volume");
    println!("  lines per day              {:>10.0}", n.lines_per_day);
    println!("  raw GB per day             {:>10.1}", n.raw_gb_per_day);
    println!("ingest at peak");
    println!("  lines per second           {:>10.0}", n.peak_lines_per_s);
    println!("  MB per second              {:>10.1}", n.peak_mb_per_s);
    println!(
        "  INSERT batches per second  {:>10.0}",
        n.peak_inserts_per_s
    );
    println!("storage");
    println!("  searchable GB per day      {:>10.1}", n.stored_gb_per_day);
    println!("  searchable TB, {HOT_DAYS} days    {:>10.1}", n.hot_tb);
    println!("  cold TB, {COLD_DAYS} days         {:>10.1}", n.cold_tb);
    println!("collector buffer per node, {OUTAGE_S} s outage at peak");
    println!(
        "  lines                      {:>10.0}",
        n.buffer_lines_per_node
    );
    println!(
        "  MB                         {:>10.1}",
        n.buffer_mb_per_node
    );
}

#[cfg(test)]
mod tests;
