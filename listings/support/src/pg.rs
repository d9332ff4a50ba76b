//! Reaching PostgreSQL: `DATABASE_URL`, or the standard local default.

use std::time::Duration;

use postgres::{Client, NoTls};

/// The default when `DATABASE_URL` is not set: the local server, trust auth.
pub const DEFAULT_URL: &str = "postgresql://postgres@127.0.0.1:5432/test";

/// The server address: `DATABASE_URL`, or [`DEFAULT_URL`].
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// Connects with a short timeout, so an absent server is reported quickly.
pub fn connect(url: &str) -> Result<Client, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    config.connect(NoTls)
}

/// For a listing's `main`: a connection, or exit code 77 saying why.
pub fn connect_or_exit(program: &str) -> Client {
    connect(&database_url()).unwrap_or_else(|e| {
        crate::skip::exit_unavailable(
            program,
            "PostgreSQL (set DATABASE_URL)",
            e,
        )
    })
}

/// For a test: a connection, or `None` after reporting the skip (a panic
/// under `REQUIRE_SERVICES=1`).
pub fn connect_in_test(test: &str) -> Option<Client> {
    crate::skip::in_test(test, "PostgreSQL", connect(&database_url()))
}
