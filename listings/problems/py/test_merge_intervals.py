"""Tests of 4.3 merge intervals: the chapter's edge cases, bad input, and
property tests against a coverage oracle and a pairwise-union oracle."""

import bisect
import datetime
import itertools
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def test_example_from_the_question(solution: ModuleType) -> None:
    assert solution.merge([[1, 3], [2, 6], [8, 10]]) == [[1, 6], [8, 10]]


def test_touching_closed_intervals_merge_but_adjacent_integers_do_not(
    solution: ModuleType,
) -> None:
    assert solution.merge([[1, 3], [3, 5]]) == [[1, 5]]
    assert solution.merge([[3, 5], [1, 3]]) == [[1, 5]]
    assert solution.merge([[1, 2], [3, 4]]) == [[1, 2], [3, 4]]


def test_nested_and_duplicate_intervals_collapse_into_the_outer_one(
    solution: ModuleType,
) -> None:
    assert solution.merge([[1, 10], [2, 3], [4, 5]]) == [[1, 10]]
    assert solution.merge([[2, 3], [1, 10], [2, 3]]) == [[1, 10]]
    assert solution.merge([[1, 4], [1, 4]]) == [[1, 4]]
    # Same start, shorter one last: the end must not shrink back to 2.
    assert solution.merge([[1, 9], [1, 2]]) == [[1, 9]]


def test_unsorted_input_comes_out_sorted_and_chains_merge(
    solution: ModuleType,
) -> None:
    assert solution.merge([[8, 10], [15, 18], [1, 3], [2, 6]]) == [
        [1, 6],
        [8, 10],
        [15, 18],
    ]
    chain = [[1, 2], [5, 6], [2, 3], [4, 5], [3, 4]]
    assert solution.merge(chain) == [[1, 6]]


def test_empty_single_and_point_intervals(solution: ModuleType) -> None:
    assert solution.merge([]) == []
    assert solution.merge_half_open([]) == []
    assert solution.merge([[4, 7]]) == [[4, 7]]
    assert solution.merge([[5, 5]]) == [[5, 5]], "a closed [a, a] is a point"
    assert solution.merge([[1, 5], [5, 5], [7, 7]]) == [[1, 5], [7, 7]]


def test_extreme_bounds_are_ordinary_values(solution: ModuleType) -> None:
    assert solution.merge([[I64_MIN, 0], [0, I64_MAX]]) == [[I64_MIN, I64_MAX]]
    assert solution.merge([[I64_MAX, I64_MAX], [I64_MIN, I64_MIN]]) == [
        [I64_MIN, I64_MIN],
        [I64_MAX, I64_MAX],
    ]
    assert solution.merge_half_open(
        [[I64_MIN, I64_MIN], [I64_MAX - 1, I64_MAX]]
    ) == [[I64_MAX - 1, I64_MAX]]
    assert solution.merge([[-(2**70), 2**70], [-1, 1]]) == [[-(2**70), 2**70]]


def test_the_input_is_never_modified(solution: ModuleType) -> None:
    first, second = [1, 3], [2, 6]
    intervals = [second, first]
    merged = solution.merge(intervals)
    assert merged == [[1, 6]]
    assert intervals == [[2, 6], [1, 3]], "the caller's list was reordered"
    assert first == [1, 3], "the caller's interval was grown in place"
    assert all(out is not first and out is not second for out in merged)


def test_tuples_and_any_iterable_are_accepted(solution: ModuleType) -> None:
    assert solution.merge(iter([(1, 3), (2, 6)])) == [[1, 6]]


@pytest.mark.parametrize("function", ["merge", "merge_half_open"])
def test_a_reversed_interval_is_an_error_naming_the_first_one(
    solution: ModuleType, function: str
) -> None:
    with pytest.raises(ValueError) as raised:
        getattr(solution, function)([[1, 3], [6, 2], [9, 4]])
    assert str(raised.value) == "interval 1 is reversed: start 6 is after end 2"


@pytest.mark.parametrize("function", ["merge", "merge_half_open"])
def test_a_nan_bound_is_an_error_not_a_silently_wrong_sort(
    solution: ModuleType, function: str
) -> None:
    # sorted() does not complain about NaN: every comparison with it is
    # false, so the order it returns is simply wrong.
    nan = float("nan")
    assert sorted([3.0, nan, 1.0, 2.0])[0] == 3.0
    with pytest.raises(ValueError, match="interval 1 has bounds that do not"):
        getattr(solution, function)([[0.5, 1.0], [nan, 2.0]])
    with pytest.raises(ValueError, match="interval 0 has bounds that do not"):
        getattr(solution, function)([[0.0, nan]])


def test_malformed_intervals_are_errors(solution: ModuleType) -> None:
    with pytest.raises(ValueError, match="interval 1 has 3 bounds, not 2"):
        solution.merge([[1, 2], [3, 4, 5]])
    with pytest.raises(TypeError, match="not supported between instances"):
        solution.merge([[1, 2], ["a", "b"]])


def test_half_open_touching_intervals_merge_and_empty_ones_vanish(
    solution: ModuleType,
) -> None:
    assert solution.merge_half_open([[1, 3], [3, 5]]) == [[1, 5]]
    assert solution.merge_half_open([[1, 3], [3, 3], [3, 5], [7, 7]]) == [
        [1, 5]
    ]
    assert solution.merge_half_open([[4, 4]]) == []
    assert solution.merge_half_open([[1, 2], [3, 4]]) == [[1, 2], [3, 4]]


