"""4.4 Word break: can a string be cut into dictionary words, and where?

The Python version of listings/problems/src/bin/word_break/main.rs.
segment answers with one segmentation (a list of words, each a slice of
the input) or None, by dynamic programming over end positions: from each
end it looks back at most L characters, L being the longest dictionary
word, and only from starts already known to be reachable. That is at most
n*L set lookups for n characters, where plain backtracking is exponential.
count_segmentations fills the same table with sums.

The table is filled bottom-up, with no recursion: a top-down version
memoized with functools.cache makes one call per character, and on the
10,001-character input below it raises RecursionError under CPython's
default limit of 1000.

Semantics, as in the Rust listing:

- The empty string is segmentable as zero words: [], count 1.
- Empty words in the dictionary are ignored; they would add nothing, and
  would make the count infinite.
- Matching is exact and case-sensitive, with no Unicode normalisation.
- Positions are code points, what a Python str is indexed by, so a slice
  can never split a character, and "日本" is a two-character word.
- Counts are Python ints, which do not overflow: where the Rust listing
  reports CountOverflow past u64::MAX, this one returns the exact number.
- A text that is not a str (bytes included) is a TypeError, and so are
  words given as a single str, which would iterate as its characters.
"""

from collections.abc import Iterable


def _vocabulary(words: Iterable[str]) -> tuple[set[str], int]:
    """The non-empty words as a set, and the length of the longest one."""
    if isinstance(words, str | bytes):
        raise TypeError(
            f"words must be an iterable of str, not a single "
            f"{type(words).__name__}: {words!r}"
        )
    vocab = set()
    for word in words:
        if not isinstance(word, str):
            raise TypeError(f"every word must be a str, got {word!r}")
        if word:
            vocab.add(word)
    return vocab, max(map(len, vocab), default=0)


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"text must be a str, got {type(text).__name__}: decode bytes first"
        )


# ANCHOR: segment
def segment(text: str, words: Iterable[str]) -> list[str] | None:
    """One segmentation of `text` into dictionary words, or None."""
    _check_text(text)
    vocab, longest = _vocabulary(words)
    n = len(text)
    # last_start[end]: where the last word of a segmentation of text[:end]
    # begins; -1 if text[:end] cannot be segmented. text[:0] needs no words.
    last_start = [0] + [-1] * n
    for end in range(1, n + 1):
        # Longest candidate word first; a start further back than the
        # longest word cannot match, so it is never tried.
        for start in range(max(0, end - longest), end):
            if last_start[start] >= 0 and text[start:end] in vocab:
                last_start[end] = start
                break
    if last_start[n] < 0:
        return None
    pieces = []
    end = n
    while end > 0:  # walk the table back from the end
        start = last_start[end]
        pieces.append(text[start:end])
        end = start
    return pieces[::-1]
    # ANCHOR_END: segment


# ANCHOR: count
def count_segmentations(text: str, words: Iterable[str]) -> int:
    """How many ways `text` splits into dictionary words (1 for "")."""
    _check_text(text)
    vocab, longest = _vocabulary(words)
    ways = [1] + [0] * len(text)
    for end in range(1, len(text) + 1):
        ways[end] = sum(
            ways[start]
            for start in range(max(0, end - longest), end)
            if ways[start] and text[start:end] in vocab
        )
    return ways[-1]
    # ANCHOR_END: count


def show(text: str, words: Iterable[str]) -> None:
    words = list(words)
    found = segment(text, words)
    print(f"{text!r}: {found}, {count_segmentations(text, words)} way(s)")


# ANCHOR: main
def main() -> None:
    # LeetCode 139's three examples.
    show("leetcode", ["leet", "code"])
    show("applepenapple", ["apple", "pen"])
    cats = ["cats", "dog", "sand", "and", "cat"]
    show("catsandog", cats)
    show("catsanddog", cats)
    fruit = ["apple", "pen", "applepen", "pine", "pineapple"]
    show("pineapplepenapple", fruit)
    show("", fruit)
    # Greedy fails both ways: the longest word first takes "goals", the
    # shortest first takes "go"; neither leaves a word to continue with.
    show("goalspecial", ["go", "goal", "goals", "special"])
    unicode = ["naïve", "café", "日本", "語"]
    show("naïvecafé", unicode)
    show("Naïvecafé", unicode)
    show("日本語", unicode)
    # "a" to "a" * 10: every split of the run of a's is reachable, and the
    # final "b" makes every one of them fail.
    runs = ["a" * k for k in range(1, 11)]
    print("a*10000 + b:", segment("a" * 10_000 + "b", runs))
    pairs = ["a", "aa"]
    for n in (92, 93, 200):
        print(f"a*{n} with {{a, aa}}: {count_segmentations('a' * n, pairs)}")
    # mypy accepts a str where Iterable[str] is expected: only the run-time
    # check stops "apple" from being read as the words a, p, p, l, e.
    try:
        segment("apple", "apple")
    except TypeError as error:
        print(f"segment('apple', 'apple'): {error}")
    # ANCHOR_END: main


if __name__ == "__main__":
    main()
