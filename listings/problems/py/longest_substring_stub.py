"""Practice stub for 4.5 longest substring without repeats. Fill in the two
functions, then run the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/longest_substring_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_longest_substring.py

Characters are code points (what a str holds); ties go to the leftmost
substring; "" gives (0, ""). Anything but a str, bytes included, raises
TypeError("expected a str, got bytes: decode bytes first").
"""


def longest_unique(s: str) -> tuple[int, str]:
    """The length and the leftmost longest substring without a repeat."""
    raise NotImplementedError


def longest_unique_with_set(s: str) -> tuple[int, str]:
    """The question's approach: the window's characters in a set, the left
    edge advanced one character at a time until the repeat is gone."""
    raise NotImplementedError
