//! The listings of Section 3 (system design), one package alone.
//!
//! `cargo test` at the workspace root checks every package's listings at
//! once, side by side, in xtask's guide-wide test
//! (`xtask/tests/guide/listings.rs`): each captured output in `output/` is
//! what its listing prints, and the pytest files pass. The ignored tests
//! below run the same checks for this package alone:
//!
//! ```text
//! cargo test -p design --test listings -- --ignored
//! ```
//!
//! (`cargo xtask outputs` runs them with `UPDATE_OUTPUTS=1`.) This file
//! also makes `cargo test` build the package's programs, which the
//! guide-wide test runs.
//!
//! Python runs under the primary CPython only (`support::python::Pythons`):
//! what it shows is the server and the pinned library, not the Python
//! version.

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
    support::outputs::check_under(package(), Pythons::Primary);
}

#[test]
#[ignore = "run guide-wide by xtask's tests; alone: -- --ignored"]
fn python_tests_pass() {
    support::python::pytest(package());
}
