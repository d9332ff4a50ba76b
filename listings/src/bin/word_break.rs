//! 4.4 Word break: can a string be cut into dictionary words, and where?
//!
//! `segment` answers with one segmentation (`Some(words)`, each word a slice
//! of the input) or `None`, by dynamic programming over end positions. From
//! each end it looks back at most `L` characters, `L` being the longest
//! dictionary word, and only from starts already known to be reachable. That
//! is at most n·L set lookups for n characters, where plain backtracking is
//! exponential. `count_segmentations` is the same table with sums instead of
//! a flag.
//!
//! Semantics chosen for what the question leaves open:
//! - The empty string is segmentable as zero words: `Some(vec![])`, count 1.
//! - Empty words in the dictionary are ignored. They would add nothing to
//!   what can be segmented, and they would make the count infinite.
//! - Matching is exact and case-sensitive, with no Unicode normalisation:
//!   callers who want "Apple" to match "apple" lower-case both sides first.
//! - Positions are `char` boundaries, never bytes inside a UTF-8 sequence, and
//!   `L` is measured in `char`s, so "日本" is a 2-character word.
//! - Counting is checked: a count that does not fit in `u64` is the error
//!   `CountOverflow`, never a panic and never a wrapped number.

use std::collections::HashSet;
use std::error::Error;
use std::fmt;

// ANCHOR: dictionary
/// The words, plus the length of the longest one in `char`s, which bounds
/// how far back the table ever needs to look.
pub struct Dictionary {
    words: HashSet<String>,
    max_word_chars: usize,
}

impl Dictionary {
    /// Builds a dictionary; empty words are dropped (see the module doc).
    pub fn new<I, S>(words: I) -> Dictionary
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let words: HashSet<String> = words
            .into_iter()
            .map(|w| w.as_ref().to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        let max_word_chars = words.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        Dictionary {
            words,
            max_word_chars,
        }
    }

    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    pub fn max_word_chars(&self) -> usize {
        self.max_word_chars
    }
}
// ANCHOR_END: dictionary

// ANCHOR: segment
/// Byte offsets of every `char` boundary of `text`, 0 and `text.len()`
/// included: slicing between two of them can never split a UTF-8 sequence.
fn char_boundaries(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect()
}

/// One segmentation of `text` into dictionary words, or `None`.
pub fn segment<'t>(dict: &Dictionary, text: &'t str) -> Option<Vec<&'t str>> {
    segment_with(text, dict.max_word_chars(), |w| dict.contains(w))
}

/// The table behind `segment`, with the word test passed in so that a caller
/// can count lookups. `last_start[e]` is where the last word of a valid
/// segmentation of the first `e` characters begins; `last_start[0]` is a
/// sentinel meaning "the empty prefix needs no words".
pub fn segment_with(
    text: &str,
    max_word_chars: usize,
    mut is_word: impl FnMut(&str) -> bool,
) -> Option<Vec<&str>> {
    let bounds = char_boundaries(text);
    let n = bounds.len() - 1;
    let mut last_start: Vec<Option<usize>> = vec![None; n + 1];
    last_start[0] = Some(0);
    for end in 1..=n {
        // Longest candidate first; a word longer than the longest in the
        // dictionary cannot match, so starts before `earliest` are skipped.
        let earliest = end.saturating_sub(max_word_chars);
        last_start[end] = (earliest..end).find(|&start| {
            last_start[start].is_some() && is_word(&text[bounds[start]..bounds[end]])
        });
    }
    // Walk the table back from the end to recover the words.
    let mut words = Vec::new();
    let mut end = n;
    while end > 0 {
        let start = last_start[end]?;
        words.push(&text[bounds[start]..bounds[end]]);
        end = start;
    }
    words.reverse();
    Some(words)
}
// ANCHOR_END: segment

// ANCHOR: count
/// The number of segmentations did not fit in a `u64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountOverflow;

impl fmt::Display for CountOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} segmentations", u64::MAX)
    }
}

impl Error for CountOverflow {}

/// How many ways `text` splits into dictionary words (1 for "").
pub fn count_segmentations(dict: &Dictionary, text: &str) -> Result<u64, CountOverflow> {
    let bounds = char_boundaries(text);
    let n = bounds.len() - 1;
    // `None` marks a prefix whose count overflowed. It only becomes an error
    // if it feeds the final answer: "a"×200 + "b" still counts 0.
    let mut ways: Vec<Option<u64>> = vec![Some(0); n + 1];
    ways[0] = Some(1);
    for end in 1..=n {
        let earliest = end.saturating_sub(dict.max_word_chars());
        let mut total = Some(0u64);
        for start in earliest..end {
            if ways[start] != Some(0) && dict.contains(&text[bounds[start]..bounds[end]]) {
                total = total.zip(ways[start]).and_then(|(t, w)| t.checked_add(w));
            }
        }
        ways[end] = total;
    }
    ways[n].ok_or(CountOverflow)
}
// ANCHOR_END: count

