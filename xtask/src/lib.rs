//! The guide's tooling, as a library so that `cargo test` runs the same
//! checks as `cargo xtask check`.

pub mod assets;
pub mod checks;
pub mod flashcards;
pub mod practice;
pub mod shape;
pub mod tools;

use std::path::PathBuf;

/// The repository root (the folder above `xtask/`).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
