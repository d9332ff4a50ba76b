"""4.8 Database deadlock: a real deadlock in PostgreSQL through psycopg 3,
then two ways out of it.

The Python side of listings/problems/db/src/bin/database_deadlock.rs, cut
down to its core. Two transfers go in opposite directions between accounts
1 and 2. Each UPDATE takes a row lock that is held until the transaction
ends, so when each transfer debits its source first, each ends up waiting
for the row the other holds: a cycle, which PostgreSQL breaks by aborting
one transaction with SQLSTATE 40P01, psycopg.errors.DeadlockDetected.

- The interleaving is forced, not hoped for: a threading.Barrier makes
  both transfers hold their first row, and the victim asks for its second
  row only once pg_stat_activity shows the survivor waiting for a lock.
- The victim is chosen: its session sets deadlock_timeout to 50 ms, the
  survivor's to 5 s, so the victim's backend runs the deadlock check
  first and aborts its own transaction. (Setting deadlock_timeout needs a
  superuser or a role granted it; the local postgres user is one.)
- Fix (c): retry the whole transaction on 40P01 and 40001, a bounded number
  of times with exponential back-off. Fix (a): lock both rows in id order,
  so no cycle can form.
- Money is integer cents; a CHECK keeps balances non-negative. A transfer
  to the same account, or of an amount that is not a positive int, is
  refused before any SQL runs.
- Each run has its own table, with a unique name, dropped at the end.
- The server is DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/
  test). When psycopg is not installed or the server is unreachable, main
  says why on stderr and exits with code 77 (skipped). Output shows
  SQLSTATE codes and primary messages only: the 40P01 detail names
  process ids.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, LiteralString, TypeVar

try:
    import psycopg
    from psycopg import errors, sql
except ImportError as error:  # the parts below that need no server still work
    PSYCOPG_MISSING: ImportError | None = error
else:
    PSYCOPG_MISSING = None

if TYPE_CHECKING:
    Connection = psycopg.Connection[tuple[Any, ...]]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
START = [(1, 10_000), (2, 10_000)]  # (account id, balance in cents)
T = TypeVar("T")


@dataclass(frozen=True)
class Transfer:
    """Move `cents` from account `source` to account `target`."""

    source: int
    target: int
    cents: int

    def __post_init__(self) -> None:
        for name in ("source", "target", "cents"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}")
        if self.source == self.target:
            raise ValueError("source and destination are the same account")
        if self.cents <= 0:
            raise ValueError(f"amount must be positive, got {self.cents}")


A_PAYS = Transfer(source=1, target=2, cents=1_000)
B_PAYS = Transfer(source=2, target=1, cents=2_500)


class InsufficientFunds(Exception):
    pass


# ANCHOR: retry
@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: first_delay, then twice as long each time, up
    to max_delay seconds, for at most max_attempts attempts."""

    max_attempts: int = 5
    first_delay: float = 0.02
    max_delay: float = 1.0

    def delay_after(self, attempt: int) -> float:
        doublings = min(attempt - 1, 64)  # a float 2.0 ** 1100 overflows
        return min(self.first_delay * 2.0**doublings, self.max_delay)


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
    for n in itertools.count(1):
        try:
            return attempt(n), n
        except transient as error:
            if n >= backoff.max_attempts:
                error.add_note(f"gave up after {n} attempts")
                raise
            on_retry(n, error)
            sleep(backoff.delay_after(n))
    raise AssertionError("unreachable")


# ANCHOR_END: retry


def transient_errors() -> tuple[type[Exception], ...]:
    """The errors that say "you lost a race, run it all again"."""
    return (errors.DeadlockDetected, errors.SerializationFailure)


class Bank:
    """A scratch accounts table, unique to this run, dropped on close."""

    def __init__(self, url: str, accounts: list[tuple[int, int]]) -> None:
        self.url = url
        self.name = f"deadlock_demo_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        self.table = sql.Identifier(self.name)
        # Reads balances and watches the other sessions; threads share it.
        self.admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
        self.admin.execute(
            sql.SQL(
                "CREATE TABLE {} (id integer PRIMARY KEY, balance_cents"
                " bigint NOT NULL CHECK (balance_cents >= 0))"
            ).format(self.table)
        )
        insert = sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(self.table)
        for account in accounts:
            self.admin.execute(insert, account)

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            drop = sql.SQL("DROP TABLE IF EXISTS {}").format(self.table)
            self.admin.execute(drop)
        finally:
            self.admin.close()

    def session(self, deadlock_timeout_ms: int = 5_000) -> Connection:
        """A connection whose explicit transactions are `with
        conn.transaction():` blocks. statement_timeout is a safety net."""
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        set_config = "SELECT set_config(%s, %s, false)"
        conn.execute(
            set_config, ("deadlock_timeout", f"{deadlock_timeout_ms}ms")
        )
        conn.execute(set_config, ("statement_timeout", "30s"))
        return conn

    def balances(self) -> list[tuple[int, int]]:
        query = sql.SQL("SELECT id, balance_cents FROM {} ORDER BY id")
        rows = self.admin.execute(query.format(self.table)).fetchall()
        return [(int(account), int(cents)) for account, cents in rows]

    def wait_until_blocked(self, pid: int) -> None:
        """Polls until backend `pid` waits for a lock, so that the next
        statement is certain to close the cycle."""
        query = (
            "SELECT coalesce(wait_event_type = 'Lock', false)"
            " FROM pg_stat_activity WHERE pid = %s"
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = self.admin.execute(query, (pid,)).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.005)
        raise TimeoutError(f"backend {pid} never waited for a lock")


