//! `cargo xtask practice <problem>`: solve a coding problem yourself and
//! run the chapter's own tests against your code.
//!
//! The first run copies the problem's stub (`listings/problems/py/
//! <name>_stub.py`: the signatures and docstrings, no solution) to
//! `practice/<name>.py`, which is yours to edit (the folder is not
//! committed). Every run then runs the reference tests
//! (`test_<name>.py`) against that file, through pytest's `PRACTICE_FILE`
//! hook (`listings/problems/py/conftest.py`), and lists which cases fail.

use std::collections::BTreeMap;
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
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env(
            "PYTHONPYCACHEPREFIX",
            support::python::bytecode_cache(python),
        )
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

// The Rust path: `cargo xtask practice <problem> --rust`.
//
// The stubs are `listings/problems/practice/<bin>.rs`: the chapter's
// `main.rs` with `todo!` in place of the solution. The reader's copy lives in
// a scratch package, `practice/rust/`, outside the repository's workspace
// (its manifest has its own `[workspace]`), with one binary per problem; the
// chapter's `tests.rs` is copied beside it before every run, so the tests are
// always the chapter's own.

/// Problems whose Rust program has a name other than the Python stub's.
const RUST_BINS: &[(&str, &str)] =
    &[("database_deadlock", "database_deadlock_mutexes")];

/// The name of `problem`'s Rust program (`listings/problems/src/bin/<bin>`).
pub fn rust_bin(problem: &Problem) -> String {
    RUST_BINS
        .iter()
        .find(|(name, _)| *name == problem.name)
        .map_or_else(|| problem.name.clone(), |(_, bin)| bin.to_string())
}

fn problems_dir() -> PathBuf {
    repo_root().join("listings").join("problems")
}

