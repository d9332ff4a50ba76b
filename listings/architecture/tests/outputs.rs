//! Every captured output in `output/` is what its listing really prints
//! (see `support::outputs`; `cargo xtask outputs` regenerates them). The
//! Python scripts run under the primary CPython only: what they show is the
//! server and the pinned library, not the Python version.

use std::path::Path;

use support::python::Pythons;

#[test]
fn captured_outputs_match_the_programs() {
    support::outputs::check_under(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        Pythons::Primary,
    );
}

#[test]
fn every_captured_output_belongs_to_a_listing() {
    let orphans =
        support::outputs::orphans(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        orphans.is_empty(),
        "output files with no listing: {orphans:?}"
    );
}
