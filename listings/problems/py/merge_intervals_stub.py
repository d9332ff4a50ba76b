"""Practice stub for 4.3 merge intervals. Fill in the two functions, then
run the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/merge_intervals_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_merge_intervals.py

Closed intervals: [1, 3] and [3, 5] merge, [1, 2] and [3, 4] do not.
merge and merge_half_open return new [start, end] lists sorted by start
and leave the input as it was; insert changes the list it is given. The
first interval that is reversed raises ValueError("interval 1 is
reversed: start 6 is after end 2"); one that is not a pair raises
ValueError("interval 1 has 3 bounds, not 2"); one whose bounds do not
compare (a NaN) raises ValueError("interval 1 has bounds that do not
compare: nan, 2.0").
"""

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar


class Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...
    def __le__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=Ordered)


def merge(intervals: Iterable[Sequence[T]]) -> list[list[T]]:
    """Merges closed intervals: overlapping or touching ones become one."""
    raise NotImplementedError


def merge_half_open(intervals: Iterable[Sequence[T]]) -> list[list[T]]:
    """Merges half-open intervals [start, end). Empty ones cover nothing."""
    raise NotImplementedError


def insert(merged: list[list[T]], interval: Sequence[T]) -> None:
    """Adds the closed `interval` to `merged` in place. `merged` must be
    sorted, disjoint and gapped, as merge returns it. Find where it goes
    with bisect, in O(log n)."""
    raise NotImplementedError
