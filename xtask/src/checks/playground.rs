//! The Run button. mdBook gives every Rust block one unless it is marked
//! `noplayground`, and sends the block to the Rust Playground, which knows
//! only std (and its own crate list). So:
//!
//! - a std-only program has exactly one runnable block in the book: a
//!   `{{#rustdoc_include}}` whose hidden lines make the program whole, from
//!   a file with no test code in it (the tests live in `tests.rs` beside
//!   it), so the page carries one copy of the program and no tests;
//! - every other Rust excerpt is a plain `{{#include}}` of its anchor in a
//!   `noplayground` block, so no page carries hidden copies of a file;
//! - a program that needs more than std has no Run button, and its chapter
//!   gives the command that runs it: `cargo run --bin <name>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Book, Problem, includes_in, rel_string};

/// Whether a listing compiles with bare `rustc`, i.e. needs nothing but std,
/// which is all the Rust Playground can be relied on to have.
pub fn compiles_with_std_alone(file: &Path) -> Result<bool, String> {
    static CALLS: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_dir = std::env::temp_dir()
        .join(format!("guide-std-check-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let status = Command::new(
        std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()),
    )
    .args([
        "--edition",
        "2024",
        "--crate-type",
        "bin",
        "--emit=metadata",
    ])
    .args(["--crate-name", "listing", "--out-dir"])
    .arg(&out_dir)
    .arg(file)
    .stderr(std::process::Stdio::null())
    .status()
    .map_err(|e| format!("cannot run rustc: {e}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    Ok(status?.success())
}

/// The program a file is, if it is one: `src/bin/<name>.rs` or
/// `src/bin/<name>/main.rs` of a listing package.
pub fn program_name(file: &Path) -> Option<String> {
    let parent = file.parent()?;
    let name = file.file_stem()?.to_string_lossy().into_owned();
    if parent.ends_with("src/bin") {
        Some(name)
    } else if name == "main" && parent.parent()?.ends_with("src/bin") {
        Some(parent.file_name()?.to_string_lossy().into_owned())
    } else {
        None
    }
}

fn has_test_code(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .map(|text| text.contains("#[test]") || text.contains("proptest!"))
        .unwrap_or(false)
}

pub fn check_playground(book: &Book) -> Vec<Problem> {
    let mut std_only: BTreeMap<PathBuf, Result<bool, String>> = BTreeMap::new();
    let mut runnable_blocks: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for block in &chapter.parsed.code_blocks {
            if block.lang.as_deref() != Some("rust") {
                continue;
            }
            let runnable = block.is_runnable_rust();
            let includes = includes_in(&block.body);
            let problem = |message: String| {
                Problem::new(chapter.file(), block.line, message)
            };
            if runnable && includes.len() != 1 {
                problems.push(problem(
                    "a runnable block holds exactly one {{#rustdoc_include}} of a program".into(),
                ));
            }
            for include in &includes {
                let target = book.include_target(chapter, include);
                let Some(program) = program_name(&target) else {
                    if runnable {
                        problems.push(problem(format!(
                            "{} is not a program (src/bin/<name>.rs or src/bin/<name>/main.rs): \
                             mark the block noplayground",
                            include.path
                        )));
                    }
                    continue;
                };
                if !runnable && include.rustdoc {
                    problems.push(problem(format!(
                        "{}: a block without a Run button uses {{{{#include}}}}; \
                         {{{{#rustdoc_include}}}} would carry the whole file as hidden lines",
                        include.path
                    )));
                }
                let verdict = std_only
                    .entry(target.clone())
                    .or_insert_with(|| compiles_with_std_alone(&target))
                    .clone();
                match verdict {
                    Err(e) => problems.push(problem(e)),
                    Ok(true) if runnable => {
                        runnable_blocks
                            .entry(target.clone())
                            .or_default()
                            .push(format!("{}:{}", chapter.file(), block.line));
                        if !include.rustdoc {
                            problems.push(problem(format!(
                                "{program}: a runnable block must use {{{{#rustdoc_include}}}} \
                                 so the whole program is sent"
                            )));
                        }
                        if has_test_code(&target) {
                            problems.push(problem(format!(
                                "{program}: the Run button would send its tests too; \
                                 move them to tests.rs beside it (`#[cfg(test)] mod tests;`)"
                            )));
                        }
                    }
                    Ok(true) => {
                        runnable_blocks.entry(target.clone()).or_default();
                    }
                    Ok(false) if runnable => problems.push(problem(format!(
                        "{program} does not compile with std alone: mark the block noplayground"
                    ))),
                    Ok(false) => {
                        let command = format!("cargo run --bin {program}");
                        if !chapter.text.contains(&command) {
                            problems.push(problem(format!(
                                "{program} needs more than std: the chapter must give `{command}`"
                            )));
                        }
                    }
                }
            }
        }
    }
    for (file, blocks) in runnable_blocks {
        let name = rel_string(&book.root, &file);
        match blocks.len() {
            1 => {}
            0 => problems.push(Problem::new(
                name,
                0,
                "needs only std: show it once in a runnable block \
                 (```rust + {{#rustdoc_include ...:main}})",
            )),
            n => problems.push(Problem::new(
                name,
                0,
                format!(
                    "{n} runnable blocks ({}): keep one, make the others plain includes",
                    blocks.join(", ")
                ),
            )),
        }
    }
    problems
}
