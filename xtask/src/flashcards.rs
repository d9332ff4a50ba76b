//! The self-quiz deck: every question's short answer and follow-ups as
//! flashcards, in the plain-text format that Anki imports (File → Import)
//! and that other spaced-repetition tools read as tab-separated values.
//!
//! The chapters are the only source. A question chapter (one whose title is
//! `# N.M ...`) gives one card for its quoted question, answered by its
//! `## The short answer` section, and one card per `<details>` block under
//! `## Follow-ups`: the `<summary>` line is the front, the Markdown between
//! it and `</details>` is the back. Fields are HTML (the file says
//! `#html:true`), rendered with the options mdBook renders the book with, and
//! never hold a tab or a newline, because those separate fields and cards.
//!
//! The file headers are those of Anki's manual, "Importing" → "Text Files" →
//! "File Headers" (Anki 2.1.54 and later); older versions and other tools
//! skip them as comment lines.

use std::collections::BTreeMap;
use std::fmt;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

/// The deck the cards are filed under when the file is imported.
pub const DECK_NAME: &str = "Senior Python Backend Interviews";

/// The file's name in the built book, linked from the front page.
pub const FILE_NAME: &str = "flashcards.txt";

/// The guide's template asks for three to five follow-ups per question.
pub const MIN_FOLLOW_UPS: usize = 3;

const SHORT_ANSWER: &str = "The short answer";
const FOLLOW_UPS: &str = "Follow-ups";

/// Which part of a chapter a card comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The question itself, answered by the short answer.
    ShortAnswer,
    /// One follow-up and its answer.
    FollowUp,
}

/// One note: two HTML fields and its tags, each a single line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The question's number, such as `4.2`.
    pub question: String,
    pub kind: Kind,
    pub front: String,
    pub back: String,
    pub tags: Vec<String>,
}

/// Every card of the book, in question order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deck {
    pub cards: Vec<Card>,
}

impl Deck {
    /// The cards of one question, e.g. `"1.1"`.
    pub fn cards_of<'a>(
        &'a self,
        question: &'a str,
    ) -> impl Iterator<Item = &'a Card> + 'a {
        self.cards.iter().filter(move |c| c.question == question)
    }

    /// The deck as Anki's plain-text import file: UTF-8, header lines, then
    /// one card per line as `front<TAB>back<TAB>tags`.
    pub fn to_anki_text(&self, deck_name: &str) -> String {
        // `separator` comes first: Anki splits the `columns` header with it.
        let mut out =
            String::from("#separator:tab\n#html:true\n#notetype:Basic\n");
        out.push_str(&format!("#deck:{}\n", one_line(deck_name)));
        out.push_str("#columns:Front\tBack\tTags\n#tags column:3\n");
        for card in &self.cards {
            let tags = card.tags.join(" ");
            out.push_str(&format!(
                "{}\t{}\t{}\n",
                field(&card.front),
                field(&card.back),
                field(&tags)
            ));
        }
        out
    }
}

