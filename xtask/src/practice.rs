//! `cargo xtask practice <problem>`: solve a coding problem yourself and
//! run the chapter's own tests against your code.
//!
//! The first run copies the problem's stub (`listings/problems/py/
//! <name>_stub.py`: the signatures and docstrings, no solution) to
//! `practice/<name>.py`, which is yours to edit (the folder is not
//! committed). Every run then runs the reference tests
//! (`test_<name>.py`) against that file, through pytest's `PRACTICE_FILE`
//! hook (`listings/problems/py/conftest.py`), and lists which cases fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo_root;

/// A coding problem that can be practised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `lru_cache`
    pub name: String,
    pub tests: PathBuf,
    pub stub: PathBuf,
}

fn problems_py() -> PathBuf {
    repo_root().join("listings").join("problems").join("py")
}

/// Every problem with a stub and tests, by name.
pub fn problems() -> Vec<Problem> {
    let dir = problems_py();
    let mut found: Vec<Problem> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter_map(|path| {
                    let file = path.file_name()?.to_str()?;
                    let name = file.strip_suffix("_stub.py")?.to_string();
                    let tests = dir.join(format!("test_{name}.py"));
                    tests.is_file().then(|| Problem {
                        name,
                        tests,
                        stub: path.clone(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The problem a reader names: `lru-cache`, `lru_cache` or `4.2`.
pub fn find(name: &str) -> Result<Problem, String> {
    let all = problems();
    let wanted = name.replace('-', "_");
    let by_number = chapter_number_map();
    let chosen = all.iter().find(|p| {
        p.name == wanted
            || by_number
                .iter()
                .any(|(n, slug)| n == name && *slug == p.name)
    });
    chosen.cloned().ok_or_else(|| {
        let names: Vec<String> =
            all.iter().map(|p| p.name.replace('_', "-")).collect();
        format!(
            "no practice problem `{name}`; choose one of: {}",
            names.join(", ")
        )
    })
}

/// (`4.2`, `lru_cache`) for each chapter in src/problems/.
fn chapter_number_map() -> Vec<(String, String)> {
    let dir = repo_root().join("src").join("problems");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let number = text
                .strip_prefix("# ")?
                .split_whitespace()
                .next()?
                .to_string();
            let slug = path.file_stem()?.to_str()?.replace('-', "_");
            Some((number, slug))
        })
        .collect()
}

/// What a run of the tests found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// pytest's report, for the reader.
    pub report: String,
}

/// Runs the reference tests of `problem` against `file` with `python`;
/// `fail_fast` stops at the first failing case (`pytest -x`).
pub fn run_tests(
    python: &Path,
    problem: &Problem,
    file: &Path,
    fail_fast: bool,
) -> Result<Outcome, String> {
    let out = Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--tb=line",
            "-rf",
        ])
        .args(fail_fast.then_some("-x"))
        .arg(&problem.tests)
        .current_dir(problems_py())
        .env("PRACTICE_FILE", file)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| format!("cannot run pytest: {e}"))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => Ok(Outcome {
            passed: true,
            report,
        }),
        Some(1) => Ok(Outcome {
            passed: false,
            report,
        }),
        // 2: interrupted or a usage error; 3-5: pytest itself failed.
        _ => Err(format!("pytest could not run the tests:\n{report}")),
    }
}

/// The reader's file for `problem`, made from the stub when missing (or
/// when `reset`).
pub fn scratch_file(
    problem: &Problem,
    reset: bool,
) -> Result<(PathBuf, bool), String> {
    let dir = repo_root().join("practice");
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join(format!("{}.py", problem.name));
    if file.is_file() && !reset {
        return Ok((file, false));
    }
    std::fs::copy(&problem.stub, &file).map_err(|e| {
        format!("cannot copy the stub to {}: {e}", file.display())
    })?;
    Ok((file, true))
}
