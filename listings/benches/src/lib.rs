//! The benchmarks are in `benches/`; each includes the listing it measures.
