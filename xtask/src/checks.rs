//! The checks that mdBook does not make.
//!
//! mdBook 0.5.4 logs a missing `{{#include}}` file as an error but exits 0,
//! and renders a missing anchor as nothing at all. Each function here returns
//! every problem it finds, so that a test (or `cargo xtask check`) can fail
//! with the whole list rather than the first one.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// One thing wrong, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A chapter's Markdown as it is on disk.
#[derive(Debug, Clone)]
pub struct Chapter {
    /// Path relative to `src/`, with `/` separators.
    pub rel: String,
    pub text: String,
}

/// The repository as the checks see it.
#[derive(Debug, Clone)]
pub struct Book {
    pub root: PathBuf,
    pub chapters: Vec<Chapter>,
}

impl Book {
    /// Reads every Markdown file below `root/src`.
    pub fn load(root: &Path) -> Result<Book, String> {
        let src = root.join("src");
        let mut files = Vec::new();
        walk(&src, &mut files).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
        let mut chapters = Vec::new();
        for file in files.into_iter().filter(|f| has_extension(f, "md")) {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            chapters.push(Chapter {
                rel: rel_string(&src, &file),
                text,
            });
        }
        chapters.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Book {
            root: root.to_path_buf(),
            chapters,
        })
    }

    fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    fn chapter(&self, rel: &str) -> Option<&Chapter> {
        self.chapters.iter().find(|c| c.rel == rel)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e == ext)
}

