"""Practice stub for 4.6 token bucket. Fill in the class and the function,
then run the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/token_bucket_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_token_bucket.py

The clock is any callable returning monotonic seconds (a float or a
Fraction); the tests pass one they move by hand. Keep the arithmetic
exact: many small refills must add up to exactly one big one. A float
rate is rounded once to whole nano-tokens per second; an int or Fraction
rate is exact. A new bucket is full. A clock that goes backwards mints
nothing. Refusals, word for word as the tests expect them:
ValueError("capacity must be at least 1, got 0"),
TypeError("capacity must be an int, got 2.5"),
ValueError("rate must be positive, got -3"),
ValueError("rate must be finite, got nan"),
ValueError("rate 1e-12 is below one nano-token per second"),
TypeError("rate must be a number of tokens/s, got '2'"),
ValueError("requested 6 tokens but capacity is 5"),
ValueError("tokens requested must be at least 0, got -1"),
TypeError("tokens requested must be an int, got 1.5").
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

Clock = Callable[[], float | Fraction]


@dataclass(frozen=True)
class Decision:
    """The answer to try_acquire. True when granted; otherwise retry_after
    says how many seconds until the same request would succeed."""

    granted: bool
    retry_after: Fraction = Fraction(0)

    def __bool__(self) -> bool:
        return self.granted


class TokenBucket:
    """A token bucket: `capacity` tokens at most, `rate` more per second."""

    def __init__(
        self,
        capacity: int,
        rate: int | float | Fraction,
        clock: Clock = time.monotonic,
    ) -> None:
        raise NotImplementedError

    def try_acquire(self, n: int = 1) -> Decision:
        """Takes n tokens if they are there, or says how long to wait."""
        raise NotImplementedError

    def available(self) -> int:
        """Whole tokens available now."""
        raise NotImplementedError


def retry_after_seconds(wait: float | Fraction) -> int:
    """The Retry-After value for an HTTP 429: whole seconds, rounded up,
    so that a client that obeys it is never early."""
    raise NotImplementedError
