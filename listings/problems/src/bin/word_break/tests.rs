use super::*;
use proptest::prelude::*;

fn is_valid_segmentation(
    dict: &Dictionary,
    text: &str,
    words: &[&str],
) -> bool {
    words.concat() == text
        && words.iter().all(|w| !w.is_empty() && dict.contains(w))
}

#[test]
fn examples_segment_and_count() {
    let fruit =
        Dictionary::new(["apple", "pen", "applepen", "pine", "pineapple"]);
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
    let lookups =
        |n: usize| lookups_of(&runs, &format!("{}b", "a".repeat(n)), true);
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
    let fits =
        count_segmentations(&pairs, &"a".repeat(92)).expect("fits in u64");
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

// Found by mutation testing (cargo-mutants): the backtracking version was
// only timed, never checked. It must agree with the table on small inputs,
// multi-byte ones included.
proptest! {
    #[test]
    fn naive_backtracking_agrees_with_the_table(
        text in "[abé]{0,10}",
        words in proptest::collection::vec("[abé]{1,3}", 0..5),
    ) {
        let dict = Dictionary::new(&words);
        let naive = naive_can_segment(&text, &mut |w| dict.contains(w));
        prop_assert_eq!(naive, segment(&dict, &text).is_some());
    }
}
