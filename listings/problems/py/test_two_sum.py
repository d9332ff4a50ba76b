"""Tests of 4.1 two sum: the chapter's edge cases, bad input, and a property
test against the O(n^2) brute force."""

import itertools
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def test_example_from_the_question(solution: ModuleType) -> None:
    assert set(solution.value_pairs([1, 2, 3, 4], 5)) == {(1, 4), (2, 3)}
    # The scan completes (2, 3) first: pairs come out as they complete.
    assert solution.value_pairs([1, 2, 3, 4], 5) == [(2, 3), (1, 4)]


def test_empty_and_single_inputs_have_no_pairs(solution: ModuleType) -> None:
    assert solution.value_pairs([], 0) == []
    assert solution.value_pairs([5], 10) == []
    assert solution.index_pairs([], 0) == []
    assert solution.index_pairs([5], 10) == []


def test_a_value_pairs_with_itself_only_when_it_occurs_twice(
    solution: ModuleType,
) -> None:
    assert solution.value_pairs([3], 6) == []
    assert solution.value_pairs([3, 3], 6) == [(3, 3)]
    assert solution.value_pairs([3, 3, 3], 6) == [(3, 3)]
    assert solution.index_pairs([3, 3, 3], 6) == [(0, 1), (0, 2), (1, 2)]


def test_repeated_values_are_reported_once_as_values(
    solution: ModuleType,
) -> None:
    assert solution.value_pairs([1, 4, 1, 4, 4], 5) == [(1, 4)]
    assert len(solution.index_pairs([1, 4, 1, 4], 5)) == 4


def test_negative_amounts_and_zero_target(solution: ModuleType) -> None:
    pairs = solution.value_pairs([-2, 2, -1, 1, 0], 0)
    assert sorted(pairs) == [(-2, 2), (-1, 1)]
    assert solution.value_pairs([-7, 2, -5], -12) == [(-7, -5)]


def test_extreme_and_wider_than_64_bit_amounts(solution: ModuleType) -> None:
    # What overflows i64 in the Rust listing is ordinary arithmetic here.
    assert solution.value_pairs([I64_MIN, I64_MAX], -1) == [(I64_MIN, I64_MAX)]
    assert solution.value_pairs([I64_MAX, I64_MAX], I64_MIN) == []
    assert solution.value_pairs([I64_MIN, 1], I64_MAX) == []
    assert solution.index_pairs([I64_MAX, I64_MIN], -1) == [(0, 1)]
    assert solution.value_pairs([I64_MAX, I64_MAX], 2 * I64_MAX) == [
        (I64_MAX, I64_MAX)
    ]
    assert solution.value_pairs([2**100, -(2**100) + 7], 7) == [
        (-(2**100) + 7, 2**100)
    ]


@pytest.mark.parametrize("function", ["value_pairs", "index_pairs"])
@pytest.mark.parametrize(
    ("amounts", "target", "named"),
    [
        pytest.param(
            [1.5, 3.5], 5, r"amounts\[0\] is 1\.5 \(float\)", id="float"
        ),
        pytest.param([1, True], 2, r"amounts\[1\] is True \(bool\)", id="bool"),
        pytest.param([1, "4"], 5, r"amounts\[1\] is '4' \(str\)", id="str"),
        pytest.param([1, 4], 5.0, r"target is 5\.0 \(float\)", id="target"),
    ],
)
def test_non_integer_amounts_are_a_type_error(
    solution: ModuleType,
    function: str,
    amounts: list[object],
    target: object,
    named: str,
) -> None:
    with pytest.raises(TypeError, match=named):
        getattr(solution, function)(amounts, target)


def brute_force(amounts: list[int], target: int) -> list[tuple[int, int]]:
    """The obviously correct oracle: every pair of positions, ordered by j
    then i, which is the order the one-pass scan completes them in."""
    pairs = itertools.combinations(range(len(amounts)), 2)
    matching = [(i, j) for i, j in pairs if amounts[i] + amounts[j] == target]
    return sorted(matching, key=lambda pair: (pair[1], pair[0]))


# Small values collide often; the i64 extremes probe what overflows in Rust.
amount = st.one_of(
    st.integers(-8, 8),
    st.sampled_from([I64_MIN, I64_MIN + 1, -1, 0, 1, I64_MAX - 1, I64_MAX]),
    st.integers(),
)
targets = st.one_of(st.integers(-16, 16), st.integers(), st.just(-1))


@settings(max_examples=200)
@given(amounts=st.lists(amount, max_size=40), target=targets)
def test_index_pairs_match_brute_force(
    solution: ModuleType, amounts: list[int], target: int
) -> None:
    assert solution.index_pairs(amounts, target) == brute_force(amounts, target)


@settings(max_examples=200)
@given(amounts=st.lists(amount, max_size=40), target=targets)
def test_value_pairs_match_brute_force(
    solution: ModuleType, amounts: list[int], target: int
) -> None:
    expected = {
        (min(amounts[i], amounts[j]), max(amounts[i], amounts[j]))
        for i, j in brute_force(amounts, target)
    }
    got = solution.value_pairs(amounts, target)
    assert len(set(got)) == len(got), "a pair was reported twice"
    assert set(got) == expected
