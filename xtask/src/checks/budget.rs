//! The reader's budget (guide.toml `[budget]`): shown code is at most
//! `columns` wide and at most `lines` long per block.

use super::{Book, Problem, includes_in, selected_text};

/// Code blocks whose content is a listing's code, not its output.
const CODE_LANGS: [&str; 4] = ["rust", "python", "py", "python3"];

pub fn check_budget(book: &Book) -> Vec<Problem> {
    let budget = &book.shape.budget;
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for block in &chapter.parsed.code_blocks {
            if !block
                .lang
                .as_deref()
                .is_some_and(|l| CODE_LANGS.contains(&l))
            {
                continue;
            }
            let mut shown = Vec::new();
            for include in includes_in(&block.body) {
                let target = book.include_target(chapter, &include);
                let Ok(file) = std::fs::read_to_string(&target) else {
                    continue; // reported by check_includes
                };
                if let Ok(text) = selected_text(&file, &include.selector) {
                    shown.extend(
                        text.lines()
                            .map(|l| (include.path.clone(), l.to_string())),
                    );
                }
            }
            let problem = |message: String| {
                Problem::new(chapter.file(), block.line, message)
            };
            if shown.len() > budget.lines {
                problems.push(problem(format!(
                    "shows {} lines; the budget is {} per block: split the anchor",
                    shown.len(),
                    budget.lines
                )));
            }
            for (path, line) in &shown {
                let width = line.chars().count();
                if width > budget.columns {
                    problems.push(problem(format!(
                        "{path}: a shown line is {width} columns wide (budget {}): {}",
                        budget.columns,
                        line.trim()
                    )));
                }
            }
        }
    }
    problems
}
