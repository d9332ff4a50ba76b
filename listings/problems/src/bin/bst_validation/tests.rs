use super::*;
use proptest::prelude::*;

fn all_validators_agree(tree: &Tree) -> Result<(), BstError> {
    let recursive = validate_recursive(tree, Duplicates::Reject);
    assert_eq!(recursive, validate_iterative(tree, Duplicates::Reject));
    assert_eq!(recursive.is_ok(), validate_in_order(tree).is_ok());
    recursive
}

fn out_of_bounds(
    value: i64,
    depth: usize,
    required: Bound,
) -> Result<(), BstError> {
    Err(BstError::OutOfBounds {
        value,
        depth,
        required,
    })
}

#[test]
fn leetcode_98_examples() {
    assert_eq!(all_validators_agree(&node(2, leaf(1), leaf(3))), Ok(()));
    let example_2 = node(5, leaf(1), node(4, leaf(3), leaf(6)));
    assert_eq!(
        all_validators_agree(&example_2),
        out_of_bounds(4, 1, Bound::GreaterThan(5))
    );
}

#[test]
fn a_grandchild_can_break_a_grandparent_bound() {
    // Each parent-child pair is in order; 3 is in 5's right subtree.
    let tree = node(5, leaf(4), node(6, leaf(3), leaf(7)));
    assert_eq!(
        all_validators_agree(&tree),
        out_of_bounds(3, 2, Bound::GreaterThan(5))
    );
    assert_eq!(
        validate_in_order(&tree),
        Err(BstError::NotIncreasing {
            previous: 5,
            value: 3,
            position: 2
        })
    );
}

#[test]
fn empty_and_single_node_trees_are_valid() {
    assert_eq!(all_validators_agree(&None), Ok(()));
    assert_eq!(all_validators_agree(&leaf(7)), Ok(()));
}

#[test]
fn extreme_values_are_not_mistaken_for_sentinels() {
    assert_eq!(all_validators_agree(&leaf(i64::MIN)), Ok(()));
    assert_eq!(all_validators_agree(&leaf(i64::MAX)), Ok(()));
    let tree = node(0, leaf(i64::MIN), leaf(i64::MAX));
    assert_eq!(all_validators_agree(&tree), Ok(()));
    let tree = node(i64::MIN, None, node(i64::MAX, leaf(0), None));
    assert_eq!(all_validators_agree(&tree), Ok(()));
    let tree = node(i64::MAX, None, leaf(i64::MAX));
    assert_eq!(
        all_validators_agree(&tree),
        out_of_bounds(i64::MAX, 1, Bound::GreaterThan(i64::MAX))
    );
    let tree = node(i64::MIN, leaf(i64::MIN), None);
    assert_eq!(
        all_validators_agree(&tree),
        out_of_bounds(i64::MIN, 1, Bound::LessThan(i64::MIN))
    );
}

#[test]
fn duplicates_follow_the_chosen_rule() {
    let left_dup = node(2, leaf(2), None);
    let right_dup = node(2, None, leaf(2));
    assert_eq!(
        all_validators_agree(&left_dup),
        out_of_bounds(2, 1, Bound::LessThan(2))
    );
    assert_eq!(validate_recursive(&left_dup, Duplicates::AllowLeft), Ok(()));
    assert_eq!(validate_iterative(&left_dup, Duplicates::AllowLeft), Ok(()));
    let expected = out_of_bounds(2, 1, Bound::GreaterThan(2));
    assert_eq!(
        validate_recursive(&right_dup, Duplicates::AllowLeft),
        expected
    );
    assert_eq!(
        validate_iterative(&right_dup, Duplicates::AllowLeft),
        expected
    );
    // A duplicate deeper in the left subtree is bounded inclusively too.
    let deep_left = node(5, node(3, None, leaf(5)), None);
    assert_eq!(
        validate_iterative(&deep_left, Duplicates::AllowLeft),
        Ok(())
    );
    let too_big = node(5, node(3, None, leaf(6)), None);
    assert_eq!(
        validate_iterative(&too_big, Duplicates::AllowLeft),
        out_of_bounds(6, 2, Bound::AtMost(5))
    );
}

