"""4.9 Binary search tree validation: is this binary tree a BST?

The Python version of listings/problems/src/bin/bst_validation/main.rs,
with the same three validators and the same semantics:

- validate_recursive is the textbook answer: each node must lie strictly
  inside the bounds its ancestors set, with None for "no bound", so no
  sentinel value can collide with a real one. It recurses once per level,
  and CPython stops it with RecursionError past about 1000 levels.
- validate_iterative makes the same checks in the same order with a list
  as an explicit stack, so a degenerate tree of any height is fine.
- validate_in_order walks in order with an explicit stack; the tree is a
  BST exactly when the values it visits strictly increase.

Duplicates: Duplicates.REJECT (the default) wants every value distinct;
Duplicates.ALLOW_LEFT lets a left subtree hold values equal to the node
(<=), the tree that inserting equal keys to the left builds. The in-order
sequence alone cannot tell a left duplicate from a right one (both read
[2, 2]); the in-order walk can, because it knows where the previous value
came from: it is in the current node's left subtree exactly when the node
has a left child.

A validator returns None for a BST, and otherwise a Violation saying which
node breaks which bound. The empty tree (None) is a BST. Python references,
unlike Rust's Box, can share a node between two parents or loop back to an
ancestor; the iterative validators raise ValueError for such a "tree"
instead of walking it for ever.
"""

import enum
import sys
from collections.abc import Iterable
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


# ANCHOR: check_node
def _check_node(
    value: int,
    depth: int,
    low: int | None,
    high: int | None,
    duplicates: Duplicates,
) -> OutOfBounds | None:
    """Checks one node against the interval its ancestors allow. `low` is
    set by an ancestor whose right subtree holds the node (always strict),
    `high` by one whose left subtree holds it (strict unless duplicates go
    left). None means no such ancestor: no bound."""
    if low is not None and value <= low:
        return OutOfBounds(value, depth, f"> {low}")
    if high is not None:
        if duplicates is Duplicates.REJECT and value >= high:
            return OutOfBounds(value, depth, f"< {high}")
        if duplicates is Duplicates.ALLOW_LEFT and value > high:
            return OutOfBounds(value, depth, f"<= {high}")
    return None


# ANCHOR_END: check_node


# ANCHOR: recursive
def validate_recursive(
    root: Node | None, duplicates: Duplicates = Duplicates.REJECT
) -> Violation | None:
    """Bounds, recursively: a node's value becomes the upper bound of its
    left subtree and the lower bound of its right. Depth = height."""

    def walk(
        node: Node | None, depth: int, low: int | None, high: int | None
    ) -> Violation | None:
        if node is None:
            return None
        return (
            _check_node(node.value, depth, low, high, duplicates)
            or walk(node.left, depth + 1, low, node.value)
            or walk(node.right, depth + 1, node.value, high)
        )

    return walk(root, 0, None, None)


# ANCHOR_END: recursive


def _not_a_tree(node: Node) -> ValueError:
    return ValueError(
        f"node {node.value} is reached twice: shared or cyclic, not a tree"
    )


# ANCHOR: iterative
def validate_iterative(
    root: Node | None, duplicates: Duplicates = Duplicates.REJECT
) -> Violation | None:
    """The same checks in the same order, with the pending subtrees and
    their bounds on a list instead of the call stack."""
    stack: list[tuple[Node, int, int | None, int | None]] = []
    if root is not None:
        stack.append((root, 0, None, None))
    seen: set[int] = set()  # ids of visited nodes: a tree visits each once
    while stack:
        node, depth, low, high = stack.pop()
        if id(node) in seen:
            raise _not_a_tree(node)
        seen.add(id(node))
        violation = _check_node(node.value, depth, low, high, duplicates)
        if violation:
            return violation
        # Right first, so that the left subtree is checked first.
        if node.right is not None:
            stack.append((node.right, depth + 1, node.value, high))
        if node.left is not None:
            stack.append((node.left, depth + 1, low, node.value))
    return None


# ANCHOR_END: iterative