/// The deck of every question chapter among `chapters`, given as (path
/// relative to `src/`, Markdown); other chapters are skipped. The error
/// lists every problem found, each naming its file.
pub fn deck(chapters: &[(&str, &str)]) -> Result<Deck, Vec<String>> {
    let mut problems = Vec::new();
    let mut questions: BTreeMap<Number, (String, Vec<Card>)> = BTreeMap::new();
    for &(rel, markdown) in chapters {
        let Some(number) = question_number(markdown) else {
            continue;
        };
        let file = format!("src/{rel}");
        if let Some((other, _)) = questions.get(&number) {
            problems.push(format!("{file}: question {number} is also {other}"));
            continue;
        }
        match chapter_cards(&file, number, markdown) {
            Ok(cards) => {
                questions.insert(number, (file, cards));
            }
            Err(found) => {
                problems.extend(found);
                questions.insert(number, (file, Vec::new()));
            }
        }
    }
    if problems.is_empty() {
        let cards = questions.into_values().flat_map(|(_, cards)| cards);
        Ok(Deck {
            cards: cards.collect(),
        })
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------
// One chapter

/// A question number, ordered numerically (1.9 before 1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Number(u8, u8);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// The number a chapter's `# N.M ...` title starts with, if it has one.
fn question_number(markdown: &str) -> Option<Number> {
    let title = headings(markdown)
        .into_iter()
        .find(|h| h.level == HeadingLevel::H1)?
        .title;
    let (section, question) =
        title.split_whitespace().next()?.split_once('.')?;
    Some(Number(section.parse().ok()?, question.parse().ok()?))
}

fn chapter_cards(
    file: &str,
    number: Number,
    markdown: &str,
) -> Result<Vec<Card>, Vec<String>> {
    let mut problems = Vec::new();
    let tags = |kind: &str| {
        vec![
            format!("section-{}", number.0),
            format!("q{number}"),
            kind.into(),
        ]
    };
    let line = |offset: usize| line_at(markdown, offset);

    let question = quoted_question(markdown, number);
    if question.is_none() {
        problems.push(format!(
            "{file}: no quoted question (`> **Question {number}.** ...`)"
        ));
    }

    let sections = sections(markdown);
    let short = match sections.iter().find(|s| s.title == SHORT_ANSWER) {
        None => {
            problems
                .push(format!("{file}: no short answer (`## {SHORT_ANSWER}`)"));
            None
        }
        Some(s) if markdown[s.body.clone()].trim().is_empty() => {
            let at = line(s.heading);
            problems.push(format!("{file}:{at}: the short answer is empty"));
            None
        }
        Some(s) => {
            let body = &markdown[s.body.clone()];
            check_directives(file, line(s.body.start), body, &mut problems);
            Some(markdown_to_html(body))
        }
    };

    let follow_ups = match sections.iter().find(|s| s.title == FOLLOW_UPS) {
        None => {
            problems.push(format!("{file}: no `## {FOLLOW_UPS}` section"));
            Vec::new()
        }
        Some(s) => {
            let found =
                follow_ups(file, markdown, s.body.clone(), &mut problems);
            if found.len() < MIN_FOLLOW_UPS {
                problems.push(format!(
                    "{file}:{}: {} follow-up(s), the template asks for at least {MIN_FOLLOW_UPS}",
                    line(s.heading),
                    found.len()
                ));
            }
            found
        }
    };

    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(question), Some(short)) = (question, short) else {
        return Err(problems);
    };
    let mut cards = vec![Card {
        question: number.to_string(),
        kind: Kind::ShortAnswer,
        front: format!("{number} {question}"),
        back: short,
        tags: tags("short-answer"),
    }];
    for f in follow_ups {
        cards.push(Card {
            question: number.to_string(),
            kind: Kind::FollowUp,
            front: format!("{number} · {}", f.question),
            back: f.answer,
            tags: tags("follow-up"),
        });
    }
    Ok(cards)
}

struct Heading {
    level: HeadingLevel,
    title: String,
    range: std::ops::Range<usize>,
}

fn headings(markdown: &str) -> Vec<Heading> {
    let mut found = Vec::new();
    let mut current: Option<Heading> = None;
    for (event, range) in
        Parser::new_ext(markdown, options()).into_offset_iter()
    {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(Heading {
                    level,
                    title: String::new(),
                    range,
                });
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = current.as_mut() {
                    h.title.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => found.extend(current.take()),
            _ => {}
        }
    }
    found
}

/// A `##` section: its title and the byte range of its body, which runs to
/// the next `#` or `##` heading.
struct Section {
    title: String,
    heading: usize,
    body: std::ops::Range<usize>,
}

fn sections(markdown: &str) -> Vec<Section> {
    let top: Vec<Heading> = headings(markdown)
        .into_iter()
        .filter(|h| h.level <= HeadingLevel::H2)
        .collect();
    top.iter()
        .enumerate()
        .filter(|(_, h)| h.level == HeadingLevel::H2)
        .map(|(i, h)| Section {
            title: h.title.trim().to_string(),
            heading: h.range.start,
            body: h.range.end
                ..top
                    .get(i + 1)
                    .map_or(markdown.len(), |next| next.range.start),
        })
        .collect()
}

/// The question's text, as inline HTML, from the chapter's
/// `> **Question N.M.** ...` quote, without that label.
fn quoted_question(markdown: &str, number: Number) -> Option<String> {
    let label = format!("Question {number}.");
    let mut depth = 0usize;
    let mut quote: Vec<Event> = Vec::new();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::BlockQuote(_)) => {
                depth += 1;
                if depth == 1 {
                    quote.clear();
                }
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(text) = strip_label(&quote, &label)
                {
                    return Some(text);
                }
            }
            Event::Start(Tag::Paragraph) if depth > 0 => {}
            Event::End(TagEnd::Paragraph) if depth > 0 => {
                quote.push(Event::SoftBreak)
            }
            other if depth > 0 => quote.push(other),
            _ => {}
        }
    }
    None
}

