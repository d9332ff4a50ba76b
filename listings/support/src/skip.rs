//! Saying that a server (or tool) is missing: a skip on a developer's
//! machine, a failure where `REQUIRE_SERVICES=1` (as in CI).

use std::fmt::Display;

/// The exit code a listing uses for "what I need is not there": the outputs
/// check reports it as a skip, or as a failure under `REQUIRE_SERVICES=1`.
pub const EXIT_SKIP: i32 = 77;

/// Whether a missing server must fail the run (`REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    std::env::var("REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Ends a listing's `main` because `what` is unavailable, saying why.
pub fn exit_unavailable(program: &str, what: &str, why: impl Display) -> ! {
    eprintln!("{program}: {what} is unavailable: {why}");
    std::process::exit(EXIT_SKIP)
}

/// In a test: `None` after printing `skipped: ...`, or a panic when
/// services are required.
pub fn in_test<T, E: Display>(
    test: &str,
    what: &str,
    result: Result<T, E>,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) if services_required() => {
            panic!("{test}: {what} is unavailable (REQUIRE_SERVICES=1): {e}")
        }
        Err(e) => {
            println!("skipped: {test}: {what} is unavailable: {e}");
            None
        }
    }
}
