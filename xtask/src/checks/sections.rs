//! The book's parts and chapters match `guide.toml`: SUMMARY.md has one
//! part per declared section, in order and with its title; each chapter
//! listed under a part lives in that section's folder and carries a number
//! of that section; and every page has a search term.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

use super::parse::markdown_options;
use super::{Book, Problem, line_of};

/// A part of SUMMARY.md: its `# Title`, line, and (link, text) entries.
type Part = (String, usize, Vec<(String, String)>);

/// SUMMARY.md's parts with the chapter links under each.
fn parts(summary: &str) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut heading: Option<(String, usize)> = None;
    let mut link: Option<(String, String)> = None;
    for (event, range) in
        Parser::new_ext(summary, markdown_options()).into_offset_iter()
    {
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) => {
                heading = Some((String::new(), line_of(summary, range.start)))
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((title, line)) = heading.take()
                    && title != "Summary"
                {
                    parts.push((title, line, Vec::new()));
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                link = Some((dest_url.to_string(), String::new()));
            }
            Event::End(TagEnd::Link) => {
                if let (Some(entry), Some(part)) =
                    (link.take(), parts.last_mut())
                {
                    part.2.push(entry);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((title, _)) = heading.as_mut() {
                    title.push_str(&t);
                }
                if let Some((_, text)) = link.as_mut() {
                    text.push_str(&t);
                }
            }
            _ => {}
        }
    }
    parts
}

pub fn check_sections(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(summary) = book.chapter("SUMMARY.md") else {
        return problems;
    };
    let found = parts(&summary.text);
    let problem = |line: usize, message: String| {
        Problem::new("src/SUMMARY.md", line, message)
    };
    if found.len() != book.shape.sections.len() {
        problems.push(problem(
            1,
            format!(
                "{} parts, but guide.toml declares {} sections",
                found.len(),
                book.shape.sections.len()
            ),
        ));
    }
    for (section, (title, line, entries)) in
        book.shape.sections.iter().zip(&found)
    {
        if *title != section.title {
            problems.push(problem(
                *line,
                format!(
                    "part `{title}`: guide.toml's section {} is `{}`",
                    section.number, section.title
                ),
            ));
        }
        for (dest, text) in entries {
            let number = text.split_whitespace().next().unwrap_or_default();
            if number.split('.').next() != Some(&section.number.to_string()) {
                problems.push(problem(
                    *line,
                    format!(
                        "`{text}` under section {}: wrong number",
                        section.number
                    ),
                ));
            }
            if !dest.is_empty()
                && !dest.starts_with(&format!("{}/", section.folder))
            {
                problems.push(problem(
                    *line,
                    format!("{dest} must live in src/{}/", section.folder),
                ));
            }
        }
    }
    problems
}

/// Every page has a search term in guide.toml, and every term names a page.
pub fn check_search_terms(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        if chapter.rel != "SUMMARY.md"
            && !book.shape.search.contains_key(&chapter.rel)
        {
            problems.push(Problem::new(
                chapter.file(),
                0,
                "no search term in guide.toml's [search]",
            ));
        }
    }
    for page in book.shape.search.keys() {
        if book.chapter(page).is_none() {
            problems.push(Problem::new(
                "guide.toml",
                0,
                format!("[search] names {page}, which does not exist"),
            ));
        }
    }
    problems
}
