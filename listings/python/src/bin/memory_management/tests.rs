use super::*;

#[test]
fn counts_follow_each_clone_downgrade_and_drop() {
    let steps = count_steps();
    let seen: Vec<(Option<(usize, usize)>, u32)> =
        steps.iter().map(|s| (s.counts, s.drops)).collect();
    assert_eq!(
        seen,
        [
            (Some((1, 0)), 0),
            (Some((2, 0)), 0),
            (Some((2, 1)), 0),
            (Some((1, 1)), 0),
            (None, 1),
        ]
    );
}

#[test]
fn a_value_is_dropped_exactly_when_its_last_strong_reference_goes() {
    let drops = Rc::new(Cell::new(0));
    let a = Node::new("a", &drops);
    let b = Rc::clone(&a);
    drop(a);
    assert_eq!(drops.get(), 0, "b still holds it");
    drop(b);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_weak_reference_does_not_keep_a_value_alive() {
    let drops = Rc::new(Cell::new(0));
    let a = Node::new("a", &drops);
    let w = Rc::downgrade(&a);
    assert_eq!(w.upgrade().map(|n| n.name), Some("a"));
    drop(a);
    assert!(w.upgrade().is_none());
    assert_eq!((w.strong_count(), drops.get()), (0, 1));
}

#[test]
fn a_strong_cycle_leaks_both_nodes() {
    let report = parent_and_child(Link::Strong);
    assert_eq!(report.parent_counts, (2, 0), "local handle + child's Rc");
    assert_eq!(report.child_counts.0, 2, "local handle + parent's Vec");
    assert!(report.child_sees_parent);
    assert_eq!(report.dropped, 0, "Drop never ran");
    assert!(
        report.parent_still_alive,
        "the leaked parent is still there"
    );
}

#[test]
fn a_weak_back_pointer_frees_the_whole_family() {
    let report = parent_and_child(Link::Weak);
    assert_eq!(report.parent_counts, (1, 1), "local handle; child's Weak");
    assert_eq!(report.child_counts.0, 2);
    assert!(report.child_sees_parent);
    assert_eq!(report.dropped, 2);
    assert!(!report.parent_still_alive);
}

#[test]
fn breaking_the_cycle_by_hand_frees_it() {
    let report = parent_and_child(Link::StrongBrokenByHand);
    assert_eq!(report.dropped, 2);
    assert!(!report.parent_still_alive);
}

#[test]
fn a_child_outliving_its_parent_sees_none() {
    let drops = Rc::new(Cell::new(0));
    let parent = Node::new("parent", &drops);
    let child = Node::new("child", &drops);
    *child.parent.borrow_mut() = BackPointer::Weak(Rc::downgrade(&parent));
    parent.children.borrow_mut().push(Rc::clone(&child));
    assert_eq!(child.parent_name(), Some("parent"));
    drop(parent);
    assert_eq!(drops.get(), 1, "the parent went; the child is still held");
    assert_eq!(child.parent_name(), None);
    assert_eq!(counts(&child), (1, 0));
}

#[test]
fn a_wide_tree_with_weak_parents_is_freed_in_full() {
    let drops = Rc::new(Cell::new(0));
    let children = 1_000;
    {
        let root = Node::new("root", &drops);
        for _ in 0..children {
            let child = Node::new("child", &drops);
            *child.parent.borrow_mut() =
                BackPointer::Weak(Rc::downgrade(&root));
            root.children.borrow_mut().push(child);
        }
        assert_eq!(counts(&root), (1, children));
    }
    assert_eq!(drops.get(), children as u32 + 1);
}

#[test]
fn the_same_tree_with_strong_parents_leaks_in_full() {
    let drops = Rc::new(Cell::new(0));
    let children = 100;
    let probe;
    {
        let root = Node::new("root", &drops);
        for _ in 0..children {
            let child = Node::new("child", &drops);
            *child.parent.borrow_mut() = BackPointer::Strong(Rc::clone(&root));
            root.children.borrow_mut().push(child);
        }
        probe = Rc::downgrade(&root);
    }
    assert_eq!(drops.get(), 0);
    assert_eq!(probe.strong_count(), children, "one per child, none local");
}
