use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn the_arithmetic() {
    let n = compute();
    // 2,000,000 first revisions + 40,000 x 365 x 5 = 73,000,000 edits.
    assert_eq!(n.revisions, 75_000_000.0);
    assert!(close(n.full_copies_gb, 2_250.0));
    assert!(close(n.compressed_gb, 750.0));
    // 2e6 x 30 kB + 73e6 x 1 kB = 60 GB + 73 GB.
    assert!(close(n.deltas_gb, 133.0));
    assert!(close(n.read_write_ratio, 2_500.0));
    // 1e8 / 86,400 x 4 = 4,629.6 reads/s; 1 - 500 / 4,629.6.
    assert!(close(n.reads_per_s_peak, 4_629.629_629_6));
    assert!(close(n.hit_ratio_needed, 1.0 - 500.0 / 4_629.629_629_6));
    // 1,500,000 live pages / 50,000 = 30 files.
    assert_eq!(n.sitemap_files, 30.0);
    assert!(close(n.sitemap_file_mb, 6.0));
    assert!(close(n.entry_bytes_where_size_binds, 1_048.576));
}

#[test]
fn what_the_design_relies_on() {
    let n = compute();
    // Reads dominate by three orders of magnitude: cache reads, keep
    // writes simple and transactional.
    assert!(n.read_write_ratio > 1_000.0);
    // Writes are a few per second: one PostgreSQL primary is plenty.
    assert!(n.writes_per_s_peak < 10.0);
    // With 120-byte entries, the URL count limit binds, not the size.
    assert!(SITEMAP_ENTRY_BYTES < n.entry_bytes_where_size_binds);
}
