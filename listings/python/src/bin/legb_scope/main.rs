//! 1.7 Scope in Rust, beside Python's LEGB rule.
//!
//! Rust resolves names lexically, block by block, at compile time: a `let`
//! is visible from its statement to the end of its block, and a later `let`
//! of the same name shadows it (even with another type). There is no run-time
//! lookup chain, so there is no `UnboundLocalError`: using a name before its
//! `let` does not compile.
//!
//! Closures are where the two languages meet. A Python closure shares the
//! enclosing variable through a cell and needs `nonlocal` to rebind it. A
//! Rust closure captures each variable the least it can: by shared reference
//! if it only reads (`Fn`), by mutable reference if it writes (`FnMut`), by
//! value if it gives the value away (`FnOnce`), and by value always with
//! `move`. The `nonlocal` counter becomes a `move` closure that owns its
//! count; two closures sharing one counter need `Rc<Cell<_>>`, which is what
//! a Python cell is. A module-level counter (`global`) is an atomic `static`:
//! a mutable `static` would need `unsafe`, which this project forbids.
//!
//! Loops: each `move` closure created in a loop owns that iteration's value,
//! so Python's late-binding surprise cannot happen.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

// ANCHOR: blocks
/// Block scope and shadowing, in the order they happen.
fn block_scope_and_shadowing() -> Vec<String> {
    let mut log = Vec::new();
    let level = "outer";
    {
        let level = "inner"; // shadows `level` until the block ends
        log.push(format!("inside the block: {level}"));
    }
    log.push(format!("after the block: {level}"));
    let level = level.len(); // a new binding, here of another type
    log.push(format!("shadowed by a usize: {level}"));
    log
}
// ANCHOR_END: blocks

// ANCHOR: captures
/// `Fn`: reads its capture through a shared reference, callable any number
/// of times, and the captured value stays usable outside.
fn call_twice(f: impl Fn() -> usize) -> (usize, usize) {
    (f(), f())
}

/// `FnMut`: mutates its capture through a unique reference.
fn call_twice_mut(mut f: impl FnMut() -> u32) -> (u32, u32) {
    (f(), f())
}

/// `FnOnce`: may move its capture out, so it can be called once.
fn call_once(f: impl FnOnce() -> String) -> String {
    f()
}

fn capture_modes() -> Vec<String> {
    let greeting = String::from("hello");
    let by_ref = || greeting.len(); // borrows `greeting`
    let lengths = call_twice(by_ref);
    // The borrow is shared, so reading `greeting` here is fine.
    let still_usable = greeting.clone();

    let mut hits = 0;
    let by_mut_ref = || {
        hits += 1; // borrows `hits` mutably until the closure's last use
        hits
    };
    let counts = call_twice_mut(by_mut_ref);

    let by_move = move || greeting + " world"; // takes ownership of `greeting`
    let moved = call_once(by_move);
    // `greeting` can no longer be used here: it moved into the closure.

    vec![
        format!(
            "Fn (shared borrow): {lengths:?}, \
             original still usable: {still_usable}"
        ),
        format!("FnMut (mutable borrow): {counts:?}, hits afterwards: {hits}"),
        format!("FnOnce (move): {moved}"),
    ]
}
// ANCHOR_END: captures

// ANCHOR: counter
/// The `nonlocal` counter: the closure owns its count, so every counter made
/// here is independent, like every call of Python's `make_counter()`.
fn make_counter() -> impl FnMut() -> u32 {
    let mut count = 0;
    move || {
        count += 1;
        count
    }
}

/// Two closures over one variable, as two Python inner functions share one
/// cell: shared ownership (`Rc`) of a mutable cell (`Cell`).
fn make_shared_counter() -> (impl Fn() -> u32, impl Fn() -> u32) {
    let count = Rc::new(Cell::new(0));
    let shared = Rc::clone(&count);
    let increment = move || {
        shared.set(shared.get() + 1);
        shared.get()
    };
    let read = move || count.get();
    (increment, read)
}

/// The `global` statement's job: one counter for the whole program.
static REQUESTS_SERVED: AtomicU64 = AtomicU64::new(0);

fn serve() -> u64 {
    REQUESTS_SERVED.fetch_add(1, Ordering::Relaxed) + 1
}
// ANCHOR_END: counter

// ANCHOR: loop_closures
/// Closures made in a loop: `move` copies each iteration's `i` into its own
/// closure, so they return 0, 1, 2 (Python's `lambda: i` returns 2, 2, 2).
fn loop_closures() -> Vec<u32> {
    let mut callbacks: Vec<Box<dyn Fn() -> u32>> = Vec::new();
    for i in 0..3u32 {
        callbacks.push(Box::new(move || i));
    }
    callbacks.iter().map(|f| f()).collect()
}
// ANCHOR_END: loop_closures

// ANCHOR: main
fn main() {
    for line in block_scope_and_shadowing() {
        println!("{line}");
    }
    for line in capture_modes() {
        println!("{line}");
    }

    let (mut first, mut second) = (make_counter(), make_counter());
    let counts = [first(), first(), first(), second()];
    println!("two counters: {counts:?}");

    let (increment, read) = make_shared_counter();
    increment();
    increment();
    println!("shared counter after two increments: {}", read());

    serve();
    println!("requests served: {}", serve());

    println!("closures made in a loop return: {:?}", loop_closures());
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
