//! The Python solutions' tests (`py/test_*.py`: the question's examples,
//! the edge cases, and Hypothesis property tests against a brute-force
//! oracle), run by pytest under every CPython 3.11+ found.

#[test]
fn python_solutions_pass_their_tests() {
    support::python::pytest(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
}
