"""4.3 Merge intervals: collapse overlapping intervals into disjoint ones.

The Python version of listings/problems/src/bin/merge_intervals/main.rs,
with the same semantics:

- An interval is a pair [start, end], like the question's
  [[1,3],[2,6],[8,10]]. merge treats it as closed: [1, 3] and [3, 5] share
  the point 3 and merge into [1, 5]; [1, 2] and [3, 4] do not.
- merge_half_open reads each pair as [start, end), the convention of
  range() and of PostgreSQL's discrete ranges. Touching intervals still
  merge, and an empty [a, a) covers nothing, so it is dropped.
- An interval whose start is after its end is a ValueError naming the
  first such interval by index. So is a pair whose bounds do not compare
  at all, such as a NaN: every comparison with NaN is false, so NaN would
  otherwise slip through the check and silently break the sort.
- The input may be unsorted, nested, duplicated or empty, and is never
  modified. The output is a new list of new [start, end] lists, sorted by
  start, with a real gap between consecutive intervals.
- Bounds are anything ordered: ints of any size, datetime.date, ISO date
  strings. The sweep only compares them and never adds to them.
"""

import bisect
import datetime
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, Protocol, TypeVar


class Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...
    def __le__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=Ordered)


def _checked(intervals: Iterable[Sequence[T]]) -> list[tuple[T, T]]:
    """The intervals as (start, end) tuples, or ValueError for the first
    that is not a pair with start <= end."""
    pairs = []
    for index, interval in enumerate(intervals):
        if len(interval) != 2:
            raise ValueError(
                f"interval {index} has {len(interval)} bounds, not 2"
            )
        start, end = interval
        if end < start:
            raise ValueError(
                f"interval {index} is reversed: "
                f"start {start} is after end {end}"
            )
        if not start <= end:  # neither order holds: a NaN, for one
            raise ValueError(
                f"interval {index} has bounds that do not compare: "
                f"{start!r}, {end!r}"
            )
        pairs.append((start, end))
    return pairs


# ANCHOR: merge
def merge(intervals: Iterable[Sequence[T]]) -> list[list[T]]:
    """Merges closed intervals: overlapping or touching ones become one."""
    return _sweep(sorted(_checked(intervals), key=itemgetter(0)))


def merge_half_open(intervals: Iterable[Sequence[T]]) -> list[list[T]]:
    """Merges half-open intervals [start, end). Empty ones cover nothing."""
    non_empty = [(s, e) for s, e in _checked(intervals) if s < e]
    return _sweep(sorted(non_empty, key=itemgetter(0)))


def _sweep(by_start: list[tuple[T, T]]) -> list[list[T]]:
    """One pass over intervals sorted by start. Invariant: `merged` is
    sorted, disjoint and gapped, and only its last interval can grow."""
    merged: list[list[T]] = []
    for start, end in by_start:
        # <=, not <: an interval starting where the last one ends touches
        # it. max, not assignment: a nested interval must not shrink it.
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            # A new list: appending the caller's own list and then growing
            # it would rewrite the caller's data.
            merged.append([start, end])
    return merged
    # ANCHOR_END: merge


# ANCHOR: insert
def insert(merged: list[list[T]], interval: Sequence[T]) -> None:
    """Adds the closed `interval` to `merged` in place. `merged` must be
    sorted, disjoint and gapped, as merge returns it: then its ends are
    sorted too, and both searches are binary, O(log n). The splice shifts
    the list, O(n)."""
    ((start, end),) = _checked([interval])
    # The first interval that ends at or after `start`. Bisecting the starts
    # for `start` would be one too far: the interval before that position
    # starts earlier but may still reach `start`.
    first = bisect.bisect_left(merged, start, key=itemgetter(1))
    # One past the last interval that starts at or before `end`.
    stop = bisect.bisect_right(merged, end, key=itemgetter(0))
    if first < stop:  # merged[first:stop] all touch the new interval
        start = min(start, merged[first][0])
        end = max(end, merged[stop - 1][1])
    merged[first:stop] = [[start, end]]
    # ANCHOR_END: insert


def show(label: str, intervals: Sequence[Sequence[Any]]) -> None:
    try:
        print(f"{label}: {intervals} -> {merge(intervals)}")
    except ValueError as error:
        print(f"{label}: {intervals} -> error: {error}")


# ANCHOR: main
def main() -> None:
    show("question", [[1, 3], [2, 6], [8, 10]])
    show("touching", [[1, 3], [3, 5]])
    show("adjacent integers", [[1, 2], [3, 4]])
    show("unsorted, nested", [[5, 6], [1, 10], [2, 3], [12, 12]])
    show("empty", [])
    show(
        "ISO dates",
        [["2024-03-05", "2024-03-20"], ["2024-03-01", "2024-03-10"]],
    )
    march = [datetime.date(2024, 3, day) for day in (5, 20, 1, 10)]
    merged = merge([march[:2], march[2:]])
    print(f"datetime.date: {[[str(d) for d in pair] for pair in merged]}")
    show("reversed", [[1, 3], [6, 2], [9, 4]])
    show("NaN", [[0.0, 1.0], [float("nan"), 2.0]])
    half_open = [[1, 3], [3, 3], [3, 5], [7, 7]]
    print(
        f"half-open [start, end): {half_open} -> {merge_half_open(half_open)}"
    )
    disjoint = [[1, 5], [8, 10]]
    for new in ([3, 4], [5, 8], [12, 14]):
        before = str(disjoint)
        insert(disjoint, new)
        print(f"insert {new} into {before} -> {disjoint}")
    # ANCHOR_END: main


if __name__ == "__main__":
    main()
