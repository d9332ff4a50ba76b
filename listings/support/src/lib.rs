//! Plumbing shared by the listings, kept out of the chapters.
//!
//! What a chapter teaches lives in its listing; this crate holds only what
//! every listing would otherwise repeat: finding a server or saying why it
//! was skipped, unique names for scratch objects, a loopback listener, the
//! project's Python environments, and the check that every captured output
//! is the program's real output. It depends on nothing but std unless a
//! feature asks for a server's client (`postgres`, `redis`).

pub mod amqp;
pub mod jobs;
pub mod loopback;
pub mod outputs;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod python;
#[cfg(feature = "redis")]
pub mod redis;
pub mod skip;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The repository root (two folders above this crate).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

/// A name no other process or test of this run uses, for scratch tables,
/// schemas, keys and queues: `prefix_<pid>_<time>_<n>`, lower case, a valid
/// SQL identifier when `prefix` is one.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() % 1_000_000_000);
    format!("{prefix}_{}_{micros}_{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_identifiers() {
        let a = unique_name("t");
        let b = unique_name("t");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }

    #[test]
    fn repo_root_holds_the_workspace() {
        assert!(repo_root().join("book.toml").is_file());
    }
}
