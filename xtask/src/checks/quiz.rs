//! Every question chapter contributes its flashcards: a short answer and
//! at least three follow-ups, each with an answer (see `crate::flashcards`).

use super::{Book, Problem};

pub fn check_quiz(book: &Book) -> Vec<Problem> {
    let chapters: Vec<(&str, &str)> = book
        .questions()
        .map(|c| (c.rel.as_str(), c.text.as_str()))
        .collect();
    match crate::flashcards::deck(&chapters) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(|m| parse_problem(m)).collect(),
    }
}

/// The deck reports `src/<rel>:<line>: message` or `src/<rel>: message`.
fn parse_problem(message: &str) -> Problem {
    let Some((location, text)) = message.split_once(": ") else {
        return Problem::new("", 0, message);
    };
    match location.rsplit_once(':') {
        Some((file, line)) if line.parse::<usize>().is_ok() => {
            Problem::new(file, line.parse().unwrap_or(0), text)
        }
        _ => Problem::new(location, 0, text),
    }
}
