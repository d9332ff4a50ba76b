//! Every listing file is shown by some chapter, and the plumbing never is.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Book, Problem, has_extension, rel_string, selected_text, walk};

/// Packages under `listings/` whose files are not chapter material: the
/// plumbing crate (never shown) and the benchmarks (shown by their results).
const NOT_SHOWN: [&str; 2] = ["support", "benches"];

/// The listing packages: every folder under `listings/` with a Cargo.toml.
pub fn packages(root: &Path) -> Vec<PathBuf> {
    let mut manifests = Vec::new();
    let _ = walk(&root.join("listings"), &mut manifests);
    let mut dirs: Vec<PathBuf> = manifests
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "Cargo.toml"))
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .filter(|d| !d.components().any(|c| c.as_os_str() == "target"))
        .collect();
    dirs.sort();
    dirs
}

fn is_shown_script(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    has_extension(path, "py")
        && !name.starts_with("test_")
        && !name.starts_with('_')
        && !name.ends_with("_stub.py")
        && name != "conftest.py"
}

/// The files chapters must show: every program (`src/bin/<name>.rs` or
/// `src/bin/<name>/main.rs`), the source of library crates (a proc-macro),
/// every Python listing, every captured output and benchmark result.
pub fn listing_files(root: &Path) -> Vec<PathBuf> {
    let listings = root.join("listings");
    let mut files = Vec::new();
    for package in packages(root) {
        let name = rel_string(&listings, &package);
        if NOT_SHOWN.contains(&name.as_str()) {
            continue;
        }
        let bin = package.join("src").join("bin");
        if let Ok(entries) = std::fs::read_dir(&bin) {
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                if path.is_dir() && path.join("main.rs").is_file() {
                    files.push(path.join("main.rs"));
                } else if has_extension(&path, "rs") {
                    files.push(path);
                }
            }
        } else {
            let mut found = Vec::new();
            let _ = walk(&package.join("src"), &mut found);
            files.extend(found.into_iter().filter(|f| has_extension(f, "rs")));
        }
        for (dir, keep) in [
            ("py", is_shown_script as fn(&Path) -> bool),
            ("output", |p: &Path| has_extension(p, "txt")),
        ] {
            if let Ok(entries) = std::fs::read_dir(package.join(dir)) {
                files.extend(
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| keep(p)),
                );
            }
        }
    }
    if let Ok(entries) =
        std::fs::read_dir(listings.join("benches").join("results"))
    {
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| has_extension(p, "txt")),
        );
    }
    files.sort();
    files
}

pub fn check_listings_included(book: &Book) -> Vec<Problem> {
    let included: HashSet<PathBuf> = book
        .chapters
        .iter()
        .flat_map(|c| {
            c.parsed
                .includes
                .iter()
                .map(move |i| book.include_target(c, i))
        })
        .collect();
    listing_files(&book.root)
        .into_iter()
        .filter(|f| !included.contains(f))
        .map(|f| {
            Problem::new(
                rel_string(&book.root, &f),
                0,
                "no chapter includes this listing file",
            )
        })
        .collect()
}

/// The support crate is plumbing: no chapter includes it, and no excerpt
/// shows a call into it.
pub fn check_no_plumbing_shown(book: &Book) -> Vec<Problem> {
    let support = book.root.join("listings").join("support");
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for include in &chapter.parsed.includes {
            let target = book.include_target(chapter, include);
            let problem = |message: String| {
                Problem::new(chapter.file(), include.line, message)
            };
            if target.starts_with(&support) {
                problems.push(problem(format!(
                    "{} is plumbing (listings/support): show the mechanism, not the plumbing",
                    include.path
                )));
                continue;
            }
            let shown = std::fs::read_to_string(&target)
                .ok()
                .and_then(|file| selected_text(&file, &include.selector).ok());
            if shown.is_some_and(|text| text.contains("support::")) {
                problems.push(problem(format!(
                    "{}: the excerpt shows a call into the support crate; \
                     move the plumbing out of the anchor",
                    include.path
                )));
            }
        }
    }
    problems
}