# ANCHOR: transfer
def _add_to_balance(
    conn: Connection, bank: Bank, account: int, delta: int
) -> None:
    """UPDATE takes the row lock and keeps it until the transaction ends."""
    update = sql.SQL(
        "UPDATE {} SET balance_cents = balance_cents + %s WHERE id = %s"
    ).format(bank.table)
    if conn.execute(update, (delta, account)).rowcount == 0:
        raise LookupError(f"no account {account}")


def transfer_source_first(
    conn: Connection,
    bank: Bank,
    t: Transfer,
    between: Callable[[], object] = lambda: None,
) -> None:
    """The naive transfer: debit the source, then credit the target.
    `between` runs after the first UPDATE, even if it failed, so that a
    partner waiting at a barrier is never stranded."""
    with conn.transaction():
        try:
            _add_to_balance(conn, bank, t.source, -t.cents)
        finally:
            between()
        _add_to_balance(conn, bank, t.target, t.cents)


# ANCHOR_END: transfer


# ANCHOR: ordered
def transfer_in_id_order(
    conn: Connection,
    bank: Bank,
    t: Transfer,
    after_locking: Callable[[], object] = lambda: None,
) -> None:
    """Fix (a): lock both rows, smaller id first, whatever the direction:
    every transfer then waits in the same order, and no cycle can form."""
    lock = sql.SQL(
        "SELECT balance_cents FROM {} WHERE id = %s FOR NO KEY UPDATE"
    ).format(bank.table)
    with conn.transaction():
        balance = {}
        for account in sorted((t.source, t.target)):
            row = conn.execute(lock, (account,)).fetchone()
            if row is None:
                raise LookupError(f"no account {account}")
            balance[account] = int(row[0])
        after_locking()
        if balance[t.source] < t.cents:
            raise InsufficientFunds(
                f"account {t.source} holds {balance[t.source]} cents,"
                f" cannot pay {t.cents}"
            )
        _add_to_balance(conn, bank, t.source, -t.cents)
        _add_to_balance(conn, bank, t.target, t.cents)


# ANCHOR_END: ordered


# ANCHOR: run_deadlock
def run_deadlock(
    bank: Bank, victim: str = "B", retry_victim: bool = False
) -> tuple[Future[int], Future[int]]:
    """Forces the deadlock: both transfers lock their source row, the
    survivor asks for the victim's row and blocks, and only then does the
    victim ask for the survivor's, closing the cycle. Its 50 ms
    deadlock_timeout makes it the one aborted. Returns A's and B's results:
    the attempts each took, or the error each ended with."""
    victim_pays, survivor_pays = (
        (B_PAYS, A_PAYS) if victim == "B" else (A_PAYS, B_PAYS)
    )
    survivor = bank.session(deadlock_timeout_ms=5_000)
    loser = bank.session(deadlock_timeout_ms=50)
    both_hold_one_row = threading.Barrier(2, timeout=10)

    def survivor_side() -> int:
        transfer_source_first(
            survivor, bank, survivor_pays, both_hold_one_row.wait
        )
        return 1

    def close_the_cycle() -> None:
        both_hold_one_row.wait()
        bank.wait_until_blocked(survivor.info.backend_pid)

    def victim_once(attempt: int) -> None:
        # Only the first attempt is choreographed into the deadlock.
        between = close_the_cycle if attempt == 1 else (lambda: None)
        transfer_source_first(loser, bank, victim_pays, between)

    def victim_side() -> int:
        if not retry_victim:
            victim_once(1)
            return 1

        def report(attempt: int, error: Exception) -> None:
            print(f"   {victim} attempt {attempt}: {describe(error)}")

        return retry(victim_once, transient_errors(), on_retry=report)[1]

    with survivor, loser, ThreadPoolExecutor(max_workers=2) as pool:
        survived = pool.submit(survivor_side)
        lost = pool.submit(victim_side)
        for future in (survived, lost):
            future.exception()  # wait for both, whatever happened
    return (lost, survived) if victim == "A" else (survived, lost)


