//! 4.5 Longest substring without repeating characters.
//!
//! Semantics chosen for what the question leaves open:
//! - A "character" is a Unicode scalar value, a Rust `char`: what Python's
//!   `str` indexes and `len()` counts (except that Python also admits lone
//!   surrogates, which no `&str` can hold). Not bytes: "é" is two bytes in
//!   UTF-8 but one `char`. Not grapheme clusters either: "e" followed by
//!   U+0301 COMBINING ACUTE ACCENT renders as one "é" but is two `char`s.
//! - The answer is the length in `char`s and the substring itself, borrowed
//!   from the input. When several substrings are longest, the first (leftmost)
//!   one is returned.
//! - Every `&str` is valid input (the type already guarantees UTF-8), so there
//!   is no error case; the empty string gives length 0 and "".
//!
//! Two O(n) windows: `longest_unique` jumps the left edge with a map of where
//! each char was last seen; `longest_unique_with_set` is the question's
//! set-based window, which walks the left edge one char at a time.

use std::collections::{HashMap, HashSet};

/// The longest substring without a repeated `char`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Longest<'a> {
    /// Length in `char`s, as Python's `len()` would count it.
    pub chars: usize,
    /// The leftmost such substring.
    pub substring: &'a str,
}

/// A char boundary in the input: how many chars and bytes come before it.
/// The window needs both: chars to measure, bytes to slice (a `&str` is
/// UTF-8, so char `i` is not at byte `i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Boundary {
    chars: usize,
    bytes: usize,
}

impl Boundary {
    const START: Boundary = Boundary { chars: 0, bytes: 0 };

    /// The boundary just after `c`, when `c` starts at this one.
    fn after(self, c: char) -> Boundary {
        Boundary {
            chars: self.chars + 1,
            bytes: self.bytes + c.len_utf8(),
        }
    }
}

/// Keeps the leftmost longest window: only a strictly longer one replaces it.
fn keep_longer<'a>(
    best: &mut Longest<'a>,
    s: &'a str,
    left: Boundary,
    right: Boundary,
) {
    let chars = right.chars - left.chars;
    if chars > best.chars {
        *best = Longest {
            chars,
            substring: &s[left.bytes..right.bytes],
        };
    }
}

// ANCHOR: last_seen
/// Sliding window whose left edge jumps past the previous copy of a repeat.
pub fn longest_unique(s: &str) -> Longest<'_> {
    let mut best = Longest {
        chars: 0,
        substring: "",
    };
    // For each char, the boundary just after its latest occurrence.
    let mut after_last_seen: HashMap<char, Boundary> = HashMap::new();
    let mut left = Boundary::START;
    for (i, (byte, c)) in s.char_indices().enumerate() {
        let right = Boundary {
            chars: i,
            bytes: byte,
        }
        .after(c);
        // Only a copy inside the window forces a move. A copy left of the
        // window is stale, and jumping to it would move the edge backwards
        // ("abba": at the last 'a', the window is already "b").
        if let Some(&after_copy) = after_last_seen.get(&c)
            && after_copy.chars > left.chars
        {
            left = after_copy;
        }
        after_last_seen.insert(c, right);
        keep_longer(&mut best, s, left, right);
    }
    best
}
// ANCHOR_END: last_seen

// ANCHOR: with_set
/// The question's approach: the window's chars in a set, the left edge
/// advanced one char at a time until the repeat is gone.
pub fn longest_unique_with_set(s: &str) -> Longest<'_> {
    let mut best = Longest {
        chars: 0,
        substring: "",
    };
    let mut window: HashSet<char> = HashSet::new();
    let mut left = Boundary::START;
    for (i, (byte, c)) in s.char_indices().enumerate() {
        while window.contains(&c) {
            // The window is non-empty here, so it has a first char.
            let Some(first) = s[left.bytes..].chars().next() else {
                break;
            };
            window.remove(&first);
            left = left.after(first);
        }
        window.insert(c);
        let right = Boundary {
            chars: i,
            bytes: byte,
        }
        .after(c);
        keep_longer(&mut best, s, left, right);
    }
    best
}
// ANCHOR_END: with_set

// ANCHOR: main
fn main() {
    for s in [
        "abcabcbb",
        "bbbbb",
        "pwwkew",
        "abba",
        "",
        "é🦀éa",
        "e\u{301}e\u{301}",
    ] {
        let Longest { chars, substring } = longest_unique(s);
        let bytes = substring.len();
        println!("{s:?} -> length {chars}, {substring:?} ({bytes} bytes)");
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