#[test]
fn in_order_sees_duplicates_on_either_side_alike() {
    // Why the in-order check cannot implement a one-sided duplicate rule.
    let left_dup = node(2, leaf(2), None);
    let right_dup = node(2, None, leaf(2));
    assert_eq!(validate_in_order(&left_dup), validate_in_order(&right_dup));
}

#[test]
fn errors_say_which_node_breaks_which_bound() {
    let error = BstError::OutOfBounds {
        value: 3,
        depth: 2,
        required: Bound::GreaterThan(5),
    };
    assert_eq!(
        error.to_string(),
        "node 3 at depth 2 must be > 5 (an ancestor's value)"
    );
    let error = BstError::NotIncreasing {
        previous: 5,
        value: 3,
        position: 2,
    };
    assert_eq!(
        error.to_string(),
        "in-order value #2 is 3, not greater than the 5 before it"
    );
}

#[test]
fn insert_builds_valid_trees_and_follows_the_duplicate_rule() {
    let mut tree = None;
    for v in [5, 3, 8, 1, 4, 7, 9] {
        assert!(insert(&mut tree, v, Duplicates::Reject));
    }
    assert!(!insert(&mut tree, 4, Duplicates::Reject));
    assert_eq!(all_validators_agree(&tree), Ok(()));
    assert!(insert(&mut tree, 4, Duplicates::AllowLeft));
    assert_eq!(validate_iterative(&tree, Duplicates::AllowLeft), Ok(()));
    assert!(validate_iterative(&tree, Duplicates::Reject).is_err());
}

/// A million levels: the explicit stacks live on the heap, and dropping
/// the tree must not recurse either (this test thread has a small stack).
#[test]
fn million_node_chains_validate_and_drop_without_overflow() {
    const N: i64 = 1_000_000;
    let ascending = right_chain(0..N);
    assert_eq!(validate_iterative(&ascending, Duplicates::Reject), Ok(()));
    assert_eq!(validate_in_order(&ascending), Ok(()));
    drop(ascending);

    let mut descending_left: Tree = None;
    for value in 0..N {
        descending_left = node(value, descending_left, None);
    }
    assert_eq!(
        validate_iterative(&descending_left, Duplicates::AllowLeft),
        Ok(())
    );
    assert_eq!(validate_in_order(&descending_left), Ok(()));
    drop(descending_left);

    let broken = right_chain((0..N - 1).chain([-1]));
    assert_eq!(
        validate_iterative(&broken, Duplicates::Reject),
        out_of_bounds(-1, (N - 1) as usize, Bound::GreaterThan(N - 2))
    );
    assert!(validate_in_order(&broken).is_err());
}

// The oracles: simple, recursive, and only ever run on small trees.

fn in_order_values(tree: &Tree, out: &mut Vec<i64>) {
    if let Some(node) = tree {
        in_order_values(&node.left, out);
        out.push(node.value);
        in_order_values(&node.right, out);
    }
}

fn strictly_increasing_in_order(tree: &Tree) -> bool {
    let mut values = Vec::new();
    in_order_values(tree, &mut values);
    values.windows(2).all(|w| w[0] < w[1])
}

