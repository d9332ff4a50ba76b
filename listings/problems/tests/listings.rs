//! The listings as a whole, in one test binary so that libtest runs the
//! checks side by side: every captured output in `output/` is what its
//! listing really prints, each Python solution under every CPython 3.11+
//! found (see `support::outputs`; `cargo xtask outputs` regenerates them),
//! and the Python solutions pass their tests (`py/test_*.py`: the
//! question's examples, the edge cases, and Hypothesis property tests
//! against a brute-force oracle). pytest runs under the primary CPython,
//! one process per file: the solutions use nothing that differs between
//! versions, and their outputs already run under each.

use std::path::Path;

fn package() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn captured_outputs_match_the_programs() {
    support::outputs::check(package());
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
fn python_solutions_pass_their_tests() {
    support::python::pytest(package());
}
