//! Every listing's captured output is what the program really prints.
//!
//! A listing package keeps each program's standard output in
//! `output/<program>.rs.txt` (and each Python script's in
//! `output/<script>.py.txt`), which the chapters include. [`jobs`] makes
//! one check per program and per script (each script under the CPythons
//! that [`python::Pythons`] selects): run it, compare its output with the
//! file. The guide-wide test in `xtask` runs
//! every package's jobs side by side; [`check_under`] runs one package's
//! (its `tests/listings.rs`, ignored by default). To regenerate the files
//! after changing a listing: `cargo xtask outputs` (`UPDATE_OUTPUTS=1`).
//!
//! A listing that cannot reach what it needs exits with code 77 and says why
//! on stderr: a skip, or a failure under `REQUIRE_SERVICES=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::jobs::{self, Job, Verdict};
use crate::python;
use crate::skip::EXIT_SKIP;

/// The programs of a package: `src/bin/<name>.rs` or `src/bin/<name>/main.rs`.
pub fn programs(package: &Path) -> Vec<String> {
    let mut names: Vec<String> = entries(&package.join("src").join("bin"))
        .into_iter()
        .filter_map(|path| {
            if path.is_dir() && path.join("main.rs").is_file() {
                path.file_name().map(|n| n.to_string_lossy().into_owned())
            } else if path.extension().is_some_and(|e| e == "rs") {
                path.file_stem().map(|n| n.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names
}

/// The Python listings of a package: `py/<name>.py`, except pytest's files
/// (`test_*.py`, `conftest.py`) and practice stubs (`*_stub.py`), which
/// have no output of their own.
pub fn scripts(package: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = entries(&package.join("py"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            !name.starts_with("test_")
                && !name.ends_with("_stub.py")
                && !name.starts_with('_')
                && name != "conftest.py"
        })
        .collect();
    found.sort();
    found
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Cargo builds a package's binaries before its integration tests, beside
/// the `deps/` folder that holds the running test.
fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.ancestors()
        .nth(2)
        .map(PathBuf::from)
        .expect("target profile folder")
}

/// Whether `UPDATE_OUTPUTS=1` asks for the captured files to be rewritten.
fn updating() -> bool {
    std::env::var("UPDATE_OUTPUTS").is_ok_and(|v| v == "1")
}

fn judge(
    name: &str,
    expected: &Path,
    result: std::io::Result<Output>,
    update: bool,
) -> Verdict {
    let out = match result {
        Ok(out) => out,
        Err(e) => return Verdict::Failed(format!("{name}: cannot run: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.status.code() == Some(EXIT_SKIP) {
        return Verdict::Skipped(format!("{name}: {stderr}"));
    }
    if !out.status.success() {
        return Verdict::Failed(format!(
            "{name}: exited with {}: {stderr}",
            out.status
        ));
    }
    let actual = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    if actual.trim().is_empty() {
        return Verdict::Failed(format!("{name}: printed nothing"));
    }
    if update {
        return match std::fs::write(expected, &actual) {
            Ok(()) => Verdict::Updated,
            Err(e) => Verdict::Failed(format!("{name}: cannot write: {e}")),
        };
    }
    match std::fs::read_to_string(expected) {
        Err(e) => Verdict::Failed(format!(
            "{name}: no captured output at {} ({e}); run `cargo xtask outputs`",
            expected.display()
        )),
        Ok(captured) if captured == actual => Verdict::Passed(String::new()),
        Ok(captured) => Verdict::Failed(format!(
            "{name}: output differs from {}; run `cargo xtask outputs` if the change is intended\n{}",
            expected.display(),
            first_difference(&captured, &actual)
        )),
    }
}

/// A program's binary, when it is newer than every source file it was
/// built from: the guide-wide check runs the binaries that `cargo test`
/// built just before, and must not compare the output of an old one (as
/// after `cargo test -p xtask` alone, which builds no listing).
fn fresh_binary(name: &str) -> Result<PathBuf, String> {
    let binary =
        binaries_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let how = "`cargo test` at the workspace root builds every package's \
               programs before it runs this check";
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .map_err(|_| {
            format!("{name}: {} is not built ({how})", binary.display())
        })?;
    let stale = sources_of(&binary).into_iter().find(|source| {
        std::fs::metadata(source)
            .and_then(|m| m.modified())
            .is_ok_and(|changed| changed > built)
    });
    match stale {
        Some(source) => Err(format!(
            "{name}: {} is older than {} ({how})",
            binary.display(),
            source.display()
        )),
        None => Ok(binary),
    }
}

/// The source files `binary` was compiled from, read from the dep-info
/// file (`deps/<name>-<hash>.d`) that rustc wrote beside the file cargo
/// hard-linked to `binary`; empty where that cannot be found out.
fn sources_of(binary: &Path) -> Vec<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(inode) = std::fs::metadata(binary).map(|m| m.ino()) else {
            return Vec::new();
        };
        let stem = binary.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!("{stem}-");
        let deps = binary.with_file_name("deps");
        let linked = entries(&deps).into_iter().find(|p| {
            p.extension().is_none()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                && std::fs::metadata(p).is_ok_and(|m| m.ino() == inode)
        });
        let Some(dep_info) = linked.map(|p| p.with_extension("d")) else {
            return Vec::new();
        };
        let text = std::fs::read_to_string(dep_info).unwrap_or_default();
        let root = crate::repo_root();
        let mut sources: Vec<PathBuf> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once(": ").map(|(_, rest)| rest))
            .flat_map(str::split_whitespace)
            .map(|p| root.join(p))
            .collect();
        sources.sort();
        sources.dedup();
        sources
    }
    #[cfg(not(unix))]
    {
        let _ = binary;
        Vec::new()
    }
}

/// One job per program of the package: run it, compare its output.
pub fn program_jobs(package: &Path) -> Vec<Job> {
    let output = package.join("output");
    let update = updating();
    programs(package)
        .into_iter()
        .map(|name| {
            let label = format!("{name}.rs");
            let expected = output.join(format!("{label}.txt"));
            Job::new(label.clone(), move || match fresh_binary(&name) {
                Ok(binary) => judge(
                    &label,
                    &expected,
                    Command::new(binary).output(),
                    update,
                ),
                Err(why) => Verdict::Failed(why),
            })
        })
        .collect()
}

/// One job per Python script of the package and interpreter `pythons`
/// selects: run it in the project's environment (set up on first use),
/// compare its output. When regenerating, the primary interpreter writes
/// and the others are not run.
pub fn script_jobs(package: &Path, pythons: python::Pythons) -> Vec<Job> {
    let scripts = scripts(package);
    if scripts.is_empty() {
        return Vec::new();
    }
    let update = updating();
    if update && pythons == python::Pythons::Others {
        // Outputs are captured under the primary CPython only.
        return Vec::new();
    }
    let interpreters = python::selected(pythons);
    if interpreters.is_empty() {
        let why = if pythons == python::Pythons::Others {
            "no CPython 3.11 or newer besides the primary one found"
        } else {
            "no CPython 3.11 or newer found"
        };
        return vec![Job::new("Python listings", move || {
            Verdict::Skipped(format!("Python listings: {why}"))
        })];
    }
    let output = package.join("output");
    let mut all = Vec::new();
    for (i, interpreter) in interpreters.into_iter().enumerate() {
        if update && i > 0 {
            break;
        }
        for script in &scripts {
            let file = script.file_name().unwrap_or_default().to_string_lossy();
            let label = format!("{file} (Python {})", interpreter.version);
            let expected = output.join(format!("{file}.txt"));
            let (script, interpreter) = (script.clone(), interpreter.clone());
            let dir = script.parent().unwrap_or(package).to_path_buf();
            all.push(Job::new(label.clone(), move || {
                let python = match python::environment(&interpreter) {
                    Ok(python) => python,
                    Err(e) => {
                        return Verdict::Skipped(format!("{label}: {e}"));
                    }
                };
                let run = Command::new(&python)
                    .arg(&script)
                    .current_dir(dir)
                    .env_remove("PYTHONDONTWRITEBYTECODE")
                    .env("PYTHONPYCACHEPREFIX", python::bytecode_cache(&python))
                    .output();
                judge(&label, &expected, run, update)
            }));
        }
    }
    all
}

fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    format!(
        "  line {}:\n  captured: {:?}\n  program:  {:?}",
        at + 1,
        e.get(at).copied().unwrap_or("<end>"),
        a.get(at).copied().unwrap_or("<end>")
    )
}

/// Every program and script of the package at `package`, `pythons`
/// choosing the interpreters; panics with the whole list of failures.
/// (The guide-wide test runs these jobs for every package at once.)
pub fn check_under(package: &Path, pythons: python::Pythons) {
    let mut all = program_jobs(package);
    all.extend(script_jobs(package, pythons));
    jobs::assert_passed("captured outputs", &jobs::run(all));
}

/// Every file in `output/` belongs to a program or a script of the package.
pub fn orphans(package: &Path) -> Vec<PathBuf> {
    let mut expected: Vec<String> = programs(package)
        .into_iter()
        .map(|n| format!("{n}.rs.txt"))
        .collect();
    expected.extend(scripts(package).into_iter().map(|s| {
        format!(
            "{}.txt",
            s.file_name().unwrap_or_default().to_string_lossy()
        )
    }));
    entries(&package.join("output"))
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            !expected.iter().any(|e| *e == name)
        })
        .collect()
}
