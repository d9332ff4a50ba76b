use super::*;
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);

fn bucket(
    capacity: u64,
    per_second: u64,
) -> (ManualClock, TokenBucket<ManualClock>) {
    let clock = ManualClock::new();
    let rate =
        Rate::new(per_second, Duration::from_secs(1)).expect("valid rate");
    let bucket =
        TokenBucket::new(capacity, rate, clock.clone()).expect("valid bucket");
    (clock, bucket)
}

fn denied(wait: Duration) -> Result<(), AcquireError> {
    Err(AcquireError::Denied { retry_after: wait })
}

#[test]
fn starts_full_then_refills_at_the_rate() {
    let (clock, mut b) = bucket(5, 2);
    for _ in 0..5 {
        assert_eq!(b.try_acquire(1), Ok(()));
    }
    assert_eq!(b.try_acquire(1), denied(500 * MS));
    clock.advance(499 * MS);
    assert_eq!(b.try_acquire(1), denied(MS));
    clock.advance(MS);
    assert_eq!(b.try_acquire(1), Ok(()));
    assert_eq!(b.try_acquire(0), Ok(()), "zero tokens is always granted");
}

#[test]
fn burst_is_capped_at_capacity() {
    let (clock, mut b) = bucket(3, 10);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(b.available(), 3);
    assert_eq!(b.try_acquire(3), Ok(()));
    assert_eq!(b.try_acquire(1), denied(100 * MS));
}

#[test]
fn retry_after_covers_the_whole_request() {
    let (clock, mut b) = bucket(4, 2);
    assert_eq!(b.try_acquire(3), Ok(()));
    // 1 token left, 3 wanted: 2 more at 2/s is one second.
    assert_eq!(b.try_acquire(3), denied(Duration::from_secs(1)));
    clock.advance(Duration::from_secs(1));
    assert_eq!(b.try_acquire(3), Ok(()));
}

#[test]
fn more_than_capacity_is_an_error_not_a_wait() {
    let (clock, mut b) = bucket(5, 1);
    let expected = AcquireError::ExceedsCapacity {
        requested: 6,
        capacity: 5,
    };
    assert_eq!(b.try_acquire(6), Err(expected.clone()));
    clock.advance(Duration::from_secs(1000));
    assert_eq!(b.try_acquire(6), Err(expected.clone()));
    assert_eq!(expected.to_string(), "requested 6 tokens but capacity is 5");
    assert_eq!(b.available(), 5, "the refused request took nothing");
}

#[test]
fn invalid_configuration_is_rejected() {
    let one = Rate::per_second(1.0).expect("valid");
    let zero = TokenBucket::new(0, one, ManualClock::new());
    assert_eq!(zero.err(), Some(ConfigError::ZeroCapacity));
    assert_eq!(Rate::per_second(0.0), Err(ConfigError::NonPositiveRate));
    assert_eq!(Rate::per_second(-0.0), Err(ConfigError::NonPositiveRate));
    assert_eq!(Rate::per_second(-3.0), Err(ConfigError::NonPositiveRate));
    assert!(
        matches!(Rate::per_second(f64::NAN), Err(ConfigError::NonFiniteRate(r)) if r.is_nan())
    );
    assert_eq!(
        Rate::per_second(f64::INFINITY),
        Err(ConfigError::NonFiniteRate(f64::INFINITY))
    );
    assert_eq!(Rate::per_second(1e-12), Err(ConfigError::OutOfRange));
    assert_eq!(Rate::per_second(1e12), Err(ConfigError::OutOfRange));
    assert_eq!(
        Rate::new(0, Duration::from_secs(1)),
        Err(ConfigError::NonPositiveRate)
    );
    assert_eq!(Rate::new(1, Duration::ZERO), Err(ConfigError::ZeroPeriod));
    assert_eq!(Rate::new(1, Duration::MAX), Err(ConfigError::OutOfRange));
    assert_eq!(
        ConfigError::ZeroCapacity.to_string(),
        "capacity must be at least 1 token"
    );
}

#[test]
fn fractional_rates_are_exact() {
    // 0.1 token/s: after exactly 10 s one token, not 0.999...
    let clock = ManualClock::new();
    let rate = Rate::per_second(0.1).expect("valid");
    let mut b = TokenBucket::new(1, rate, clock.clone()).expect("valid");
    assert_eq!(b.try_acquire(1), Ok(()));
    for _ in 0..100 {
        clock.advance(100 * MS);
    }
    assert_eq!(b.try_acquire(1), Ok(()));
    assert_eq!(b.try_acquire(1), denied(Duration::from_secs(10)));
    // Half a token per second, as a ratio.
    let half = Rate::new(1, Duration::from_secs(2)).expect("valid");
    let mut h = TokenBucket::new(1, half, clock.clone()).expect("valid");
    assert_eq!(h.try_acquire(1), Ok(()));
    assert_eq!(h.try_acquire(1), denied(Duration::from_secs(2)));
    // And the float accumulation this avoids really does drift.
    assert!(float_refill(1.0, 100 * MS, 10) < 1.0);
}

