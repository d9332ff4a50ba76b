"""Tests of 4.4 word break: the chapter's edge cases, the pathological input
under a time limit, the recursion limit that rules out top-down recursion,
bad input, and a property test against brute-force recursion."""

import functools
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

FRUIT = ["apple", "pen", "applepen", "pine", "pineapple"]
CATS = ["cats", "dog", "sand", "and", "cat"]
RUNS = ["a" * k for k in range(1, 11)]
PATHOLOGICAL = "a" * 10_000 + "b"


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fails the test, instead of hanging it, if the body takes too long
    (an exponential solution on the pathological input would never end).
    Uses SIGALRM, so only where that exists, and only on the main thread."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_valid(words: list[str], text: str, found: list[str]) -> bool:
    return "".join(found) == text and all(w and w in words for w in found)


def test_examples_segment_and_count(solution: ModuleType) -> None:
    found = solution.segment("pineapplepenapple", FRUIT)
    assert is_valid(FRUIT, "pineapplepenapple", found)
    assert solution.count_segmentations("pineapplepenapple", FRUIT) == 3
    assert solution.segment("catsandog", CATS) is None
    assert solution.count_segmentations("catsandog", CATS) == 0
    assert solution.count_segmentations("catsanddog", CATS) == 2


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("leetcode", ["leet", "code"], ["leet", "code"]),
        ("applepenapple", ["apple", "pen"], ["apple", "pen", "apple"]),
        ("catsandog", CATS, None),
    ],
)
def test_leetcode_139_examples(
    solution: ModuleType, text: str, words: list[str], expected: object
) -> None:
    assert solution.segment(text, words) == expected


