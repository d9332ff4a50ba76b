"""Practice stub for 4.4 word break. Fill in the two functions, then run
the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/word_break_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_word_break.py

The empty string is zero words ([], count 1); empty dictionary words are
ignored; matching is exact. "a" * 10_000 + "b" with the words "a" to
"a" * 10 must finish in well under a second. A text that is not a str is
TypeError("text must be a str, got bytes: ..."); words given as one str
is TypeError("words must be an iterable of str, not a single str: 'ab'");
a word that is not a str is TypeError("every word must be a str, ...").
"""

from collections.abc import Iterable


def segment(text: str, words: Iterable[str]) -> list[str] | None:
    """One segmentation of `text` into dictionary words, or None."""
    raise NotImplementedError


def count_segmentations(text: str, words: Iterable[str]) -> int:
    """How many ways `text` splits into dictionary words (1 for "")."""
    raise NotImplementedError
