"""Tests of 4.9 BST validation, on all three validators: the chapter's edge
cases, degenerate chains deeper than the recursion limit, "trees" that
share or loop, and property tests against brute-force oracles."""

import itertools
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def tree(
    solution: ModuleType, value: int, left: Any = None, right: Any = None
) -> Any:
    return solution.Node(value, left, right)


def all_agree(solution: ModuleType, root: Any) -> Any:
    """The bounds validators' verdict (REJECT), after checking that the
    recursive and iterative ones agree and that in-order agrees on
    validity."""
    recursive = solution.validate_recursive(root)
    assert solution.validate_iterative(root) == recursive
    assert (solution.validate_in_order(root) is None) == (recursive is None)
    return recursive


def bound(solution: ModuleType, value: int, depth: int, required: str) -> Any:
    return solution.OutOfBounds(value, depth, required)


def test_leetcode_98_examples(solution: ModuleType) -> None:
    def t(value: int, left: Any = None, right: Any = None) -> Any:
        return tree(solution, value, left, right)

    assert all_agree(solution, t(2, t(1), t(3))) is None
    invalid = t(5, t(1), t(4, t(3), t(6)))
    assert all_agree(solution, invalid) == bound(solution, 4, 1, "> 5")
    assert str(solution.validate_in_order(invalid)) == (
        "in-order value #2 is 3, not greater than the 5 before it"
    )


def test_a_grandchild_can_break_a_grandparent_bound(
    solution: ModuleType,
) -> None:
    # Every parent-child pair is in order; 3 sits in the right subtree of 5.
    root = solution.Node(
        5,
        solution.Node(4),
        solution.Node(6, solution.Node(3), solution.Node(7)),
    )
    violation = all_agree(solution, root)
    assert violation == bound(solution, 3, 2, "> 5")
    assert (
        str(violation) == "node 3 at depth 2 must be > 5 (an ancestor's value)"
    )
    assert solution.validate_in_order(root) == solution.NotIncreasing(5, 3, 2)


def test_empty_and_single_node_trees_are_valid(solution: ModuleType) -> None:
    assert all_agree(solution, None) is None
    assert all_agree(solution, solution.Node(7)) is None


def test_extreme_values_are_not_mistaken_for_sentinels(
    solution: ModuleType,
) -> None:
    def t(value: int, left: Any = None, right: Any = None) -> Any:
        return tree(solution, value, left, right)

    assert all_agree(solution, t(I64_MIN)) is None
    assert all_agree(solution, t(0, t(I64_MIN), t(I64_MAX))) is None
    assert all_agree(solution, t(I64_MIN, None, t(I64_MAX, t(0)))) is None
    assert all_agree(solution, t(I64_MAX, None, t(I64_MAX))) == bound(
        solution, I64_MAX, 1, f"> {I64_MAX}"
    )
    assert all_agree(solution, t(I64_MIN, t(I64_MIN))) == bound(
        solution, I64_MIN, 1, f"< {I64_MIN}"
    )
    # Values past any fixed width, and past the largest float, too.
    assert all_agree(solution, t(0, t(-(10**400)), t(10**400))) is None


def test_duplicates_follow_the_chosen_rule(solution: ModuleType) -> None:
    allow_left = solution.Duplicates.ALLOW_LEFT
    left_dup = tree(solution, 2, tree(solution, 2))
    right_dup = tree(solution, 2, None, tree(solution, 2))
    assert all_agree(solution, left_dup) == bound(solution, 2, 1, "< 2")
    assert solution.validate_recursive(left_dup, allow_left) is None
    assert solution.validate_iterative(left_dup, allow_left) is None
    expected = bound(solution, 2, 1, "> 2")
    assert solution.validate_recursive(right_dup, allow_left) == expected
    assert solution.validate_iterative(right_dup, allow_left) == expected
    # A duplicate deeper in the left subtree is bounded inclusively too.
    deep_left = tree(solution, 5, tree(solution, 3, None, tree(solution, 5)))
    assert solution.validate_iterative(deep_left, allow_left) is None
    too_big = tree(solution, 5, tree(solution, 3, None, tree(solution, 6)))
    assert solution.validate_iterative(too_big, allow_left) == bound(
        solution, 6, 2, "<= 5"
    )
    # The in-order sequence is [2, 2] either way, and REJECT refuses both.
    assert in_order(left_dup) == in_order(right_dup) == [2, 2]
    assert solution.validate_in_order(left_dup) == solution.validate_in_order(
        right_dup
    )
    # The walk still tells them apart: the 2 before the root's 2 comes from
    # the root's left subtree in one tree, and is the root in the other.
    assert solution.validate_in_order(left_dup, allow_left) is None
    assert solution.validate_in_order(
        right_dup, allow_left
    ) == solution.NotIncreasing(2, 2, 1)
    assert solution.validate_in_order(deep_left, allow_left) is None
    assert solution.validate_in_order(too_big, allow_left) is not None