def greedy(
    text: str, words: list[str], longest_first: bool
) -> list[str] | None:
    """Takes one word at each position, never reconsidering: wrong."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        ends = [
            end
            for end in range(start + 1, len(text) + 1)
            if text[start:end] in words
        ]
        if not ends:
            return None
        end = max(ends) if longest_first else min(ends)
        pieces.append(text[start:end])
        start = end
    return pieces


@pytest.mark.parametrize(
    ("text", "words", "only_answer"),
    [
        (
            "goalspecial",
            ["go", "goal", "goals", "special"],
            ["goal", "special"],
        ),
        ("aab", ["a", "aa", "ab"], ["a", "ab"]),
    ],
)
def test_greedy_matching_fails_where_the_table_succeeds(
    solution: ModuleType, text: str, words: list[str], only_answer: list[str]
) -> None:
    assert greedy(text, words, longest_first=True) is None
    assert greedy(text, words, longest_first=False) is None
    assert all_segmentations(words, text) == [only_answer]
    assert solution.segment(text, words) == only_answer


def test_the_empty_string_is_zero_words(solution: ModuleType) -> None:
    assert solution.segment("", ["a"]) == []
    assert solution.count_segmentations("", ["a"]) == 1
    assert solution.segment("", []) == []
    assert solution.segment("a", []) is None


def test_empty_words_in_the_dictionary_are_ignored(
    solution: ModuleType,
) -> None:
    words = ["", "ab", ""]
    assert solution.segment("abab", words) == ["ab", "ab"]
    assert solution.segment("aba", words) is None
    # Finite: an empty word could otherwise go anywhere, any number of times.
    assert solution.count_segmentations("abab", words) == 1


def test_matching_is_case_sensitive_and_not_normalised(
    solution: ModuleType,
) -> None:
    assert solution.segment("Apple", ["apple"]) is None
    assert solution.segment("Apple".lower(), ["apple"]) == ["apple"]
    # Precomposed U+00E9 against "e" followed by combining U+0301.
    assert solution.segment("cafe\u0301", ["caf\u00e9"]) is None


def test_positions_are_code_points(solution: ModuleType) -> None:
    unicode = ["naïve", "café", "日本", "語"]
    assert solution.segment("naïvecafé", unicode) == ["naïve", "café"]
    assert solution.segment("日本語", unicode) == ["日本", "語"]
    # Nine bytes in UTF-8 but three characters, and found as one word.
    assert solution.segment("日本語日本語", ["日本語"]) == ["日本語", "日本語"]
    assert solution.segment("aéa", ["a", "é"]) == ["a", "é", "a"]
    assert solution.segment("a😀", ["a", "é"]) is None


def naive_lookups(text: str, words: set[str]) -> int:
    """Plain backtracking, counting its dictionary lookups."""
    lookups = 0

    def can(rest: str) -> bool:
        nonlocal lookups
        for cut in range(1, len(rest) + 1):
            lookups += 1
            if rest[:cut] in words and can(rest[cut:]):
                return True
        return not rest

    can(text)
    return lookups


def test_the_pathological_input_is_fast(solution: ModuleType) -> None:
    # Backtracking without memoization: each extra "a" doubles the work
    # while the run is no longer than the longest word.
    words = set(RUNS)
    assert naive_lookups("a" * 10 + "b", words) > 1_000
    assert naive_lookups("a" * 10 + "b", words) >= 2 * naive_lookups(
        "a" * 9 + "b", words
    )
    with time_limit(10):
        assert solution.segment(PATHOLOGICAL, RUNS) is None
        assert solution.count_segmentations(PATHOLOGICAL, RUNS) == 0
        assert solution.segment(PATHOLOGICAL[:-1], RUNS) is not None


def top_down(text: str, words: set[str]) -> bool:
    """Memoized recursion on the start index: the same table, top-down."""
    longest = max(map(len, words), default=0)

    @functools.cache
    def can(start: int) -> bool:
        if start == len(text):
            return True
        stop = min(len(text), start + longest)
        return any(
            text[start:end] in words and can(end)
            for end in range(start + 1, stop + 1)
        )

    return can(0)


def test_top_down_recursion_hits_the_recursion_limit(
    solution: ModuleType,
) -> None:
    assert sys.getrecursionlimit() == 1000, "the default limit"
    assert top_down("a" * 100 + "b", set(RUNS)) is False
    with pytest.raises(RecursionError):
        top_down(PATHOLOGICAL, set(RUNS))
    assert solution.segment(PATHOLOGICAL, RUNS) is None


def fibonacci(n: int) -> int:
    a, b = 1, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_counts_do_not_overflow(solution: ModuleType) -> None:
    # Compositions of n into 1s and 2s: a Fibonacci number.
    assert solution.count_segmentations("a" * 92, ["a", "aa"]) == fibonacci(92)
    over = solution.count_segmentations("a" * 93, ["a", "aa"])
    assert over == fibonacci(93) > 2**64 - 1, "past u64::MAX, still exact"
    assert solution.count_segmentations("a" * 200 + "b", ["a", "aa"]) == 0


@pytest.mark.parametrize("function", ["segment", "count_segmentations"])
@pytest.mark.parametrize(
    ("text", "words", "message"),
    [
        pytest.param(
            b"ab", ["ab"], "text must be a str, got bytes", id="bytes"
        ),
        pytest.param(
            None, ["ab"], "text must be a str, got NoneType", id="None"
        ),
        pytest.param("ab", "ab", "not a single str: 'ab'", id="one-str"),
        pytest.param(
            "ab", [b"ab"], "every word must be a str", id="bytes-word"
        ),
    ],
)
def test_bad_input_is_a_type_error(
    solution: ModuleType,
    function: str,
    text: object,
    words: object,
    message: str,
) -> None:
    with pytest.raises(TypeError, match=message):
        getattr(solution, function)(text, words)


def all_segmentations(words: list[str], text: str) -> list[list[str]]:
    """The oracle: every segmentation, by recursion over all splits."""
    if not text:
        return [[]]
    found = []
    for cut in range(1, len(text) + 1):
        head = text[:cut]
        if head in words:
            found += [
                [head, *tail] for tail in all_segmentations(words, text[cut:])
            ]
    return found


small_text = st.text(alphabet="abé", max_size=11)


@settings(max_examples=200)
@given(
    words=st.lists(st.text(alphabet="abé", max_size=3), max_size=5),
    text=small_text,
)
def test_matches_brute_force(
    solution: ModuleType, words: list[str], text: str
) -> None:
    oracle = all_segmentations(words, text)
    found = solution.segment(text, words)
    if found is None:
        assert oracle == []
    else:
        assert is_valid(words, text, found)
        assert found in oracle
    assert solution.count_segmentations(text, words) == len(oracle)