# ANCHOR: in_order
def validate_in_order(
    root: Node | None, duplicates: Duplicates = Duplicates.REJECT
) -> Violation | None:
    """In order with an explicit stack: go left as far as possible, visit,
    then turn right. Only a BST visits strictly increasing values. A value
    equal to the one before is allowed under ALLOW_LEFT only when that one
    came from the node's own left subtree, which is when it has one."""
    stack: list[Node] = []
    seen: set[int] = set()
    node, previous, position = root, None, 0
    while stack or node is not None:
        while node is not None:
            if id(node) in seen:
                raise _not_a_tree(node)
            seen.add(id(node))
            stack.append(node)
            node = node.left
        node = stack.pop()
        # The previous value is in node's left subtree iff it has one.
        equal_ok = duplicates is Duplicates.ALLOW_LEFT and node.left is not None
        if previous is not None and (
            node.value < previous or (node.value == previous and not equal_ok)
        ):
            return NotIncreasing(previous, node.value, position)
        previous, position = node.value, position + 1
        node = node.right
    return None


# ANCHOR_END: in_order


def insert(
    root: Node | None, value: int, duplicates: Duplicates = Duplicates.REJECT
) -> Node:
    """BST insertion without recursion; returns the root. An equal value
    goes left under ALLOW_LEFT and is ignored under REJECT."""
    new = Node(value)
    if root is None:
        return new
    node = root
    while True:
        if value == node.value and duplicates is Duplicates.REJECT:
            return root
        if value <= node.value:
            if node.left is None:
                node.left = new
                return root
            node = node.left
        else:
            if node.right is None:
                node.right = new
                return root
            node = node.right


def right_chain(values: Iterable[int]) -> Node | None:
    """A degenerate tree: each value is the right child of the one before."""
    root = None
    for value in reversed(list(values)):
        root = Node(value, right=root)
    return root


def leaf(value: int) -> Node:
    return Node(value)


def verdict(violation: Violation | None) -> str:
    return "valid" if violation is None else f"invalid: {violation}"


# ANCHOR: main
def main() -> None:
    examples = [
        ("[2, 1, 3]", Node(2, leaf(1), leaf(3))),
        ("[5, 1, 4, _, _, 3, 6]", Node(5, leaf(1), Node(4, leaf(3), leaf(6)))),
        ("[5, 4, 6, _, _, 3, 7]", Node(5, leaf(4), Node(6, leaf(3), leaf(7)))),
        ("[0, -2**63, 2**63 - 1]", Node(0, leaf(-(2**63)), leaf(2**63 - 1))),
        ("[2, 2, _]", Node(2, leaf(2))),
        ("[2, _, 2]", Node(2, None, leaf(2))),
    ]
    for shape, tree in examples:
        recursive = validate_recursive(tree)
        assert recursive == validate_iterative(tree)
        print(f"{shape:<22} {verdict(recursive)}")
        print(f"{'':<22} in-order: {verdict(validate_in_order(tree))}")
        left = validate_iterative(tree, Duplicates.ALLOW_LEFT)
        print(f"{'':<22} duplicates left: {verdict(left)}")
        walk = validate_in_order(tree, Duplicates.ALLOW_LEFT)
        print(f"{'':<22} in-order, duplicates left: {verdict(walk)}")

    depth = 100_000
    deep = right_chain(range(depth))
    print(f"chain 0..{depth}: iterative {verdict(validate_iterative(deep))}")
    print(f"chain 0..{depth}: in-order {verdict(validate_in_order(deep))}")
    try:
        validate_recursive(deep)
    except RecursionError:
        limit = sys.getrecursionlimit()
        print(
            f"chain 0..{depth}: recursive raises RecursionError (limit {limit})"
        )
    broken = right_chain([*range(depth - 1), -1])
    print(f"chain ending in -1: {verdict(validate_iterative(broken))}")
    loop = Node(2, leaf(1))
    loop.right = loop
    try:
        validate_iterative(loop)
    except ValueError as error:
        print(f"a node that is its own right child: ValueError: {error}")


# ANCHOR_END: main

if __name__ == "__main__":
    main()
