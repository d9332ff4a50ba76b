//! 3.10's back-of-the-envelope numbers for a large publisher's CMS: what
//! keeping every revision costs, how lopsided reads and writes are, how
//! much of the traffic a cache must absorb, and how many sitemap files
//! the live pages need. Every input is an assumption stated here; the
//! program only does the arithmetic.
//! Run: `cargo run --bin cms_numbers`.

// ANCHOR: inputs
/// Pages in the CMS, and the share of them that is live.
const PAGES: f64 = 2_000_000.0;
const LIVE_SHARE: f64 = 0.75;
/// Mean stored body of one revision (text and markup, no media), bytes.
const BODY_BYTES: f64 = 30_000.0;
/// Saves that create a revision, per day, and the years we keep them.
const REVISIONS_PER_DAY: f64 = 40_000.0;
const YEARS: f64 = 5.0;
/// Assumed compression of text (PostgreSQL compresses large values).
const COMPRESSION: f64 = 3.0;
/// Mean size of one edit stored as a delta instead of a copy, bytes.
const DELTA_BYTES: f64 = 1_000.0;
/// Page views per day, and the peak hour's rate over the day's mean.
const VIEWS_PER_DAY: f64 = 100_000_000.0;
const PEAK_FACTOR: f64 = 4.0;
/// Page renders per second the origin (app and database) can serve.
const ORIGIN_RPS: f64 = 500.0;
/// One `<url>` element with `<loc>` and `<lastmod>`, bytes.
const SITEMAP_ENTRY_BYTES: f64 = 120.0;
/// The sitemaps.org limits per file.
const SITEMAP_MAX_URLS: f64 = 50_000.0;
const SITEMAP_MAX_BYTES: f64 = 52_428_800.0;
// ANCHOR_END: inputs

const GB: f64 = 1e9;
const DAY_S: f64 = 86_400.0;

#[derive(Debug, PartialEq)]
pub struct Numbers {
    pub revisions: f64,
    pub full_copies_gb: f64,
    pub compressed_gb: f64,
    pub deltas_gb: f64,
    pub writes_per_s_peak: f64,
    pub reads_per_s_peak: f64,
    pub read_write_ratio: f64,
    pub hit_ratio_needed: f64,
    pub sitemap_files: f64,
    pub sitemap_file_mb: f64,
    pub entry_bytes_where_size_binds: f64,
}

// ANCHOR: compute
pub fn compute() -> Numbers {
    let edits = REVISIONS_PER_DAY * 365.0 * YEARS;
    let revisions = PAGES + edits; // each page's first revision, then edits
    let full = revisions * BODY_BYTES;
    let reads_peak = VIEWS_PER_DAY / DAY_S * PEAK_FACTOR;
    let live = PAGES * LIVE_SHARE;
    Numbers {
        revisions,
        full_copies_gb: full / GB,
        compressed_gb: full / COMPRESSION / GB,
        // A full first revision per page, then a delta per edit.
        deltas_gb: (PAGES * BODY_BYTES + edits * DELTA_BYTES) / GB,
        writes_per_s_peak: REVISIONS_PER_DAY / DAY_S * PEAK_FACTOR,
        reads_per_s_peak: reads_peak,
        read_write_ratio: VIEWS_PER_DAY / REVISIONS_PER_DAY,
        // What the cache must answer so the origin sees at most its rate.
        hit_ratio_needed: (1.0 - ORIGIN_RPS / reads_peak).max(0.0),
        sitemap_files: (live / SITEMAP_MAX_URLS).ceil(),
        sitemap_file_mb: SITEMAP_MAX_URLS * SITEMAP_ENTRY_BYTES / 1e6,
        entry_bytes_where_size_binds: SITEMAP_MAX_BYTES / SITEMAP_MAX_URLS,
    }
}
// ANCHOR_END: compute

// ANCHOR: main
fn main() {
    let n = compute();
    println!("revisions kept for {YEARS} years");
    println!("  revisions              {:>12.0}", n.revisions);
    println!("  as full copies         {:>12.0} GB", n.full_copies_gb);
    println!(
        "  compressed {COMPRESSION}x         {:>12.0} GB",
        n.compressed_gb
    );
    println!("  as deltas              {:>12.0} GB", n.deltas_gb);
    println!("traffic");
    println!("  writes/s at peak       {:>12.1}", n.writes_per_s_peak);
    println!("  reads/s at peak        {:>12.0}", n.reads_per_s_peak);
    println!("  reads per write        {:>12.0}", n.read_write_ratio);
    println!(
        "  cache hit ratio needed {:>12.1} % (origin {ORIGIN_RPS} renders/s)",
        n.hit_ratio_needed * 100.0
    );
    println!("sitemap");
    println!(
        "  files for live pages   {:>12.0} (+ 1 index)",
        n.sitemap_files
    );
    println!("  MB per full file       {:>12.1}", n.sitemap_file_mb);
    println!(
        "  size binds first above {:>12.0} bytes per entry",
        n.entry_bytes_where_size_binds
    );
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
