//! 1.3 Memory management, Rust side: `Rc` is CPython's reference counting
//! made explicit, and Rust has no cycle collector to rescue a cycle.
//!
//! What the program shows:
//! - `Rc::strong_count` and `Rc::weak_count` after each clone, downgrade and
//!   drop, as `sys.getrefcount` shows them for a Python object (without the
//!   extra reference of `getrefcount`'s own argument).
//! - A value is dropped the moment its last strong reference goes, like a
//!   CPython object whose count reaches zero. A `Weak` does not keep it
//!   alive; `upgrade()` then returns `None`, like a dead `weakref.ref`.
//! - A parent and a child that point at each other with `Rc` are never
//!   dropped: the cycle keeps both counts at one after every handle is gone.
//!   The program proves it with a `Drop` impl that counts drops (it stays
//!   at zero) and a `Weak` that can still be upgraded. This leak is safe
//!   Rust: nothing is freed twice or used after free, memory is just lost.
//! - The same family with a `Weak` back-pointer (what `weakref.ref` does in
//!   the Python listing) is dropped in full as soon as the parent goes.
//!
//! Choices: every node carries a shared drop counter so a test can see what
//! was freed; a child's back-pointer is an enum, so the same tree type is
//! built both ways. Nothing here reads caller input, so no error type.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

/// How a child refers to its parent.
pub enum BackPointer {
    None,
    Strong(Rc<Node>),
    Weak(Weak<Node>),
}

// ANCHOR: node
/// A tree node. Children are owned (`Rc`); the way back is a `BackPointer`.
pub struct Node {
    pub name: &'static str,
    pub parent: RefCell<BackPointer>,
    pub children: RefCell<Vec<Rc<Node>>>,
    drops: Rc<Cell<u32>>,
}

impl Node {
    pub fn new(name: &'static str, drops: &Rc<Cell<u32>>) -> Rc<Node> {
        Rc::new(Node {
            name,
            parent: RefCell::new(BackPointer::None),
            children: RefCell::new(Vec::new()),
            drops: Rc::clone(drops),
        })
    }

    /// The parent's name, if the child can still reach a live parent.
    pub fn parent_name(&self) -> Option<&'static str> {
        match &*self.parent.borrow() {
            BackPointer::None => None,
            BackPointer::Strong(parent) => Some(parent.name),
            BackPointer::Weak(parent) => parent.upgrade().map(|p| p.name),
        }
    }
}

/// Runs when the last strong reference goes, like `__del__` or a
/// `weakref.finalize` callback at refcount zero.
impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}
// ANCHOR_END: node

/// `(strong, weak)` counts of one `Rc`.
pub fn counts<T>(rc: &Rc<T>) -> (usize, usize) {
    (Rc::strong_count(rc), Rc::weak_count(rc))
}

/// One line of the step-by-step trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: &'static str,
    /// `None` once no strong reference is left to ask.
    pub counts: Option<(usize, usize)>,
    pub drops: u32,
}

// ANCHOR: counts
/// Clone, downgrade and drop one `Rc`, recording the counts after each step.
pub fn count_steps() -> Vec<Step> {
    let drops = Rc::new(Cell::new(0));
    let mut trace = Vec::new();
    let mut record = |action, counts| {
        trace.push(Step {
            action,
            counts,
            drops: drops.get(),
        })
    };

    let a = Node::new("a", &drops);
    record("let a = Rc::new(..)", Some(counts(&a)));
    let b = Rc::clone(&a); // Python: b = a
    record("let b = Rc::clone(&a)", Some(counts(&a)));
    let w = Rc::downgrade(&a); // Python: w = weakref.ref(a)
    record("let w = Rc::downgrade(&a)", Some(counts(&a)));
    drop(b); // Python: del b
    record("drop(b)", Some(counts(&a)));
    drop(a); // the last strong reference: Drop runs here
    record("drop(a)", w.upgrade().map(|alive| counts(&alive)));
    trace
}
// ANCHOR_END: counts

/// What happened to a parent/child pair built one way or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyReport {
    pub parent_counts: (usize, usize),
    pub child_counts: (usize, usize),
    pub child_sees_parent: bool,
    /// Nodes dropped once every local handle is out of scope (of 2).
    pub dropped: u32,
    /// Whether the parent can still be reached through a `Weak` afterwards.
    pub parent_still_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The child holds an `Rc` to its parent: a reference cycle.
    Strong,
    /// The child holds a `Weak` to its parent: no cycle.
    Weak,
    /// A strong cycle, broken by hand before the handles go.
    StrongBrokenByHand,
}

// ANCHOR: family
/// Builds parent -> child (always `Rc`) and child -> parent (as `link`
/// says), lets every local handle go, and reports what was dropped.
pub fn parent_and_child(link: Link) -> FamilyReport {
    let drops = Rc::new(Cell::new(0));
    let probe: Weak<Node>;
    let (parent_counts, child_counts, child_sees_parent);
    {
        let parent = Node::new("parent", &drops);
        let child = Node::new("child", &drops);
        parent.children.borrow_mut().push(Rc::clone(&child));
        *child.parent.borrow_mut() = match link {
            Link::Strong | Link::StrongBrokenByHand => {
                BackPointer::Strong(Rc::clone(&parent))
            }
            Link::Weak => BackPointer::Weak(Rc::downgrade(&parent)),
        };
        parent_counts = counts(&parent);
        child_counts = counts(&child);
        probe = Rc::downgrade(&parent); // to look for the parent afterwards
        child_sees_parent = child.parent_name() == Some("parent");
        if link == Link::StrongBrokenByHand {
            // What gc.collect() would find for us: clear one edge of the cycle.
            *child.parent.borrow_mut() = BackPointer::None;
        }
    } // `parent` and `child` go out of scope here
    FamilyReport {
        parent_counts,
        child_counts,
        child_sees_parent,
        dropped: drops.get(),
        parent_still_alive: probe.upgrade().is_some(),
    }
}
// ANCHOR_END: family

fn describe(counts: Option<(usize, usize)>) -> String {
    match counts {
        Some((strong, weak)) => format!("strong {strong}, weak {weak}"),
        None => "w.upgrade() is None".to_string(),
    }
}

fn print_family(title: &str, report: FamilyReport) {
    let (ps, pw) = report.parent_counts;
    let (cs, cw) = report.child_counts;
    println!("{title}");
    println!("  parent: strong {ps}, weak {pw}; child: strong {cs}, weak {cw}");
    println!("  child reaches its parent: {}", report.child_sees_parent);
    println!(
        "  after both handles go out of scope: {} of 2 nodes dropped, parent reachable: {}",
        report.dropped, report.parent_still_alive
    );
}

// ANCHOR: main
fn main() {
    println!("Rc counts, step by step:");
    for step in count_steps() {
        println!(
            "  {:<28} {:<22} drops {}",
            step.action,
            describe(step.counts),
            step.drops
        );
    }
    print_family(
        "parent <-> child, Rc both ways (a cycle):",
        parent_and_child(Link::Strong),
    );
    print_family(
        "parent -> child Rc, child -> parent Weak:",
        parent_and_child(Link::Weak),
    );
    print_family(
        "Rc both ways, one edge cleared by hand before the end:",
        parent_and_child(Link::StrongBrokenByHand),
    );
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