/// Which functions of each program a Rust stub leaves to the reader, with
/// a hint each: `listings/problems/practice.toml`.
fn todo_table() -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let path = problems_dir().join("practice.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `problem`'s Rust stub: the chapter's program with the body of each
/// function that `practice.toml` lists replaced by `todo!("<hint>")`.
/// Made from the program every time, so it never drifts from the tests.
pub fn rust_stub(problem: &Problem) -> Result<String, String> {
    let bin = rust_bin(problem);
    let todos = todo_table()?.remove(&bin).ok_or_else(|| {
        format!("listings/problems/practice.toml has no [{bin}]")
    })?;
    let (main, _) = rust_reference(problem);
    let source = std::fs::read_to_string(&main)
        .map_err(|e| format!("cannot read {}: {e}", main.display()))?;
    let slug = problem.name.replace('_', "-");
    stub_from(&source, &todos, &slug)
}

/// The stub text: the program without its ANCHOR lines, a note on what to
/// do at the top, and each listed function's body made a `todo!`.
pub fn stub_from(
    source: &str,
    todos: &BTreeMap<String, String>,
    slug: &str,
) -> Result<String, String> {
    let mut text: String = source
        .lines()
        .filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (key, hint) in todos {
        let (body_start, body_end) = function_body(&text, key)?;
        let indent = line_indent(&text, body_start);
        let todo = format!("\n{indent}    todo!({hint:?})\n{indent}");
        text.replace_range(body_start + 1..body_end, &todo);
    }
    let header = format!(
        "//! Practice: the body of each function that ends in `todo!` is\n\
         //! yours to write (its message is a hint); the rest is the\n\
         //! chapter's program. Run the chapter's tests against it with\n\
         //!\n\
         //!     cargo xtask practice {slug} --rust\n\
         //!\n\
         //! (`--reset` starts again from the stub).\n\
         //!\n"
    );
    // Inner attributes go after the inner doc comments, before any item.
    let docs_end = text
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    text.insert_str(
        docs_end,
        "\n// Until every `todo!` is written, some items go unused.\n\
         #![allow(unused)]\n",
    );
    Ok(format!("{header}{text}"))
}

fn line_indent(text: &str, at: usize) -> String {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ')
        .collect()
}

/// Byte offsets of the `{` and the matching `}` of function `key` (`name`,
/// or `Type::name` for a method of the `impl` whose line names `Type`).
fn function_body(text: &str, key: &str) -> Result<(usize, usize), String> {
    let (owner, name) = match key.split_once("::") {
        Some((owner, name)) => (Some(owner), name),
        None => (None, key),
    };
    let starts: Vec<usize> = text
        .match_indices(&format!("fn {name}"))
        .map(|(i, _)| i)
        .filter(|&i| {
            let next = text[i + 3 + name.len()..].chars().next();
            matches!(next, Some('(' | '<'))
        })
        .filter(|&i| {
            owner.is_none_or(|owner| {
                let impl_line = text[..i]
                    .rmatch_indices("\nimpl")
                    .next()
                    .map(|(at, _)| &text[at + 1..])
                    .and_then(|rest| rest.lines().next());
                impl_line.is_some_and(|line| {
                    line.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .any(|word| word == owner)
                })
            })
        })
        .collect();
    let [start] = starts.as_slice() else {
        return Err(format!(
            "practice.toml: `{key}` names {} functions, not one",
            starts.len()
        ));
    };
    let open = text[*start..]
        .find('{')
        .map(|i| start + i)
        .ok_or(format!("`{key}` has no body"))?;
    let close = matching_brace(text, open)
        .ok_or(format!("`{key}`: no closing brace"))?;
    Ok((open, close))
}

/// The `}` that closes the `{` at `open`, skipping braces in strings,
/// character literals and comments.
fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A character literal ('{', '\'', '\n'); a lifetime has no
            // closing quote within three bytes.
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The chapter's Rust program (the reference solution) and its tests.
pub fn rust_reference(problem: &Problem) -> (PathBuf, PathBuf) {
    let dir = problems_dir()
        .join("src")
        .join("bin")
        .join(rust_bin(problem));
    (dir.join("main.rs"), dir.join("tests.rs"))
}

/// Every problem with a Rust stub (listed in practice.toml).
pub fn rust_problems() -> Vec<Problem> {
    let table = todo_table().unwrap_or_default();
    problems()
        .into_iter()
        .filter(|p| table.contains_key(&rust_bin(p)))
        .collect()
}

/// The reader's scratch package, `practice/rust/`.
pub fn rust_package() -> PathBuf {
    repo_root().join("practice").join("rust")
}

/// Creates the scratch package at `dir` unless it exists: a manifest with
/// its own `[workspace]` and the `proptest` line of the problems package, and
/// the repository's `Cargo.lock`, so that the tests build against the same
/// versions.
pub fn ensure_rust_package(dir: &Path) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        return Ok(());
    }
    let problems_manifest = problems_dir().join("Cargo.toml");
    let text = std::fs::read_to_string(&problems_manifest).map_err(|e| {
        format!("cannot read {}: {e}", problems_manifest.display())
    })?;
    let proptest = text
        .lines()
        .find(|line| line.starts_with("proptest ="))
        .ok_or_else(|| {
            format!("no proptest line in {}", problems_manifest.display())
        })?;
    std::fs::create_dir_all(dir.join("src").join("bin"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock = repo_root().join("Cargo.lock");
    std::fs::copy(&lock, dir.join("Cargo.lock"))
        .map_err(|e| format!("cannot copy {}: {e}", lock.display()))?;
    let contents = format!(
        "# Written by `cargo xtask practice <problem> --rust`: your solutions,\n\
         # one binary per problem in src/bin/<name>/main.rs.\n\
         [package]\n\
         name = \"practice\"\n\
         version = \"0.1.0\"\n\
         edition = \"2024\"\n\
         publish = false\n\
         \n\
         # Not a member of the guide's workspace.\n\
         [workspace]\n\
         \n\
         [dev-dependencies]\n\
         {proptest}\n"
    );
    std::fs::write(&manifest, contents)
        .map_err(|e| format!("cannot write {}: {e}", manifest.display()))
}

/// Writes `source` into `package` as `problem`'s program, unless one is
/// there and `overwrite` is false; then copies the chapter's `tests.rs`
/// beside it (always). Returns the program's path and whether it was written.
pub fn install_rust_file(
    package: &Path,
    problem: &Problem,
    source: &str,
    overwrite: bool,
) -> Result<(PathBuf, bool), String> {
    let dir = package.join("src").join("bin").join(rust_bin(problem));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let main = dir.join("main.rs");
    let write = overwrite || !main.is_file();
    if write {
        std::fs::write(&main, source)
            .map_err(|e| format!("cannot write {}: {e}", main.display()))?;
    }
    let (_, tests) = rust_reference(problem);
    std::fs::copy(&tests, dir.join("tests.rs"))
        .map_err(|e| format!("cannot copy {}: {e}", tests.display()))?;
    Ok((main, write))
}

/// The reader's Rust file for `problem` in `practice/rust/`, made from the
/// stub when missing (or when `reset`), with the chapter's tests beside it.
pub fn rust_scratch_file(
    problem: &Problem,
    reset: bool,
) -> Result<(PathBuf, bool), String> {
    let stub = rust_stub(problem)?;
    let package = rust_package();
    ensure_rust_package(&package)?;
    install_rust_file(&package, problem, &stub, reset)
}

/// Runs `cargo test` on `problem`'s program in `package`, building into
/// `target/practice/`. A program that does not compile is a failure whose
/// report holds the compiler's errors (and no `test result:` line).
pub fn run_rust_tests(
    package: &Path,
    problem: &Problem,
) -> Result<Outcome, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg("test")
        .arg("--manifest-path")
        .arg(package.join("Cargo.toml"))
        .args(["--bin", &rust_bin(problem)])
        .env(
            "CARGO_TARGET_DIR",
            repo_root().join("target").join("practice"),
        )
        .env("CARGO_TERM_COLOR", "never")
        // The panic messages say what failed; backtraces would bury them.
        .env("RUST_BACKTRACE", "0")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    match out.status.code() {
        Some(0) => Ok(Outcome {
            passed: true,
            report,
        }),
        // 101: a test failed, or the program does not compile.
        Some(101) => Ok(Outcome {
            passed: false,
            report,
        }),
        _ => Err(format!("cargo test could not run:\n{report}")),
    }
}
