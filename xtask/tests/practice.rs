//! The practice command reports failure for a stub and success for the
//! reference solution.
//!
//! Every problem's stub must fail its tests (stopping at the first failing
//! case, which is all this needs to prove). The reference solutions pass
//! their tests in `listings/problems/tests/python.rs`; here two of them go
//! through the practice path (`PRACTICE_FILE`) to prove that a correct file
//! is reported as passing.

use xtask::practice;

#[test]
fn stubs_fail_and_reference_solutions_pass() {
    let Some(python) = support::skip::in_test(
        "practice",
        "the Python environment",
        support::python::primary_environment(),
    ) else {
        return;
    };
    let problems = practice::problems();
    assert!(
        problems.len() >= 10,
        "expected the ten problems, found {problems:?}"
    );
    for problem in &problems {
        let stub =
            practice::run_tests(&python, problem, &problem.stub, true).unwrap();
        assert!(
            !stub.passed,
            "{}: the stub passes its tests:\n{}",
            problem.name, stub.report
        );
        assert!(
            stub.report.contains("FAILED"),
            "{}: no failing case listed",
            problem.name
        );
    }
    for name in ["two_sum", "lru_cache"] {
        let problem = practice::find(name).unwrap();
        let reference = problem.stub.with_file_name(format!("{name}.py"));
        let solved =
            practice::run_tests(&python, &problem, &reference, false).unwrap();
        assert!(
            solved.passed,
            "{name}: the reference fails:\n{}",
            solved.report
        );
    }
}

#[test]
fn problems_are_found_by_slug_name_or_number() {
    let by_slug = practice::find("lru-cache").unwrap();
    assert_eq!(by_slug.name, "lru_cache");
    assert_eq!(practice::find("lru_cache").unwrap(), by_slug);
    assert_eq!(practice::find("4.2").unwrap(), by_slug);
    let err = practice::find("no-such-problem").unwrap_err();
    assert!(err.contains("choose one of"), "{err}");
}
