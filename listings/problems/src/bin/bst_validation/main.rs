//! 4.9 Binary search tree validation: is this binary tree a BST?
//!
//! Three validators over the same `Box`-linked tree of `i64` values:
//! - `validate_recursive`: the textbook answer. Each node must lie strictly
//!   inside the bounds its ancestors set. Bounds are `Option<i64>` (`None` =
//!   unbounded), so nodes holding `i64::MIN` or `i64::MAX` are judged like any
//!   other: there is no sentinel that a real value can collide with. It
//!   recurses once per level, so it is for trees of modest height.
//! - `validate_iterative`: the same checks in the same (pre-)order, with an
//!   explicit stack on the heap, so a 1,000,000-level tree is fine.
//! - `validate_in_order`: an in-order walk with an explicit stack; the tree
//!   is a BST exactly when the values it visits strictly increase.
//!
//! Duplicates, which the question leaves open:
//! - `Duplicates::Reject` (the default answer): left subtree values are
//!   strictly less than the node, right subtree values strictly greater.
//! - `Duplicates::AllowLeft`: a left subtree may hold values equal to the
//!   node (`<=`), the right subtree stays strictly greater. This is the tree
//!   that inserting equal keys to the left builds. The in-order check cannot
//!   express a one-sided rule (it sees `[2, 2]` for a duplicate on either
//!   side), so it implements `Reject` only.
//!
//! The empty tree is a valid BST. A violation is an error value naming the
//! node (its value and depth, the root being depth 0) and the bound it breaks.
//!
//! Dropping a `Box` tree recursively would use one stack frame per level and
//! overflow on a degenerate tree, so `Node` has an iterative `Drop`.

use std::cmp::Ordering;
use std::fmt;

// ANCHOR: tree
/// A binary tree node. `None` is the empty tree.
#[derive(Debug)]
pub struct Node {
    pub value: i64,
    pub left: Tree,
    pub right: Tree,
}

pub type Tree = Option<Box<Node>>;

pub fn leaf(value: i64) -> Tree {
    node(value, None, None)
}

pub fn node(value: i64, left: Tree, right: Tree) -> Tree {
    Some(Box::new(Node { value, left, right }))
}
// ANCHOR_END: tree

// ANCHOR: drop
/// Dropping a node drops its children, which drop theirs: one stack frame
/// per level, so a linked-list-shaped tree of a million nodes would overflow
/// the stack. Instead, detach the children onto a heap `Vec` and empty it in
/// a loop; each node then drops with no children, so nothing recurses.
impl Drop for Node {
    fn drop(&mut self) {
        let mut pending: Vec<Box<Node>> = Vec::new();
        pending.extend(self.left.take());
        pending.extend(self.right.take());
        while let Some(mut node) = pending.pop() {
            pending.extend(node.left.take());
            pending.extend(node.right.take());
        }
    }
}
// ANCHOR_END: drop

/// Where a value equal to a node's may sit below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    /// Nowhere: every value in the tree is distinct.
    Reject,
    /// In its left subtree only.
    AllowLeft,
}

/// The bound a node was required to satisfy, set by an ancestor's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    GreaterThan(i64),
    LessThan(i64),
    AtMost(i64),
}

/// Why a tree is not a binary search tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BstError {
    /// The node holding `value`, `depth` levels below the root, breaks a
    /// bound set by one of its ancestors.
    OutOfBounds {
        value: i64,
        depth: usize,
        required: Bound,
    },
    /// In in-order, the `position`-th value visited (from 0) is not greater
    /// than the one before it.
    NotIncreasing {
        previous: i64,
        value: i64,
        position: usize,
    },
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::GreaterThan(b) => write!(f, "> {b}"),
            Bound::LessThan(b) => write!(f, "< {b}"),
            Bound::AtMost(b) => write!(f, "<= {b}"),
        }
    }
}

impl fmt::Display for BstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BstError::OutOfBounds {
                value,
                depth,
                required,
            } => write!(
                f,
                "node {value} at depth {depth} must be {required} (an ancestor's value)"
            ),
            BstError::NotIncreasing {
                previous,
                value,
                position,
            } => write!(
                f,
                "in-order value #{position} is {value}, not greater than the {previous} before it"
            ),
        }
    }
}

impl std::error::Error for BstError {}

// ANCHOR: check_node
/// Checks one node against the open interval its ancestors allow. `lower`
/// comes from an ancestor whose right subtree holds the node (always strict);
/// `upper` from one whose left subtree holds it (strict unless duplicates go
/// left). `None` means no such ancestor: no bound at all.
fn check_node(
    value: i64,
    depth: usize,
    lower: Option<i64>,
    upper: Option<i64>,
    duplicates: Duplicates,
) -> Result<(), BstError> {
    let broken = |required| BstError::OutOfBounds {
        value,
        depth,
        required,
    };
    if let Some(low) = lower
        && value <= low
    {
        return Err(broken(Bound::GreaterThan(low)));
    }
    if let Some(high) = upper {
        match duplicates {
            Duplicates::Reject if value >= high => {
                return Err(broken(Bound::LessThan(high)));
            }
            Duplicates::AllowLeft if value > high => {
                return Err(broken(Bound::AtMost(high)));
            }
            _ => {}
        }
    }
    Ok(())
}
// ANCHOR_END: check_node

