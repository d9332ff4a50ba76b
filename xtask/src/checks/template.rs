//! Every page has a title, and every question chapter follows its
//! section's template (declared in guide.toml).

use super::{Book, Problem};

/// Every page but SUMMARY has a top-level heading, so that the browser and
/// search see a title.
pub fn check_titles(book: &Book) -> Vec<Problem> {
    book.chapters
        .iter()
        .filter(|c| c.rel != "SUMMARY.md" && c.parsed.title().is_none())
        .map(|c| Problem::new(c.file(), 1, "no `# ` title"))
        .collect()
}

/// A question chapter's title starts with its number (of its section), the
/// question is quoted as `> **Question N.M.**`, and the template's sections
/// come in order (others may stand between them).
pub fn check_template(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in book.questions() {
        let Some(section) = book.shape.section_of(&chapter.rel) else {
            continue;
        };
        let sections = book.shape.template(section);
        let problem =
            |message: String| Problem::new(chapter.file(), 1, message);
        let number = chapter
            .parsed
            .title()
            .and_then(|t| t.split_whitespace().next())
            .filter(|n| {
                let parts: Vec<&str> = n.split('.').collect();
                parts.len() == 2
                    && parts.iter().all(|p| p.parse::<u8>().is_ok())
            });
        match number {
            None => problems.push(problem(
                "title must start with the question number, e.g. `# 4.2 ...`"
                    .into(),
            )),
            Some(n)
                if n.split('.').next() != Some(&section.number.to_string()) =>
            {
                problems.push(problem(format!(
                    "question {n} is in src/{}/, the folder of section {}",
                    section.folder, section.number
                )))
            }
            Some(n)
                if !chapter.text.contains(&format!("> **Question {n}.**")) =>
            {
                problems.push(problem(format!(
                    "the question must be quoted as `> **Question {n}.** ...`"
                )))
            }
            Some(_) => {}
        }
        let mut next = 0;
        for heading in chapter.parsed.sections() {
            if next < sections.len() && heading == sections[next] {
                next += 1;
            }
        }
        if next < sections.len() {
            problems.push(problem(format!(
                "section `## {}` missing or out of order (template `{}`: {})",
                sections[next],
                section.template,
                sections.join(", ")
            )));
        }
    }
    problems
}