# ANCHOR_END: run_deadlock


# ANCHOR: upgrade
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
    survivor runs `strong` and waits for the victim's weak lock, and the
    victim runs `strong` and waits for the survivor's: a cycle. Returns
    the survivor's and the victim's results."""
    survivor = bank.session(deadlock_timeout_ms=5_000)
    victim = bank.session(deadlock_timeout_ms=50)
    both_hold_weak = threading.Barrier(2, timeout=10)

    def side(conn: Connection, close_cycle_after: int | None) -> int:
        with conn.transaction():
            try:
                conn.execute(sql.SQL(weak).format(bank.table))
            finally:
                both_hold_weak.wait()
            if close_cycle_after is not None:  # the victim
                bank.wait_until_blocked(close_cycle_after)
            conn.execute(sql.SQL(strong).format(bank.table))
        return 1

    with survivor, victim, ThreadPoolExecutor(max_workers=2) as pool:
        results = (
            pool.submit(side, survivor, None),
            pool.submit(side, victim, survivor.info.backend_pid),
        )
        for future in results:
            future.exception()
    return results


# ANCHOR_END: upgrade


def run_id_order(bank: Bank) -> tuple[Future[int], Future[int]]:
    """Fix (a) under contention: A locks both rows and holds them until B
    is seen waiting; B, in the same order, queues behind A."""
    a, b = bank.session(), bank.session()
    a_holds_both = threading.Barrier(2, timeout=10)

    def a_side() -> int:
        def hold() -> None:
            a_holds_both.wait()
            bank.wait_until_blocked(b.info.backend_pid)

        transfer_in_id_order(a, bank, A_PAYS, after_locking=hold)
        return 1

    def b_side() -> int:
        a_holds_both.wait()
        transfer_in_id_order(b, bank, B_PAYS)
        return 1

    with a, b, ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.submit(a_side), pool.submit(b_side)
        for future in results:
            future.exception()
    return results


def describe(error: BaseException) -> str:
    """SQLSTATE and primary message only: the details name process ids."""
    if isinstance(error, psycopg.Error) and error.sqlstate:
        return f"SQLSTATE {error.sqlstate} {error.diag.message_primary}"
    return f"{type(error).__name__}: {error}"


def outcome(result: Future[int]) -> str:
    error = result.exception()
    if error is not None:
        return describe(error)
    attempts = result.result()
    return "committed" if attempts == 1 else f"committed on attempt {attempts}"


def print_balances(bank: Bank) -> None:
    balances = bank.balances()
    total = sum(cents for _, cents in balances)
    print(f"   balances {balances}, total {total}")


def demo(url: str) -> None:
    print(f"accounts {START} (id, cents)")
    print(
        f"A pays {A_PAYS.cents} from 1 to 2; B pays {B_PAYS.cents} from 2 to 1"
    )
    print("\n1. each debits its source first; B has the short deadlock_timeout")
    with Bank(url, START) as bank:
        a, b = run_deadlock(bank)
        print(f"   A: {outcome(a)}\n   B: {outcome(b)}")
        print_balances(bank)
    print("\n2. nothing written: both SELECT the table, then both ALTER it")
    with Bank(url, START) as bank:
        a, b = run_upgrade_deadlock(bank, *READ_THEN_ALTER)
        print(f"   A: {outcome(a)}\n   B: {outcome(b)}")
    print("\n3. both lock account 1 FOR SHARE, then both ask FOR UPDATE")
    with Bank(url, START) as bank:
        a, b = run_upgrade_deadlock(bank, *SHARE_THEN_UPDATE)
        print(f"   A: {outcome(a)}\n   B: {outcome(b)}")
    print("\n(c) the same as 1, and B retries 40P01 and 40001 with back-off")
    with Bank(url, START) as bank:
        a, b = run_deadlock(bank, retry_victim=True)
        print(f"   A: {outcome(a)}\n   B: {outcome(b)}")
        print_balances(bank)
    print("\n(a) both lock account 1 before account 2")
    with Bank(url, START) as bank:
        a, b = run_id_order(bank)
        print(f"   A: {outcome(a)}\n   B: {outcome(b)} after waiting for A")
        print_balances(bank)


# ANCHOR: main
def main() -> int:
    if PSYCOPG_MISSING is not None:
        print(f"database_deadlock: skipped: {PSYCOPG_MISSING}", file=sys.stderr)
        return 77
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        print(f"database_deadlock: skipped: {url}: {reason}", file=sys.stderr)
        return 77
    demo(url)
    return 0


# ANCHOR_END: main

if __name__ == "__main__":
    sys.exit(main())
