"""Tests of 4.6 token bucket, on a clock the tests move by hand: the
chapter's edge cases, bad configuration, exact refill (many small refills
equal one big one; the float and truncating-integer versions do not),
threads, and property tests against a tick-by-tick model."""

import math
import threading
from fractions import Fraction
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

MS = Fraction(1, 1000)
NS = Fraction(1, 10**9)
# Refill rates in tokens per second (or per tick), 1/20 to 4.
rates = st.builds(Fraction, st.integers(1, 4), st.integers(1, 20))


class ManualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: int | Fraction = 0) -> None:
        self.now = Fraction(now)

    def __call__(self) -> Fraction:
        return self.now

    def advance(self, seconds: int | Fraction) -> None:
        self.now += seconds


def bucket(
    solution: ModuleType, capacity: int, rate: Any
) -> tuple[ManualClock, Any]:
    clock = ManualClock()
    return clock, solution.TokenBucket(capacity, rate, clock)


def denied_for(decision: Any) -> Fraction:
    """The wait of a denial; fails the test if the request was granted."""
    assert not decision.granted and not decision, "expected a denial"
    return Fraction(decision.retry_after)


def test_starts_full_then_refills_at_the_rate(solution: ModuleType) -> None:
    clock, b = bucket(solution, 5, 2)
    assert all(b.try_acquire() for _ in range(5))
    assert denied_for(b.try_acquire()) == 500 * MS
    clock.advance(499 * MS)
    assert denied_for(b.try_acquire()) == MS
    clock.advance(MS)
    assert b.try_acquire().granted
    assert b.try_acquire(0), "zero tokens is always granted"


def test_idle_time_is_capped_at_capacity(solution: ModuleType) -> None:
    clock, b = bucket(solution, 3, 10)
    clock.advance(3600)
    assert b.available() == 3
    assert b.try_acquire(3)
    assert denied_for(b.try_acquire()) == 100 * MS


def test_retry_after_covers_the_whole_request(solution: ModuleType) -> None:
    clock, b = bucket(solution, 4, 2)
    assert b.try_acquire(3)
    # 1 token left, 3 wanted: 2 more at 2 per second is one second.
    assert denied_for(b.try_acquire(3)) == 1
    clock.advance(1)
    assert b.try_acquire(3)


def test_more_than_capacity_is_an_error_not_a_wait(
    solution: ModuleType,
) -> None:
    clock, b = bucket(solution, 5, 1)
    message = "requested 6 tokens but capacity is 5"
    with pytest.raises(ValueError, match=message):
        b.try_acquire(6)
    clock.advance(1000)
    with pytest.raises(ValueError, match=message):
        b.try_acquire(6)
    assert b.available() == 5, "the refused request took nothing"


