//! Every captured output in `output/` is what its listing really prints
//! (see `support::outputs`; `cargo xtask outputs` regenerates them).

use std::path::Path;

#[test]
fn captured_outputs_match_the_programs() {
    support::outputs::check(Path::new(env!("CARGO_MANIFEST_DIR")));
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
