use super::*;
use proptest::prelude::*;

#[test]
fn opposite_order_is_a_deadlock_both_threads_detect() {
    let (a, b) = (Account::new(1, 10), Account::new(2, 10));
    let outcome = opposite_order(&a, &b, Duration::from_millis(50)).unwrap();
    assert_eq!(outcome, [SecondLock::TimedOut, SecondLock::TimedOut]);
    // Both locks were released afterwards.
    assert_eq!((a.balance().unwrap(), b.balance().unwrap()), (10, 10));
}

#[test]
fn the_second_lock_is_acquired_when_nobody_holds_it() {
    let a = Account::new(1, 10);
    assert_eq!(
        try_lock_for(&a, Duration::ZERO).unwrap(),
        SecondLock::Acquired
    );
}

#[test]
fn both_fixes_finish_opposite_transfers_with_exact_balances() {
    let expected = Ok((100_000 + 2 * 2_000, 100_000 - 2 * 2_000));
    assert_eq!(opposite_transfers(transfer_ordered, 2_000), expected);
    assert_eq!(opposite_transfers(with_backoff, 2_000), expected);
}

#[test]
fn bad_transfers_are_errors_and_move_nothing() {
    let (a, b) = (Account::new(1, 100), Account::new(2, 0));
    assert_eq!(
        transfer_ordered(&a, &a, 1),
        Err(TransferError::SameAccount(1))
    );
    assert_eq!(
        transfer_with_backoff(&a, &a, 1, 3),
        Err(TransferError::SameAccount(1))
    );
    assert_eq!(
        transfer_ordered(&a, &b, 0),
        Err(TransferError::NonPositiveAmount(0))
    );
    assert_eq!(
        transfer_ordered(&a, &b, -5),
        Err(TransferError::NonPositiveAmount(-5))
    );
    assert_eq!(
        transfer_ordered(&a, &b, 101),
        Err(TransferError::InsufficientFunds {
            id: 1,
            balance: 100,
            cents: 101
        })
    );
    assert_eq!(
        transfer_with_backoff(&b, &a, 1, 3),
        Err(TransferError::InsufficientFunds {
            id: 2,
            balance: 0,
            cents: 1
        })
    );
    assert_eq!((a.balance().unwrap(), b.balance().unwrap()), (100, 0));
}

#[test]
fn backoff_gives_up_when_the_second_lock_never_frees() {
    let (a, b) = (Account::new(1, 100), Account::new(2, 0));
    let held = b.lock().unwrap();
    assert_eq!(
        transfer_with_backoff(&a, &b, 1, 4),
        Err(TransferError::GaveUp { attempts: 4 })
    );
    drop(held);
    assert_eq!(transfer_with_backoff(&a, &b, 1, 4), Ok(1));
}

#[test]
fn a_poisoned_lock_is_an_error_not_a_panic() {
    let a = Account::new(1, 100);
    let b = Account::new(2, 0);
    let poisoner = Arc::clone(&b);
    let _ = thread::spawn(move || {
        let _guard = poisoner.lock();
        panic!("poison the lock on purpose");
    })
    .join();
    assert_eq!(transfer_ordered(&a, &b, 1), Err(TransferError::Poisoned(2)));
    assert_eq!(
        transfer_with_backoff(&a, &b, 1, 3),
        Err(TransferError::Poisoned(2))
    );
}

#[test]
fn finish_within_reports_a_real_deadlock_instead_of_hanging() {
    let (a, b) = (Account::new(1, 10), Account::new(2, 10));
    let both_hold_one = Arc::new(Barrier::new(2));
    // Blocking lock() in opposite order: these two threads never finish.
    let job = |first: &Arc<Account>, second: &Arc<Account>| {
        let (first, second, barrier) = (
            Arc::clone(first),
            Arc::clone(second),
            Arc::clone(&both_hold_one),
        );
        Box::new(move || {
            let _held = first.lock();
            barrier.wait();
            let _never = second.lock();
        }) as Box<dyn FnOnce() + Send>
    };
    let jobs = vec![job(&a, &b), job(&b, &a)];
    assert!(finish_within(Duration::from_millis(200), jobs).is_none());
}