@pytest.mark.parametrize(
    ("capacity", "rate", "error", "message"),
    [
        (0, 1, ValueError, "capacity must be at least 1, got 0"),
        (-1, 1, ValueError, "capacity must be at least 1, got -1"),
        (2.5, 1, TypeError, "capacity must be an int, got 2.5"),
        (True, 1, TypeError, "capacity must be an int, got True"),
        (1, 0.0, ValueError, "rate must be positive, got 0.0"),
        (1, -0.0, ValueError, "rate must be positive, got -0.0"),
        (1, -3, ValueError, "rate must be positive, got -3"),
        (1, Fraction(0), ValueError, "rate must be positive, got 0"),
        (1, math.nan, ValueError, "rate must be finite, got nan"),
        (1, math.inf, ValueError, "rate must be finite, got inf"),
        (1, 1e-12, ValueError, "rate 1e-12 is below one nano-token per"),
        (1, "2", TypeError, "rate must be a number of tokens/s, got '2'"),
    ],
)
def test_bad_configuration_is_refused(
    solution: ModuleType,
    capacity: object,
    rate: object,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        solution.TokenBucket(capacity, rate, ManualClock())


def test_bad_requests_are_refused(solution: ModuleType) -> None:
    _, b = bucket(solution, 5, 1)
    with pytest.raises(ValueError, match="must be at least 0, got -1"):
        b.try_acquire(-1)
    with pytest.raises(TypeError, match=r"must be an int, got 1\.5"):
        b.try_acquire(1.5)
    assert b.available() == 5


def test_fractional_rates_are_exact(solution: ModuleType) -> None:
    # 0.1 token/s from a float: exactly one token after 100 x 100 ms.
    clock, b = bucket(solution, 1, 0.1)
    assert b.try_acquire()
    for _ in range(100):
        clock.advance(100 * MS)
        b.available()
    assert b.try_acquire()
    assert denied_for(b.try_acquire()) == 10
    # Half a token per second, as a Fraction.
    clock, h = bucket(solution, 1, Fraction(1, 2))
    assert h.try_acquire()
    assert denied_for(h.try_acquire()) == 2
    # And the float level this avoids really does drift.
    level = 0.0
    for _ in range(10):
        level += 1.0 * 0.1
    assert level == 0.9999999999999999 < 1.0


def truncating_level(rate: Fraction, step_seconds: Fraction, steps: int) -> int:
    """A level kept in whole nano-tokens, refilled `steps` times: each
    refill drops its fraction of a nano-token."""
    per_step = rate * step_seconds * 10**9
    return sum(math.floor(per_step) for _ in range(steps))


def test_many_small_refills_add_up_exactly(solution: ModuleType) -> None:
    third = Fraction(1, 3)
    # The bug: 3000 refills of 1 ms at 1/3 token/s leave 999,999,000
    # nano-tokens, so a whole token never arrives.
    assert truncating_level(third, MS, 3_000) == 999_999_000
    clock, b = bucket(solution, 1, third)
    assert b.try_acquire()
    for _ in range(2_999):
        clock.advance(MS)
        assert not b.try_acquire()
    clock.advance(MS)
    assert b.try_acquire(), "exactly one token after exactly 3 s"


def test_float_clock_readings_telescope_exactly(solution: ModuleType) -> None:
    # A float clock stepping by 0.1 does not land on exact tenths, yet 98
    # small refills leave exactly what one big refill over the same span
    # does: rate * (last reading - first reading), with nothing lost.
    readings = [0.0]
    for _ in range(100):
        readings.append(readings[-1] + 0.1)
    assert readings[-1] != 10.0

    def waits_after(reads: list[float]) -> Fraction:
        times = iter(reads)
        b = solution.TokenBucket(1000, 3, lambda: next(times))
        assert b.try_acquire(1000)  # at reads[1]: empty from here on
        for _ in reads[2:-1]:
            b.available()
        return denied_for(b.try_acquire(1000))  # at reads[-1]

    many = waits_after(readings)
    one = waits_after([readings[0], readings[1], readings[100]])
    level = 3 * (Fraction(readings[100]) - Fraction(readings[1]))
    assert many == one == (1000 - level) / 3


def wait_after_reads(
    solution: ModuleType, rate: Fraction, reads: list[float]
) -> Fraction:
    """Empties a bucket at reads[1], refills at every read up to the last
    one, then returns the wait for a full bucket: (capacity - level) / rate
    gives the level away exactly."""
    times = iter(reads)
    b = solution.TokenBucket(10**6, rate, lambda: next(times))
    assert b.try_acquire(10**6)
    for _ in reads[2:-1]:
        b.available()
    return denied_for(b.try_acquire(10**6))


@settings(max_examples=200)
@given(
    rate=rates,
    steps=st.lists(st.floats(0, 2), min_size=1, max_size=50),
)
def test_many_small_refills_equal_one_big_refill(
    solution: ModuleType, rate: Fraction, steps: list[float]
) -> None:
    reads = [1234.5, 1234.5]
    for step in steps:
        reads.append(reads[-1] + step)  # float sums, rounded as they go
    many = wait_after_reads(solution, rate, reads)
    one = wait_after_reads(solution, rate, [*reads[:2], reads[-1]])
    assert many == one


def test_a_clock_going_backwards_mints_no_tokens(solution: ModuleType) -> None:
    clock, b = bucket(solution, 2, 1)
    clock.now = Fraction(100)
    assert b.try_acquire(2)
    clock.now = Fraction(50)
    # Behind by 50 s, plus 1 s of drip once time passes 100 s again.
    assert denied_for(b.try_acquire()) == 51
    clock.now = Fraction(100)
    assert denied_for(b.try_acquire()) == 1
    clock.now = Fraction(101)
    assert b.try_acquire()
    assert denied_for(b.try_acquire()) == 1


def test_huge_values_are_exact(solution: ModuleType) -> None:
    clock, b = bucket(solution, 2**64, 2**64)
    assert b.try_acquire(2**64)
    clock.advance(10**30)
    assert b.available() == 2**64
    slow = solution.TokenBucket(2**64, Fraction(1, 10**30), ManualClock())
    assert slow.try_acquire(2**64)
    assert denied_for(slow.try_acquire(2**64)) == 2**64 * 10**30


def test_retry_after_header_rounds_up(solution: ModuleType) -> None:
    assert solution.retry_after_seconds(0) == 0
    assert solution.retry_after_seconds(MS) == 1
    assert solution.retry_after_seconds(Fraction(2)) == 2
    assert solution.retry_after_seconds(Fraction(2001, 1000)) == 3
    assert solution.retry_after_seconds(0.25) == 1


def test_the_default_clock_is_time_monotonic(solution: ModuleType) -> None:
    real = solution.TokenBucket(1, 1)
    assert real.try_acquire()


def run_threads(count: int, work: Any) -> int:
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = work()
        with lock:
            results.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(results)


def test_threads_on_a_frozen_clock_get_exactly_capacity(
    solution: ModuleType,
) -> None:
    _, ones = bucket(solution, 100, 1)
    granted = run_threads(
        8, lambda: sum(bool(ones.try_acquire()) for _ in range(500))
    )
    assert granted == 100
    # Three tokens a request: 33 requests fit in 100 tokens, never 34.
    _, threes = bucket(solution, 100, 1)
    granted = run_threads(
        8, lambda: sum(bool(threes.try_acquire(3)) for _ in range(100))
    )
    assert granted == 33


class Model:
    """The oracle: time in whole ticks, the bucket refilled one tick at a
    time, capped at capacity after every tick, never before `latest`."""

    def __init__(self, capacity: int, rate: Fraction) -> None:
        self.capacity, self.rate = capacity, rate
        self.level = Fraction(capacity)
        self.latest = 0

    def acquire(self, n: int, now: int) -> bool:
        while self.latest < now:
            self.latest += 1
            self.level = min(self.level + self.rate, Fraction(self.capacity))
        if self.level >= n:
            self.level -= n
            return True
        return False


forward = st.tuples(st.just("forward"), st.integers(0, 40))
back = st.tuples(st.just("back"), st.integers(0, 30))
acquire = st.tuples(st.just("acquire"), st.integers(0, 8))
operations = st.lists(st.one_of(forward, back, acquire, acquire), max_size=60)


def replay(
    solution: ModuleType,
    capacity: int,
    rate: Fraction,
    requests: list[tuple[int, int]],
) -> tuple[ManualClock, Any]:
    """A bucket that has seen these (time, tokens) requests."""
    clock, b = bucket(solution, capacity, rate)
    for now, n in requests:
        clock.now = Fraction(now)
        b.try_acquire(n)
    return clock, b


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 6), rate=rates, ops=operations)
def test_matches_the_tick_model_and_the_burst_bound(
    solution: ModuleType,
    capacity: int,
    rate: Fraction,
    ops: list[tuple[str, int]],
) -> None:
    clock, b = bucket(solution, capacity, rate)
    model = Model(capacity, rate)
    now = granted = 0
    for op, amount in ops:
        if op == "forward":
            now += amount
        elif op == "back":
            now = max(0, now - amount)
        elif amount > capacity:
            with pytest.raises(ValueError):
                b.try_acquire(amount)
        else:
            clock.now = Fraction(now)
            got = b.try_acquire(amount)
            assert got.granted == model.acquire(amount, now)
            granted += amount if got.granted else 0
        # Never more than the burst plus what the elapsed time paid for.
        assert granted <= capacity + rate * model.latest


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 6),
    rate=rates,
    ops=operations,
    n=st.integers(1, 6),
)
def test_retry_after_is_exact(
    solution: ModuleType,
    capacity: int,
    rate: Fraction,
    ops: list[tuple[str, int]],
    n: int,
) -> None:
    n = min(n, capacity)
    requests: list[tuple[int, int]] = []
    now = 0
    for op, amount in ops:
        if op == "forward":
            now += amount
        elif op == "back":
            now = max(0, now - amount)
        else:
            requests.append((now, min(amount, capacity)))
    clock, b = replay(solution, capacity, rate, requests)
    clock.now = Fraction(now)
    decision = b.try_acquire(n)
    if decision:
        return
    wait = Fraction(decision.retry_after)
    # One nanosecond early, the same request is still refused; on time, it
    # is granted. Each probe replays the history into a fresh bucket.
    clock, early = replay(solution, capacity, rate, requests)
    clock.now = now + wait - NS
    assert not early.try_acquire(n)
    clock, on_time = replay(solution, capacity, rate, requests)
    clock.now = now + wait
    assert on_time.try_acquire(n)