/// Every node against every ancestor, in pre-order; the first offender's
/// value and depth. `went_left` records, per ancestor, which subtree holds
/// the node.
fn first_offender(tree: &Tree, duplicates: Duplicates) -> Option<(i64, usize)> {
    fn walk(
        tree: &Tree,
        ancestors: &mut Vec<(i64, bool)>,
        duplicates: Duplicates,
    ) -> Option<(i64, usize)> {
        let node = tree.as_ref()?;
        let fits = |&(ancestor, went_left): &(i64, bool)| match (
            went_left, duplicates,
        ) {
            (true, Duplicates::Reject) => node.value < ancestor,
            (true, Duplicates::AllowLeft) => node.value <= ancestor,
            (false, _) => node.value > ancestor,
        };
        if !ancestors.iter().all(fits) {
            return Some((node.value, ancestors.len()));
        }
        ancestors.push((node.value, true));
        let left = walk(&node.left, ancestors, duplicates);
        ancestors.pop();
        if left.is_some() {
            return left;
        }
        ancestors.push((node.value, false));
        let right = walk(&node.right, ancestors, duplicates);
        ancestors.pop();
        right
    }
    walk(tree, &mut Vec::new(), duplicates)
}

/// Places `value` by following `path` (true = right) to the first empty
/// slot; a value whose path ends on an occupied slot is left out.
fn place(tree: &mut Tree, value: i64, path: &[bool]) {
    let mut slot = tree;
    for &go_right in path {
        let Some(node) = slot else { break };
        slot = if go_right {
            &mut node.right
        } else {
            &mut node.left
        };
    }
    if slot.is_none() {
        *slot = leaf(value);
    }
}

fn value() -> impl Strategy<Value = i64> {
    // A small range makes duplicates and near misses common; extremes
    // probe the bounds.
    prop_oneof![
        6 => -6i64..6,
        1 => prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX]),
    ]
}

fn random_tree() -> impl Strategy<Value = Tree> {
    prop::collection::vec(
        (value(), prop::collection::vec(any::<bool>(), 0..6)),
        0..14,
    )
    .prop_map(|placements| {
        let mut tree = None;
        for (value, path) in placements {
            place(&mut tree, value, &path);
        }
        tree
    })
}

fn error_site(result: Result<(), BstError>) -> Option<(i64, usize)> {
    match result {
        Ok(()) => None,
        Err(BstError::OutOfBounds { value, depth, .. }) => Some((value, depth)),
        Err(other) => {
            panic!("bounds validators report OutOfBounds, got {other:?}")
        }
    }
}

proptest! {
    #[test]
    fn random_trees_match_the_oracles(tree in random_tree()) {
        let strict = validate_recursive(&tree, Duplicates::Reject);
        prop_assert_eq!(&strict, &validate_iterative(&tree, Duplicates::Reject));
        prop_assert_eq!(strict.is_ok(), strictly_increasing_in_order(&tree));
        prop_assert_eq!(validate_in_order(&tree).is_ok(), strictly_increasing_in_order(&tree));
        prop_assert_eq!(error_site(strict), first_offender(&tree, Duplicates::Reject));

        let left = validate_recursive(&tree, Duplicates::AllowLeft);
        prop_assert_eq!(&left, &validate_iterative(&tree, Duplicates::AllowLeft));
        prop_assert_eq!(error_site(left), first_offender(&tree, Duplicates::AllowLeft));
    }

    #[test]
    fn trees_built_by_insertion_are_valid(values in prop::collection::vec(value(), 0..40)) {
        let mut strict = None;
        let mut with_duplicates = None;
        for &v in &values {
            insert(&mut strict, v, Duplicates::Reject);
            insert(&mut with_duplicates, v, Duplicates::AllowLeft);
        }
        prop_assert_eq!(validate_recursive(&strict, Duplicates::Reject), Ok(()));
        prop_assert_eq!(validate_iterative(&strict, Duplicates::Reject), Ok(()));
        prop_assert_eq!(validate_in_order(&strict), Ok(()));
        prop_assert_eq!(validate_iterative(&with_duplicates, Duplicates::AllowLeft), Ok(()));

        let mut distinct = values.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let has_duplicates = distinct.len() < values.len();
        prop_assert_eq!(
            validate_iterative(&with_duplicates, Duplicates::Reject).is_err(),
            has_duplicates
        );
        let mut visited = Vec::new();
        in_order_values(&strict, &mut visited);
        prop_assert_eq!(visited, distinct);
    }
}
