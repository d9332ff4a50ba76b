//! 4.6 Rate limiter: a token bucket with an injected clock.
//!
//! A bucket holds up to `capacity` tokens (the burst) and refills at a
//! `Rate`; `try_acquire(n)` takes `n` tokens or says how long to wait.
//!
//! Semantics chosen for what the question leaves open:
//! - Time comes from a `Clock` trait: `SystemClock` wraps `Instant`,
//!   `ManualClock` is moved by hand so that tests and output are exact.
//! - Arithmetic is exact integers, no floats. A rate is "T tokens per P
//!   nanoseconds"; the level is kept in units of 1/P token, so each elapsed
//!   nanosecond adds exactly T units and nothing is lost to rounding.
//!   `Rate::per_second(f64)` rounds once, at construction, to a whole number
//!   of nano-tokens per second.
//! - A new bucket starts full, so the first burst of `capacity` is allowed.
//! - `try_acquire(0)` succeeds and takes nothing.
//! - Asking for more than `capacity` is `AcquireError::ExceedsCapacity`: no
//!   wait would ever be long enough, so "retry later" would be a lie.
//! - A denial carries `retry_after`, the exact time until `n` tokens are
//!   there (rounded up to the nanosecond), if nobody else takes them first.
//! - Invalid configuration (zero capacity; zero, negative, NaN or infinite
//!   rate; zero period) is a `ConfigError` from the constructor.
//! - A clock that goes backwards mints nothing: refill only happens past the
//!   latest time the bucket has seen.
//! - `SharedBucket` puts the bucket behind a `Mutex` for use across threads.

use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

// ANCHOR: clock
/// A monotonic time source: time elapsed since some fixed origin.
pub trait Clock {
    fn now(&self) -> Duration;
}

/// Real time, from the monotonic `Instant` (never the wall clock).
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> SystemClock {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to. Clones share the same time, so a
/// test keeps one clone and hands another to the bucket.
#[derive(Clone, Default)]
pub struct ManualClock {
    now: Arc<Mutex<Duration>>,
}

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by);
    }

    /// Sets the time, backwards too, to test what a misbehaving clock does.
    pub fn set(&self, to: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
// ANCHOR_END: clock

// ANCHOR: config_error
/// Why a bucket or a rate could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    ZeroCapacity,
    /// Zero tokens, or a rate of zero or less tokens per second.
    NonPositiveRate,
    /// NaN or infinite tokens per second.
    NonFiniteRate(f64),
    ZeroPeriod,
    /// A rate below one nano-token per second, above `u64::MAX` of them, or
    /// a period longer than `u64::MAX` nanoseconds.
    OutOfRange,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroCapacity => {
                write!(f, "capacity must be at least 1 token")
            }
            ConfigError::NonPositiveRate => write!(f, "rate must be positive"),
            ConfigError::NonFiniteRate(r) => {
                write!(f, "rate must be finite, got {r}")
            }
            ConfigError::ZeroPeriod => {
                write!(f, "rate period must be longer than zero")
            }
            ConfigError::OutOfRange => {
                write!(f, "rate is outside the representable range")
            }
        }
    }
}

impl Error for ConfigError {}
// ANCHOR_END: config_error

// ANCHOR: acquire_error
/// Why `try_acquire` did not grant the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquireError {
    /// Not enough tokens now; `retry_after` from now there will be.
    Denied { retry_after: Duration },
    /// More than the bucket can ever hold: waiting will not help.
    ExceedsCapacity { requested: u64, capacity: u64 },
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::Denied { retry_after } => {
                write!(f, "rate limited, retry after {retry_after:?}")
            }
            AcquireError::ExceedsCapacity {
                requested,
                capacity,
            } => write!(
                f,
                "requested {requested} tokens but capacity is {capacity}"
            ),
        }
    }
}

impl Error for AcquireError {}
// ANCHOR_END: acquire_error

// ANCHOR: rate
/// A refill rate: `tokens` every `per_nanos` nanoseconds, both non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    tokens: u64,
    per_nanos: u64,
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

impl Rate {
    /// `tokens` every `per`, e.g. `Rate::new(1, Duration::from_secs(2))` for
    /// half a token per second, exactly.
    pub fn new(tokens: u64, per: Duration) -> Result<Rate, ConfigError> {
        if tokens == 0 {
            return Err(ConfigError::NonPositiveRate);
        }
        if per.is_zero() {
            return Err(ConfigError::ZeroPeriod);
        }
        let per_nanos = u64::try_from(per.as_nanos())
            .map_err(|_| ConfigError::OutOfRange)?;
        Ok(Rate { tokens, per_nanos })
    }