// ANCHOR: naive
/// Plain backtracking: try every non-empty prefix, recurse on the rest.
/// Correct, but it re-solves the same suffix once per way of reaching it.
pub fn naive_can_segment(text: &str, is_word: &mut impl FnMut(&str) -> bool) -> bool {
    if text.is_empty() {
        return true;
    }
    text.char_indices().any(|(i, c)| {
        let cut = i + c.len_utf8();
        is_word(&text[..cut]) && naive_can_segment(&text[cut..], is_word)
    })
}
// ANCHOR_END: naive

/// Counts the dictionary lookups one strategy makes on `text`.
fn lookups_of(dict: &Dictionary, text: &str, naive: bool) -> u64 {
    let mut lookups = 0u64;
    let mut is_word = |w: &str| {
        lookups += 1;
        dict.contains(w)
    };
    if naive {
        naive_can_segment(text, &mut is_word);
    } else {
        segment_with(text, dict.max_word_chars(), &mut is_word);
    }
    lookups
}

fn show(dict: &Dictionary, text: &str) {
    let count = match count_segmentations(dict, text) {
        Ok(c) => c.to_string(),
        Err(e) => e.to_string(),
    };
    println!("{text:?}: {:?}, {count} way(s)", segment(dict, text));
}

// ANCHOR: main
fn main() {
    let fruit = Dictionary::new(["apple", "pen", "applepen", "pine", "pineapple"]);
    show(&fruit, "pineapplepenapple");
    show(&fruit, "applepenapple");
    show(&fruit, "");

    let cats = Dictionary::new(["cats", "dog", "sand", "and", "cat"]);
    show(&cats, "catsanddog");
    show(&cats, "catsandog");

    let unicode = Dictionary::new(["naïve", "café", "日本", "語"]);
    show(&unicode, "naïvecafé");
    show(&unicode, "Naïvecafé");
    show(&unicode, "日本語");

    // "a" to "aaaaaaaaaa": every prefix of a run of a's is reachable, and a
    // final "b" makes every one of those paths fail.
    let runs = Dictionary::new((1..=10).map(|k| "a".repeat(k)));
    for n in [8, 12, 16] {
        let text = format!("{}b", "a".repeat(n));
        let naive = lookups_of(&runs, &text, true);
        let table = lookups_of(&runs, &text, false);
        println!("a×{n} + b: naive {naive} lookups, table {table} lookups");
    }
    let long = format!("{}b", "a".repeat(10_000));
    println!(
        "a×10000 + b: {:?} after {} lookups",
        segment(&runs, &long),
        lookups_of(&runs, &long, false)
    );

    let pairs = Dictionary::new(["a", "aa"]);
    for n in [92, 93] {
        let text = "a".repeat(n);
        println!(
            "a×{n} with {{a, aa}}: {:?}",
            count_segmentations(&pairs, &text)
        );
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_valid_segmentation(dict: &Dictionary, text: &str, words: &[&str]) -> bool {
        words.concat() == text && words.iter().all(|w| !w.is_empty() && dict.contains(w))
    }

    #[test]
    fn examples_segment_and_count() {
        let fruit = Dictionary::new(["apple", "pen", "applepen", "pine", "pineapple"]);
        let words = segment(&fruit, "pineapplepenapple").expect("segmentable");
        assert!(is_valid_segmentation(&fruit, "pineapplepenapple", &words));
        assert_eq!(count_segmentations(&fruit, "pineapplepenapple"), Ok(3));

        let cats = Dictionary::new(["cats", "dog", "sand", "and", "cat"]);
        assert_eq!(segment(&cats, "catsandog"), None);
        assert_eq!(count_segmentations(&cats, "catsandog"), Ok(0));
        assert_eq!(count_segmentations(&cats, "catsanddog"), Ok(2));
    }

    #[test]
    fn the_empty_string_is_zero_words() {
        let dict = Dictionary::new(["a"]);
        assert_eq!(segment(&dict, ""), Some(vec![]));
        assert_eq!(count_segmentations(&dict, ""), Ok(1));
        let empty = Dictionary::new(Vec::<String>::new());
        assert_eq!(segment(&empty, ""), Some(vec![]));
        assert_eq!(segment(&empty, "a"), None);
    }

    #[test]
    fn empty_words_in_the_dictionary_are_ignored() {
        let dict = Dictionary::new(["", "ab", ""]);
        assert!(!dict.contains(""));
        assert_eq!(dict.max_word_chars(), 2);
        assert_eq!(segment(&dict, "abab"), Some(vec!["ab", "ab"]));
        assert_eq!(segment(&dict, "aba"), None);
        // Finite: an empty word could otherwise be inserted anywhere, any number of times.
        assert_eq!(count_segmentations(&dict, "abab"), Ok(1));
    }

    #[test]
    fn matching_is_case_sensitive_and_not_normalised() {
        let dict = Dictionary::new(["apple"]);
        assert_eq!(segment(&dict, "Apple"), None);
        assert_eq!(segment(&dict, &"Apple".to_lowercase()), Some(vec!["apple"]));
        // "é" precomposed (U+00E9) against "e" + combining acute (U+0301).
        let cafe = Dictionary::new(["caf\u{e9}"]);
        assert_eq!(segment(&cafe, "cafe\u{301}"), None);
    }

    #[test]
    fn works_on_char_boundaries_and_counts_length_in_chars() {
        let dict = Dictionary::new(["naïve", "café", "日本", "語"]);
        assert_eq!(segment(&dict, "naïvecafé"), Some(vec!["naïve", "café"]));
        assert_eq!(segment(&dict, "日本語"), Some(vec!["日本", "語"]));
        // Nine bytes but three chars: a byte-based bound of 3 would miss it.
        let long = Dictionary::new(["日本語"]);
        assert_eq!(long.max_word_chars(), 3);
        assert_eq!(
            segment(&long, "日本語日本語"),
            Some(vec!["日本語", "日本語"])
        );
        // No dictionary word fits inside a multi-byte char, and nothing panics.
        let bytes = Dictionary::new(["a", "é"]);
        assert_eq!(segment(&bytes, "aéa"), Some(vec!["a", "é", "a"]));
        assert_eq!(segment(&bytes, "a😀"), None);
    }

    #[test]
    fn pathological_input_stays_linear() {
        let runs = Dictionary::new((1..=10).map(|k| "a".repeat(k)));
        let text = format!("{}b", "a".repeat(10_000));
        let mut lookups = 0u64;
        let result = segment_with(&text, runs.max_word_chars(), |w| {
            lookups += 1;
            runs.contains(w)
        });
        assert_eq!(result, None);
        let n = text.chars().count() as u64;
        assert!(lookups <= n * 10, "{lookups} lookups for n = {n}");
        assert_eq!(count_segmentations(&runs, &text), Ok(0));
    }

    #[test]
    fn naive_backtracking_grows_exponentially() {
        let runs = Dictionary::new((1..=10).map(|k| "a".repeat(k)));
        let lookups = |n: usize| lookups_of(&runs, &format!("{}b", "a".repeat(n)), true);
        // Each extra 'a' roughly doubles the work while n <= L.
        assert!(lookups(10) > 1_000);
        assert!(lookups(10) >= 2 * lookups(9));
        let table = lookups_of(&runs, &format!("{}b", "a".repeat(10)), false);
        assert!(table <= 11 * 10);
    }

    #[test]
    fn counting_overflow_is_an_error_not_a_panic() {
        let pairs = Dictionary::new(["a", "aa"]);
        // Compositions of n into 1s and 2s: Fibonacci, computed here in u128.
        let exact = |n: usize| {
            let (mut a, mut b) = (1u128, 1u128);
            for _ in 0..n {
                (a, b) = (b, a + b);
            }
            a
        };
        let fits = count_segmentations(&pairs, &"a".repeat(92)).expect("fits in u64");
        assert_eq!(u128::from(fits), exact(92));
        assert!(exact(93) > u128::from(u64::MAX));
        assert_eq!(
            count_segmentations(&pairs, &"a".repeat(93)),
            Err(CountOverflow)
        );
        // An overflowing prefix that cannot reach the end does not matter.
        assert_eq!(
            count_segmentations(&pairs, &format!("{}b", "a".repeat(200))),
            Ok(0)
        );
        assert_eq!(
            CountOverflow.to_string(),
            format!("more than {} segmentations", u64::MAX)
        );
    }

    /// The oracle: every segmentation, by plain recursion over all splits.
    fn all_segmentations(words: &[String], text: &str) -> Vec<Vec<String>> {
        if text.is_empty() {
            return vec![vec![]];
        }
        let mut found = Vec::new();
        for (i, c) in text.char_indices() {
            let (head, rest) = text.split_at(i + c.len_utf8());
            if words.iter().any(|w| w == head) {
                for mut tail in all_segmentations(words, rest) {
                    tail.insert(0, head.to_string());
                    found.push(tail);
                }
            }
        }
        found
    }

    fn small_text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!['a', 'b', 'é']), 0..max)
            .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            words in prop::collection::vec(small_text(4), 0..6),
            text in small_text(12),
        ) {
            let dict = Dictionary::new(&words);
            let oracle = all_segmentations(&words, &text);
            match segment(&dict, &text) {
                Some(found) => {
                    prop_assert!(is_valid_segmentation(&dict, &text, &found), "{found:?}");
                    let owned: Vec<String> = found.iter().map(|w| w.to_string()).collect();
                    prop_assert!(oracle.contains(&owned));
                }
                None => prop_assert!(oracle.is_empty(), "missed {:?}", oracle[0]),
            }
            prop_assert_eq!(count_segmentations(&dict, &text), Ok(oracle.len() as u64));
        }
    }
}
