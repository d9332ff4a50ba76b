//! The Python listings' tests (`py/test_*.py`: FastAPI, SQLAlchemy, Django
//! and Alembic against the real servers), run by pytest under every CPython
//! 3.11+ found.

#[test]
fn python_listings_pass_their_tests() {
    support::python::pytest(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
}
