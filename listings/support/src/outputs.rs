//! Every listing's captured output is what the program really prints.
//!
//! A listing package keeps each program's standard output in
//! `output/<program>.rs.txt` (and each Python script's in
//! `output/<script>.py.txt`), which the chapters include. Its
//! `tests/listings.rs` calls [`check`], which runs every program and script,
//! each script under every CPython 3.11+ found, and compares (or
//! [`check_under`] the primary CPython only, for the server sections). To regenerate
//! the files after changing a listing: `cargo xtask outputs`
//! (`UPDATE_OUTPUTS=1` for this check).
//!
//! A listing that cannot reach what it needs exits with code 77 and says why
//! on stderr: a skip, or a failure under `REQUIRE_SERVICES=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use crate::python;
use crate::skip::{EXIT_SKIP, services_required};

/// One thing to run, and the file its output is compared with.
struct Run {
    label: String,
    expected: PathBuf,
    command: Command,
}

enum Verdict {
    Same,
    Updated,
    Skipped(String),
    Failed(String),
}

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

fn judge(run: &Run, result: std::io::Result<Output>, update: bool) -> Verdict {
    let name = &run.label;
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
        return match std::fs::write(&run.expected, &actual) {
            Ok(()) => Verdict::Updated,
            Err(e) => Verdict::Failed(format!("{name}: cannot write: {e}")),
        };
    }
    match std::fs::read_to_string(&run.expected) {
        Err(e) => Verdict::Failed(format!(
            "{name}: no captured output at {} ({e}); run `cargo xtask outputs`",
            run.expected.display()
        )),
        Ok(expected) if expected == actual => Verdict::Same,
        Ok(expected) => Verdict::Failed(format!(
            "{name}: output differs from {}; run `cargo xtask outputs` if the change is intended\n{}",
            run.expected.display(),
            first_difference(&expected, &actual)
        )),
    }
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

fn runs(
    package: &Path,
    pythons: python::Pythons,
    update: bool,
    problems: &mut Vec<Verdict>,
) -> Vec<Run> {
    let output = package.join("output");
    let mut all = Vec::new();
    for name in programs(package) {
        let binary = binaries_dir()
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        all.push(Run {
            label: format!("{name}.rs"),
            expected: output.join(format!("{name}.rs.txt")),
            command: Command::new(binary),
        });
    }
    let scripts = scripts(package);
    if scripts.is_empty() {
        return all;
    }
    let interpreters = python::selected(pythons);
    if interpreters.is_empty() {
        problems.push(Verdict::Skipped(
            "Python listings: no CPython 3.11 or newer found".into(),
        ));
    }
    // When regenerating, the primary interpreter writes; the others check.
    let environments = python::environments(&interpreters);
    for (i, (interpreter, env)) in
        interpreters.iter().zip(environments).enumerate()
    {
        let python = match env {
            Ok(python) => python,
            Err(e) => {
                problems
                    .push(Verdict::Skipped(format!("Python listings: {e}")));
                continue;
            }
        };
        for script in &scripts {
            let file = script.file_name().unwrap_or_default().to_string_lossy();
            let mut command = Command::new(&python);
            command
                .arg(script)
                .current_dir(script.parent().unwrap_or(package))
                .env_remove("PYTHONDONTWRITEBYTECODE")
                .env("PYTHONPYCACHEPREFIX", python::bytecode_cache(&python));
            let run = Run {
                label: format!("{file} (Python {})", interpreter.version),
                expected: output.join(format!("{file}.txt")),
                command,
            };
            if update && i > 0 {
                continue;
            }
            all.push(run);
        }
    }
    all
}

/// Runs every listing of the package at `package` and compares its output
/// with the captured file; panics with the whole list of failures.
pub fn check(package: &Path) {
    check_under(package, python::Pythons::Each);
}

/// [`check`], with the Python scripts run under the interpreters `pythons`
/// selects (Sections 2 and 3: the primary one).
pub fn check_under(package: &Path, pythons: python::Pythons) {
    let update = std::env::var("UPDATE_OUTPUTS").is_ok_and(|v| v == "1");
    let mut early = Vec::new();
    let queue = Mutex::new(runs(package, pythons, update, &mut early));
    // A few at a time: some listings check timing with wide margins that a
    // fully loaded two-core machine could still eat into.
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let mut verdicts: Vec<Verdict> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().expect("queue lock").pop();
                        let Some(mut run) = next else { break };
                        let result = run.command.output();
                        done.push(judge(&run, result, update));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("runner thread"))
            .collect()
    });
    verdicts.extend(early);

    let mut failures = Vec::new();
    let (mut same, mut updated, mut skipped) = (0, 0, 0);
    for verdict in verdicts {
        match verdict {
            Verdict::Same => same += 1,
            Verdict::Updated => updated += 1,
            Verdict::Skipped(why) if services_required() => failures.push(
                format!("{why} (REQUIRE_SERVICES=1, so this is a failure)"),
            ),
            Verdict::Skipped(why) => {
                skipped += 1;
                eprintln!("skipped: {why}");
            }
            Verdict::Failed(why) => failures.push(why),
        }
    }
    eprintln!("captured outputs: {same} unchanged, {updated} rewritten");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(same + updated + skipped > 0, "no listing found");
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
