//! Rust and Python appear only through includes of tested listings; every
//! block names its language, so nothing is highlighted (or made runnable)
//! by guesswork.

use super::{Book, Problem};

const CODE_LANGS: [&str; 4] = ["rust", "python", "py", "python3"];

fn only_includes(body: &str) -> bool {
    let lines: Vec<&str> =
        body.lines().filter(|l| !l.trim().is_empty()).collect();
    !lines.is_empty()
        && lines.iter().all(|l| {
            let l = l.trim();
            (l.starts_with("{{#include ")
                || l.starts_with("{{#rustdoc_include "))
                && l.ends_with("}}")
        })
}

/// A fence language the book highlights, or shows as it is.
fn known(book: &Book, lang: &str) -> bool {
    let highlight = &book.shape.highlight;
    CODE_LANGS.contains(&lang)
        || highlight.languages.iter().any(|l| l == lang)
        || highlight.plain.iter().any(|l| l == lang)
}

pub fn check_code_blocks(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for block in &chapter.parsed.code_blocks {
            let problem = |message: &str| {
                Problem::new(chapter.file(), block.line, message)
            };
            match block.lang.as_deref() {
                _ if block.indented => problems.push(problem(
                    "indented code block: use a fenced block with a language",
                )),
                None => problems.push(problem("code block without a language")),
                Some(lang) if CODE_LANGS.contains(&lang) && !only_includes(&block.body) => {
                    problems.push(problem(
                        "inline code block: show code only through {{#include}} of a tested listing",
                    ))
                }
                Some(lang) if !known(book, lang) => problems.push(problem(&format!(
                    "`{lang}` is not in guide.toml's [highlight] languages or plain list"
                ))),
                Some(_) => {}
            }
        }
    }
    problems
}