#[test]
fn a_clock_going_backwards_mints_no_tokens() {
    let (clock, mut b) = bucket(2, 1);
    clock.set(Duration::from_secs(100));
    assert_eq!(b.try_acquire(2), Ok(()));
    clock.set(Duration::from_secs(50));
    // Behind by 50 s, plus 1 s of drip once time passes 100 s again.
    assert_eq!(b.try_acquire(1), denied(Duration::from_secs(51)));
    clock.set(Duration::from_secs(100));
    assert_eq!(b.try_acquire(1), denied(Duration::from_secs(1)));
    clock.set(Duration::from_secs(101));
    assert_eq!(b.try_acquire(1), Ok(()));
    assert_eq!(b.try_acquire(1), denied(Duration::from_secs(1)));
}

#[test]
fn huge_elapsed_times_saturate_instead_of_overflowing() {
    let clock = ManualClock::new();
    let rate = Rate::new(u64::MAX, Duration::from_nanos(1)).expect("valid");
    let mut b = TokenBucket::new(u64::MAX, rate, clock.clone()).expect("valid");
    assert_eq!(b.try_acquire(u64::MAX), Ok(()));
    clock.advance(Duration::MAX);
    assert_eq!(b.available(), u64::MAX);
    // The longest wait representable does not panic either.
    let slow = Rate::new(1, Duration::from_nanos(u64::MAX)).expect("valid");
    let mut s =
        TokenBucket::new(u64::MAX, slow, ManualClock::new()).expect("valid");
    assert_eq!(s.try_acquire(u64::MAX), Ok(()));
    assert_eq!(s.try_acquire(u64::MAX), denied(Duration::MAX));
}

#[test]
fn retry_after_header_rounds_up_to_whole_seconds() {
    assert_eq!(retry_after_seconds(Duration::ZERO), 0);
    assert_eq!(retry_after_seconds(MS), 1);
    assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
    assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
}

#[test]
fn system_clock_is_monotonic_and_usable() {
    let clock = SystemClock::new();
    let (a, b) = (clock.now(), clock.now());
    assert!(b >= a);
    let mut real =
        TokenBucket::new(1, Rate::per_second(1.0).expect("valid"), clock)
            .expect("valid");
    assert_eq!(real.try_acquire(1), Ok(()));
}

#[test]
fn threads_on_a_frozen_clock_get_exactly_capacity() {
    assert_eq!(hammer(100, 8, 500), Ok(100));
    // Three tokens a request: 33 requests fit in 100 tokens, never 34.
    let clock = ManualClock::new();
    let rate = Rate::per_second(1.0).expect("valid");
    let shared =
        SharedBucket::new(TokenBucket::new(100, rate, clock).expect("valid"));
    let granted: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..100).filter(|_| shared.try_acquire(3).is_ok()).count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert_eq!(granted, 33);
}

#[test]
fn threads_with_a_moving_clock_stay_within_the_bound() {
    let clock = ManualClock::new();
    let rate = Rate::new(1, MS).expect("1 token per ms");
    let shared = SharedBucket::new(
        TokenBucket::new(10, rate, clock.clone()).expect("valid"),
    );
    let granted: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..2_000).filter(|_| shared.try_acquire(1).is_ok()).count()
                })
            })
            .collect();
        for _ in 0..200 {
            clock.advance(MS);
            std::thread::yield_now();
        }
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    // capacity + rate × elapsed = 10 + 200.
    assert!(granted <= 210, "{granted} granted");
    assert!(granted >= 10, "{granted} granted");
}

/// The oracle: the same bucket simulated one nanosecond at a time.
struct Model {
    capacity: u64,
    tokens: u128,
    per_nanos: u128,
    level: u128,
    latest: u64,
}

impl Model {
    fn advance_to(&mut self, now: u64) {
        while self.latest < now {
            self.latest += 1;
            self.level = (self.level + self.tokens)
                .min(u128::from(self.capacity) * self.per_nanos);
        }
    }

    fn acquire(&mut self, n: u64, now: u64) -> Result<(), AcquireError> {
        if n > self.capacity {
            return Err(AcquireError::ExceedsCapacity {
                requested: n,
                capacity: self.capacity,
            });
        }
        self.advance_to(now);
        let cost = u128::from(n) * self.per_nanos;
        if self.level >= cost {
            self.level -= cost;
            return Ok(());
        }
        let (mut level, mut waited) = (self.level, self.latest - now);
        while level < cost {
            level += self.tokens;
            waited += 1;
        }
        Err(AcquireError::Denied {
            retry_after: Duration::from_nanos(waited),
        })
    }
}

