//! Every link that stays inside the book reaches a page (or file) of the
//! book, and every `#fragment` names a heading on that page.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::{Book, Problem, join_normalized, rel_string};

/// The ids mdBook 0.5.4 gives a page's headings (and explicit `{#id}`s).
pub fn heading_ids(text: &str) -> HashSet<String> {
    super::Parsed::new(text)
        .headings
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// mdBook's `id_from_content`.
pub fn id_from_content(content: &str) -> String {
    content
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch)
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

pub fn check_links(book: &Book) -> Vec<Problem> {
    let ids: BTreeMap<&str, HashSet<&str>> = book
        .chapters
        .iter()
        .map(|c| {
            let set = c.parsed.headings.iter().map(|h| h.id.as_str()).collect();
            (c.rel.as_str(), set)
        })
        .collect();
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for (dest, line) in &chapter.parsed.links {
            if dest.contains("://") || dest.starts_with("mailto:") {
                continue;
            }
            let problem =
                |message: String| Problem::new(chapter.file(), *line, message);
            let (path, fragment) = match dest.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (dest.as_str(), None),
            };
            let target_rel = if path.is_empty() {
                chapter.rel.clone()
            } else {
                let dir =
                    Path::new(&chapter.rel).parent().unwrap_or(Path::new(""));
                let target = join_normalized(&book.src().join(dir), path);
                if !target.starts_with(book.src()) {
                    problems.push(problem(format!(
                        "{dest} points outside src/, which the built book does not contain"
                    )));
                    continue;
                }
                rel_string(&book.src(), &target)
            };
            if target_rel.ends_with(".html") {
                problems.push(problem(format!(
                    "{dest}: link to the .md file, mdBook rewrites it"
                )));
                continue;
            }
            let generated = book.shape.generated.files.contains(&target_rel);
            if !generated && !book.src().join(&target_rel).exists() {
                problems.push(problem(format!("{dest}: no such file")));
                continue;
            }
            if let Some(fragment) = fragment {
                let known = ids.get(target_rel.as_str());
                if !known.is_some_and(|set| set.contains(fragment)) {
                    problems.push(problem(format!(
                        "{dest}: no heading with id `{fragment}`"
                    )));
                }
            }
        }
    }
    problems
}
