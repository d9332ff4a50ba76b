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
/// listings run under: every one found where the Python version is the
/// subject (Sections 1 and 4), the primary one where the subject is a
/// server and a pinned library (Sections 2 and 3).
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

/// The jobs in the order they start: the Python environments first (every
/// Python job waits for its own), then the programs while the environments
/// are set up, then the pytest files (the longest jobs), then the scripts.
fn all_jobs(root: &Path) -> Vec<Job> {
    let mut programs = Vec::new();
    let mut pytests = Vec::new();
    let mut scripts = Vec::new();
    let mut pythons = Pythons::Primary;
    for (dir, selection) in PACKAGES {
        let package = root.join(dir);
        programs.extend(support::outputs::program_jobs(&package));
        pytests.extend(python::pytest_jobs(&package));
        let these = support::outputs::script_jobs(&package, *selection);
        if !these.is_empty() && *selection == Pythons::Each {
            pythons = Pythons::Each;
        }
        scripts.extend(these);
    }
    let mut all = vec![Job::new("Python environments", move || {
        let interpreters = python::selected(pythons);
        let made = python::environments(&interpreters);
        match made.into_iter().find_map(Result::err) {
            Some(e) => Verdict::Skipped(format!("Python environments: {e}")),
            None => Verdict::Passed(format!("{} ready", interpreters.len())),
        }
    })];
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
