//! SUMMARY.md and the files on disk agree, both ways.

use std::collections::BTreeSet;

use pulldown_cmark::{Event, Parser, Tag};

use super::parse::markdown_options;
use super::{Book, Problem, line_of};

/// The chapter files that SUMMARY.md links to (draft chapters have none).
pub fn summary_links(summary: &str) -> Vec<(String, usize)> {
    let mut links = Vec::new();
    for (event, range) in
        Parser::new_ext(summary, markdown_options()).into_offset_iter()
    {
        if let Event::Start(Tag::Link { dest_url, .. }) = event
            && !dest_url.is_empty()
        {
            links.push((dest_url.to_string(), line_of(summary, range.start)));
        }
    }
    links
}

pub fn check_summary(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(summary) = book.chapter("SUMMARY.md") else {
        return vec![Problem::new("src/SUMMARY.md", 0, "missing")];
    };
    let mut listed = BTreeSet::new();
    for (link, line) in summary_links(&summary.text) {
        if !listed.insert(link.clone()) {
            problems.push(Problem::new(
                "src/SUMMARY.md",
                line,
                format!("{link} is listed twice"),
            ));
        }
        if book.chapter(&link).is_none() {
            problems.push(Problem::new(
                "src/SUMMARY.md",
                line,
                format!("{link} does not exist"),
            ));
        }
    }
    for chapter in &book.chapters {
        if chapter.rel != "SUMMARY.md" && !listed.contains(&chapter.rel) {
            problems.push(Problem::new(
                chapter.file(),
                0,
                "not listed in SUMMARY.md",
            ));
        }
    }
    problems
}