#[derive(Debug, Clone)]
enum Op {
    Forward(u64),
    Back(u64),
    Acquire(u64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0u64..40).prop_map(Op::Forward),
        1 => (0u64..30).prop_map(Op::Back),
        4 => (0u64..8).prop_map(Op::Acquire),
    ];
    prop::collection::vec(op, 0..60)
}

/// The most tokens granted in any window `[from, to]` of the bucket's time,
/// against `capacity + rate × (to − from)`, in units of 1/`per_nanos` token.
/// `grants` holds `(time, tokens)` in order; the time is the model's
/// high-water mark, so it never decreases and every window is a contiguous
/// run. Windows that start and end at grants are the tightest ones.
fn worst_window_excess(
    grants: &[(u64, u64)],
    capacity: u64,
    tokens: u64,
    per_nanos: u64,
) -> Option<(u64, u64, u128)> {
    for (i, &(from, _)) in grants.iter().enumerate() {
        let mut taken = 0u128;
        for &(to, n) in &grants[i..] {
            taken += u128::from(n) * u128::from(per_nanos);
            let allowed = u128::from(capacity) * u128::from(per_nanos)
                + u128::from(tokens) * u128::from(to - from);
            if taken > allowed {
                return Some((from, to, taken - allowed));
            }
        }
    }
    None
}

proptest! {
    #[test]
    fn matches_the_nanosecond_model(
        capacity in 1u64..7,
        tokens in 1u64..5,
        per_nanos in 1u64..20,
        start in prop_oneof![Just(0u64), 0u64..1_000_000, Just(u64::MAX / 2)],
        ops in ops(),
    ) {
        // The bucket is created at `start`, not necessarily at time zero.
        let clock = ManualClock::new();
        clock.set(Duration::from_nanos(start));
        let rate = Rate::new(tokens, Duration::from_nanos(per_nanos)).expect("valid");
        let mut b = TokenBucket::new(capacity, rate, clock.clone()).expect("valid");
        let mut model = Model {
            capacity,
            tokens: tokens.into(),
            per_nanos: per_nanos.into(),
            level: u128::from(capacity) * u128::from(per_nanos),
            latest: start,
        };
        let mut now = start;
        let mut grants = Vec::new();
        for op in ops {
            match op {
                Op::Forward(d) => now += d,
                Op::Back(d) => now = now.saturating_sub(d),
                Op::Acquire(n) => {
                    clock.set(Duration::from_nanos(now));
                    let got = b.try_acquire(n);
                    prop_assert_eq!(&got, &model.acquire(n, now));
                    if got.is_ok() && n > 0 {
                        grants.push((model.latest, n));
                    }
                }
            }
        }
        // Over every window, not only those starting when the bucket was
        // created: never more than the burst plus what the window paid for.
        prop_assert_eq!(
            worst_window_excess(&grants, capacity, tokens, per_nanos),
            None
        );
    }

    #[test]
    fn retry_after_is_exact(
        capacity in 1u64..7,
        tokens in 1u64..5,
        per_nanos in 1u64..20,
        ops in ops(),
        n in 1u64..7,
    ) {
        let n = n.min(capacity);
        let clock = ManualClock::new();
        let rate = Rate::new(tokens, Duration::from_nanos(per_nanos)).expect("valid");
        let mut b = TokenBucket::new(capacity, rate, clock.clone()).expect("valid");
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Forward(d) => now += d,
                Op::Back(d) => now = now.saturating_sub(d),
                Op::Acquire(k) => {
                    clock.set(Duration::from_nanos(now));
                    let _ = b.try_acquire(k);
                }
            }
        }
        clock.set(Duration::from_nanos(now));
        if let Err(AcquireError::Denied { retry_after }) = b.try_acquire(n) {
            let mut early = b.clone();
            clock.set(Duration::from_nanos(now) + retry_after - Duration::from_nanos(1));
            prop_assert!(early.try_acquire(n).is_err(), "one nanosecond early must fail");
            clock.set(Duration::from_nanos(now) + retry_after);
            prop_assert_eq!(b.try_acquire(n), Ok(()));
        }
    }
}

// Found by mutation testing (cargo-mutants): the smallest rate a bucket can
// hold is one nano-token a second, and it must be accepted.
#[test]
fn the_smallest_representable_rate_is_accepted() {
    assert!(Rate::per_second(1e-9).is_ok());
    assert!(matches!(
        Rate::per_second(0.4e-9),
        Err(ConfigError::OutOfRange)
    ));
}

// Found by mutation testing: the real clock must move.
#[test]
fn the_system_clock_advances() {
    let clock = SystemClock::new();
    std::thread::sleep(Duration::from_millis(2));
    assert!(clock.now() >= Duration::from_millis(2));
}
