//! The Python listings' tests (`py/test_*.py`: FastAPI, SQLAlchemy, Django
//! and Alembic against the real servers), one pytest process per file under
//! the primary CPython (see `support::python::Pythons`).

#[test]
fn python_listings_pass_their_tests() {
    support::python::pytest_primary(std::path::Path::new(env!(
        "CARGO_MANIFEST_DIR"
    )));
}
