//! The book checks that mdBook does not make, run by `cargo test`.
//! Each check is its own test so that a failure names what broke.

use xtask::checks::{self, Book, Problem};
use xtask::repo_root;

fn book() -> Book {
    Book::load(&repo_root())
        .expect("the book's sources and guide.toml are readable")
}

fn assert_none(problems: Vec<Problem>) {
    let list: Vec<String> = problems.iter().map(Problem::to_string).collect();
    assert!(list.is_empty(), "\n{}", list.join("\n"));
}

#[test]
fn every_include_and_anchor_resolves_to_text() {
    assert_none(checks::check_includes(&book()));
}

#[test]
fn no_chapter_holds_inline_rust_or_python() {
    assert_none(checks::check_code_blocks(&book()));
}

#[test]
fn summary_and_files_on_disk_agree() {
    assert_none(checks::check_summary(&book()));
}

#[test]
fn parts_and_chapters_match_guide_toml() {
    assert_none(checks::check_sections(&book()));
}

#[test]
fn every_page_has_a_search_term() {
    assert_none(checks::check_search_terms(&book()));
}

#[test]
fn every_listing_file_is_included_by_a_chapter() {
    assert_none(checks::check_listings_included(&book()));
}

#[test]
fn every_internal_link_and_fragment_resolves() {
    assert_none(checks::check_links(&book()));
}

#[test]
fn every_page_has_a_title() {
    assert_none(checks::check_titles(&book()));
}

#[test]
fn run_buttons_only_on_std_only_programs_once_each() {
    assert_none(checks::check_playground(&book()));
}

#[test]
fn every_question_chapter_follows_its_template() {
    assert_none(checks::check_template(&book()));
}

#[test]
fn shown_code_fits_the_readers_budget() {
    assert_none(checks::check_budget(&book()));
}

#[test]
fn every_question_chapter_contributes_its_flashcards() {
    assert_none(checks::check_quiz(&book()));
}

#[test]
fn every_check_at_once_finds_nothing() {
    assert_none(checks::check_all(&book()));
}
