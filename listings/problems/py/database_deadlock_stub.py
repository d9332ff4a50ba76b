"""Practice stub for 4.8 database deadlock. Fill in the bodies, then run
the reference tests against this file (the PostgreSQL tests need psycopg
and a server at DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/
test; without them they are skipped):

    PRACTICE_FILE=listings/problems/py/database_deadlock_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_database_deadlock.py

Use psycopg 3 with autocommit connections and `with conn.transaction():`
blocks. A transfer is refused before any SQL: TypeError("cents must be an
int, got 12.5"), ValueError("source and destination are the same
account"), ValueError("amount must be positive, got 0"). A missing
account is LookupError("no account 99"); an overdraft on the id-order
path is InsufficientFunds("account 1 holds 10000 cents, cannot pay
10001"). retry re-raises the last transient error with the note "gave up
after 3 attempts". main returns 77, after a line on stderr starting
"database_deadlock: skipped:", when psycopg or the server is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, LiteralString, TypeVar

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]

T = TypeVar("T")


@dataclass(frozen=True)
class Transfer:
    """Move `cents` from account `source` to account `target`."""

    source: int
    target: int
    cents: int

    def __post_init__(self) -> None:
        raise NotImplementedError


class InsufficientFunds(Exception):
    pass


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: first_delay, then twice as long each time, up
    to max_delay seconds, for at most max_attempts attempts."""

    max_attempts: int = 5
    first_delay: float = 0.02
    max_delay: float = 1.0

    def delay_after(self, attempt: int) -> float:
        raise NotImplementedError


BACKOFF = Backoff()


def retry(
    attempt: Callable[[int], T],
    transient: tuple[type[Exception], ...],
    backoff: Backoff = BACKOFF,
    on_retry: Callable[[int, Exception], None] = lambda n, error: None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Runs attempt(1), attempt(2), ... until one returns, raises an error
    that is not transient, or the attempts run out. Each attempt must be a
    whole transaction: after 40P01 or 40001 the server rolled it all back.
    Returns the result and the number of attempts it took."""
    raise NotImplementedError


def transient_errors() -> tuple[type[Exception], ...]:
    """The errors that say "you lost a race, run it all again"."""
    raise NotImplementedError


class Bank:
    """A scratch accounts table, unique to this run, dropped on close.
    Attributes: url; name, the table's name; admin, an autocommit
    connection for reading balances and watching other sessions."""

    def __init__(self, url: str, accounts: list[tuple[int, int]]) -> None:
        raise NotImplementedError

    def __enter__(self) -> Bank:
        raise NotImplementedError

    def __exit__(self, *exc_info: object) -> None:
        raise NotImplementedError

    def session(self, deadlock_timeout_ms: int = 5_000) -> Connection:
        """A connection whose explicit transactions are `with
        conn.transaction():` blocks. statement_timeout is a safety net."""
        raise NotImplementedError

    def balances(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def wait_until_blocked(self, pid: int) -> None:
        """Polls until backend `pid` waits for a lock, so that the next
        statement is certain to close the cycle."""
        raise NotImplementedError


def transfer_source_first(
    conn: Connection,
    bank: Bank,
    t: Transfer,
    between: Callable[[], object] = lambda: None,
) -> None:
    """The naive transfer: debit the source, then credit the target.
    `between` runs after the first UPDATE, even if it failed, so that a
    partner waiting at a barrier is never stranded."""
    raise NotImplementedError


def transfer_in_id_order(
    conn: Connection,
    bank: Bank,
    t: Transfer,
    after_locking: Callable[[], object] = lambda: None,
) -> None:
    """Fix (a): lock both rows, smaller id first, whatever the direction:
    every transfer then waits in the same order, and no cycle can form."""
    raise NotImplementedError


def run_deadlock(
    bank: Bank, victim: str = "B", retry_victim: bool = False
) -> tuple[Future[int], Future[int]]:
    """Forces the deadlock: both transfers lock their source row, the
    survivor asks for the victim's row and blocks, and only then does the
    victim ask for the survivor's, closing the cycle. Its 50 ms
    deadlock_timeout makes it the one aborted. Returns A's and B's results:
    the attempts each took, or the error each ended with."""
    raise NotImplementedError


# Two ways to deadlock before anything is written: each pair is a weak
# lock both sessions can hold at once, then a strong one that conflicts
# with the other's weak lock. {} is the table.
READ_THEN_ALTER: tuple[LiteralString, LiteralString] = (
    "SELECT count(*) FROM {}",  # ACCESS SHARE on the table
    "ALTER TABLE {} ADD COLUMN note text",  # ACCESS EXCLUSIVE
)
SHARE_THEN_UPDATE: tuple[LiteralString, LiteralString] = (
    "SELECT 1 FROM {} WHERE id = 1 FOR SHARE",
    "SELECT 1 FROM {} WHERE id = 1 FOR UPDATE",
)


def run_upgrade_deadlock(
    bank: Bank, weak: LiteralString, strong: LiteralString
) -> tuple[Future[int], Future[int]]:
    """Both sessions run `weak` and keep its lock until they end. Then the
    survivor (deadlock_timeout 5 s) runs `strong` and waits for the
    victim's weak lock, and the victim (50 ms) runs `strong` and waits for
    the survivor's: a cycle. Returns the survivor's and the victim's
    results: 1 when committed, or the error it ended with."""
    raise NotImplementedError


def run_id_order(bank: Bank) -> tuple[Future[int], Future[int]]:
    """Fix (a) under contention: A locks both rows and holds them until B
    is seen waiting; B, in the same order, queues behind A."""
    raise NotImplementedError


def main() -> int:
    raise NotImplementedError


if __name__ == "__main__":
    raise SystemExit(main())
