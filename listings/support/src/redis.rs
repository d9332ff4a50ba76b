//! Reaching Redis: `REDIS_URL`, or the standard local default.

use std::time::Duration;

/// The default when `REDIS_URL` is not set: the local server, database 0.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

/// The server address: `REDIS_URL`, or [`DEFAULT_URL`].
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// A client for the server, after a `PING` within a short timeout, so an
/// absent server is reported quickly.
pub fn client() -> Result<redis::Client, redis::RedisError> {
    let client = redis::Client::open(redis_url())?;
    let mut connection =
        client.get_connection_with_timeout(Duration::from_secs(3))?;
    redis::cmd("PING").query::<String>(&mut connection)?;
    Ok(client)
}

/// For a listing's `main`: a client, or exit code 77 saying why.
pub fn client_or_exit(program: &str) -> redis::Client {
    client().unwrap_or_else(|e| {
        crate::skip::exit_unavailable(program, "Redis (set REDIS_URL)", e)
    })
}

/// For a test: a client, or `None` after reporting the skip (a panic
/// under `REQUIRE_SERVICES=1`).
pub fn client_in_test(test: &str) -> Option<redis::Client> {
    crate::skip::in_test(test, "Redis", client())
}
