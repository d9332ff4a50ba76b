//! The Python listings pass the linters, and the prose passes the spell
//! check, with the tools pinned in `listings/requirements.txt` (installed
//! into the project's environment by `cargo test` itself).
//!
//! Without that environment (offline, or no CPython 3.11+), each test says
//! that it skipped and why; under `REQUIRE_SERVICES=1` that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::repo_root;

/// The folders that hold Python listings: `listings/<package>/py`.
fn python_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = xtask::checks::listing_packages(&repo_root())
        .into_iter()
        .map(|p| p.join("py"))
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn tool(test: &str, name: &str) -> Option<PathBuf> {
    support::skip::in_test(test, name, support::python::tool(name))
}

fn run(test: &str, command: &mut Command) {
    let out = command
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("{test}: cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{test}: {command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn python_listings_pass_ruff_check_and_format() {
    let test = "ruff";
    let Some(ruff) = tool(test, "ruff") else {
        return;
    };
    let dirs: Vec<String> = python_dirs().iter().map(|d| rel(d)).collect();
    assert!(!dirs.is_empty(), "no listings/*/py folder");
    run(test, Command::new(&ruff).arg("check").args(&dirs));
    run(
        test,
        Command::new(&ruff).args(["format", "--check"]).args(&dirs),
    );
}

#[test]
fn python_listings_pass_mypy_strict() {
    let test = "mypy --strict";
    let Some(mypy) = tool(test, "mypy") else {
        return;
    };
    // One mypy per folder (folders may hold modules of the same name), side
    // by side, each with a cache of its own.
    std::thread::scope(|scope| {
        for dir in python_dirs() {
            let mypy = &mypy;
            scope.spawn(move || {
                let name = dir
                    .parent()
                    .and_then(Path::file_name)
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                run(
                    test,
                    Command::new(mypy)
                        .args(["--strict", "--config-file"])
                        .arg("listings/pyproject.toml")
                        .arg("--cache-dir")
                        .arg(format!("target/mypy-cache/{name}"))
                        .arg(rel(&dir)),
                );
            });
        }
    });
}

#[test]
fn prose_and_code_pass_the_spell_check() {
    let test = "typos";
    let Some(typos) = tool(test, "typos") else {
        return;
    };
    run(test, Command::new(&typos).args(["--format", "brief"]));
}