def test_insert_builds_valid_trees_and_follows_the_duplicate_rule(
    solution: ModuleType,
) -> None:
    root = None
    for value in [5, 3, 8, 1, 4, 7, 9]:
        root = solution.insert(root, value)
    root = solution.insert(root, 4)  # ignored: duplicates rejected
    assert all_agree(solution, root) is None
    assert in_order(root) == [1, 3, 4, 5, 7, 8, 9]
    allow_left = solution.Duplicates.ALLOW_LEFT
    root = solution.insert(root, 4, allow_left)
    assert in_order(root) == [1, 3, 4, 4, 5, 7, 8, 9]
    assert solution.validate_iterative(root, allow_left) is None
    assert solution.validate_iterative(root) is not None


def right_chain(solution: ModuleType, values: list[int]) -> Any:
    root = None
    for value in reversed(values):
        root = solution.Node(value, None, root)
    return root


def test_deep_chains_need_the_iterative_validators(
    solution: ModuleType,
) -> None:
    depth = 100_000
    ascending = right_chain(solution, list(range(depth)))
    assert solution.validate_iterative(ascending) is None
    assert solution.validate_in_order(ascending) is None
    # One frame per level: CPython's limit (1000 by default) is far short.
    with pytest.raises(RecursionError):
        solution.validate_recursive(ascending)
    descending_left = None
    for value in range(depth):
        descending_left = solution.Node(value, descending_left)
    assert solution.validate_iterative(descending_left) is None
    assert solution.validate_in_order(descending_left) is None
    broken = right_chain(solution, [*range(depth - 1), -1])
    assert solution.validate_iterative(broken) == bound(
        solution, -1, depth - 1, f"> {depth - 2}"
    )
    assert solution.validate_in_order(broken) is not None
    # Dropping a deep chain is fine too: CPython's deallocator does not
    # recurse once per level (the "trashcan"), unlike Rust's drop glue.
    del ascending, descending_left, broken


def test_shared_and_cyclic_nodes_are_an_error_not_a_hang(
    solution: ModuleType,
) -> None:
    loop = solution.Node(2, solution.Node(1))
    loop.left.left = loop  # a node that is its own grandchild
    shared = solution.Node(4)  # in bounds where it is first reached
    diamond = solution.Node(5, solution.Node(3, None, shared), solution.Node(8))
    diamond.right.left = shared
    for root in (loop, diamond):
        for validate in (
            solution.validate_iterative,
            solution.validate_in_order,
        ):
            with pytest.raises(ValueError, match="reached twice"):
                validate(root)


# --- Property tests against brute force ---------------------------------


def in_order(root: Any) -> list[int]:
    if root is None:
        return []
    return [*in_order(root.left), root.value, *in_order(root.right)]


def first_offender(root: Any, allow_left: bool) -> tuple[int, int] | None:
    """Every node against every ancestor, in pre-order: the first node that
    breaks any ancestor's constraint, as (value, depth)."""

    def walk(
        node: Any, ancestors: list[tuple[int, bool]]
    ) -> tuple[int, int] | None:
        if node is None:
            return None
        for ancestor, went_left in ancestors:
            if went_left:
                fits = (
                    node.value <= ancestor
                    if allow_left
                    else node.value < ancestor
                )
            else:
                fits = node.value > ancestor
            if not fits:
                return (node.value, len(ancestors))
        return walk(node.left, [*ancestors, (node.value, True)]) or walk(
            node.right, [*ancestors, (node.value, False)]
        )

    return walk(root, [])


def site(violation: Any) -> tuple[int, int] | None:
    return None if violation is None else (violation.value, violation.depth)


# A small range makes duplicates and near misses common; extremes probe the
# bounds.
values = st.one_of(
    st.integers(-6, 6),
    st.sampled_from([I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX]),
)
shapes = st.recursive(
    st.none(),
    lambda children: st.tuples(values, children, children),
    max_leaves=14,
)


def build(solution: ModuleType, shape: Any) -> Any:
    if shape is None:
        return None
    value, left, right = shape
    return solution.Node(value, build(solution, left), build(solution, right))


