//! The practice command reports failure for a stub and success for the
//! reference solution, for every problem that has a stub.

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
            practice::run_tests(&python, problem, &problem.stub).unwrap();
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
        let reference =
            problem.stub.with_file_name(format!("{}.py", problem.name));
        let solved = practice::run_tests(&python, problem, &reference).unwrap();
        assert!(
            solved.passed,
            "{}: the reference fails:\n{}",
            problem.name, solved.report
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