    /// From a float, as configuration files give it. Rounded once, here, to
    /// whole nano-tokens per second; exact integers from then on.
    pub fn per_second(tokens_per_second: f64) -> Result<Rate, ConfigError> {
        if !tokens_per_second.is_finite() {
            return Err(ConfigError::NonFiniteRate(tokens_per_second));
        }
        if tokens_per_second <= 0.0 {
            return Err(ConfigError::NonPositiveRate);
        }
        let nano_tokens = (tokens_per_second * NANOS_PER_SECOND as f64).round();
        if nano_tokens < 1.0 || nano_tokens >= u64::MAX as f64 {
            return Err(ConfigError::OutOfRange);
        }
        // In range and integral, so the cast is exact.
        Rate::new(nano_tokens as u64, Duration::from_secs(NANOS_PER_SECOND))
    }
}
// ANCHOR_END: rate

// ANCHOR: bucket
/// A token bucket. The level is in units of 1/`per_nanos` token, so one
/// token costs `per_nanos` units and one nanosecond adds `tokens` units.
#[derive(Clone)]
pub struct TokenBucket<C: Clock> {
    clock: C,
    capacity: u64,
    rate: Rate,
    level: u128,
    /// The latest time seen: refill never counts time before it twice.
    last: Duration,
}

impl<C: Clock> TokenBucket<C> {
    /// A full bucket.
    pub fn new(
        capacity: u64,
        rate: Rate,
        clock: C,
    ) -> Result<TokenBucket<C>, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        let last = clock.now();
        let mut bucket = TokenBucket {
            clock,
            capacity,
            rate,
            level: 0,
            last,
        };
        bucket.level = bucket.units(capacity);
        Ok(bucket)
    }

    /// Takes `n` tokens, or explains why not.
    pub fn try_acquire(&mut self, n: u64) -> Result<(), AcquireError> {
        if n > self.capacity {
            return Err(AcquireError::ExceedsCapacity {
                requested: n,
                capacity: self.capacity,
            });
        }
        let now = self.refill();
        let cost = self.units(n);
        if self.level >= cost {
            self.level -= cost;
            Ok(())
        } else {
            Err(AcquireError::Denied {
                retry_after: self.wait_for(cost - self.level, now),
            })
        }
    }
}
// ANCHOR_END: bucket

// ANCHOR: refill
impl<C: Clock> TokenBucket<C> {
    /// Whole tokens available now.
    pub fn available(&mut self) -> u64 {
        self.refill();
        // level <= capacity units, so the quotient fits.
        u64::try_from(self.level / u128::from(self.rate.per_nanos))
            .unwrap_or(self.capacity)
    }

    fn units(&self, tokens: u64) -> u128 {
        u128::from(tokens) * u128::from(self.rate.per_nanos)
    }

    /// Adds what has dripped in since `last` and returns the clock's `now`.
    fn refill(&mut self) -> Duration {
        let now = self.clock.now();
        if now > self.last {
            let elapsed = (now - self.last).as_nanos();
            let added = elapsed.saturating_mul(u128::from(self.rate.tokens));
            self.level = self
                .level
                .saturating_add(added)
                .min(self.units(self.capacity));
            self.last = now;
        }
        // A clock behind `last` adds nothing and does not move `last` back,
        // so the same interval can never be counted again.
        now
    }

    /// Time from `now` until `missing` more units have dripped in.
    fn wait_for(&self, missing: u128, now: Duration) -> Duration {
        let tokens = u128::from(self.rate.tokens);
        let drip_nanos = missing.div_ceil(tokens);
        let behind = self.last.saturating_sub(now);
        nanos_to_duration(drip_nanos).saturating_add(behind)
    }
}

fn nanos_to_duration(nanos: u128) -> Duration {
    let billion = u128::from(NANOS_PER_SECOND);
    match u64::try_from(nanos / billion) {
        // The remainder is below 10^9, so it fits in a u32.
        Ok(secs) => Duration::new(secs, (nanos % billion) as u32),
        Err(_) => Duration::MAX,
    }
}
// ANCHOR_END: refill

// ANCHOR: shared
/// A bucket that many threads can share (`&SharedBucket` is `Send`).
pub struct SharedBucket<C: Clock> {
    inner: Mutex<TokenBucket<C>>,
}

impl<C: Clock> SharedBucket<C> {
    pub fn new(bucket: TokenBucket<C>) -> SharedBucket<C> {
        SharedBucket {
            inner: Mutex::new(bucket),
        }
    }

