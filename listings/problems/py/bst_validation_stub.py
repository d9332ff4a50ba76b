"""Practice stub for 4.9 BST validation. Fill in the four functions, then
run the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/bst_validation_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_bst_validation.py

A validator returns None for a BST (the empty tree is one), otherwise the
first violation: the bounds validators report the first node in pre-order
that breaks a bound, as OutOfBounds(value, depth, "> 5"), "< 5" or, with
duplicates allowed on the left, "<= 5"; the in-order one reports
NotIncreasing(previous, value, position). A 100,000-level chain must
validate iteratively; a node reached twice (shared, or a cycle) raises
ValueError("node 4 is reached twice: shared or cyclic, not a tree").
"""

import enum
from dataclasses import dataclass


@dataclass(slots=True)
class Node:
    value: int
    left: "Node | None" = None
    right: "Node | None" = None


class Duplicates(enum.Enum):
    REJECT = "reject"  # nowhere: every value is distinct
    ALLOW_LEFT = "allow left"  # in the node's left subtree only


@dataclass(frozen=True)
class OutOfBounds:
    """The node holding `value`, `depth` levels below the root, breaks a
    bound (such as "> 5") set by one of its ancestors."""

    value: int
    depth: int
    required: str

    def __str__(self) -> str:
        return (
            f"node {self.value} at depth {self.depth} must be "
            f"{self.required} (an ancestor's value)"
        )


@dataclass(frozen=True)
class NotIncreasing:
    """In order, value number `position` (from 0) is not greater than the
    one before it."""

    previous: int
    value: int
    position: int

    def __str__(self) -> str:
        return (
            f"in-order value #{self.position} is {self.value}, "
            f"not greater than the {self.previous} before it"
        )


Violation = OutOfBounds | NotIncreasing


def validate_recursive(
    root: Node | None, duplicates: Duplicates = Duplicates.REJECT
) -> Violation | None:
    """Bounds, recursively: a node's value becomes the upper bound of its
    left subtree and the lower bound of its right. Depth = height."""
    raise NotImplementedError


def validate_iterative(
    root: Node | None, duplicates: Duplicates = Duplicates.REJECT
) -> Violation | None:
    """The same checks in the same order, with the pending subtrees and
    their bounds on a list instead of the call stack."""
    raise NotImplementedError


def validate_in_order(
    root: Node | None, duplicates: Duplicates = Duplicates.REJECT
) -> Violation | None:
    """In order with an explicit stack: go left as far as possible, visit,
    then turn right. Only a BST visits strictly increasing values. A value
    equal to the one before is allowed under ALLOW_LEFT only when that one
    came from the node's own left subtree."""
    raise NotImplementedError


def insert(
    root: Node | None, value: int, duplicates: Duplicates = Duplicates.REJECT
) -> Node:
    """BST insertion without recursion; returns the root. An equal value
    goes left under ALLOW_LEFT and is ignored under REJECT."""
    raise NotImplementedError