// ANCHOR: recursive
/// Bounds, recursively: a node's value becomes the upper bound of its left
/// subtree and the lower bound of its right subtree. Stack depth = height.
pub fn validate_recursive(
    tree: &Tree,
    duplicates: Duplicates,
) -> Result<(), BstError> {
    fn walk(
        tree: &Tree,
        depth: usize,
        lower: Option<i64>,
        upper: Option<i64>,
        duplicates: Duplicates,
    ) -> Result<(), BstError> {
        let Some(node) = tree else { return Ok(()) };
        check_node(node.value, depth, lower, upper, duplicates)?;
        walk(&node.left, depth + 1, lower, Some(node.value), duplicates)?;
        walk(&node.right, depth + 1, Some(node.value), upper, duplicates)
    }
    walk(tree, 0, None, None, duplicates)
}
// ANCHOR_END: recursive

// ANCHOR: iterative
/// The same checks in the same order, with the pending subtrees and their
/// bounds on a heap stack instead of the call stack.
pub fn validate_iterative(
    tree: &Tree,
    duplicates: Duplicates,
) -> Result<(), BstError> {
    let mut stack: Vec<(&Node, usize, Option<i64>, Option<i64>)> = Vec::new();
    if let Some(root) = tree {
        stack.push((root, 0, None, None));
    }
    while let Some((node, depth, lower, upper)) = stack.pop() {
        check_node(node.value, depth, lower, upper, duplicates)?;
        // Right first, so the left subtree is checked first, as in recursion.
        if let Some(right) = &node.right {
            stack.push((right, depth + 1, Some(node.value), upper));
        }
        if let Some(left) = &node.left {
            stack.push((left, depth + 1, lower, Some(node.value)));
        }
    }
    Ok(())
}
// ANCHOR_END: iterative

// ANCHOR: in_order
/// In-order with an explicit stack: go left as far as possible, visit,
/// then turn right. A BST (duplicates rejected) visits strictly increasing
/// values, and only a BST does.
pub fn validate_in_order(tree: &Tree) -> Result<(), BstError> {
    let mut stack: Vec<&Node> = Vec::new();
    let mut current = tree.as_deref();
    let mut previous: Option<i64> = None;
    let mut position = 0;
    loop {
        while let Some(node) = current {
            stack.push(node);
            current = node.left.as_deref();
        }
        let Some(node) = stack.pop() else {
            return Ok(());
        };
        if let Some(previous) = previous
            && node.value <= previous
        {
            return Err(BstError::NotIncreasing {
                previous,
                value: node.value,
                position,
            });
        }
        previous = Some(node.value);
        position += 1;
        current = node.right.as_deref();
    }
}
// ANCHOR_END: in_order

/// BST insertion without recursion. Returns `false` when `value` is already
/// present and `duplicates` is `Reject`; with `AllowLeft` equal values go left.
pub fn insert(tree: &mut Tree, value: i64, duplicates: Duplicates) -> bool {
    let mut slot = tree;
    while let Some(node) = slot {
        slot = match (value.cmp(&node.value), duplicates) {
            (Ordering::Less, _) | (Ordering::Equal, Duplicates::AllowLeft) => {
                &mut node.left
            }
            (Ordering::Greater, _) => &mut node.right,
            (Ordering::Equal, Duplicates::Reject) => return false,
        };
    }
    *slot = leaf(value);
    true
}

/// A degenerate tree: each value is the right child of the one before it.
pub fn right_chain(values: impl DoubleEndedIterator<Item = i64>) -> Tree {
    let mut tree = None;
    for value in values.rev() {
        tree = node(value, None, tree);
    }
    tree
}

fn verdict(result: Result<(), BstError>) -> String {
    match result {
        Ok(()) => "valid".to_string(),
        Err(e) => format!("invalid: {e}"),
    }
}

// ANCHOR: main
fn main() {
    let examples = [
        ("[2, 1, 3]", node(2, leaf(1), leaf(3))),
        (
            "[5, 1, 4, _, _, 3, 6]",
            node(5, leaf(1), node(4, leaf(3), leaf(6))),
        ),
        (
            "[5, 4, 6, _, _, 3, 7]",
            node(5, leaf(4), node(6, leaf(3), leaf(7))),
        ),
        ("[0, MIN, MAX]", node(0, leaf(i64::MIN), leaf(i64::MAX))),
        ("[MIN, _, MAX]", node(i64::MIN, None, leaf(i64::MAX))),
        ("[2, 2, _]", node(2, leaf(2), None)),
        ("[2, _, 2]", node(2, None, leaf(2))),
    ];
    for (shape, tree) in &examples {
        let recursive = validate_recursive(tree, Duplicates::Reject);
        assert_eq!(recursive, validate_iterative(tree, Duplicates::Reject));
        println!("{shape:<22} {}", verdict(recursive));
        println!("{:<22} in-order: {}", "", verdict(validate_in_order(tree)));
        let allow_left = validate_iterative(tree, Duplicates::AllowLeft);
        println!("{:<22} duplicates left: {}", "", verdict(allow_left));
    }

    const DEPTH: i64 = 1_000_000;
    let deep = right_chain(0..DEPTH);
    println!(
        "chain 0..{DEPTH}: {}",
        verdict(validate_iterative(&deep, Duplicates::Reject))
    );
    println!(
        "chain 0..{DEPTH}: in-order {}",
        verdict(validate_in_order(&deep))
    );
    drop(deep);
    let broken = right_chain((0..DEPTH - 1).chain([-1]));
    println!(
        "chain ending in -1: {}",
        verdict(validate_iterative(&broken, Duplicates::Reject))
    );
    drop(broken);
    println!("both chains dropped without recursion");
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