/// Three accounts, three threads, random transfers (same-account ones
/// included). Balances are large enough that no transfer can overdraw,
/// so the final balances must equal the sequential sum of the valid ones.
fn plans() -> impl Strategy<Value = Vec<Vec<(usize, usize, i64)>>> {
    let transfer = (0usize..3, 0usize..3, 1i64..100);
    prop::collection::vec(prop::collection::vec(transfer, 0..30), 3)
}

fn oracle(plans: &[Vec<(usize, usize, i64)>]) -> Vec<i64> {
    let mut balances = vec![1_000_000; 3];
    for &(from, to, cents) in plans.iter().flatten().filter(|(f, t, _)| f != t)
    {
        balances[from] -= cents;
        balances[to] += cents;
    }
    balances
}

fn run(
    plans: &[Vec<(usize, usize, i64)>],
    transfer: fn(&Account, &Account, i64) -> Result<(), TransferError>,
) -> Option<Vec<i64>> {
    let accounts: Vec<Arc<Account>> =
        (1..=3).map(|id| Account::new(id, 1_000_000)).collect();
    let jobs = plans
        .iter()
        .map(|plan| {
            let (plan, accounts) = (plan.clone(), accounts.clone());
            Box::new(move || {
                plan.iter().all(|&(f, t, cents)| {
                    let result = transfer(&accounts[f], &accounts[t], cents);
                    if f == t {
                        result
                            == Err(TransferError::SameAccount(accounts[f].id))
                    } else {
                        result.is_ok()
                    }
                })
            }) as Box<dyn FnOnce() -> bool + Send>
        })
        .collect();
    let all_as_expected = finish_within(Duration::from_secs(10), jobs)?;
    assert!(
        all_as_expected.iter().all(|&ok| ok),
        "a transfer returned the wrong result"
    );
    accounts.iter().map(|a| a.balance().ok()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ordered_locking_matches_the_sequential_oracle(plans in plans()) {
        prop_assert_eq!(run(&plans, transfer_ordered), Some(oracle(&plans)));
    }

    #[test]
    fn backoff_matches_the_sequential_oracle(plans in plans()) {
        prop_assert_eq!(run(&plans, with_backoff), Some(oracle(&plans)));
    }
}

// The tests below were added for survivors of mutation testing
// (cargo-mutants): each pins a boundary or a message no test read before.

#[test]
fn paying_the_whole_balance_is_allowed() {
    let (a, b) = (Account::new(1, 500), Account::new(2, 0));
    transfer_ordered(&a, &b, 500).unwrap();
    assert_eq!((a.balance().unwrap(), b.balance().unwrap()), (0, 500));
}

#[test]
fn a_lock_freed_within_the_patience_is_acquired() {
    let a = Account::new(1, 10);
    let holder = {
        let a = Arc::clone(&a);
        thread::spawn(move || {
            let _guard = a.lock().unwrap();
            thread::sleep(Duration::from_millis(30));
        })
    };
    thread::sleep(Duration::from_millis(5));
    let got = try_lock_for(&a, Duration::from_secs(5)).unwrap();
    holder.join().unwrap();
    assert_eq!(got, SecondLock::Acquired);
}

#[test]
fn errors_say_what_went_wrong() {
    let insufficient = TransferError::InsufficientFunds {
        id: 7,
        balance: 10,
        cents: 25,
    };
    assert_eq!(
        insufficient.to_string(),
        "account 7 holds 10 cents, cannot pay 25"
    );
    assert_eq!(
        TransferError::SameAccount(3).to_string(),
        "account 3 cannot pay itself"
    );
}

#[test]
fn jitter_stays_below_its_bound_and_varies() {
    let mut jitter = Jitter::seeded(1, 2);
    let draws: Vec<u64> = (0..64).map(|_| jitter.below(256)).collect();
    assert!(draws.iter().all(|&d| d < 256));
    let distinct: std::collections::HashSet<u64> =
        draws.iter().copied().collect();
    assert!(distinct.len() > 32, "too few distinct draws: {draws:?}");
}
