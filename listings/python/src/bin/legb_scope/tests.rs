use super::*;

#[test]
fn inner_block_shadows_only_until_it_ends() {
    assert_eq!(
        block_scope_and_shadowing(),
        [
            "inside the block: inner",
            "after the block: outer",
            "shadowed by a usize: 5",
        ]
    );
}

#[test]
fn each_capture_mode_behaves_as_its_trait_says() {
    assert_eq!(
        capture_modes(),
        [
            "Fn (shared borrow): (5, 5), original still usable: hello",
            "FnMut (mutable borrow): (1, 2), hits afterwards: 2",
            "FnOnce (move): hello world",
        ]
    );
}

#[test]
fn counters_are_independent() {
    let (mut a, mut b) = (make_counter(), make_counter());
    assert_eq!((a(), a(), a()), (1, 2, 3));
    assert_eq!(b(), 1);
    assert_eq!(a(), 4);
}

#[test]
fn two_closures_share_one_cell() {
    let (increment, read) = make_shared_counter();
    assert_eq!(read(), 0);
    assert_eq!(increment(), 1);
    assert_eq!(increment(), 2);
    assert_eq!(read(), 2);
}

#[test]
fn the_static_counter_only_grows() {
    let before = serve();
    let after = serve();
    assert!(after > before);
}

#[test]
fn loop_closures_bind_each_value() {
    assert_eq!(loop_closures(), [0, 1, 2]);
}
