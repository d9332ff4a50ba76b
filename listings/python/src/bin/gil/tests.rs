use super::*;
use proptest::prelude::*;

fn two_workloads(steps: u64) -> Vec<Workload> {
    vec![Workload { seed: 1, steps }, Workload { seed: 2, steps }]
}

#[test]
fn step_is_deterministic_and_mixes() {
    assert_eq!(step(0), step(0));
    assert_ne!(step(0), 0);
    assert_ne!(step(1), step(2));
    assert_eq!(run_steps(7, 0), 7);
    assert_eq!(run_steps(7, 3), step(step(step(7))));
}

#[test]
fn all_three_ways_agree() {
    let workloads = two_workloads(50_000);
    let sequential = run_sequentially(&workloads);
    assert_eq!(run_in_parallel(&workloads), sequential);
    let locked =
        run_under_global_lock(&workloads, 1_000).expect("valid interval");
    assert_eq!(locked.checksums, sequential);
}

#[test]
fn the_global_lock_admits_one_thread_at_a_time() {
    let workloads: Vec<Workload> = (0..4)
        .map(|seed| Workload {
            seed,
            steps: 20_000,
        })
        .collect();
    for steps_per_switch in [1, 7, 1_000, 1_000_000] {
        let run =
            run_under_global_lock(&workloads, steps_per_switch).expect("valid");
        assert_eq!(run.max_threads_inside, 1, "interval {steps_per_switch}");
    }
}

#[test]
fn acquisitions_are_one_per_started_interval() {
    // 10 steps in intervals of 3: 3 + 3 + 3 + 1, four acquisitions each.
    let run = run_under_global_lock(&two_workloads(10), 3).expect("valid");
    assert_eq!(run.acquisitions, 8);
    let run = run_under_global_lock(&two_workloads(9), 3).expect("valid");
    assert_eq!(run.acquisitions, 6);
}

#[test]
fn no_work_means_no_lock_taken() {
    let run = run_under_global_lock(&[], 5).expect("valid");
    assert_eq!(run.checksums, Vec::<u64>::new());
    assert_eq!((run.acquisitions, run.max_threads_inside), (0, 0));

    let idle = run_under_global_lock(&two_workloads(0), 5).expect("valid");
    assert_eq!(idle.checksums, vec![1, 2]);
    assert_eq!((idle.acquisitions, idle.max_threads_inside), (0, 0));
    assert!(run_in_parallel(&[]).is_empty());
}

#[test]
fn zero_steps_per_switch_is_an_error() {
    let err = run_under_global_lock(&two_workloads(1), 0).unwrap_err();
    assert_eq!(err, GilError::ZeroStepsPerSwitch);
    assert_eq!(err.to_string(), "steps_per_switch must be at least 1");
}

#[test]
fn a_held_global_lock_blocks_other_threads() {
    let interpreter = Interpreter::default();
    let held = interpreter.gil.lock().expect("fresh lock");
    thread::scope(|scope| {
        let blocked = scope
            .spawn(|| interpreter.gil.try_lock().is_err())
            .join()
            .expect("probe thread");
        assert!(blocked);
    });
    drop(held);
    assert!(interpreter.gil.try_lock().is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn checksums_do_not_depend_on_scheduling(
        seeds_and_steps in prop::collection::vec((any::<u64>(), 0u64..2_000), 0..5),
        steps_per_switch in 1u64..300,
    ) {
        let workloads: Vec<Workload> = seeds_and_steps
            .into_iter()
            .map(|(seed, steps)| Workload { seed, steps })
            .collect();
        let sequential = run_sequentially(&workloads);
        prop_assert_eq!(&run_in_parallel(&workloads), &sequential);
        let locked = run_under_global_lock(&workloads, steps_per_switch).expect("valid");
        prop_assert_eq!(&locked.checksums, &sequential);
        prop_assert!(locked.max_threads_inside <= 1);
        let expected: u64 = workloads.iter().map(|w| w.steps.div_ceil(steps_per_switch)).sum();
        prop_assert_eq!(locked.acquisitions as u64, expected);
    }
}