def test_bounds_can_be_any_ordered_type(solution: ModuleType) -> None:
    bookings = [["2024-03-05", "2024-03-20"], ["2024-03-01", "2024-03-10"]]
    assert solution.merge(bookings) == [["2024-03-01", "2024-03-20"]]
    day = datetime.date
    stays = [
        (day(2024, 3, 5), day(2024, 3, 20)),
        (day(2024, 3, 1), day(2024, 3, 5)),
    ]
    assert solution.merge(stays) == [[day(2024, 3, 1), day(2024, 3, 20)]]


def test_insert_reaches_back_to_the_interval_before_its_start(
    solution: ModuleType,
) -> None:
    merged = [[1, 5], [8, 10]]
    # Bisecting the starts for 3 lands after [1, 5], which covers [3, 4]:
    # the first interval that can touch the new one may start before it.
    assert bisect.bisect_left([s for s, _ in merged], 3) == 1
    solution.insert(merged, [3, 4])
    assert merged == [[1, 5], [8, 10]]
    solution.insert(merged, [0, 1])
    assert merged == [[0, 5], [8, 10]], "touching at 1 merges"
    solution.insert(merged, [5, 8])
    assert merged == [[0, 10]], "touching both neighbours joins them"


def test_insert_into_gaps_at_either_end_and_into_nothing(
    solution: ModuleType,
) -> None:
    merged: list[list[int]] = []
    solution.insert(merged, [4, 6])
    assert merged == [[4, 6]]
    solution.insert(merged, [8, 9])
    solution.insert(merged, [1, 2])
    assert merged == [[1, 2], [4, 6], [8, 9]]
    solution.insert(merged, [3, 3])
    assert merged == [[1, 2], [3, 3], [4, 6], [8, 9]], "3 touches neither"
    solution.insert(merged, [0, 20])
    assert merged == [[0, 20]]


def test_insert_refuses_a_reversed_interval_and_changes_nothing(
    solution: ModuleType,
) -> None:
    merged = [[1, 3]]
    with pytest.raises(ValueError, match="reversed: start 6 is after end 2"):
        solution.insert(merged, [6, 2])
    assert merged == [[1, 3]]


# Oracle 1: coverage. Mark every covered point of a small range and read
# the runs back. Points are doubled (x -> 2x), so that the gap between
# [1, 2] and [3, 4] (the half-point 2.5 -> 5) is visible.
def runs(points: set[int]) -> list[list[int]]:
    found: list[list[int]] = []
    for point in sorted(points):
        if found and found[-1][1] + 1 == point:
            found[-1][1] = point
        else:
            found.append([point, point])
    return found


def coverage_closed(intervals: list[list[int]]) -> list[list[int]]:
    points = {p for s, e in intervals for p in range(2 * s, 2 * e + 1)}
    return [[first // 2, last // 2] for first, last in runs(points)]


def coverage_half_open(intervals: list[list[int]]) -> list[list[int]]:
    # A run of doubled points 2s .. 2e - 1 is the half-open [s, e).
    points = {p for s, e in intervals for p in range(2 * s, 2 * e)}
    return [[first // 2, (last + 1) // 2] for first, last in runs(points)]


# Oracle 2: union pairs until nothing overlaps. Only comparisons, so it is
# exact for bounds of any size.
def fixpoint(intervals: list[list[int]]) -> list[list[int]]:
    pending = [list(interval) for interval in intervals]
    changed = True
    while changed:
        changed = False
        for i in range(len(pending)):
            for j in range(i + 1, len(pending)):
                (a, b), (c, d) = pending[i], pending[j]
                if max(a, c) <= min(b, d):
                    pending[i] = [min(a, c), max(b, d)]
                    del pending[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(pending)


small_interval = st.builds(
    lambda start, length: [start, start + length],
    st.integers(-8, 8),
    st.integers(0, 5),
)
bound = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX, 2**80]),
    st.integers(),
)
extreme_interval = st.lists(bound, min_size=2, max_size=2).map(sorted)


@settings(max_examples=200)
@given(st.lists(small_interval, max_size=12))
def test_closed_merge_matches_coverage(
    solution: ModuleType, intervals: list[list[int]]
) -> None:
    assert solution.merge(intervals) == coverage_closed(intervals)


@settings(max_examples=200)
@given(st.lists(small_interval, max_size=12))
def test_half_open_merge_matches_coverage(
    solution: ModuleType, intervals: list[list[int]]
) -> None:
    assert solution.merge_half_open(intervals) == coverage_half_open(intervals)


@settings(max_examples=200)
@given(st.lists(extreme_interval, max_size=10))
def test_closed_merge_matches_pairwise_fixpoint(
    solution: ModuleType, intervals: list[list[int]]
) -> None:
    merged = solution.merge(intervals)
    assert merged == fixpoint(intervals)
    assert all(s <= e for s, e in merged)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))
    for s, e in intervals:
        assert any(ms <= s and e <= me for ms, me in merged), (s, e)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(-4, 3), st.integers(-4, 3)), max_size=10))
def test_any_reversed_interval_is_reported_by_first_index(
    solution: ModuleType, pairs: list[tuple[int, int]]
) -> None:
    first = next((i for i, (s, e) in enumerate(pairs) if s > e), None)
    for function in (solution.merge, solution.merge_half_open):
        if first is None:
            function(pairs)
        else:
            start, end = pairs[first]
            with pytest.raises(ValueError) as raised:
                function(pairs)
            expected = f"interval {first} is reversed: start {start} is after"
            assert str(raised.value) == f"{expected} end {end}"


@settings(max_examples=200)
@given(st.lists(small_interval, max_size=12), small_interval)
def test_insert_equals_merging_everything_again(
    solution: ModuleType, intervals: list[list[int]], new: list[int]
) -> None:
    merged = coverage_closed(intervals)
    solution.insert(merged, new)
    assert merged == coverage_closed([*intervals, new])