@settings(max_examples=200)
@given(shapes)
def test_random_trees_match_the_oracles(
    solution: ModuleType, shape: Any
) -> None:
    root = build(solution, shape)
    values_in_order = in_order(root)
    increasing = all(a < b for a, b in itertools.pairwise(values_in_order))
    strict = solution.validate_recursive(root)
    assert solution.validate_iterative(root) == strict
    assert (strict is None) == increasing
    assert (solution.validate_in_order(root) is None) == increasing
    assert site(strict) == first_offender(root, allow_left=False)
    allow_left = solution.Duplicates.ALLOW_LEFT
    left = solution.validate_recursive(root, allow_left)
    assert solution.validate_iterative(root, allow_left) == left
    assert site(left) == first_offender(root, allow_left=True)
    walk = solution.validate_in_order(root, allow_left)
    assert (walk is None) == (left is None)


@settings(max_examples=200)
@given(st.lists(values, max_size=40))
def test_trees_built_by_insertion_are_valid(
    solution: ModuleType, inserted: list[int]
) -> None:
    strict = with_duplicates = None
    allow_left = solution.Duplicates.ALLOW_LEFT
    for value in inserted:
        strict = solution.insert(strict, value)
        with_duplicates = solution.insert(with_duplicates, value, allow_left)
    assert all_agree(solution, strict) is None
    assert in_order(strict) == sorted(set(inserted))
    assert solution.validate_iterative(with_duplicates, allow_left) is None
    assert solution.validate_in_order(with_duplicates, allow_left) is None
    has_duplicates = len(set(inserted)) < len(inserted)
    rejected = solution.validate_iterative(with_duplicates) is not None
    assert rejected == has_duplicates


# --- Morris traversal: O(1) space, but it writes to the tree ------------


def morris_first_inversion(root: Any, finish_walk: bool) -> int | None:
    """In-order by Morris threading: before descending left from a node,
    point the right link of its in-order predecessor (the rightmost node
    of its left subtree) back at it; follow that thread up again later
    and remove it. Returns the in-order position of the first value not
    greater than the one before. With finish_walk=False it returns there,
    as an early exit would; otherwise it walks on, removing every thread."""
    node, previous, position, found = root, None, 0, None
    while node is not None:
        if node.left is not None:
            before = node.left
            while before.right is not None and before.right is not node:
                before = before.right
            if before.right is None:  # first visit: thread, go left
                before.right = node
                node = node.left
                continue
            before.right = None  # back up the thread: remove it
        if found is None and previous is not None and node.value <= previous:
            found = position
            if not finish_walk:
                return found
        previous, position = node.value, position + 1
        node = node.right
    return found


def right_links(root: Any) -> dict[int, int | None]:
    """id(node) -> id(node.right), for every node reached from the root
    through left links and right links that go down; a thread is a right
    link to a node seen already."""
    links: dict[int, int | None] = {}
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        links[id(node)] = None if node.right is None else id(node.right)
        for child in (node.left, node.right):
            if child is not None and id(child) not in links:
                stack.append(child)
    return links


def test_a_morris_walk_that_stops_early_leaves_its_threads(
    solution: ModuleType,
) -> None:
    # 10 has left subtree 5 (children 6 and 7), so in order: 6, 5, 7, 10.
    # Morris threads 7 -> 10 and 6 -> 5 on the way down, and reaches the
    # inversion 6, 5 after removing 6 -> 5 but before coming back up to 10.
    seven = solution.Node(7)
    root = solution.Node(
        10, solution.Node(5, solution.Node(6), seven), solution.Node(20)
    )
    before = right_links(root)
    assert morris_first_inversion(root, finish_walk=False) == 1
    assert seven.right is root, "the thread 7 -> 10 was never removed"
    assert right_links(root) != before
    # The tree now has a cycle, 10 -> 5 -> 7 -> 10: the next plain
    # recursive walk goes round it until the recursion limit stops it.
    with pytest.raises(RecursionError):
        in_order(root)
    # Walking to the end removes every thread, at the cost of the early
    # exit: the answer is the same, the tree is whole again.
    seven.right = None
    assert morris_first_inversion(root, finish_walk=True) == 1
    assert right_links(root) == before


@settings(max_examples=200)
@given(shapes)
def test_morris_finds_what_the_stack_walk_finds(
    solution: ModuleType, shape: Any
) -> None:
    root = build(solution, shape)
    before = right_links(root)
    expected = solution.validate_in_order(root)
    position = None if expected is None else expected.position
    assert morris_first_inversion(root, finish_walk=True) == position
    assert right_links(root) == before, "a full walk restores the tree"
