//! The book checks themselves can fail: each test builds a small book in a
//! temporary folder with one specific fault and asserts that the right check
//! reports it (and that a clean book reports nothing).

use std::path::PathBuf;

use xtask::checks::{self, Book, Problem};

const GUIDE_TOML: &str = r#"
[budget]
columns = 40
lines = 6
page_kb = 300
search_index_kb_per_page = 200

[templates.question]
sections = ["The short answer", "In code", "Follow-ups"]

[[sections]]
number = 1
title = "Part one"
folder = "part"
template = "question"

[highlight]
languages = ["rust", "python", "plaintext"]
plain = ["text"]

[generated]
files = ["flashcards.txt"]

[search]
"intro.md" = "intro"
"part/chapter.md" = "chapter"
"#;

const PROGRAM: &str = "// ANCHOR: main\nfn main() {\n    println!(\"hi\");\n}\n\
                       // ANCHOR_END: main\n#[cfg(test)]\nmod tests;\n";

const FOLLOW_UPS: &str = "## Follow-ups\n\n\
    <details>\n<summary>One?</summary>\n\nYes.\n\n</details>\n\n\
    <details>\n<summary>Two?</summary>\n\nYes.\n\n</details>\n\n\
    <details>\n<summary>Three?</summary>\n\nYes.\n\n</details>\n";

fn chapter(code: &str) -> String {
    format!(
        "# 1.1 Chapter\n\n> **Question 1.1.** Why?\n\n## The short answer\n\nBecause.\n\n\
         ## In code\n\n{code}\n\n```text\n{{{{#include ../../listings/part/output/demo.rs.txt}}}}\n```\n\n\
         {FOLLOW_UPS}"
    )
}

const RUNNABLE: &str = "```rust\n{{#rustdoc_include ../../listings/part/src/bin/demo/main.rs:main}}\n```";

