"""4.5 Longest substring without repeating characters.

The Python version of listings/problems/src/bin/longest_substring/main.rs,
with the same semantics:

- A character is a code point, which is what a Python str is a sequence of
  and what len() counts. Not bytes: "é" is one character. Not grapheme
  clusters: "e" followed by U+0301 COMBINING ACUTE ACCENT renders as one
  "é" but is two characters. A str may also hold a lone surrogate such as
  "\\ud800", which no Rust &str can; here it is a character like any other.
- The answer is the length and the substring. When several substrings are
  longest, the leftmost one wins.
- Every str is valid input, "" giving (0, ""). bytes are a TypeError: a
  window over UTF-8 bytes would count a four-byte emoji as four distinct
  characters.

Two O(n) windows: longest_unique jumps the left edge with a dict of where
each character was last seen; longest_unique_with_set is the question's
set-based window, which walks the left edge one character at a time.
"""

import unicodedata


def _check_text(s: str) -> None:
    if not isinstance(s, str):
        raise TypeError(
            f"expected a str, got {type(s).__name__}: decode bytes first"
        )


# ANCHOR: last_seen
def longest_unique(s: str) -> tuple[int, str]:
    """The length and the leftmost longest substring without a repeat."""
    _check_text(s)
    last_seen: dict[str, int] = {}
    left = best_start = best_len = 0
    for right, ch in enumerate(s):
        # Only a copy inside the window moves the left edge. A copy left of
        # it is stale: jumping past it would move the edge backwards
        # ("abba": at the last "a" the window is already "b").
        if last_seen.get(ch, -1) >= left:
            left = last_seen[ch] + 1
        last_seen[ch] = right
        if right - left + 1 > best_len:
            best_start, best_len = left, right - left + 1
    # Slice once, at the end: slicing at every improvement copies O(n^2)
    # characters on a string without repeats.
    return best_len, s[best_start : best_start + best_len]
    # ANCHOR_END: last_seen


# ANCHOR: with_set
def longest_unique_with_set(s: str) -> tuple[int, str]:
    """The question's approach: the window's characters in a set, the left
    edge advanced one character at a time until the repeat is gone."""
    _check_text(s)
    window: set[str] = set()
    left = best_start = best_len = 0
    for right, ch in enumerate(s):
        while ch in window:
            window.remove(s[left])
            left += 1
        window.add(ch)
        if right - left + 1 > best_len:
            best_start, best_len = left, right - left + 1
    return best_len, s[best_start : best_start + best_len]
    # ANCHOR_END: with_set


def shown(s: str) -> str:
    """repr(s), with escapes where combining marks would hide characters."""
    return ascii(s) if any(map(unicodedata.combining, s)) else repr(s)


# ANCHOR: main
def main() -> None:
    for s in [
        "abcabcbb",
        "bbbbb",
        "pwwkew",
        "abba",
        "",
        "é🦀éa",
        "e\u0301e\u0301",
    ]:
        length, substring = longest_unique(s)
        size = len(substring.encode())
        print(
            f"{shown(s)} -> length {length}, {shown(substring)} ({size} bytes)"
        )
    lone = "\ud800ab\ud800"  # lone surrogates: a str, but not UTF-8
    print(f"{lone!r} -> length {longest_unique(lone)[0]}")
    try:
        longest_unique(b"abc")  # type: ignore[arg-type]
    except TypeError as error:
        print(f"b'abc' -> TypeError: {error}")
    # ANCHOR_END: main


if __name__ == "__main__":
    main()
