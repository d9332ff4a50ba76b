//! The checks that mdBook does not make, one module per check.
//!
//! mdBook 0.5.4 logs a missing `{{#include}}` file as an error but exits 0,
//! and renders a missing anchor as nothing at all. Each check returns every
//! problem it finds, so that a test (or `cargo xtask check`) fails with the
//! whole list rather than the first one. Every chapter is parsed once, when
//! the book is loaded ([`parse`]); the book's shape (sections, templates,
//! budget, search terms) comes from `guide.toml` ([`crate::shape`]).

mod budget;
mod code_blocks;
mod includes;
mod links;
mod listings;
pub mod parse;
mod playground;
mod quiz;
mod sections;
mod summary;
mod template;

use std::fmt;
use std::path::{Component, Path, PathBuf};

pub use budget::check_budget;
pub use code_blocks::check_code_blocks;
pub use includes::{
    Include, Selector, anchor_text, check_includes, includes_in, selected_text,
};
pub use links::{check_links, heading_ids, id_from_content};
pub use listings::{
    check_listings_included, listing_files, packages as listing_packages,
};
pub use parse::{CodeBlock, Parsed};
pub use playground::{check_playground, compiles_with_std_alone};
pub use quiz::check_quiz;
pub use sections::{check_search_terms, check_sections};
pub use summary::{check_summary, summary_links};
pub use template::{check_template, check_titles};

use crate::shape::Shape;

/// One thing wrong, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl Problem {
    pub fn new(
        file: impl Into<String>,
        line: usize,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A chapter's Markdown as it is on disk, and what was parsed from it.
#[derive(Debug, Clone)]
pub struct Chapter {
    /// Path relative to `src/`, with `/` separators.
    pub rel: String,
    pub text: String,
    pub parsed: Parsed,
}

impl Chapter {
    /// The chapter's path as a problem names it: `src/<rel>`.
    pub fn file(&self) -> String {
        format!("src/{}", self.rel)
    }
}

/// The repository as the checks see it.
#[derive(Debug, Clone)]
pub struct Book {
    pub root: PathBuf,
    pub shape: Shape,
    pub chapters: Vec<Chapter>,
}

impl Book {
    /// Reads `guide.toml` and every Markdown file below `root/src`.
    pub fn load(root: &Path) -> Result<Book, String> {
        let shape = Shape::load(root)?;
        let src = root.join("src");
        let mut files = Vec::new();
        walk(&src, &mut files)
            .map_err(|e| format!("cannot read {}: {e}", src.display()))?;
        let mut chapters = Vec::new();
        for file in files.into_iter().filter(|f| has_extension(f, "md")) {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            chapters.push(Chapter {
                rel: rel_string(&src, &file),
                parsed: Parsed::new(&text),
                text,
            });
        }
        chapters.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Book {
            root: root.to_path_buf(),
            shape,
            chapters,
        })
    }

    pub fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    pub fn chapter(&self, rel: &str) -> Option<&Chapter> {
        self.chapters.iter().find(|c| c.rel == rel)
    }

    /// The chapters that answer a question (those in a section's folder).
    pub fn questions(&self) -> impl Iterator<Item = &Chapter> {
        self.chapters
            .iter()
            .filter(|c| self.shape.section_of(&c.rel).is_some())
    }

    /// Resolves an include to a path on disk, relative to the chapter.
    pub fn include_target(
        &self,
        chapter: &Chapter,
        include: &Include,
    ) -> PathBuf {
        let dir = Path::new(&chapter.rel).parent().unwrap_or(Path::new(""));
        join_normalized(&self.src().join(dir), &include.path)
    }
}

/// Every check, in one list.
pub fn check_all(book: &Book) -> Vec<Problem> {
    let checks: [fn(&Book) -> Vec<Problem>; 13] = [
        check_includes,
        check_code_blocks,
        check_summary,
        check_sections,
        check_listings_included,
        check_links,
        check_titles,
        check_template,
        check_playground,
        check_budget,
        check_search_terms,
        check_quiz,
        listings::check_no_plumbing_shown,
    ];
    checks.iter().flat_map(|check| check(book)).collect()
}

pub(crate) fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e == ext)
}

pub(crate) fn rel_string(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Joins `rel` onto `base` and folds `.` and `..` without touching the disk.
pub(crate) fn join_normalized(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in base.join(rel).components() {
        match comp {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(crate) fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}