/// The quote's inline HTML after a leading `**Question N.M.**`, or `None`
/// when the quote does not start with it.
fn strip_label(quote: &[Event], label: &str) -> Option<String> {
    let [
        Event::Start(Tag::Strong),
        Event::Text(text),
        Event::End(TagEnd::Strong),
        rest @ ..,
    ] = quote
    else {
        return None;
    };
    (text.trim() == label).then(|| render(rest.iter().cloned()))
}

// ---------------------------------------------------------------------------
// Follow-ups

struct FollowUp {
    question: String,
    answer: String,
}

/// Where the line-by-line reading of a Follow-ups section is.
enum State {
    /// Between blocks (the lead-in, or after a `</details>`).
    Outside,
    /// After `<details>`, waiting for its `<summary>`.
    Details { line: usize },
    /// Inside a `<summary>` (which may span lines) that starts on line `at`.
    Summary {
        line: usize,
        at: usize,
        text: String,
    },
    /// In the answer of the follow-up `question` (`None`: no summary).
    Answer {
        line: usize,
        question: Option<String>,
        answer: String,
    },
}

/// The follow-ups of the section body at `body`, in the shape
/// `<details>` / `<summary>question</summary>` / blank / answer / `</details>`.
fn follow_ups(
    file: &str,
    markdown: &str,
    body: std::ops::Range<usize>,
    problems: &mut Vec<String>,
) -> Vec<FollowUp> {
    let first_line = line_at(markdown, body.start);
    let mut found = Vec::new();
    let mut state = State::Outside;
    let mut seen_block = false;
    // `pending` holds what follows a tag on the same line, read as a line.
    let mut lines = markdown[body]
        .lines()
        .enumerate()
        .map(|(i, l)| (first_line + i, l));
    let mut pending: Option<(usize, &str)> = None;
    while let Some((n, raw)) = pending.take().or_else(|| lines.next()) {
        let line = raw.trim();
        state = match state {
            State::Outside => {
                if let Some(rest) = strip_tag(line, "<details>") {
                    seen_block = true;
                    if !rest.is_empty() {
                        pending = Some((n, rest));
                    }
                    State::Details { line: n }
                } else {
                    if seen_block && !line.is_empty() {
                        problems.push(format!(
                            "{file}:{n}: text between follow-ups, outside any <details> block"
                        ));
                    }
                    State::Outside
                }
            }
            State::Details { line: open } => {
                if line.is_empty() {
                    State::Details { line: open }
                } else if let Some(rest) = strip_tag(line, "<summary>") {
                    pending = Some((n, rest));
                    State::Summary {
                        line: open,
                        at: n,
                        text: String::new(),
                    }
                } else {
                    problems.push(format!(
                        "{file}:{open}: a <details> block without a <summary>"
                    ));
                    pending = Some((n, raw));
                    State::Answer {
                        line: open,
                        question: None,
                        answer: String::new(),
                    }
                }
            }
            State::Summary {
                line: open,
                at,
                mut text,
            } => match line.split_once("</summary>") {
                None => {
                    text.push_str(line);
                    text.push(' ');
                    State::Summary {
                        line: open,
                        at,
                        text,
                    }
                }
                Some((last, rest)) => {
                    text.push_str(last);
                    let question =
                        text.split_whitespace().collect::<Vec<_>>().join(" ");
                    check_summary(file, at, &question, problems);
                    if !rest.trim().is_empty() {
                        problems.push(format!(
                            "{file}:{n}: the answer must start after a blank line below </summary>, \
                             or it does not render as Markdown"
                        ));
                        pending = Some((n, rest));
                    } else if let Some((next, after)) = lines.next() {
                        if !after.trim().is_empty() {
                            problems.push(format!(
                                "{file}:{next}: leave a blank line after </summary>, \
                                 or the answer does not render as Markdown"
                            ));
                        }
                        pending = Some((next, after));
                    }
                    State::Answer {
                        line: open,
                        question: Some(question),
                        answer: String::new(),
                    }
                }
            },
            State::Answer {
                line: open,
                question,
                mut answer,
            } => {
                if strip_tag(line, "</details>").is_some() {
                    let answered = !answer.trim().is_empty();
                    if !answered {
                        let q = question.as_deref().unwrap_or("(no summary)");
                        problems.push(format!(
                            "{file}:{open}: follow-up `{q}` has no answer"
                        ));
                    }
                    check_directives(file, open, &answer, problems);
                    if let (Some(question), true) = (question, answered) {
                        found.push(FollowUp {
                            question,
                            answer: markdown_to_html(&answer),
                        });
                    }
                    State::Outside
                } else if strip_tag(line, "<details>").is_some() {
                    problems.push(format!(
                        "{file}:{open}: <details> not closed before the next <details>"
                    ));
                    pending = Some((n, raw));
                    State::Outside
                } else {
                    answer.push_str(raw);
                    answer.push('\n');
                    State::Answer {
                        line: open,
                        question,
                        answer,
                    }
                }
            }
        };
    }
    match state {
        State::Outside => {}
        State::Details { line }
        | State::Summary { line, .. }
        | State::Answer { line, .. } => {
            problems.push(format!(
                "{file}:{line}: <details> not closed before the end of the section"
            ));
        }
    }
    found
}