/// A throwaway book: files are written relative to its root.
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let root = std::env::temp_dir()
            .join(format!("guide-checks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let fixture = Fixture { root };
        fixture.write("guide.toml", GUIDE_TOML);
        fixture.write(
            "src/SUMMARY.md",
            "# Summary\n\n[Intro](intro.md)\n\n# Part one\n\n\
             - [1.1 Chapter](part/chapter.md)\n- [1.2 Later]()\n",
        );
        fixture.write(
            "src/intro.md",
            "# Intro\n\nSee [the chapter](part/chapter.md#in-code) and \
             [the deck](flashcards.txt).\n",
        );
        fixture.write("src/part/chapter.md", &chapter(RUNNABLE));
        fixture.write("listings/part/Cargo.toml", "[package]\n");
        fixture.write("listings/part/src/bin/demo/main.rs", PROGRAM);
        fixture.write(
            "listings/part/src/bin/demo/tests.rs",
            "#[test]\nfn t() {}\n",
        );
        fixture.write("listings/part/output/demo.rs.txt", "hi\n");
        fixture
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn book(&self) -> Book {
        Book::load(&self.root).unwrap()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn messages(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_reports(problems: Vec<Problem>, needle: &str) {
    assert!(
        problems.iter().any(|p| p.to_string().contains(needle)),
        "expected a problem containing {needle:?}, got:\n{}",
        messages(&problems)
    );
}

#[test]
fn a_clean_book_passes_every_check() {
    let f = Fixture::new("clean");
    let problems = checks::check_all(&f.book());
    assert!(problems.is_empty(), "{}", messages(&problems));
}

#[test]
fn a_missing_include_file_is_reported() {
    let f = Fixture::new("missing-file");
    std::fs::remove_file(f.path("listings/part/output/demo.rs.txt")).unwrap();
    assert_reports(
        checks::check_includes(&f.book()),
        "cannot include ../../listings/part/output/demo.rs.txt",
    );
}

#[test]
fn a_missing_or_empty_anchor_is_reported() {
    let f = Fixture::new("anchor");
    let program = "listings/part/src/bin/demo/main.rs";
    f.write(program, "fn main() {}\n");
    assert_reports(
        checks::check_includes(&f.book()),
        "anchor `main` not found",
    );
    f.write(
        program,
        "// ANCHOR: main\n\n// ANCHOR_END: main\nfn main() {}\n",
    );
    assert_reports(
        checks::check_includes(&f.book()),
        "anchor `main` selects no text",
    );
    f.write(program, "// ANCHOR: main\nfn main() {}\n");
    assert_reports(checks::check_includes(&f.book()), "has no ANCHOR_END");
}

#[test]
fn an_anchor_name_must_match_whole() {
    let f = Fixture::new("anchor-prefix");
    f.write(
        "listings/part/src/bin/demo/main.rs",
        "// ANCHOR: main_loop\nfn main() {}\n// ANCHOR_END: main_loop\n",
    );
    assert_reports(
        checks::check_includes(&f.book()),
        "anchor `main` not found",
    );
}

#[test]
fn inline_rust_or_python_and_unlabelled_blocks_are_reported() {
    let f = Fixture::new("inline");
    f.write(
        "src/intro.md",
        "# Intro\n\n```python\nprint('typed by hand')\n```\n\n```\nno language\n```\n",
    );
    let problems = checks::check_code_blocks(&f.book());
    assert_reports(problems.clone(), "src/intro.md:3: inline code block");
    assert_reports(problems, "src/intro.md:7: code block without a language");
}

#[test]
fn a_fence_language_the_book_cannot_highlight_is_reported() {
    let f = Fixture::new("language");
    f.write("src/intro.md", "# Intro\n\n```cobol\nDISPLAY 'HI'.\n```\n");
    assert_reports(
        checks::check_code_blocks(&f.book()),
        "`cobol` is not in guide.toml's [highlight]",
    );
}

#[test]
fn summary_and_disk_disagreeing_is_reported_both_ways() {
    let f = Fixture::new("summary");
    f.write("src/orphan.md", "# Orphan\n");
    f.write(
        "src/SUMMARY.md",
        "# Summary\n\n[Intro](intro.md)\n\n# Part one\n\n\
         - [1.1 Chapter](part/chapter.md)\n- [1.3 Gone](part/gone.md)\n",
    );
    let problems = checks::check_summary(&f.book());
    assert_reports(problems.clone(), "part/gone.md does not exist");
    assert_reports(problems, "src/orphan.md:0: not listed in SUMMARY.md");
}

#[test]
fn parts_that_disagree_with_guide_toml_are_reported() {
    let f = Fixture::new("sections");
    f.write(
        "src/SUMMARY.md",
        "# Summary\n\n[Intro](intro.md)\n\n# Part 1\n\n\
         - [1.1 Chapter](part/chapter.md)\n- [2.1 Stray](other/stray.md)\n",
    );
    let problems = checks::check_sections(&f.book());
    assert_reports(
        problems.clone(),
        "part `Part 1`: guide.toml's section 1 is `Part one`",
    );
    assert_reports(
        problems.clone(),
        "`2.1 Stray` under section 1: wrong number",
    );
    assert_reports(problems, "other/stray.md must live in src/part/");
    f.write(
        "src/SUMMARY.md",
        "# Summary\n\n[Intro](intro.md)\n\n# Part one\n\n- [1.1 Chapter](part/chapter.md)\n\n\
         # Part two\n",
    );
    assert_reports(
        checks::check_sections(&f.book()),
        "2 parts, but guide.toml declares 1 sections",
    );
}

#[test]
fn a_page_without_a_search_term_is_reported() {
    let f = Fixture::new("search");
    f.write(
        "guide.toml",
        &GUIDE_TOML.replace("\"intro.md\" = \"intro\"\n", ""),
    );
    assert_reports(
        checks::check_search_terms(&f.book()),
        "src/intro.md:0: no search term",
    );
    f.write(
        "guide.toml",
        &format!("{GUIDE_TOML}\"gone.md\" = \"gone\"\n"),
    );
    assert_reports(
        checks::check_search_terms(&f.book()),
        "[search] names gone.md, which does not exist",
    );
}

#[test]
fn a_listing_no_chapter_shows_is_reported() {
    let f = Fixture::new("unused");
    f.write("listings/part/src/bin/unused.rs", "fn main() {}\n");
    f.write("listings/part/py/unused.py", "print('hi')\n");
    let problems = checks::check_listings_included(&f.book());
    assert_reports(problems.clone(), "listings/part/src/bin/unused.rs");
    assert_reports(problems, "listings/part/py/unused.py");
}

#[test]
fn tests_stubs_and_plumbing_need_no_chapter() {
    let f = Fixture::new("not-shown");
    f.write(
        "listings/part/py/test_demo.py",
        "def test_x() -> None: ...\n",
    );
    f.write("listings/part/py/demo_stub.py", "def f() -> None: ...\n");
    f.write("listings/part/py/conftest.py", "\n");
    f.write("listings/support/Cargo.toml", "[package]\n");
    f.write("listings/support/src/lib.rs", "pub fn plumbing() {}\n");
    let problems = checks::check_listings_included(&f.book());
    assert!(problems.is_empty(), "{}", messages(&problems));
}

#[test]
fn plumbing_shown_in_a_chapter_is_reported() {
    let f = Fixture::new("plumbing");
    f.write("listings/support/Cargo.toml", "[package]\n");
    f.write(
        "listings/support/src/lib.rs",
        "// ANCHOR: all\npub fn skip() {}\n// ANCHOR_END: all\n",
    );
    f.write(
        "src/intro.md",
        "# Intro\n\n```rust,noplayground\n{{#include ../listings/support/src/lib.rs:all}}\n```\n",
    );
    assert_reports(
        checks::check_all(&f.book()),
        "is plumbing (listings/support)",
    );
    f.write(
        "listings/part/src/bin/demo/main.rs",
        "// ANCHOR: main\nfn main() {\n    support::skip();\n}\n// ANCHOR_END: main\n",
    );
    assert_reports(
        checks::check_all(&f.book()),
        "shows a call into the support crate",
    );
}

#[test]
fn broken_links_and_fragments_are_reported() {
    let f = Fixture::new("links");
    f.write(
        "src/intro.md",
        "# Intro\n\n[a](part/chapter.md#no-such-heading) [b](nowhere.md) [c](../README.md) \
         [d](#intro) [e](https://example.com/x) [f](flashcards.txt)\n",
    );
    let problems = checks::check_links(&f.book());
    assert_reports(problems.clone(), "no heading with id `no-such-heading`");
    assert_reports(problems.clone(), "nowhere.md: no such file");
    assert_reports(problems.clone(), "points outside src/");
    assert_eq!(problems.len(), 3, "{}", messages(&problems));
}

#[test]
fn heading_ids_follow_mdbook() {
    let ids = checks::heading_ids(
        "# 4.2 LRU cache\n## `get` and `put`: O(1)\n## Pitfalls\n## Pitfalls\n",
    );
    for id in ["42-lru-cache", "get-and-put-o1", "pitfalls", "pitfalls-1"] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
}

#[test]
fn a_std_only_program_has_exactly_one_run_button() {
    let f = Fixture::new("one-run-button");
    // Shown only without a Run button: it must get one.
    let plain = "```rust,noplayground\n\
                 {{#include ../../listings/part/src/bin/demo/main.rs:main}}\n```";
    f.write("src/part/chapter.md", &chapter(plain));
    assert_reports(
        checks::check_playground(&f.book()),
        "show it once in a runnable block",
    );
    // Two Run buttons: one too many.
    f.write(
        "src/part/chapter.md",
        &chapter(&format!("{RUNNABLE}\n\n{RUNNABLE}")),
    );
    assert_reports(checks::check_playground(&f.book()), "2 runnable blocks");
}

#[test]
fn a_runnable_block_sends_the_whole_program_and_no_tests() {
    let f = Fixture::new("runnable");
    let include = "```rust\n{{#include ../../listings/part/src/bin/demo/main.rs:main}}\n```";
    f.write("src/part/chapter.md", &chapter(include));
    assert_reports(
        checks::check_playground(&f.book()),
        "must use {{#rustdoc_include}}",
    );
    f.write("src/part/chapter.md", &chapter(RUNNABLE));
    f.write(
        "listings/part/src/bin/demo/main.rs",
        &format!("{PROGRAM}\n#[test]\nfn inline() {{}}\n"),
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "the Run button would send its tests too",
    );
}

#[test]
fn hidden_copies_in_plain_blocks_are_reported() {
    let f = Fixture::new("hidden-copies");
    let hidden = "```rust,noplayground\n\
                  {{#rustdoc_include ../../listings/part/src/bin/demo/main.rs:main}}\n```";
    f.write(
        "src/part/chapter.md",
        &chapter(&format!("{RUNNABLE}\n\n{hidden}")),
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "would carry the whole file as hidden lines",
    );
}

#[test]
fn a_program_with_crates_has_no_run_button_and_a_command() {
    let f = Fixture::new("crates");
    f.write(
        "listings/part/src/bin/demo/main.rs",
        "// ANCHOR: main\nfn main() {\n    some_crate::go();\n}\n// ANCHOR_END: main\n",
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "mark the block noplayground",
    );
    let plain = "```rust,noplayground\n\
                 {{#include ../../listings/part/src/bin/demo/main.rs:main}}\n```";
    f.write("src/part/chapter.md", &chapter(plain));
    assert_reports(checks::check_playground(&f.book()), "cargo run --bin demo");
    f.write(
        "src/part/chapter.md",
        &chapter(&format!("{plain}\n\nRun it: `cargo run --bin demo`.")),
    );
    let problems = checks::check_playground(&f.book());
    assert!(problems.is_empty(), "{}", messages(&problems));
}

#[test]
fn library_source_is_shown_without_a_run_button() {
    let f = Fixture::new("library");
    f.write("listings/helper/Cargo.toml", "[package]\n");
    f.write(
        "listings/helper/src/lib.rs",
        "// ANCHOR: all\npub fn helper() {}\n// ANCHOR_END: all\n",
    );
    f.write(
        "src/intro.md",
        "# Intro\n\n```rust\n{{#include ../listings/helper/src/lib.rs:all}}\n```\n",
    );
    assert_reports(checks::check_playground(&f.book()), "is not a program");
    f.write(
        "src/intro.md",
        "# Intro\n\n```rust,noplayground\n{{#include ../listings/helper/src/lib.rs:all}}\n```\n",
    );
    let problems = checks::check_playground(&f.book());
    assert!(problems.is_empty(), "{}", messages(&problems));
}

#[test]
fn code_over_the_readers_budget_is_reported() {
    let f = Fixture::new("budget");
    let long =
        "fn main() {\n".to_string() + &"    let _x = 1;\n".repeat(6) + "}\n";
    f.write(
        "listings/part/src/bin/demo/main.rs",
        &format!("// ANCHOR: main\n{long}// ANCHOR_END: main\n"),
    );
    assert_reports(
        checks::check_budget(&f.book()),
        "shows 8 lines; the budget is 6 per block",
    );
    f.write(
        "listings/part/src/bin/demo/main.rs",
        "// ANCHOR: main\nfn main() {\n    println!(\"a line that is far wider than forty\");\n}\n\
         // ANCHOR_END: main\n",
    );
    assert_reports(
        checks::check_budget(&f.book()),
        "a shown line is 52 columns wide (budget 40)",
    );
}

#[test]
fn escaped_includes_are_not_directives() {
    let found = checks::includes_in(
        "\\{{#include not/a/file.rs}} and {{#include real.rs:2:4}}",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "real.rs");
    assert_eq!(found[0].selector, checks::Selector::Lines(Some(2), Some(4)));
}

#[test]
fn a_page_without_a_title_is_reported() {
    let f = Fixture::new("title");
    f.write("src/intro.md", "No heading here.\n");
    assert_reports(
        checks::check_titles(&f.book()),
        "src/intro.md:1: no `# ` title",
    );
}

#[test]
fn a_chapter_off_the_template_is_reported() {
    let f = Fixture::new("template");
    let text = chapter(RUNNABLE);
    f.write(
        "src/part/chapter.md",
        &text.replace("## The short answer", "## Short"),
    );
    assert_reports(
        checks::check_template(&f.book()),
        "section `## The short answer` missing or out of order",
    );
    f.write(
        "src/part/chapter.md",
        &text.replace("# 1.1 Chapter", "# Chapter"),
    );
    assert_reports(
        checks::check_template(&f.book()),
        "title must start with the question number",
    );
    f.write(
        "src/part/chapter.md",
        &text.replace("# 1.1 Chapter", "# 2.1 Chapter"),
    );
    assert_reports(
        checks::check_template(&f.book()),
        "question 2.1 is in src/part/",
    );
    f.write(
        "src/part/chapter.md",
        &text.replace("> **Question 1.1.** Why?", "Question 1.1: why?"),
    );
    assert_reports(
        checks::check_template(&f.book()),
        "must be quoted as `> **Question 1.1.** ...`",
    );
}

#[test]
fn a_chapter_without_its_cards_is_reported() {
    let f = Fixture::new("quiz");
    let text = chapter(RUNNABLE);
    let cut = text.find("<details>").unwrap();
    f.write("src/part/chapter.md", &text[..cut]);
    assert!(
        !checks::check_quiz(&f.book()).is_empty(),
        "a chapter with no follow-ups contributes no cards"
    );
}

#[test]
fn line_ranges_select_what_mdbook_shows() {
    let f = Fixture::new("ranges");
    f.write(
        "listings/part/src/bin/demo/main.rs",
        "// ANCHOR: main\nfn main() {\n    println!(\"hi\");\n}\n// ANCHOR_END: main\n",
    );
    // Ranges are inclusive (5:5 is line 5); 6 and 6:9 are past the end.
    for (selector, ok) in [
        ("5", true),
        ("2:5", true),
        ("6", false),
        ("6:9", false),
        (":1", true),
    ] {
        f.write(
            "src/intro.md",
            &format!(
                "# Intro\n\n```text\n{{{{#include ../listings/part/src/bin/demo/main.rs:{selector}}}}}\n```\n"
            ),
        );
        let problems = checks::check_includes(&f.book());
        assert_eq!(
            problems.is_empty(),
            ok,
            "{selector}: {}",
            messages(&problems)
        );
    }
}

#[test]
fn guide_toml_with_an_unknown_template_is_refused() {
    let bad =
        GUIDE_TOML.replace("template = \"question\"", "template = \"essay\"");
    let err = xtask::shape::Shape::parse(&bad).unwrap_err();
    assert!(err.contains("unknown template `essay`"), "{err}");
}
