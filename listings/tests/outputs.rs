//! Every listing's captured output is what the program really prints.
//!
//! Each program in `src/bin/` and each script in `python/` has its standard
//! output stored in `output/<file name>.txt`, which the chapters include.
//! This test runs every program and compares. To regenerate the files after
//! changing a listing:
//!
//! ```text
//! cargo xtask outputs        # = UPDATE_OUTPUTS=1 cargo test -p listings --test outputs
//! ```
//!
//! A listing that needs a server it cannot reach exits with code 77 and says
//! why on stderr. That is a skip, reported as one, unless `REQUIRE_SERVICES=1`
//! (as in CI), where it is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The exit code a listing uses to say "the server I need is not there".
const SKIP: i32 = 77;

struct Listing {
    source: PathBuf,
    command: Command,
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo builds every binary of the package before its integration tests and
/// puts them beside the `deps/` folder that holds this test.
fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps folder");
    deps.parent().expect("profile folder").to_path_buf()
}

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn listings() -> Vec<Listing> {
    let mut all = Vec::new();
    for source in files_with_extension(&crate_dir().join("src/bin"), "rs") {
        let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
        let binary = binaries_dir().join(format!("{stem}{}", std::env::consts::EXE_SUFFIX));
        all.push(Listing {
            source,
            command: Command::new(binary),
        });
    }
    for source in files_with_extension(&crate_dir().join("python"), "py") {
        let mut command =
            Command::new(std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into()));
        command.arg(&source).current_dir(crate_dir().join("python"));
        all.push(Listing { source, command });
    }
    all
}

fn output_file(source: &Path) -> PathBuf {
    let name = source.file_name().unwrap().to_string_lossy();
    crate_dir().join("output").join(format!("{name}.txt"))
}

fn services_required() -> bool {
    std::env::var("REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

enum Verdict {
    Same,
    Updated,
    Skipped(String),
    Failed(String),
}

fn judge(source: &Path, result: std::io::Result<Output>, update: bool) -> Verdict {
    let name = source.file_name().unwrap().to_string_lossy().into_owned();
    let out = match result {
        Ok(out) => out,
        Err(e) => return Verdict::Failed(format!("{name}: cannot run: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.status.code() == Some(SKIP) {
        return Verdict::Skipped(format!("{name}: {stderr}"));
    }
    if !out.status.success() {
        return Verdict::Failed(format!("{name}: exited with {}: {stderr}", out.status));
    }
    let actual = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    if actual.trim().is_empty() {
        return Verdict::Failed(format!("{name}: printed nothing"));
    }
    let file = output_file(source);
    if update {
        return match std::fs::write(&file, &actual) {
            Ok(()) => Verdict::Updated,
            Err(e) => Verdict::Failed(format!("{name}: cannot write {}: {e}", file.display())),
        };
    }
    match std::fs::read_to_string(&file) {
        Err(e) => Verdict::Failed(format!(
            "{name}: no captured output at {} ({e}); run `cargo xtask outputs`",
            file.display()
        )),
        Ok(expected) if expected == actual => Verdict::Same,
        Ok(expected) => Verdict::Failed(format!(
            "{name}: output differs from {}; run `cargo xtask outputs` if the change is intended\n{}",
            file.display(),
            first_difference(&expected, &actual)
        )),
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
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

#[test]
fn captured_outputs_match_the_programs() {
    let update = std::env::var("UPDATE_OUTPUTS").is_ok_and(|v| v == "1");
    let listings = listings();
    assert!(!listings.is_empty(), "no listings found");

    // The programs are independent, so a few run side by side; not all at
    // once, since some check timing behaviour with wide margins that a fully
    // loaded two-core machine could still eat into.
    let queue = std::sync::Mutex::new(listings);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let verdicts: Vec<(PathBuf, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().expect("queue lock").pop();
                        let Some(mut listing) = next else { break };
                        let result = listing.command.output();
                        let verdict = judge(&listing.source, result, update);
                        done.push((listing.source, verdict));
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

    let mut failures = Vec::new();
    let (mut same, mut updated) = (0, 0);
    for (_, verdict) in verdicts {
        match verdict {
            Verdict::Same => same += 1,
            Verdict::Updated => updated += 1,
            Verdict::Skipped(why) if services_required() => {
                failures.push(format!("{why} (REQUIRE_SERVICES=1, so this is a failure)"))
            }
            Verdict::Skipped(why) => eprintln!("skipped: {why}"),
            Verdict::Failed(why) => failures.push(why),
        }
    }
    eprintln!("captured outputs: {same} unchanged, {updated} rewritten");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_captured_output_belongs_to_a_listing() {
    let sources: Vec<PathBuf> = listings().into_iter().map(|l| l.source).collect();
    let orphans: Vec<PathBuf> = files_with_extension(&crate_dir().join("output"), "txt")
        .into_iter()
        .filter(|file| !sources.iter().any(|s| &output_file(s) == file))
        .collect();
    assert!(
        orphans.is_empty(),
        "output files with no listing: {orphans:?}"
    );
}
