//! The project's Python environments, set up on first use.
//!
//! Every Python listing runs in a virtual environment made from one pinned
//! lock file, `listings/requirements.txt` (every package with its hashes).
//! On first use `cargo test` creates `.venv/py3.X/` at the repository root
//! for each CPython 3.11+ that a check runs under (the primary one; CI's
//! cross-version run adds the others), installs the lock into it with
//! `uv pip install --require-hashes`, and reuses it while the lock is
//! unchanged. uv itself (pinned with its hashes in the same lock) is
//! installed once by pip into `.venv/uv/`: it installs each environment
//! in seconds from one download cache, where pip took minutes. Offline, or
//! with no CPython 3.11+, the callers report a skip with the reason (a
//! failure under `REQUIRE_SERVICES=1`).
//!
//! Interpreters: `GUIDE_PYTHONS` (a `PATH`-style list) when set; otherwise
//! `python3` on `PATH` (or `$PYTHON`), then every `python3.N` on `PATH`,
//! then every version that pyenv installed. The first is the primary one,
//! which runs the linters, pytest and every listing; the listings about
//! Python itself are checked under the others too ([`Pythons`]).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo_root;

/// A CPython that can host an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub path: PathBuf,
    /// `12` for CPython 3.12.
    pub minor: u32,
    /// `3.11`, or `3.13t` for a free-threaded build.
    pub version: String,
}

/// The lock file every environment is installed from.
pub fn lock_file() -> PathBuf {
    repo_root().join("listings").join("requirements.txt")
}

fn candidates() -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os("GUIDE_PYTHONS") {
        return std::env::split_paths(&list).collect();
    }
    let mut found = vec![
        std::env::var_os("PYTHON")
            .map_or_else(|| "python3".into(), PathBuf::from),
    ];
    found.extend(
        (9..=20).map(|minor| PathBuf::from(format!("python3.{minor}"))),
    );
    let pyenv =
        std::env::var_os("PYENV_ROOT")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".pyenv"))
            });
    if let Some(Ok(versions)) =
        pyenv.map(|root| fs::read_dir(root.join("versions")))
    {
        let mut dirs: Vec<PathBuf> =
            versions.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        found.extend(dirs.into_iter().map(|d| d.join("bin").join("python3")));
    }
    found
}

/// The minor version and `3.12` (or `3.13t`) when `path` runs a CPython
/// 3.`min_minor` or newer.
fn cpython_version(path: &Path, min_minor: u32) -> Option<(u32, String)> {
    const PROBE: &str = "import sys, sysconfig; \
        print(sys.implementation.name, sys.version_info[0], sys.version_info[1], \
        't' if sysconfig.get_config_var('Py_GIL_DISABLED') else '')";
    let out = Command::new(path).args(["-c", PROBE]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["cpython", major, minor, rest @ ..] => {
            let (major, minor): (u32, u32) =
                (major.parse().ok()?, minor.parse().ok()?);
            (major == 3 && minor >= min_minor)
                .then(|| (minor, format!("{major}.{minor}{}", rest.join(""))))
        }
        _ => None,
    }
}

/// Every CPython 3.11+ found, one per version, the primary one first.
/// (Probed once per process: every check asks.)
pub fn interpreters() -> Vec<Interpreter> {
    static FOUND: std::sync::OnceLock<Vec<Interpreter>> =
        std::sync::OnceLock::new();
    FOUND.get_or_init(|| cpythons_from(11)).clone()
}

/// Every CPython 3.`min_minor`+ found, one per version, in the order of
/// the candidates above (for a test that compares older versions too).
pub fn cpythons_from(min_minor: u32) -> Vec<Interpreter> {
    let mut found: Vec<Interpreter> = Vec::new();
    for path in candidates() {
        if let Some((minor, version)) = cpython_version(&path, min_minor)
            && !found.iter().any(|i| i.version == version)
        {
            found.push(Interpreter {
                path,
                minor,
                version,
            });
        }
    }
    found
}

/// The environment's folder for one interpreter version.
pub fn environment_dir(version: &str) -> PathBuf {
    repo_root().join(".venv").join(format!("py{version}"))
}

/// Where an environment's Python keeps its compiled bytecode
/// (`PYTHONPYCACHEPREFIX`): inside the environment, so the listings' folders
/// get no `__pycache__`, and a package is compiled on its first import
/// instead of on every run (uv installs without compiling).
pub fn bytecode_cache(python: &Path) -> PathBuf {
    python
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""))
        .join("pycache")
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

