//! `{{#include}}` and `{{#rustdoc_include}}`: every one names a file that
//! exists and selects non-empty text.

use super::{Book, Problem, line_of};

/// What part of a file an include directive asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Whole,
    Anchor(String),
    /// 1-based line numbers, both inclusive, as mdBook reads `a:b`
    /// (`n` alone is line n only; a missing bound is the file's start or end).
    Lines(Option<usize>, Option<usize>),
}

/// One `{{#include}}` or `{{#rustdoc_include}}` in a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub rustdoc: bool,
    pub path: String,
    pub selector: Selector,
    pub line: usize,
}

/// Every include directive in `text`, skipping escaped ones (`\{{#include`).
pub fn includes_in(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find("{{#") {
        let start = from + offset;
        from = start + 3;
        if start > 0 && text.as_bytes()[start - 1] == b'\\' {
            continue;
        }
        let Some(len) = text[start..].find("}}") else {
            break;
        };
        let body = text[start + 3..start + len].trim();
        let (kind, arg) =
            body.split_once(char::is_whitespace).unwrap_or((body, ""));
        let rustdoc = match kind {
            "include" => false,
            "rustdoc_include" => true,
            _ => continue,
        };
        let arg = arg.trim();
        let (path, selector) = match arg.split_once(':') {
            None => (arg, Selector::Whole),
            Some((path, rest)) => (path, parse_selector(rest)),
        };
        found.push(Include {
            rustdoc,
            path: path.to_string(),
            selector,
            line: line_of(text, start),
        });
    }
    found
}

fn parse_selector(rest: &str) -> Selector {
    let number = |s: &str| s.trim().parse::<usize>().ok();
    match rest.split_once(':') {
        Some((a, b)) if (a.is_empty() || number(a).is_some()) => {
            Selector::Lines(number(a), number(b))
        }
        None if rest.trim().is_empty() => Selector::Whole,
        None if number(rest).is_some() => {
            Selector::Lines(number(rest), number(rest))
        }
        _ => Selector::Anchor(rest.trim().to_string()),
    }
}

fn is_anchor_marker(line: &str) -> bool {
    line.contains("ANCHOR:") || line.contains("ANCHOR_END:")
}

/// Whether `line` holds `marker` (`ANCHOR:` or `ANCHOR_END:`) followed by
/// exactly the word `name`, so that `main` does not match `main_loop`.
fn has_marker(line: &str, marker: &str, name: &str) -> bool {
    line.match_indices(marker).any(|(i, _)| {
        let word: String = line[i + marker.len()..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        word == name
    })
}

/// The text an anchor selects, as mdBook would render it, or why not.
pub fn anchor_text(file: &str, anchor: &str) -> Result<String, String> {
    let mut lines = file.lines();
    if !lines.any(|l| has_marker(l, "ANCHOR:", anchor)) {
        return Err(format!("anchor `{anchor}` not found"));
    }
    let mut body = Vec::new();
    for line in lines {
        if has_marker(line, "ANCHOR_END:", anchor) {
            let text = body.join("\n");
            return if text.trim().is_empty() {
                Err(format!("anchor `{anchor}` selects no text"))
            } else {
                Ok(text)
            };
        }
        if !is_anchor_marker(line) {
            body.push(line);
        }
    }
    Err(format!("anchor `{anchor}` has no ANCHOR_END"))
}

/// The text a selector picks out of `file`, as the reader sees it (anchor
/// marker lines removed, as mdBook removes them).
pub fn selected_text(
    file: &str,
    selector: &Selector,
) -> Result<String, String> {
    match selector {
        Selector::Whole => Ok(file
            .lines()
            .filter(|l| !is_anchor_marker(l))
            .collect::<Vec<_>>()
            .join("\n")),
        Selector::Anchor(name) => anchor_text(file, name),
        Selector::Lines(a, b) => {
            let lines: Vec<&str> = file.lines().collect();
            let from = a.unwrap_or(1).saturating_sub(1);
            let to = b.unwrap_or(lines.len());
            if from >= lines.len() || to <= from {
                return Err(format!(
                    "line range selects nothing (file has {} lines)",
                    lines.len()
                ));
            }
            Ok(lines[from..to.min(lines.len())].join("\n"))
        }
    }
}

/// Every include names a file that exists, and selects non-empty text.
pub fn check_includes(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for include in &chapter.parsed.includes {
            let target = book.include_target(chapter, include);
            let problem = |message: String| {
                Problem::new(chapter.file(), include.line, message)
            };
            match std::fs::read_to_string(&target) {
                Err(e) => problems.push(problem(format!(
                    "cannot include {}: {e}",
                    include.path
                ))),
                Ok(file) => match selected_text(&file, &include.selector) {
                    Ok(text) if text.trim().is_empty() => problems.push(
                        problem(format!("{} includes no text", include.path)),
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        problems.push(problem(format!("{}: {e}", include.path)))
                    }
                },
            }
        }
    }
    problems
}