    /// Refill, check and take happen under one lock: no two threads can
    /// both see the last token and both take it.
    pub fn try_acquire(&self, n: u64) -> Result<(), AcquireError> {
        // Nothing inside can panic halfway through an update, so a poisoned
        // lock still guards a consistent bucket.
        let mut bucket =
            self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        bucket.try_acquire(n)
    }
}
// ANCHOR_END: shared

// ANCHOR: header
/// The `Retry-After` value for an HTTP 429: whole seconds, rounded up, so a
/// client that obeys it is never early.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
// ANCHOR_END: header

/// Tokens in a float bucket after `steps` refills of `dt` at `rate`/s.
fn float_refill(rate_per_second: f64, dt: Duration, steps: u32) -> f64 {
    (0..steps)
        .fold(0.0, |tokens, _| tokens + rate_per_second * dt.as_secs_f64())
}

/// Grants from `threads` threads, each trying `attempts` times, on a frozen
/// clock.
fn hammer(
    capacity: u64,
    threads: usize,
    attempts: usize,
) -> Result<usize, ConfigError> {
    let clock = ManualClock::new();
    let bucket = SharedBucket::new(TokenBucket::new(
        capacity,
        Rate::per_second(1.0)?,
        clock,
    )?);
    let granted = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..attempts)
                        .filter(|_| bucket.try_acquire(1).is_ok())
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    Ok(granted)
}

fn report(clock: &ManualClock, what: &str, result: Result<(), AcquireError>) {
    let at = clock.now().as_secs_f64();
    match result {
        Ok(()) => println!("t={at:.3}s {what}: granted"),
        Err(e) => println!("t={at:.3}s {what}: {e}"),
    }
}

// ANCHOR: manual_clock
fn drive_with_manual_clock() -> Result<(), Box<dyn Error>> {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(
        5,
        Rate::new(2, Duration::from_secs(1))?,
        clock.clone(),
    )?;
    println!("capacity 5, refill 2 tokens/s, starts full");

    let burst = (0..5).filter(|_| bucket.try_acquire(1).is_ok()).count();
    println!("t=0.000s burst of 5: {burst} granted");
    report(&clock, "acquire(1)", bucket.try_acquire(1));
    clock.advance(Duration::from_millis(250));
    report(&clock, "acquire(1)", bucket.try_acquire(1));
    clock.advance(Duration::from_millis(250));
    report(&clock, "acquire(1)", bucket.try_acquire(1));
    report(&clock, "acquire(6)", bucket.try_acquire(6));
    clock.advance(Duration::from_secs(60));
    println!(
        "t=60.500s available: {} (capped at capacity)",
        bucket.available()
    );

    bucket.try_acquire(5)?;
    clock.set(Duration::from_secs(10));
    report(
        &clock,
        "clock set back 50.5 s, acquire(1)",
        bucket.try_acquire(1),
    );
    clock.set(Duration::from_millis(60_500));
    report(
        &clock,
        "clock back where it was, acquire(1)",
        bucket.try_acquire(1),
    );
    Ok(())
}
// ANCHOR_END: manual_clock

// ANCHOR: main
fn main() -> Result<(), Box<dyn Error>> {
    drive_with_manual_clock()?;

    let wait = Duration::from_millis(250);
    println!(
        "Retry-After for a {wait:?} wait: {}",
        retry_after_seconds(wait)
    );

    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-12] {
        if let Err(e) = Rate::per_second(rate) {
            println!("rate {rate:?} tokens/s: {e}");
        }
    }
    if let Err(e) =
        TokenBucket::new(0, Rate::per_second(1.0)?, ManualClock::new())
    {
        println!("capacity 0: {e}");
    }

    let drift = float_refill(1.0, Duration::from_millis(100), 10);
    println!("f64 bucket after 10 x 100 ms at 1 token/s: {drift} tokens");
    let exact_clock = ManualClock::new();
    let mut exact =
        TokenBucket::new(1, Rate::per_second(1.0)?, exact_clock.clone())?;
    exact.try_acquire(1)?;
    for _ in 0..10 {
        exact_clock.advance(Duration::from_millis(100));
    }
    println!(
        "integer bucket after the same 10 steps: {} token(s)",
        exact.available()
    );

    let granted = hammer(100, 8, 1_000)?;
    println!(
        "8 threads x 1000 attempts, frozen clock, capacity 100: \
         {granted} granted"
    );

    let mut real =
        TokenBucket::new(1, Rate::per_second(1.0)?, SystemClock::new())?;
    println!(
        "system clock, first acquire(1) on a full bucket: {:?}",
        real.try_acquire(1)
    );
    Ok(())
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
