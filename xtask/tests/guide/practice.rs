//! The practice command reports failure for a stub and success for the
//! reference solution.
//!
//! Every problem's stub must fail its tests (stopping at the first failing
//! case, which is all this needs to prove). The reference solutions pass
//! their tests in the guide-wide listings check (`listings.rs`); here two of them go
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

/// Every Rust stub compiles with the chapter's `tests.rs` and fails it, and
/// the chapter's `main.rs` passes it, through the functions behind
/// `cargo xtask practice <problem> --rust`.
#[test]
#[ignore = "compiles every stub; run by CI: cargo test -p xtask --test guide -- --ignored practice::"]
fn rust_stubs_fail_and_reference_solutions_pass() {
    let problems = practice::rust_problems();
    assert!(
        problems.len() >= 9,
        "expected a Rust stub per problem, found {problems:?}"
    );
    let scratch = Scratch(
        std::env::temp_dir()
            .join(format!("xtask-practice-rust-{}", std::process::id())),
    );
    let package = &scratch.0;
    practice::ensure_rust_package(package).unwrap();
    for problem in &problems {
        let stub = practice::rust_stub(problem).unwrap();
        practice::install_rust_file(package, problem, &stub, true).unwrap();
        let outcome = practice::run_rust_tests(package, problem).unwrap();
        assert!(
            !outcome.passed,
            "{}: the stub passes its tests:\n{}",
            problem.name, outcome.report
        );
        assert!(
            outcome.report.contains("test result: FAILED"),
            "{}: the stub does not compile with its tests:\n{}",
            problem.name,
            outcome.report
        );
        let (reference, _) = practice::rust_reference(problem);
        let reference = std::fs::read_to_string(reference).unwrap();
        practice::install_rust_file(package, problem, &reference, true)
            .unwrap();
        let outcome = practice::run_rust_tests(package, problem).unwrap();
        assert!(
            outcome.passed,
            "{}: the reference fails:\n{}",
            problem.name, outcome.report
        );
    }
}

/// A scratch directory, removed however the test ends.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every problem has a Rust stub: practice.toml names functions that exist,
/// once each, and each becomes a `todo!`.
#[test]
fn every_problem_has_a_rust_stub() {
    for problem in practice::problems() {
        let stub = practice::rust_stub(&problem)
            .unwrap_or_else(|e| panic!("{}: {e}", problem.name));
        assert!(stub.contains("todo!("), "{}", problem.name);
        assert!(stub.contains("#![allow(unused)]"), "{}", problem.name);
        assert!(!stub.contains("ANCHOR"), "{}", problem.name);
    }
}

#[test]
fn stubs_replace_bodies_and_keep_the_rest() {
    let source = "//! Doc.\n\nfn keep() -> &'static str {\n    \"{\"\n}\n\n\
                  impl A {\n    fn go(&self) -> char {\n        '}'\n    }\n}\n\n\
                  impl B {\n    fn go(&self) {\n        // }\n    }\n}\n";
    let todos = [("A::go".to_string(), "write it".to_string())].into();
    let stub = practice::stub_from(source, &todos, "demo").unwrap();
    assert!(stub.contains("fn keep() -> &'static str {\n    \"{\"\n}"));
    assert!(stub.contains(
        "fn go(&self) -> char {\n        todo!(\"write it\")\n    }"
    ));
    assert!(stub.contains("fn go(&self) {\n        // }\n    }"));
    let ambiguous = [("go".to_string(), "x".to_string())].into();
    let err = practice::stub_from(source, &ambiguous, "demo").unwrap_err();
    assert!(err.contains("names 2 functions"), "{err}");
}
