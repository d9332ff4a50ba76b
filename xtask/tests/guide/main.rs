//! The guide's own tests, in one test binary.
//!
//! `cargo test` runs its test binaries one after another; inside one, libtest
//! runs the tests side by side. So the slow checks share this binary: the
//! listings of every package (`listings`: programs and Python scripts
//! against their captured outputs, the pytest files), the linters and the
//! spell check (`python_and_prose`), the book checks (`book`), the checks'
//! own tests (`checks_catch`) and the practice command (`practice`).
//! Run one part with a filter, e.g. `cargo test -p xtask --test guide -- book::`.

mod book;
mod checks_catch;
mod listings;
mod practice;
mod python_and_prose;
