"""Tests of 4.5 longest substring without repeats, each run on both windows:
the chapter's edge cases, code points against bytes, bad input, and
property tests against a brute force over every substring."""

from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def both(solution: ModuleType, s: str) -> tuple[int, str]:
    """The answer of the last-seen window, checked against the set one."""
    fast = solution.longest_unique(s)
    assert solution.longest_unique_with_set(s) == fast, s
    return tuple(fast)


def test_example_from_the_question(solution: ModuleType) -> None:
    assert both(solution, "abcabcbb") == (3, "abc")


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("bbbbb", (1, "b")),
        ("pwwkew", (3, "wke")),
        ("dvdf", (3, "vdf")),
        ("tmmzuxt", (5, "mzuxt")),
    ],
)
def test_classic_cases(
    solution: ModuleType, s: str, expected: tuple[int, str]
) -> None:
    assert both(solution, s) == expected


def test_the_left_edge_never_moves_backwards(solution: ModuleType) -> None:
    # At the last "a", its copy is already left of the window "b"; jumping
    # back to just after it would report "bba".
    assert both(solution, "abba") == (2, "ab")
    assert both(solution, "abbac") == (3, "bac")


def test_empty_single_and_all_distinct(solution: ModuleType) -> None:
    assert both(solution, "") == (0, "")
    assert both(solution, "x") == (1, "x")
    assert both(solution, "abcdef") == (6, "abcdef")


def test_the_leftmost_of_equally_long_answers_wins(
    solution: ModuleType,
) -> None:
    assert both(solution, "abab") == (2, "ab")
    assert both(solution, "xyzzyx") == (3, "xyz")


def test_counts_code_points_not_bytes(solution: ModuleType) -> None:
    # A window over UTF-8 bytes would see four distinct bytes in one crab.
    assert both(solution, "🦀🦀") == (1, "🦀")
    assert len("🦀".encode()) == 4
    assert both(solution, "é🦀éa") == (3, "🦀éa")
    assert len("🦀éa".encode()) == 7
    # U+00E9 and U+00E8 share their first UTF-8 byte, 0xC3.
    assert both(solution, "éè") == (2, "éè")


def test_combining_marks_are_characters_of_their_own(
    solution: ModuleType,
) -> None:
    assert both(solution, "e\u0301e\u0301") == (2, "e\u0301")
    assert both(solution, "\u00e9\u00e9") == (1, "\u00e9")


def test_lone_surrogates_are_characters_too(solution: ModuleType) -> None:
    # Possible in a str (os.fsdecode makes them), never in a Rust &str.
    assert both(solution, "\ud800ab\ud800") == (3, "\ud800ab")


@pytest.mark.parametrize(
    "function", ["longest_unique", "longest_unique_with_set"]
)
@pytest.mark.parametrize("bad", [b"abc", None, ["a", "b"]])
def test_anything_but_a_str_is_a_type_error(
    solution: ModuleType, function: str, bad: object
) -> None:
    with pytest.raises(TypeError, match="expected a str"):
        getattr(solution, function)(bad)


def brute_force(s: str) -> tuple[int, str]:
    """Every substring, checked from scratch: O(n^3). Starts in order and
    only strictly longer answers replace the best: the leftmost wins."""
    best = (0, "")
    for i in range(len(s)):
        for j in range(i + 1, len(s) + 1):
            window = s[i:j]
            if len(set(window)) == len(window) > best[0]:
                best = (len(window), window)
    return best


@settings(max_examples=200)
@given(st.text(alphabet=["a", "b", "é", "🦀", "\u0301"], max_size=24))
def test_matches_brute_force_on_a_small_alphabet(
    solution: ModuleType, s: str
) -> None:
    assert both(solution, s) == brute_force(s)


@settings(max_examples=200)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzé🦀ß語", max_size=40))
def test_matches_brute_force_on_a_wider_alphabet(
    solution: ModuleType, s: str
) -> None:
    assert both(solution, s) == brute_force(s)


@settings(max_examples=200)
@given(st.text(max_size=30))
def test_the_answer_is_a_substring_with_distinct_characters(
    solution: ModuleType, s: str
) -> None:
    length, substring = both(solution, s)
    assert substring in s
    assert len(substring) == length == len(set(substring))
