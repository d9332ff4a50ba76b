//! The book checks themselves can fail: each test builds a small book in a
//! temporary folder with one specific fault and asserts that the right check
//! reports it (and that a clean book reports nothing).

use std::path::PathBuf;

use xtask::checks::{self, Book, Problem};

/// A throwaway book: files are written relative to its root.
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let root = std::env::temp_dir().join(format!("guide-checks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let fixture = Fixture { root };
        fixture.write(
            "src/SUMMARY.md",
            "# Summary\n\n[Intro](intro.md)\n\n- [Chapter](part/chapter.md)\n- [Later]()\n",
        );
        fixture.write(
            "src/intro.md",
            "# Intro\n\nSee [the chapter](part/chapter.md#in-code).\n",
        );
        fixture.write(
            "src/part/chapter.md",
            "# Chapter\n\n## In code\n\n```rust\n{{#rustdoc_include ../../listings/src/bin/demo.rs:main}}\n```\n\n\
             ```text\n{{#include ../../listings/output/demo.rs.txt}}\n```\n",
        );
        fixture.write(
            "listings/src/bin/demo.rs",
            "// ANCHOR: main\nfn main() {\n    println!(\"hi\");\n}\n// ANCHOR_END: main\n",
        );
        fixture.write("listings/output/demo.rs.txt", "hi\n");
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
    std::fs::remove_file(f.path("listings/output/demo.rs.txt")).unwrap();
    assert_reports(
        checks::check_includes(&f.book()),
        "cannot include ../../listings/output/demo.rs.txt",
    );
}

#[test]
fn a_missing_or_empty_anchor_is_reported() {
    let f = Fixture::new("anchor");
    f.write("listings/src/bin/demo.rs", "fn main() {}\n");
    assert_reports(checks::check_includes(&f.book()), "anchor `main` not found");
    f.write(
        "listings/src/bin/demo.rs",
        "// ANCHOR: main\n\n// ANCHOR_END: main\nfn main() {}\n",
    );
    assert_reports(
        checks::check_includes(&f.book()),
        "anchor `main` selects no text",
    );
    f.write(
        "listings/src/bin/demo.rs",
        "// ANCHOR: main\nfn main() {}\n",
    );
    assert_reports(checks::check_includes(&f.book()), "has no ANCHOR_END");
}

#[test]
fn an_anchor_name_must_match_whole() {
    let f = Fixture::new("anchor-prefix");
    f.write(
        "listings/src/bin/demo.rs",
        "// ANCHOR: main_loop\nfn main() {}\n// ANCHOR_END: main_loop\n",
    );
    assert_reports(checks::check_includes(&f.book()), "anchor `main` not found");
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
fn summary_and_disk_disagreeing_is_reported_both_ways() {
    let f = Fixture::new("summary");
    f.write("src/orphan.md", "# Orphan\n");
    f.write(
        "src/SUMMARY.md",
        "# Summary\n\n[Intro](intro.md)\n\n- [Chapter](part/chapter.md)\n- [Gone](gone.md)\n",
    );
    let problems = checks::check_summary(&f.book());
    assert_reports(problems.clone(), "gone.md does not exist");
    assert_reports(problems, "src/orphan.md:0: not listed in SUMMARY.md");
}

#[test]
fn a_listing_no_chapter_shows_is_reported() {
    let f = Fixture::new("unused");
    f.write("listings/src/bin/unused.rs", "fn main() {}\n");
    assert_reports(
        checks::check_listings_included(&f.book()),
        "listings/src/bin/unused.rs",
    );
}

#[test]
fn broken_links_and_fragments_are_reported() {
    let f = Fixture::new("links");
    f.write(
        "src/intro.md",
        "# Intro\n\n[a](part/chapter.md#no-such-heading) [b](nowhere.md) [c](../README.md) \
         [d](#intro) [e](https://example.com/x)\n",
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
fn run_button_rules_are_enforced() {
    let f = Fixture::new("playground");
    // A std-only program shown with noplayground loses its Run button.
    f.write(
        "src/part/chapter.md",
        "# Chapter\n\n```rust,noplayground\n{{#include ../../listings/src/bin/demo.rs:main}}\n```\n\n\
         ```text\n{{#include ../../listings/output/demo.rs.txt}}\n```\n",
    );
    assert_reports(checks::check_playground(&f.book()), "keep the Run button");
    // A runnable block must send the whole program.
    f.write(
        "src/part/chapter.md",
        "# Chapter\n\n```rust\n{{#include ../../listings/src/bin/demo.rs:main}}\n```\n\n\
         ```text\n{{#include ../../listings/output/demo.rs.txt}}\n```\n",
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "must use {{#rustdoc_include}}",
    );
    // A program that needs a crate cannot have a Run button...
    f.write(
        "listings/src/bin/demo.rs",
        "// ANCHOR: main\nfn main() {\n    let _ = some_crate::thing();\n}\n// ANCHOR_END: main\n",
    );
    f.write(
        "src/part/chapter.md",
        "# Chapter\n\n```rust\n{{#rustdoc_include ../../listings/src/bin/demo.rs:main}}\n```\n\n\
         ```text\n{{#include ../../listings/output/demo.rs.txt}}\n```\n",
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "mark the block noplayground",
    );
    // ...and when it is noplayground, the chapter says how to run it.
    f.write(
        "src/part/chapter.md",
        "# Chapter\n\n```rust,noplayground\n{{#include ../../listings/src/bin/demo.rs:main}}\n```\n\n\
         ```text\n{{#include ../../listings/output/demo.rs.txt}}\n```\n",
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "cargo run -p listings --bin demo",
    );
}

#[test]
fn escaped_includes_are_not_directives() {
    let found = checks::includes_in("\\{{#include not/a/file.rs}} and {{#include real.rs:2:4}}");
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
    f.write(
        "src/problems/x.md",
        "# 4.2 LRU cache\n\n> **Question 4.2.** Text.\n\n## The short answer\n## Deep dive\n## Approach\n",
    );
    let problems = checks::check_template(&f.book());
    assert_reports(
        problems.clone(),
        "section `## Deep dive` missing or out of order",
    );
    f.write("src/problems/x.md", "# LRU cache\n");
    assert_reports(
        checks::check_template(&f.book()),
        "title must start with the question number",
    );
    f.write(
        "src/problems/x.md",
        "# 4.2 LRU cache\n\nQuestion 4.2: text\n",
    );
    assert_reports(
        checks::check_template(&f.book()),
        "must be quoted as `> **Question 4.2.** ...`",
    );
}

#[test]
fn library_source_is_shown_without_a_run_button() {
    let f = Fixture::new("library");
    f.write(
        "listings/helper/src/lib.rs",
        "// ANCHOR: all\npub fn helper() {}\n// ANCHOR_END: all\n",
    );
    f.write(
        "src/intro.md",
        "# Intro\n\n```rust\n{{#include ../listings/helper/src/lib.rs:all}}\n```\n",
    );
    assert_reports(
        checks::check_playground(&f.book()),
        "is not a program in listings/src/bin",
    );
    f.write(
        "src/intro.md",
        "# Intro\n\n```rust,noplayground\n{{#include ../listings/helper/src/lib.rs:all}}\n```\n",
    );
    let problems = checks::check_playground(&f.book());
    assert!(problems.is_empty(), "{}", messages(&problems));
}

#[test]
fn line_ranges_select_what_mdbook_shows() {
    let f = Fixture::new("ranges");
    f.write(
        "listings/src/bin/demo.rs",
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
                "# Intro\n\n```text\n{{{{#include ../listings/src/bin/demo.rs:{selector}}}}}\n```\n"
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