/// The environment's Python for `interpreter`, creating or refreshing the
/// environment first when the lock file changed. Safe to call from several
/// processes at once: they take turns on a lock file.
pub fn environment(interpreter: &Interpreter) -> Result<PathBuf, String> {
    let lock = fs::read_to_string(lock_file())
        .map_err(|e| format!("cannot read {}: {e}", lock_file().display()))?;
    let dir = environment_dir(&interpreter.version);
    let parent = dir.parent().unwrap_or(&dir).to_path_buf();
    fs::create_dir_all(&parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let guard =
        File::create(parent.join(format!("py{}.lock", interpreter.version)))
            .map_err(|e| e.to_string())?;
    guard
        .lock()
        .map_err(|e| format!("cannot lock the environment: {e}"))?;
    let stamp = dir.join("installed-requirements.txt");
    let python = venv_python(&dir);
    if python.is_file() && fs::read_to_string(&stamp).is_ok_and(|s| s == lock) {
        return Ok(python);
    }
    eprintln!(
        "python: setting up {} for Python {} from listings/requirements.txt (once)",
        dir.display(),
        interpreter.version
    );
    let _ = fs::remove_dir_all(&dir);
    let made = installer(interpreter, &lock)
        .and_then(|uv| {
            run(Command::new(&interpreter.path)
                .args(["-m", "venv", "--without-pip"])
                .arg(&dir))
            .map(|()| uv)
        })
        .and_then(|uv| {
            run(Command::new(uv)
                .args(["pip", "install", "--quiet", "--python"])
                .arg(&python)
                .args(["--require-hashes", "--no-deps", "-r"])
                .arg(lock_file()))
        })
        .and_then(|()| fs::write(&stamp, &lock).map_err(|e| e.to_string()));
    if let Err(e) = made {
        let _ = fs::remove_dir_all(&dir);
        return Err(format!(
            "could not set up the Python {} environment (offline?): {e}",
            interpreter.version
        ));
    }
    Ok(python)
}

/// The `uv==...` entry of the lock, with its hashes, as a requirements
/// file of its own.
fn uv_requirement(lock: &str) -> Option<String> {
    let mut lines = lock.lines().skip_while(|l| !l.starts_with("uv=="));
    let mut entry = vec![lines.next()?];
    for line in lines {
        if !entry.last().is_some_and(|l| l.ends_with('\\')) {
            break;
        }
        entry.push(line);
    }
    Some(entry.join("\n") + "\n")
}

/// uv, pinned and hash-checked through the lock, installed by pip into
/// `.venv/uv/` once for every environment (they take turns on a lock).
fn installer(interpreter: &Interpreter, lock: &str) -> Result<PathBuf, String> {
    let requirement = uv_requirement(lock)
        .ok_or("listings/requirements.txt pins no uv (see requirements.in)")?;
    let dir = repo_root().join(".venv").join("uv");
    let guard = File::create(repo_root().join(".venv").join("uv.lock"))
        .map_err(|e| e.to_string())?;
    guard
        .lock()
        .map_err(|e| format!("cannot lock the installer: {e}"))?;
    let uv = dir.join("bin").join("uv");
    let stamp = dir.join("installed-requirements.txt");
    if uv.is_file()
        && fs::read_to_string(&stamp).is_ok_and(|s| s == requirement)
    {
        return Ok(uv);
    }
    let _ = fs::remove_dir_all(&dir);
    let made = run(Command::new(&interpreter.path)
        .args(["-m", "venv"])
        .arg(&dir))
    .and_then(|()| fs::write(&stamp, &requirement).map_err(|e| e.to_string()))
    .and_then(|()| {
        run(Command::new(venv_python(&dir))
            .args(["-m", "pip", "install", "--quiet"])
            .args(["--disable-pip-version-check", "--require-hashes"])
            .args(["--no-deps", "-r"])
            .arg(&stamp))
    });
    match made {
        Ok(()) if uv.is_file() => Ok(uv),
        Ok(()) => Err(format!("pip installed no {}", uv.display())),
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
    Err(format!(
        "{:?} failed ({}): {}",
        command.get_program(),
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    ))
}

/// The environment of each interpreter, set up side by side when missing
/// (each version has its own lock, so they never step on each other).
pub fn environments(
    interpreters: &[Interpreter],
) -> Vec<Result<PathBuf, String>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = interpreters
            .iter()
            .map(|i| scope.spawn(move || environment(i)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("setup panicked".into())))
            .collect()
    })
}

/// The primary interpreter's environment: what the linters and a reader's
/// own runs use.
pub fn primary_environment() -> Result<PathBuf, String> {
    let first = interpreters().into_iter().next().ok_or(
        "no CPython 3.11 or newer found (set GUIDE_PYTHONS or PYTHON)",
    )?;
    environment(&first)
}