fn rel_string(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Joins `rel` onto `base` and folds `.` and `..` without touching the disk.
fn join_normalized(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in base.join(rel).components() {
        match comp {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

// ---------------------------------------------------------------------------
// Include directives

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
        let (kind, arg) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
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
        None if number(rest).is_some() => Selector::Lines(number(rest), number(rest)),
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

fn selected_text(file: &str, selector: &Selector) -> Result<String, String> {
    match selector {
        Selector::Whole => Ok(file.to_string()),
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

/// Resolves an include to a path on disk, relative to the chapter's folder.
pub fn include_target(book: &Book, chapter: &Chapter, include: &Include) -> PathBuf {
    let dir = Path::new(&chapter.rel).parent().unwrap_or(Path::new(""));
    join_normalized(&book.src().join(dir), &include.path)
}

/// Every include names a file that exists, and selects non-empty text.
pub fn check_includes(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for include in includes_in(&chapter.text) {
            let target = include_target(book, chapter, &include);
            let problem = |message: String| Problem {
                file: format!("src/{}", chapter.rel),
                line: include.line,
                message,
            };
            match std::fs::read_to_string(&target) {
                Err(e) => problems.push(problem(format!("cannot include {}: {e}", include.path))),
                Ok(file) => match selected_text(&file, &include.selector) {
                    Ok(text) if text.trim().is_empty() => {
                        problems.push(problem(format!("{} includes no text", include.path)))
                    }
                    Ok(_) => {}
                    Err(e) => problems.push(problem(format!("{}: {e}", include.path))),
                },
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// Code blocks

/// A fenced code block, with the words of its info string.
#[derive(Debug, Clone)]
pub struct CodeBlock {
    pub line: usize,
    pub lang: Option<String>,
    pub flags: Vec<String>,
    pub body: String,
    pub indented: bool,
}

fn markdown_options() -> Options {
    // The options mdBook 0.5.4 parses chapters with (mdbook-markdown).
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
}

pub fn code_blocks(text: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<CodeBlock> = None;
    for (event, range) in Parser::new_ext(text, markdown_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
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
                current = Some(CodeBlock {
                    line: line_of(text, range.start),
                    lang,
                    flags,
                    body: String::new(),
                    indented,
                });
            }
            Event::Text(t) => {
                if let Some(block) = current.as_mut() {
                    block.body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            _ => {}
        }
    }
    blocks
}

const CODE_LANGS: [&str; 4] = ["rust", "python", "py", "python3"];

fn only_includes(body: &str) -> bool {
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    !lines.is_empty()
        && lines.iter().all(|l| {
            let l = l.trim();
            (l.starts_with("{{#include ") || l.starts_with("{{#rustdoc_include "))
                && l.ends_with("}}")
        })
}

/// Rust and Python appear only through includes; every block names its
/// language, so that nothing is highlighted (or made runnable) by guesswork.
pub fn check_code_blocks(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for block in code_blocks(&chapter.text) {
            let problem = |message: &str| Problem {
                file: format!("src/{}", chapter.rel),
                line: block.line,
                message: message.to_string(),
            };
            match block.lang.as_deref() {
                _ if block.indented => problems.push(problem(
                    "indented code block: use a fenced block with a language",
                )),
                None => problems.push(problem("code block without a language")),
                Some(lang) if CODE_LANGS.contains(&lang) && !only_includes(&block.body) => problems
                    .push(problem(
                        "inline code block: show code only through {{#include}} of a tested listing",
                    )),
                Some(_) => {}
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// SUMMARY.md

/// The chapter files that SUMMARY.md links to (draft chapters have none).
pub fn summary_links(summary: &str) -> Vec<(String, usize)> {
    let mut links = Vec::new();
    for (event, range) in Parser::new_ext(summary, markdown_options()).into_offset_iter() {
        if let Event::Start(Tag::Link { dest_url, .. }) = event
            && !dest_url.is_empty()
        {
            links.push((dest_url.to_string(), line_of(summary, range.start)));
        }
    }
    links
}

/// SUMMARY.md and the files on disk agree, both ways.
pub fn check_summary(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(summary) = book.chapter("SUMMARY.md") else {
        return vec![Problem {
            file: "src/SUMMARY.md".into(),
            line: 0,
            message: "missing".into(),
        }];
    };
    let mut listed = BTreeSet::new();
    for (link, line) in summary_links(&summary.text) {
        if !listed.insert(link.clone()) {
            problems.push(Problem {
                file: "src/SUMMARY.md".into(),
                line,
                message: format!("{link} is listed twice"),
            });
        }
        if book.chapter(&link).is_none() {
            problems.push(Problem {
                file: "src/SUMMARY.md".into(),
                line,
                message: format!("{link} does not exist"),
            });
        }
    }
    for chapter in &book.chapters {
        if chapter.rel != "SUMMARY.md" && !listed.contains(&chapter.rel) {
            problems.push(Problem {
                file: format!("src/{}", chapter.rel),
                line: 0,
                message: "not listed in SUMMARY.md".into(),
            });
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// Listings are all shown

/// The files a chapter must show: every program, every Python listing,
/// every captured output, and the source of crates nested in `listings/`.
pub fn listing_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (dir, ext) in [
        ("listings/src/bin", "rs"),
        ("listings/python", "py"),
        ("listings/output", "txt"),
    ] {
        let mut found = Vec::new();
        if walk(&root.join(dir), &mut found).is_ok() {
            files.extend(found.into_iter().filter(|f| has_extension(f, ext)));
        }
    }
    // Crates nested in listings/ (a proc-macro, say) are shown too.
    if let Ok(entries) = std::fs::read_dir(root.join("listings")) {
        for dir in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let mut found = Vec::new();
            if dir.join("Cargo.toml").is_file() && walk(&dir.join("src"), &mut found).is_ok() {
                files.extend(found.into_iter().filter(|f| has_extension(f, "rs")));
            }
        }
    }
    files.sort();
    files
}

/// Every listing file is included by at least one chapter.
pub fn check_listings_included(book: &Book) -> Vec<Problem> {
    let included: HashSet<PathBuf> = book
        .chapters
        .iter()
        .flat_map(|c| {
            includes_in(&c.text)
                .into_iter()
                .map(move |i| include_target(book, c, &i))
        })
        .collect();
    listing_files(&book.root)
        .into_iter()
        .filter(|f| !included.contains(f))
        .map(|f| Problem {
            file: rel_string(&book.root, &f),
            line: 0,
            message: "no chapter includes this listing file".into(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Internal links

/// The ids mdBook 0.5.4 gives a page's headings (and explicit `{#id}`s).
pub fn heading_ids(text: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut used = HashSet::new();
    let mut current: Option<(Option<String>, String)> = None;
    for event in Parser::new_ext(text, markdown_options()) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                current = Some((id.map(|s| s.to_string()), String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, content)) = current.as_mut() {
                    content.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((explicit, content)) = current.take() {
                    let id = match explicit {
                        Some(id) => id,
                        None => unique_id(&id_from_content(&content), &mut used),
                    };
                    ids.insert(id);
                }
            }
            _ => {}
        }
    }
    ids
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

fn unique_id(id: &str, used: &mut HashSet<String>) -> String {
    if used.insert(id.to_string()) {
        return id.to_string();
    }
    (1..)
        .map(|n| format!("{id}-{n}"))
        .find(|candidate| used.insert(candidate.clone()))
        .unwrap_or_default()
}

/// Links in a chapter: (destination, line).
pub fn links_in(text: &str) -> Vec<(String, usize)> {
    let mut links = Vec::new();
    for (event, range) in Parser::new_ext(text, markdown_options()).into_offset_iter() {
        if let Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) = event {
            links.push((dest_url.to_string(), line_of(text, range.start)));
        }
    }
    links
}

/// Every link that stays inside the book reaches a page (or file) of the book,
/// and every `#fragment` names a heading on that page.
pub fn check_links(book: &Book) -> Vec<Problem> {
    let ids: BTreeMap<&str, HashSet<String>> = book
        .chapters
        .iter()
        .map(|c| (c.rel.as_str(), heading_ids(&c.text)))
        .collect();
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for (dest, line) in links_in(&chapter.text) {
            if dest.contains("://") || dest.starts_with("mailto:") {
                continue;
            }
            let problem = |message: String| Problem {
                file: format!("src/{}", chapter.rel),
                line,
                message,
            };
            let (path, fragment) = match dest.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (dest.as_str(), None),
            };
            let target_rel = if path.is_empty() {
                chapter.rel.clone()
            } else {
                let dir = Path::new(&chapter.rel).parent().unwrap_or(Path::new(""));
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
            if !book.src().join(&target_rel).exists() {
                problems.push(problem(format!("{dest}: no such file")));
                continue;
            }
            if let Some(fragment) = fragment {
                let known = ids.get(target_rel.as_str());
                if !known.is_some_and(|set| set.contains(fragment)) {
                    problems.push(problem(format!("{dest}: no heading with id `{fragment}`")));
                }
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// The Run button

/// Whether a listing compiles with bare `rustc`, i.e. needs nothing but std,
/// which is all the Rust Playground can be relied on to have.
pub fn compiles_with_std_alone(file: &Path) -> Result<bool, String> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_dir =
        std::env::temp_dir().join(format!("guide-std-check-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    let status = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "bin",
            "--emit=metadata",
        ])
        .arg("--crate-name")
        .arg(stem.replace('-', "_"))
        .arg("--out-dir")
        .arg(&out_dir)
        .arg(file)
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run rustc: {e}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    Ok(status?.success())
}

/// A Rust block keeps its Run button exactly when it shows a whole std-only
/// program (`{{#rustdoc_include}}` hides the rest of the file but sends it);
/// any other program is `noplayground`, and its chapter says how to run it;
/// source that is not a program (a library, a proc-macro) is `noplayground`.
pub fn check_playground(book: &Book) -> Vec<Problem> {
    let mut std_only: BTreeMap<PathBuf, Result<bool, String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        for block in code_blocks(&chapter.text) {
            if block.lang.as_deref() != Some("rust") {
                continue;
            }
            let runnable = !block
                .flags
                .iter()
                .any(|f| f == "noplayground" || f == "ignore");
            for include in includes_in(&block.body) {
                let target = include_target(book, chapter, &include);
                let problem = |message: String| Problem {
                    file: format!("src/{}", chapter.rel),
                    line: block.line,
                    message,
                };
                // Only a program (a file in listings/src/bin) can run; any
                // other source shown (a library, a proc-macro) never can.
                if !target.starts_with(book.root.join("listings/src/bin")) {
                    if runnable {
                        problems.push(problem(format!(
                            "{} is not a program in listings/src/bin: mark the block noplayground",
                            include.path
                        )));
                    }
                    continue;
                }
                let verdict = std_only
                    .entry(target.clone())
                    .or_insert_with(|| compiles_with_std_alone(&target))
                    .clone();
                let name = include
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                match verdict {
                    Err(e) => problems.push(problem(e)),
                    Ok(true) if !runnable => problems.push(problem(format!(
                        "{name} needs only std: keep the Run button (drop noplayground)"
                    ))),
                    Ok(true) if !include.rustdoc => problems.push(problem(format!(
                        "{name}: a runnable block must use {{{{#rustdoc_include}}}} so the whole program is sent"
                    ))),
                    Ok(false) if runnable => problems.push(problem(format!(
                        "{name} does not compile with std alone: mark the block noplayground"
                    ))),
                    Ok(false) => {
                        let bin = name.trim_end_matches(".rs");
                        let command = format!("cargo run -p listings --bin {bin}");
                        if !chapter.text.contains(&command) {
                            problems.push(problem(format!(
                                "{name} is noplayground: the chapter must give `{command}`"
                            )));
                        }
                    }
                    Ok(true) => {}
                }
            }
        }
    }
    problems
}

/// Every chapter page that is not the front page or SUMMARY has a top-level
/// heading, so that the browser and search see a title.
pub fn check_titles(book: &Book) -> Vec<Problem> {
    book.chapters
        .iter()
        .filter(|c| c.rel != "SUMMARY.md")
        .filter(|c| {
            !Parser::new_ext(&c.text, markdown_options()).any(|e| {
                matches!(
                    e,
                    Event::Start(Tag::Heading {
                        level: HeadingLevel::H1,
                        ..
                    })
                )
            })
        })
        .map(|c| Problem {
            file: format!("src/{}", c.rel),
            line: 1,
            message: "no `# ` title".into(),
        })
        .collect()
}

/// The sections every chapter of a folder has, in this order (the guide's
/// chapter template). Other sections may stand between them.
pub const TEMPLATES: [(&str, &[&str]); 2] = [
    (
        "problems/",
        &[
            "The short answer",
            "Approach",
            "Deep dive",
            "Complexity",
            "In code",
            "Edge cases the tests check",
            "Trade-offs",
            "Pitfalls",
            "Follow-ups",
            "Sources",
        ],
    ),
    (
        "python/",
        &[
            "The short answer",
            "Deep dive",
            "In code",
            "Trade-offs",
            "Pitfalls",
            "Follow-ups",
            "Sources",
        ],
    ),
];

fn h2_and_h1(text: &str) -> (Option<String>, Vec<String>) {
    let mut h1 = None;
    let mut h2 = Vec::new();
    let mut current: Option<(HeadingLevel, String)> = None;
    for event in Parser::new_ext(text, markdown_options()) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => current = Some((level, String::new())),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, content)) = current.as_mut() {
                    content.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => match current.take() {
                Some((HeadingLevel::H1, t)) if h1.is_none() => h1 = Some(t),
                Some((HeadingLevel::H2, t)) => h2.push(t),
                _ => {}
            },
            _ => {}
        }
    }
    (h1, h2)
}

/// A chapter in a question folder follows the template: its title starts
/// with the question number, the question is quoted as
/// `> **Question N.M.**`, and the template's sections come in order.
pub fn check_template(book: &Book) -> Vec<Problem> {
    let mut problems = Vec::new();
    for chapter in &book.chapters {
        let Some((_, sections)) = TEMPLATES
            .iter()
            .find(|(dir, _)| chapter.rel.starts_with(dir))
        else {
            continue;
        };
        let problem = |message: String| Problem {
            file: format!("src/{}", chapter.rel),
            line: 1,
            message,
        };
        let (h1, h2) = h2_and_h1(&chapter.text);
        let number = h1
            .as_deref()
            .and_then(|t| t.split_whitespace().next())
            .filter(|n| n.split('.').count() == 2 && n.split('.').all(|p| p.parse::<u8>().is_ok()));
        match number {
            None => problems.push(problem(
                "title must start with the question number, e.g. `# 4.2 ...`".into(),
            )),
            Some(n) if !chapter.text.contains(&format!("> **Question {n}.**")) => {
                problems.push(problem(format!(
                    "the question must be quoted as `> **Question {n}.** ...`"
                )))
            }
            Some(_) => {}
        }
        let mut next = 0;
        for heading in &h2 {
            if next < sections.len() && heading == sections[next] {
                next += 1;
            }
        }
        if next < sections.len() {
            problems.push(problem(format!(
                "section `## {}` missing or out of order (template: {})",
                sections[next],
                sections.join(", ")
            )));
        }
    }
    problems
}

/// Every check, in one list.
pub fn check_all(book: &Book) -> Vec<Problem> {
    let mut all = Vec::new();
    all.extend(check_includes(book));
    all.extend(check_code_blocks(book));
    all.extend(check_summary(book));
    all.extend(check_listings_included(book));
    all.extend(check_links(book));
    all.extend(check_titles(book));
    all.extend(check_template(book));
    all.extend(check_playground(book));
    all
}
