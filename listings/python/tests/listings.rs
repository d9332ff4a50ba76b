//! The listings of Section 1 (advanced Python), one package alone.
//!
//! `cargo test` at the workspace root checks every package's listings at
//! once, side by side, in xtask's guide-wide test
//! (`xtask/tests/guide/listings.rs`): each captured output in `output/` is
//! what its listing prints. The ignored
//! tests below run the same checks for this package alone:
//!
//! ```text
//! cargo test -p python --test listings -- --ignored
//! ```
//!
//! (`cargo xtask outputs` runs them with `UPDATE_OUTPUTS=1`.) This file
//! also makes `cargo test` build the package's programs, which the
//! guide-wide test runs.
//!
//! Python listings run under every CPython 3.11+ found: the version is
//! the subject.

use std::path::Path;

use support::python::Pythons;

fn package() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_captured_output_belongs_to_a_listing() {
    let orphans = support::outputs::orphans(package());
    assert!(
        orphans.is_empty(),
        "output files with no listing: {orphans:?}"
    );
}

#[test]
#[ignore = "run guide-wide by xtask's tests; alone: -- --ignored"]
fn captured_outputs_match_the_programs() {
    support::outputs::check_under(package(), Pythons::Each);
}