/// A tool installed in the primary environment (`ruff`, `mypy`, ...).
pub fn tool(name: &str) -> Result<PathBuf, String> {
    let python = primary_environment()?;
    let bin = python.parent().unwrap_or(Path::new("")).join(name);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{name} is not in {}", bin.display()))
    }
}

/// Which CPythons a package's Python listings and tests run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pythons {
    /// Every CPython 3.11+ found: for listings about Python itself
    /// (Section 1, the coding problems' solutions), whose behaviour is what
    /// changes between versions.
    Each,
    /// The primary one only: for listings about servers and the libraries
    /// that talk to them (Sections 2 and 3), where the pinned library and
    /// the server are the subject, and three runs would triple the time.
    Primary,
    /// Every CPython 3.11+ found except the primary one: the cross-version
    /// run of the `Each` listings, added to the primary run by CI (the
    /// default `cargo test` runs every listing once, under the primary).
    Others,
}

/// The interpreters `pythons` selects, the primary one first.
pub fn selected(pythons: Pythons) -> Vec<Interpreter> {
    let mut all = interpreters();
    match pythons {
        Pythons::Each => {}
        Pythons::Primary => all.truncate(1),
        Pythons::Others => {
            if !all.is_empty() {
                all.remove(0);
            }
        }
    }
    all
}

/// The pytest files of a package: `py/test_*.py`.
fn pytest_files(package: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(package.join("py"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.starts_with("test_") && n.ends_with(".py")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One job per `py/test_*.py` of the package: a pytest process of its own
/// under the primary interpreter (so two chapters' tests never share one
/// process's state, such as Django's settings).
pub fn pytest_jobs(package: &Path) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Verdict};
    let dir = package.join("py");
    pytest_files(package)
        .into_iter()
        .map(|file| {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let label = format!("pytest {name}");
            let dir = dir.clone();
            Job::new(label.clone(), move || {
                let Some(interpreter) =
                    selected(Pythons::Primary).into_iter().next()
                else {
                    return Verdict::Skipped(format!(
                        "{label}: no CPython 3.11 or newer found \
                         (set GUIDE_PYTHONS or PYTHON)"
                    ));
                };
                let label = format!("{label} (Python {})", interpreter.version);
                let python = match environment(&interpreter) {
                    Ok(python) => python,
                    Err(e) => return Verdict::Skipped(format!("{label}: {e}")),
                };
                run_pytest(&label, &python, &dir, &file)
            })
        })
        .collect()
}

/// Runs a package's pytest files side by side (see [`pytest_jobs`]);
/// panics with the failures.
pub fn pytest(package: &Path) {
    let jobs = pytest_jobs(package);
    assert!(
        !jobs.is_empty(),
        "no py/test_*.py in {}",
        package.join("py").display()
    );
    crate::jobs::assert_passed("pytest", &crate::jobs::run(jobs));
}

/// One pytest process on `target` (a folder or a file): its summary line
/// when it passed, else the report.
fn run_pytest(
    label: &str,
    python: &Path,
    dir: &Path,
    target: &Path,
) -> crate::jobs::Verdict {
    use crate::jobs::Verdict;
    // Plugins are named, not discovered: finding them scans the entry
    // points of every installed distribution, and loading anyio's (which
    // no test uses) imports anyio. Together that was about 0.9 s of CPU per
    // pytest process.
    let out = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(["-p", "_hypothesis_pytestplugin"])
        .arg(target)
        .current_dir(dir)
        .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        .env_remove("PRACTICE_FILE")
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env("PYTHONPYCACHEPREFIX", bytecode_cache(python))
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let summary = stdout.lines().last().unwrap_or_default();
            eprintln!("{label}: {summary}");
            Verdict::Passed(summary.to_string())
        }
        Ok(out) => Verdict::Failed(format!(
            "{label} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Verdict::Failed(format!("{label}: cannot run: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::uv_requirement;

    #[test]
    fn the_uv_entry_is_cut_from_the_lock_with_its_hashes() {
        let lock = "typos==1.52.0 \\\n    --hash=sha256:aa\n    # via -r x\n\
                    uv==0.13.9 \\\n    --hash=sha256:bb \\\n    --hash=sha256:cc\n\
                    \x20   # via -r x\nzipp==1 \\\n    --hash=sha256:dd\n";
        assert_eq!(
            uv_requirement(lock).as_deref(),
            Some(
                "uv==0.13.9 \\\n    --hash=sha256:bb \\\n    --hash=sha256:cc\n"
            )
        );
        assert_eq!(
            uv_requirement("pytest==9 \\\n    --hash=sha256:aa\n"),
            None
        );
    }
}
