//! The listings as a whole, in one test binary so that libtest runs the
//! checks side by side: every captured output in `output/` is what its
//! listing really prints (see `support::outputs`; `cargo xtask outputs`
//! regenerates them), and the Python tests (`py/test_*.py`: FastAPI,
//! SQLAlchemy, Django, Alembic and redis-py against the real servers) pass.
//! Python runs under the primary CPython only (`support::python::Pythons`):
//! what it shows is the server and the pinned library, not the Python
//! version.

use std::path::Path;

use support::python::Pythons;

fn package() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn captured_outputs_match_the_programs() {
    support::outputs::check_under(package(), Pythons::Primary);
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
fn python_listings_pass_their_tests() {
    support::python::pytest(package());
}
