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
        let max_word_chars =
            words.iter().map(|w| w.chars().count()).max().unwrap_or(0);
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
            last_start[start].is_some()
                && is_word(&text[bounds[start]..bounds[end]])
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
pub fn count_segmentations(
    dict: &Dictionary,
    text: &str,
) -> Result<u64, CountOverflow> {
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
            if ways[start] != Some(0)
                && dict.contains(&text[bounds[start]..bounds[end]])
            {
                total =
                    total.zip(ways[start]).and_then(|(t, w)| t.checked_add(w));
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
pub fn naive_can_segment(
    text: &str,
    is_word: &mut impl FnMut(&str) -> bool,
) -> bool {
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
    let fruit =
        Dictionary::new(["apple", "pen", "applepen", "pine", "pineapple"]);
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
mod tests;