/// `line` without its leading `tag` (what follows it on the line), if it
/// starts with that tag.
fn strip_tag<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.strip_prefix(tag).map(str::trim)
}

/// A `<summary>` is an HTML line: Markdown does not render in it, and its
/// literal `<` and `&` must be escaped.
fn check_summary(
    file: &str,
    line: usize,
    summary: &str,
    problems: &mut Vec<String>,
) {
    let mut complain =
        |what: &str| problems.push(format!("{file}:{line}: <summary>: {what}"));
    if summary.is_empty() {
        complain("empty");
    }
    if summary.contains('`') {
        complain(
            "Markdown does not render here; write inline code as <code>…</code>",
        );
    }
    if summary.contains("**") || summary.contains("](") {
        complain("Markdown does not render here; use HTML");
    }
    for (i, _) in summary.match_indices('<') {
        let next = summary[i + 1..].chars().next();
        if !next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/') {
            complain("escape a literal `<` as &lt;");
        }
    }
    for (i, _) in summary.match_indices('&') {
        if !is_entity(&summary[i + 1..]) {
            complain("escape a literal `&` as &amp;");
        }
    }
}

/// Whether `text` (what follows an `&`) starts with an entity's name and `;`.
fn is_entity(text: &str) -> bool {
    let Some((name, _)) = text.split_once(';') else {
        return false;
    };
    let numeric = name
        .strip_prefix("#x")
        .or_else(|| name.strip_prefix("#X"))
        .map(|hex| {
            !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
        .or_else(|| {
            name.strip_prefix('#').map(|dec| {
                !dec.is_empty() && dec.chars().all(|c| c.is_ascii_digit())
            })
        });
    numeric.unwrap_or_else(|| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// mdBook expands `{{#include}}` and its kind in the book; the deck cannot.
fn check_directives(
    file: &str,
    line: usize,
    markdown: &str,
    problems: &mut Vec<String>,
) {
    if markdown.contains("{{#") {
        problems.push(format!(
            "{file}:{line}: an mdBook {{{{#...}}}} directive cannot go into the flashcards"
        ));
    }
}

// ---------------------------------------------------------------------------
// Markdown to one-line HTML

/// The options mdBook 0.5.4 renders chapters with.
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
}

fn markdown_to_html(markdown: &str) -> String {
    render(Parser::new_ext(markdown, options()))
}

/// HTML on one line. Links to other pages of the book become their text
/// (a card has no book around it); code blocks keep their lines as `<br>`.
fn render<'a>(events: impl Iterator<Item = Event<'a>>) -> String {
    let mut kept_links: Vec<bool> = Vec::new();
    let mut in_code_block = false;
    let events = events.filter_map(|event| {
        if let Event::Start(Tag::Link { dest_url, .. }) = &event {
            let keep =
                dest_url.contains("://") || dest_url.starts_with("mailto:");
            kept_links.push(keep);
            return keep.then_some(event);
        }
        match event {
            Event::End(TagEnd::Link) => {
                kept_links.pop().unwrap_or(true).then_some(event)
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code_block = true;
                Some(event)
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                Some(event)
            }
            Event::Text(text) if in_code_block => {
                let lines = escape_html(&text)
                    .replace('\t', "&#9;")
                    .replace('\n', "<br>");
                Some(Event::Html(lines.into()))
            }
            Event::SoftBreak => Some(Event::Text(" ".into())),
            other => Some(other),
        }
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    one_line(&out.replace("<br></code></pre>", "</code></pre>"))
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Tabs and line breaks become spaces: in the file they end fields and cards.
fn one_line(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A field as written to the file. A field starting with `"` would be read
/// as a quoted CSV field, and a line starting with `#` as a comment, so a
/// leading one of those is written as its HTML entity.
fn field(text: &str) -> String {
    let text = one_line(text);
    if let Some(rest) = text.strip_prefix('"') {
        format!("&quot;{rest}")
    } else if let Some(rest) = text.strip_prefix('#') {
        format!("&#35;{rest}")
    } else {
        text
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A question chapter with `follow_ups` follow-ups in the guide's shape.
    fn chapter(number: &str, follow_ups: usize) -> String {
        let mut text = format!(
            "# {number} A title\n\n> **Question {number}.** What is the\n> answer?\n\n\
             ## The short answer\n\nIt is `42`, see [1.1](gil.md).\n\n\
             ## Deep dive\n\nDepth.\n\n## Follow-ups\n\nTry each before opening it.\n\n"
        );
        for i in 1..=follow_ups {
            text.push_str(&format!(
                "<details>\n<summary>Follow-up {i} about <code>f()</code>?</summary>\n\n\
                 Answer {i}.\n\n</details>\n\n"
            ));
        }
        text.push_str("## Sources\n\n- A source.\n");
        text
    }

    fn problems(chapters: &[(&str, &str)]) -> Vec<String> {
        deck(chapters).expect_err("problems expected")
    }

    #[test]
    fn a_chapter_gives_its_question_and_each_follow_up() {
        let text = chapter("4.2", 3);
        let deck = deck(&[("problems/x.md", &text)]).unwrap();
        let fronts: Vec<&str> =
            deck.cards.iter().map(|c| c.front.as_str()).collect();
        assert_eq!(
            fronts,
            [
                "4.2 What is the answer?",
                "4.2 · Follow-up 1 about <code>f()</code>?",
                "4.2 · Follow-up 2 about <code>f()</code>?",
                "4.2 · Follow-up 3 about <code>f()</code>?",
            ]
        );
        // A link to another page of the book keeps only its text.
        assert_eq!(
            deck.cards[0].back,
            "<p>It is <code>42</code>, see 1.1.</p>"
        );
        assert_eq!(deck.cards[0].kind, Kind::ShortAnswer);
        assert_eq!(deck.cards[0].tags, ["section-4", "q4.2", "short-answer"]);
        assert_eq!(deck.cards[2].back, "<p>Answer 2.</p>");
        assert_eq!(deck.cards[2].kind, Kind::FollowUp);
        assert_eq!(deck.cards[2].tags, ["section-4", "q4.2", "follow-up"]);
        assert_eq!(deck.cards_of("4.2").count(), 4);
    }

    #[test]
    fn other_pages_are_skipped_and_questions_are_in_numeric_order() {
        let (a, b) = (chapter("1.10", 3), chapter("1.9", 4));
        let intro = "# How to use this guide\n\nNo cards here.\n";
        let deck = deck(&[
            ("python/a.md", &a),
            ("introduction.md", intro),
            ("python/b.md", &b),
        ])
        .unwrap();
        let order: Vec<&str> =
            deck.cards.iter().map(|c| c.question.as_str()).collect();
        assert_eq!(
            order,
            ["1.9"; 5]
                .into_iter()
                .chain(["1.10"; 4])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn answers_are_html_with_markdown_rendered_and_text_escaped() {
        let text = chapter("1.1", 3).replace(
            "Answer 1.",
            "Use `Vec<T>` when a < b && \"c\".\n\nSecond paragraph:\n\n- one\n- two\n\n\
             ```text\nline\tone\nline two\n```",
        );
        let deck = deck(&[("python/x.md", &text)]).unwrap();
        assert_eq!(
            deck.cards[1].back,
            "<p>Use <code>Vec&lt;T&gt;</code> when a &lt; b &amp;&amp; “c”.</p> \
             <p>Second paragraph:</p> <ul> <li>one</li> <li>two</li> </ul> \
             <pre><code class=\"language-text\">line&#9;one<br>line two</code></pre>"
        );
    }

    #[test]
    fn no_field_holds_a_tab_or_a_newline() {
        let text = chapter("1.1", 3).replace(
            "Answer 1.",
            "Tab\there,\nnew line,\r\nand\n\ncode:\n\n    a\tb\n    c\n",
        );
        let file = deck(&[("python/x.md", &text)])
            .unwrap()
            .to_anki_text(DECK_NAME);
        let cards: Vec<&str> =
            file.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(cards.len(), 4);
        for card in cards {
            assert_eq!(card.split('\t').count(), 3, "{card}");
            assert!(!card.contains('\r'));
        }
    }

    #[test]
    fn the_file_starts_with_anki_headers() {
        let text = chapter("1.1", 3);
        let file = deck(&[("python/x.md", &text)])
            .unwrap()
            .to_anki_text("My deck");
        let lines: Vec<&str> = file.lines().collect();
        assert_eq!(
            lines[..6],
            [
                "#separator:tab",
                "#html:true",
                "#notetype:Basic",
                "#deck:My deck",
                "#columns:Front\tBack\tTags",
                "#tags column:3",
            ]
        );
        assert_eq!(
            lines[6],
            "1.1 What is the answer?\t<p>It is <code>42</code>, see 1.1.</p>\tsection-1 q1.1 short-answer"
        );
        assert!(file.ends_with('\n'));
    }

    #[test]
    fn a_field_never_starts_a_quoted_field_or_a_comment() {
        assert_eq!(field("\"quoted\""), "&quot;quoted\"");
        assert_eq!(field("# not a comment"), "&#35; not a comment");
        assert_eq!(field("plain\ttext\n"), "plain text");
    }

    #[test]
    fn a_missing_or_empty_short_answer_is_reported() {
        let missing =
            chapter("1.1", 3).replace("## The short answer", "## Short");
        assert_eq!(
            problems(&[("python/x.md", &missing)]),
            ["src/python/x.md: no short answer (`## The short answer`)"]
        );
        let empty =
            chapter("1.1", 3).replace("It is `42`, see [1.1](gil.md).", "");
        assert_eq!(
            problems(&[("python/x.md", &empty)]),
            ["src/python/x.md:6: the short answer is empty"]
        );
    }

    #[test]
    fn fewer_than_three_follow_ups_are_reported() {
        let text = chapter("1.1", 2);
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(
            found,
            [
                "src/python/x.md:14: 2 follow-up(s), the template asks for at least 3"
            ]
        );
        let none = chapter("1.1", 3).replace("## Follow-ups", "## Later");
        assert_eq!(
            problems(&[("python/x.md", &none)]),
            ["src/python/x.md: no `## Follow-ups` section"]
        );
    }

    #[test]
    fn old_style_follow_ups_are_reported() {
        let text = chapter("1.1", 0).replace(
            "Try each before opening it.\n",
            "**Q one?** A.\n\n**Q two?** B.\n\n**Q three?** C.\n",
        );
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(
            found,
            [
                "src/python/x.md:14: 0 follow-up(s), the template asks for at least 3"
            ]
        );
    }

    #[test]
    fn a_follow_up_without_an_answer_is_reported() {
        let text = chapter("1.1", 3).replace("Answer 2.\n", "");
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(
            found[0],
            "src/python/x.md:25: follow-up `Follow-up 2 about <code>f()</code>?` has no answer"
        );
        // It is not counted either.
        assert!(found[1].contains("2 follow-up(s)"), "{found:?}");
    }

    #[test]
    fn a_details_block_without_a_summary_is_reported() {
        let text = chapter("1.1", 4).replace(
            "<summary>Follow-up 3 about <code>f()</code>?</summary>\n",
            "",
        );
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(
            found,
            ["src/python/x.md:32: a <details> block without a <summary>"]
        );
    }

    #[test]
    fn markdown_or_raw_text_in_a_summary_is_reported() {
        let text = chapter("1.1", 3).replace(
            "Follow-up 1 about <code>f()</code>?",
            "Is `a < b` & **c**?",
        );
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found
                .iter()
                .all(|p| p.starts_with("src/python/x.md:19: <summary>"))
        );
        assert!(found.iter().any(|p| p.contains("<code>")));
        assert!(found.iter().any(|p| p.contains("&lt;")));
        assert!(found.iter().any(|p| p.contains("&amp;")));
        let escaped = chapter("1.1", 3).replace(
            "Follow-up 1 about <code>f()</code>?",
            "Is a &lt; b &amp; &#8217;c&#x2019;?",
        );
        assert!(deck(&[("python/x.md", &escaped)]).is_ok());
    }

    #[test]
    fn an_answer_glued_to_its_summary_is_reported() {
        let text = chapter("1.1", 3)
            .replace("</summary>\n\nAnswer 1.", "</summary>\nAnswer 1.");
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(
            found,
            ["src/python/x.md:20: leave a blank line after </summary>, \
              or the answer does not render as Markdown"]
        );
    }

    #[test]
    fn unclosed_blocks_and_stray_text_are_reported() {
        let unclosed = chapter("1.1", 3).replacen("</details>", "", 1);
        let found = problems(&[("python/x.md", &unclosed)]);
        assert_eq!(
            found,
            [
                "src/python/x.md:18: <details> not closed before the next <details>",
                "src/python/x.md:14: 2 follow-up(s), the template asks for at least 3",
            ]
        );
        let last = chapter("1.1", 3);
        let cut = last.rfind("</details>").unwrap();
        let unclosed =
            format!("{}{}", &last[..cut], &last[cut + "</details>".len()..]);
        let found = problems(&[("python/x.md", &unclosed)]);
        assert_eq!(
            found[0],
            "src/python/x.md:32: <details> not closed before the end of the section"
        );
        let stray = chapter("1.1", 3).replace(
            "</details>\n\n<details>",
            "</details>\n\nStray.\n\n<details>",
        );
        let found = problems(&[("python/x.md", &stray)]);
        assert!(
            found[0].contains("outside any <details> block"),
            "{found:?}"
        );
    }

    #[test]
    fn a_missing_question_quote_and_a_duplicate_number_are_reported() {
        let text =
            chapter("1.1", 3).replace("> **Question 1.1.**", "> **Q 1.1.**");
        assert_eq!(
            problems(&[("python/x.md", &text)]),
            ["src/python/x.md: no quoted question (`> **Question 1.1.** ...`)"]
        );
        let (a, b) = (chapter("1.1", 3), chapter("1.1", 3));
        assert_eq!(
            problems(&[("python/a.md", &a), ("python/b.md", &b)]),
            ["src/python/b.md: question 1.1 is also src/python/a.md"]
        );
    }

    #[test]
    fn includes_are_reported() {
        let text =
            chapter("1.1", 3).replace("Answer 3.", "{{#include ../x.rs}}");
        let found = problems(&[("python/x.md", &text)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("directive"), "{found:?}");
    }

    /// The issue's promise: every question chapter of the book contributes
    /// its question and at least three follow-ups.
    #[test]
    fn every_question_chapter_of_the_book_contributes_its_cards() {
        let src = crate::repo_root().join("src");
        let mut files = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "md") {
                    let rel = path
                        .strip_prefix(&src)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    files.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let chapters: Vec<(&str, &str)> = files
            .iter()
            .map(|(r, t)| (r.as_str(), t.as_str()))
            .collect();
        let deck =
            deck(&chapters).unwrap_or_else(|p| panic!("{}", p.join("\n")));
        for (rel, text) in &chapters {
            let Some(number) = question_number(text) else {
                continue;
            };
            let number = number.to_string();
            let kinds: Vec<Kind> =
                deck.cards_of(&number).map(|c| c.kind).collect();
            assert_eq!(kinds.first(), Some(&Kind::ShortAnswer), "{rel}");
            assert!(
                kinds.len() > MIN_FOLLOW_UPS,
                "{rel}: {} cards",
                kinds.len()
            );
        }
        println!("{} cards", deck.cards.len());
    }
}
