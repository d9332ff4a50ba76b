"""4.6 Rate limiter: a token bucket with an injected clock.

The Python version of listings/problems/src/bin/token_bucket/main.rs. A
bucket holds up to `capacity` tokens (the burst) and refills at `rate`
tokens per second; try_acquire(n) takes n tokens or says how long to wait.

- Time comes from a clock: any callable returning monotonic seconds,
  time.monotonic by default. Tests pass a clock they move by hand, so they
  never sleep and every answer is exact.
- Arithmetic is exact: the level, the rate and the times are
  fractions.Fraction. A float clock reading converts to a Fraction exactly,
  and refill adds rate * (now - last) with nothing rounded, so many small
  refills add up to exactly one big one. Two classic bugs are avoided: a
  float level that drifts (ten refills of 0.1 token make
  0.9999999999999999), and an integer level in nano-tokens that truncates
  the fraction of a nano-token at every refill, so a slow rate refilled
  often falls short for ever.
- A float rate, as read from a configuration file, is rounded once to
  whole nano-tokens per second, as in the Rust listing: 0.1 becomes exactly
  1/10. An int or a Fraction is taken exactly.
- A new bucket starts full. try_acquire(0) is granted and takes nothing.
- A request for more than `capacity` is a ValueError, not a denial: no
  wait would ever be long enough.
- A denial carries retry_after, the exact time in seconds until n tokens
  are there, if nobody else takes them first. retry_after_seconds rounds it
  up to whole seconds for an HTTP Retry-After header.
- A clock that goes backwards mints nothing: the bucket refills only past
  the latest time it has seen, and a wait includes the time still owed.
- Bad configuration (capacity below 1; a rate that is zero, negative, NaN,
  infinite or below one nano-token per second) is refused at construction.
- Refill, check and take happen under one threading.Lock, so threads that
  share a bucket cannot both take the last token.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

Clock = Callable[[], float | Fraction]
NANOS_PER_SECOND = 10**9


@dataclass(frozen=True)
class Decision:
    """The answer to try_acquire. True when granted; otherwise retry_after
    says how many seconds until the same request would succeed."""

    granted: bool
    retry_after: Fraction = Fraction(0)

    def __bool__(self) -> bool:
        return self.granted


def _exact_rate(tokens_per_second: int | float | Fraction) -> Fraction:
    """The rate as a Fraction. A float is rounded once, here, to whole
    nano-tokens per second; an int or a Fraction is kept exactly."""
    rate = tokens_per_second
    if isinstance(rate, bool) or not isinstance(rate, int | float | Fraction):
        raise TypeError(f"rate must be a number of tokens/s, got {rate!r}")
    if isinstance(rate, float) and not math.isfinite(rate):
        raise ValueError(f"rate must be finite, got {rate}")
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if isinstance(rate, float):
        rate = Fraction(round(rate * NANOS_PER_SECOND), NANOS_PER_SECOND)
        if rate == 0:
            raise ValueError(
                f"rate {tokens_per_second} is below one nano-token per second"
            )
    return Fraction(rate)


def _checked_tokens(n: int, what: str, least: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, got {n!r}")
    if n < least:
        raise ValueError(f"{what} must be at least {least}, got {n}")
    return n


# ANCHOR: bucket
class TokenBucket:
    """A token bucket: `capacity` tokens at most, `rate` more per second."""

    def __init__(
        self,
        capacity: int,
        rate: int | float | Fraction,
        clock: Clock = time.monotonic,
    ) -> None:
        self.capacity = _checked_tokens(capacity, "capacity", 1)
        self.rate = _exact_rate(rate)
        self._clock = clock
        self._level = Fraction(capacity)  # a new bucket is full
        self._last = Fraction(clock())  # the latest time seen
        self._lock = threading.Lock()

    def try_acquire(self, n: int = 1) -> Decision:
        """Takes n tokens if they are there, or says how long to wait."""
        _checked_tokens(n, "tokens requested", 0)
        if n > self.capacity:
            raise ValueError(
                f"requested {n} tokens but capacity is {self.capacity}"
            )
        with self._lock:  # refill, check and take as one step
            now = self._refill()
            if self._level >= n:
                self._level -= n
                return Decision(granted=True)
            # The missing tokens drip in at `rate`, once the clock has
            # caught up with the latest time already counted.
            behind = max(self._last - now, Fraction(0))
            wait = (n - self._level) / self.rate + behind
            return Decision(granted=False, retry_after=wait)

    def available(self) -> int:
        """Whole tokens available now."""
        with self._lock:
            self._refill()
            return math.floor(self._level)

    def _refill(self) -> Fraction:
        """Adds what dripped in since the latest time seen; returns now."""
        now = Fraction(self._clock())
        if now > self._last:
            earned = (now - self._last) * self.rate
            self._level = min(Fraction(self.capacity), self._level + earned)
            self._last = now
        # A clock behind _last adds nothing and does not move _last back,
        # so the same interval can never be counted twice.
        return now


# ANCHOR_END: bucket


# ANCHOR: header
def retry_after_seconds(wait: float | Fraction) -> int:
    """The Retry-After value for an HTTP 429: whole seconds, rounded up,
    so that a client that obeys it is never early."""
    return math.ceil(wait)


# ANCHOR_END: header


class ManualClock:
    """A clock that moves only when told to, exactly."""

    def __init__(self) -> None:
        self.now = Fraction(0)

    def __call__(self) -> Fraction:
        return self.now

    def advance(self, seconds: int | Fraction) -> None:
        self.now += seconds


def truncating_refills(rate: Fraction, step_ns: int, steps: int) -> int:
    """What a bucket that keeps whole nano-tokens ends up with after
    `steps` refills of `step_ns` nanoseconds: the bug that exact
    arithmetic avoids. Each refill drops its fraction of a nano-token."""
    nano_tokens_per_second = rate * NANOS_PER_SECOND
    level = 0
    for _ in range(steps):
        level += math.floor(nano_tokens_per_second * step_ns / NANOS_PER_SECOND)
    return level


def hammer(threads: int, attempts: int, capacity: int) -> int:
    """Grants among `threads` threads sharing one bucket, clock frozen."""
    bucket = TokenBucket(capacity, 1, ManualClock())
    granted = 0
    count_lock = threading.Lock()

    def worker() -> None:
        nonlocal granted
        mine = sum(1 for _ in range(attempts) if bucket.try_acquire())
        with count_lock:
            granted += mine

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return granted


def report(clock: ManualClock, what: str, decision: Decision) -> None:
    verdict = (
        "granted"
        if decision
        else f"denied, retry after {float(decision.retry_after):g} s"
    )
    print(f"t={float(clock.now):.3f}s {what}: {verdict}")


# ANCHOR: main
def main() -> None:
    clock = ManualClock()
    bucket = TokenBucket(5, 2, clock)
    print("capacity 5, refill 2 tokens/s, starts full")
    burst = sum(1 for _ in range(5) if bucket.try_acquire())
    print(f"t=0.000s burst of 5: {burst} granted")
    report(clock, "acquire(1)", bucket.try_acquire())
    clock.advance(Fraction(1, 4))
    report(clock, "acquire(1)", bucket.try_acquire())
    clock.advance(Fraction(1, 4))
    report(clock, "acquire(1)", bucket.try_acquire())
    try:
        bucket.try_acquire(6)
    except ValueError as error:
        print(f"t=0.500s acquire(6): ValueError: {error}")
    clock.advance(60)
    print(f"t=60.500s available: {bucket.available()} (capped at capacity)")

    bucket.try_acquire(5)
    clock.now = Fraction(10)
    report(clock, "clock set back 50.5 s, acquire(1)", bucket.try_acquire())
    clock.now = Fraction(121, 2)
    report(clock, "clock back where it was, acquire(1)", bucket.try_acquire())
    print(f"Retry-After for a 0.25 s wait: {retry_after_seconds(0.25)}")

    for rate in (0.0, -1.0, math.nan, math.inf, 1e-12):
        try:
            TokenBucket(1, rate, clock)
        except ValueError as error:
            print(f"rate {rate} tokens/s: {error}")
    try:
        TokenBucket(0, 1, clock)
    except ValueError as error:
        print(f"capacity 0: {error}")

    drift = 0.0
    for _ in range(10):
        drift += 1.0 * 0.1
    print(f"float level after 10 x 100 ms at 1 token/s: {drift} tokens")
    third = Fraction(1, 3)
    short = truncating_refills(third, 1_000_000, 3_000)
    print(f"whole nano-tokens, 3000 x 1 ms at 1/3 token/s: {short}")
    exact = TokenBucket(1, third, clock)
    exact.try_acquire()
    for _ in range(3_000):
        clock.advance(Fraction(1, 1000))
        exact.available()  # refill, as a stream of requests would
    print(f"exact bucket after the same 3000 refills: {exact.available()}")
    granted = hammer(threads=8, attempts=1_000, capacity=100)
    print(f"8 threads x 1000 attempts, frozen clock, capacity 100: {granted}")
    real = TokenBucket(1, 1)  # time.monotonic
    verdict = "granted" if real.try_acquire() else "denied"
    print(f"time.monotonic, acquire(1) on a full bucket: {verdict}")


# ANCHOR_END: main

if __name__ == "__main__":
    main()
