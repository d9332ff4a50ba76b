//! Every listing of every package, checked side by side from one queue
//! (`support::jobs`): each program and Python script prints what its
//! captured output says, and each pytest file passes.
//!
//! The programs are the binaries that `cargo test` at the workspace root
//! builds before it runs any test (each listing package's
//! `tests/listings.rs` makes it build them); a binary older than its
//! sources is reported, not run. One package alone:
//! `cargo test -p <package> --test listings -- --ignored`.

use std::path::{Path, PathBuf};

use support::jobs::{self, Job, Verdict};
use support::python::{self, Pythons};
use xtask::repo_root;

/// The packages with captured outputs, and the CPythons their Python
/// listings run under. `cargo test` runs every script once, under the
/// primary CPython; where the Python version is the subject (Sections 1
/// and 4, `Each`), CI also runs them under every other CPython 3.11+ found
/// (the ignored test at the end). The server sections (2 and 3, `Primary`)
/// prove a server and a pinned library, not a Python version.
const PACKAGES: &[(&str, Pythons)] = &[
    ("listings/python", Pythons::Each),
    ("listings/problems", Pythons::Each),
    ("listings/problems/db", Pythons::Each),
    ("listings/architecture", Pythons::Primary),
    ("listings/design", Pythons::Primary),
];

/// The listing packages on disk: those with an `output/` folder.
fn packages_on_disk() -> Vec<PathBuf> {
    xtask::checks::listing_packages(&repo_root())
        .into_iter()
        .filter(|p| p.join("output").is_dir())
        .collect()
}

#[test]
fn every_package_with_outputs_is_checked() {
    let root = repo_root();
    let unchecked: Vec<PathBuf> = packages_on_disk()
        .into_iter()
        .filter(|p| !PACKAGES.iter().any(|(dir, _)| root.join(dir) == *p))
        .collect();
    assert!(
        unchecked.is_empty(),
        "listing packages missing from PACKAGES in {}: {unchecked:?}",
        file!()
    );
}

/// The job that sets up the environments of `pythons` (every Python job
/// waits for its own), to start first.
fn environments(pythons: Pythons) -> Job {
    Job::new("Python environments", move || {
        let interpreters = python::selected(pythons);
        let made = python::environments(&interpreters);
        match made.into_iter().find_map(Result::err) {
            Some(e) => Verdict::Skipped(format!("Python environments: {e}")),
            None => Verdict::Passed(format!("{} ready", interpreters.len())),
        }
    })
}

/// The jobs in the order they start: the primary Python environment
/// first, then the programs while it is set up, then the pytest files (the
/// longest jobs), then the scripts.
fn all_jobs(root: &Path) -> Vec<Job> {
    let mut programs = Vec::new();
    let mut pytests = Vec::new();
    let mut scripts = Vec::new();
    for (dir, _) in PACKAGES {
        let package = root.join(dir);
        programs.extend(support::outputs::program_jobs(&package));
        pytests.extend(python::pytest_jobs(&package));
        scripts
            .extend(support::outputs::script_jobs(&package, Pythons::Primary));
    }
    let mut all = vec![environments(Pythons::Primary)];
    all.extend(programs);
    all.extend(pytests);
    all.extend(scripts);
    all
}

#[test]
fn every_listing_prints_its_captured_output_and_passes_its_tests() {
    let verdicts = jobs::run(all_jobs(&repo_root()));
    jobs::assert_passed("listings", &verdicts);
}

/// The Python listings of Sections 1 and 4 print the same output under
/// every other CPython 3.11+ found (3.12 and 3.13 on the machine the guide
/// is built on). CI runs it: `cargo test -p xtask --test guide -- --ignored
/// listings::`.
#[test]
#[ignore = "the cross-version run, by CI: cargo test -p xtask --test guide -- --ignored listings::"]
fn sections_1_and_4_print_the_same_under_every_other_cpython() {
    let root = repo_root();
    let mut all = vec![environments(Pythons::Others)];
    for (dir, selection) in PACKAGES {
        if *selection == Pythons::Each {
            all.extend(support::outputs::script_jobs(
                &root.join(dir),
                Pythons::Others,
            ));
        }
    }
    jobs::assert_passed("listings under the other CPythons", &jobs::run(all));
}
