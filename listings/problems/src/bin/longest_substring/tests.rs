use super::*;
use proptest::prelude::*;

fn both(s: &str) -> (usize, &str) {
    let fast = longest_unique(s);
    assert_eq!(
        longest_unique_with_set(s),
        fast,
        "the two windows disagree on {s:?}"
    );
    (fast.chars, fast.substring)
}

#[test]
fn example_from_the_question() {
    assert_eq!(both("abcabcbb"), (3, "abc"));
}

#[test]
fn classic_cases() {
    assert_eq!(both("bbbbb"), (1, "b"));
    assert_eq!(both("pwwkew"), (3, "wke"));
    assert_eq!(both("dvdf"), (3, "vdf"));
    assert_eq!(both("tmmzuxt"), (5, "mzuxt"));
}

#[test]
fn the_left_edge_never_moves_backwards() {
    // At the second 'a', the copy of 'a' is already left of the window
    // "b"; jumping to it would report "ba" plus more, wrongly.
    assert_eq!(both("abba"), (2, "ab"));
    assert_eq!(both("abbac"), (3, "bac"));
}

#[test]
fn empty_and_single() {
    assert_eq!(both(""), (0, ""));
    assert_eq!(both("x"), (1, "x"));
}

#[test]
fn all_distinct_is_the_whole_string() {
    assert_eq!(both("abcdef"), (6, "abcdef"));
}

#[test]
fn the_leftmost_of_equally_long_answers_wins() {
    assert_eq!(both("abab"), (2, "ab"));
    assert_eq!(both("xyzzyx"), (3, "xyz"));
}

#[test]
fn counts_chars_not_bytes() {
    // A byte-level window would see four distinct bytes in one crab.
    assert_eq!(both("🦀🦀"), (1, "🦀"));
    assert_eq!(both("é🦀éa"), (3, "🦀éa"));
    assert_eq!("🦀éa".len(), 7);
    // 'é' (U+00E9) and 'è' (U+00E8) share their first UTF-8 byte 0xC3.
    assert_eq!(both("éè"), (2, "éè"));
}

#[test]
fn combining_marks_are_separate_chars() {
    // Decomposed "éé": e, U+0301, e, U+0301. Two chars, one grapheme.
    assert_eq!(both("e\u{301}e\u{301}"), (2, "e\u{301}"));
    // Precomposed "éé" is two copies of one char.
    assert_eq!(both("\u{e9}\u{e9}"), (1, "\u{e9}"));
}

/// The obviously correct oracle: every substring, checked from scratch,
/// O(n^3). Scanning starts left to right and keeping only strictly longer
/// finds the leftmost longest.
fn brute_force(s: &str) -> (usize, &str) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut best = (0, "");
    for i in 0..chars.len() {
        for j in i..chars.len() {
            let window = &chars[i..=j];
            let distinct: HashSet<char> =
                window.iter().map(|&(_, c)| c).collect();
            if distinct.len() == window.len() && window.len() > best.0 {
                let (start, _) = chars[i];
                let (last, c) = chars[j];
                best = (window.len(), &s[start..last + c.len_utf8()]);
            }
        }
    }
    best
}

fn text(alphabet: Vec<char>, max_len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max_len)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn matches_brute_force_on_a_small_multibyte_alphabet(
        s in text(vec!['a', 'b', 'é', '🦀', '\u{301}'], 24)
    ) {
        prop_assert_eq!(both(&s), brute_force(&s));
    }

    #[test]
    fn matches_brute_force_on_a_wider_alphabet(
        s in text("abcdefghijklmnopqrstuvwxyzé🦀ß語".chars().collect(), 40)
    ) {
        prop_assert_eq!(both(&s), brute_force(&s));
    }

    #[test]
    fn answer_is_a_substring_with_distinct_chars(s in "\\PC{0,30}") {
        let Longest { chars, substring } = longest_unique(&s);
        prop_assert!(s.contains(substring));
        prop_assert_eq!(substring.chars().count(), chars);
        let distinct: HashSet<char> = substring.chars().collect();
        prop_assert_eq!(distinct.len(), chars);
    }
}
