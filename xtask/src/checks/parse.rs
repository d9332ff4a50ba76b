//! Parsing a chapter once: its code blocks, headings, links and includes.

use pulldown_cmark::{
    CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd,
};

use super::includes::{Include, includes_in};
use super::line_of;

/// A fenced code block, with the words of its info string.
#[derive(Debug, Clone)]
pub struct CodeBlock {
    pub line: usize,
    pub lang: Option<String>,
    pub flags: Vec<String>,
    pub body: String,
    pub indented: bool,
}

impl CodeBlock {
    /// mdBook gives a Rust block a Run button unless it is marked otherwise.
    pub fn is_runnable_rust(&self) -> bool {
        self.lang.as_deref() == Some("rust")
            && !self.flags.iter().any(|f| {
                f == "noplayground" || f == "ignore" || f == "noplaypen"
            })
    }
}

/// A heading, with the id mdBook 0.5.4 gives it.
#[derive(Debug, Clone)]
pub struct Heading {
    pub level: HeadingLevel,
    pub text: String,
    pub id: String,
    pub line: usize,
}

/// Everything the checks read from one chapter.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub code_blocks: Vec<CodeBlock>,
    pub headings: Vec<Heading>,
    /// Link and image destinations, with their line.
    pub links: Vec<(String, usize)>,
    pub includes: Vec<Include>,
}

/// The options mdBook 0.5.4 parses chapters with (mdbook-markdown).
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
}

impl Parsed {
    pub fn new(text: &str) -> Parsed {
        let mut parsed = Parsed {
            includes: includes_in(text),
            ..Parsed::default()
        };
        let mut block: Option<CodeBlock> = None;
        let mut heading: Option<(HeadingLevel, Option<String>, String, usize)> =
            None;
        let mut used_ids = std::collections::HashSet::new();
        let events =
            Parser::new_ext(text, markdown_options()).into_offset_iter();
        for (event, range) in events {
            match event {
                Event::Start(Tag::CodeBlock(kind)) => {
                    block = Some(code_block(kind, line_of(text, range.start)));
                }
                Event::End(TagEnd::CodeBlock) => {
                    parsed.code_blocks.extend(block.take())
                }
                Event::Start(Tag::Heading { level, id, .. }) => {
                    let id = id.map(|s| s.to_string());
                    heading = Some((
                        level,
                        id,
                        String::new(),
                        line_of(text, range.start),
                    ));
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some((level, explicit, text, line)) = heading.take()
                    {
                        let id = explicit.unwrap_or_else(|| {
                            unique_id(
                                &super::id_from_content(&text),
                                &mut used_ids,
                            )
                        });
                        parsed.headings.push(Heading {
                            level,
                            text,
                            id,
                            line,
                        });
                    }
                }
                Event::Text(t) | Event::Code(t) => {
                    if let Some(block) = block.as_mut() {
                        block.body.push_str(&t);
                    }
                    if let Some((_, _, content, _)) = heading.as_mut() {
                        content.push_str(&t);
                    }
                }
                Event::Start(
                    Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. },
                ) => {
                    parsed.links.push((
                        dest_url.to_string(),
                        line_of(text, range.start),
                    ));
                }
                _ => {}
            }
        }
        parsed
    }

    /// The first `# ` heading's text.
    pub fn title(&self) -> Option<&str> {
        self.headings
            .iter()
            .find(|h| h.level == HeadingLevel::H1)
            .map(|h| h.text.as_str())
    }

    /// The `## ` headings' texts, in order.
    pub fn sections(&self) -> Vec<&str> {
        self.headings
            .iter()
            .filter(|h| h.level == HeadingLevel::H2)
            .map(|h| h.text.as_str())
            .collect()
    }
}

fn code_block(kind: CodeBlockKind<'_>, line: usize) -> CodeBlock {
    let (lang, flags, indented) = match kind {
        CodeBlockKind::Fenced(info) => {
            let words: Vec<String> = info
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            (
                words.first().cloned(),
                words.into_iter().skip(1).collect(),
                false,
            )
        }
        CodeBlockKind::Indented => (None, Vec::new(), true),
    };
    CodeBlock {
        line,
        lang,
        flags,
        body: String::new(),
        indented,
    }
}

fn unique_id(id: &str, used: &mut std::collections::HashSet<String>) -> String {
    if used.insert(id.to_string()) {
        return id.to_string();
    }
    (1..)
        .map(|n| format!("{id}-{n}"))
        .find(|candidate| used.insert(candidate.clone()))
        .unwrap_or_default()
}
