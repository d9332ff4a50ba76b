"""Tests of 4.8 database deadlock. Without a server: transfer validation,
back-off and the retry loop, and exit code 77. Against PostgreSQL (skipped
when psycopg is missing or the server is unreachable, unless
REQUIRE_SERVICES=1): who the deadlock victim is, retrying it, locking in
id order, errors that must not be retried, deadlocks before any write
(SELECT then ALTER TABLE, FOR SHARE then FOR UPDATE), and a deadlock
through an application lock that the server cannot see."""

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

START = [(1, 10_000), (2, 10_000)]
# Both transfers applied, only A's, only B's (A pays 1000, B pays 2500).
BOTH = [(1, 11_500), (2, 8_500)]
ONLY_A = [(1, 9_000), (2, 11_000)]
ONLY_B = [(1, 12_500), (2, 7_500)]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def database_url() -> str:
    """The server's URL; skips the test (or, with REQUIRE_SERVICES=1, fails
    it) when psycopg is missing or the server does not answer."""
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    try:
        import psycopg
    except ImportError as error:
        if required:
            raise
        pytest.skip(f"psycopg is not installed: {error}")
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        if required:
            raise
        reason = str(error).strip().splitlines()[0]
        pytest.skip(f"PostgreSQL unreachable at {url}: {reason}")
    return url


def sqlstate(error: BaseException | None) -> str | None:
    return getattr(error, "sqlstate", None)


# --- Without a server ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "cents", "error", "message"),
    [
        (1, 1, 5, ValueError, "same account"),
        (1, 2, 0, ValueError, "amount must be positive, got 0"),
        (1, 2, -5, ValueError, "amount must be positive, got -5"),
        (1, 2, 12.5, TypeError, "cents must be an int, got 12.5"),
        ("1", 2, 5, TypeError, "source must be an int, got '1'"),
    ],
)
def test_invalid_transfers_are_refused_before_any_sql(
    solution: ModuleType,
    source: object,
    target: object,
    cents: object,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        solution.Transfer(source, target, cents)


def test_backoff_doubles_and_is_capped(solution: ModuleType) -> None:
    backoff = solution.Backoff(max_attempts=5, first_delay=0.02, max_delay=1.0)
    delays = [backoff.delay_after(n) for n in range(1, 9)]
    assert delays == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1, 1])
    assert backoff.delay_after(10**6) == 1.0


class Conflict(Exception):
    """Stands in for DeadlockDetected: a transient failure."""


def test_retry_gives_up_after_max_attempts(solution: ModuleType) -> None:
    calls: list[int] = []
    retried: list[int] = []
    slept: list[float] = []

    def always_conflicts(attempt: int) -> None:
        calls.append(attempt)
        raise Conflict(f"attempt {attempt}")

    with pytest.raises(Conflict, match="attempt 3") as raised:
        solution.retry(
            always_conflicts,
            (Conflict,),
            solution.Backoff(max_attempts=3, first_delay=0.5, max_delay=0.75),
            on_retry=lambda n, error: retried.append(n),
            sleep=slept.append,
        )
    assert calls == [1, 2, 3]
    assert retried == [1, 2]
    assert slept == [0.5, 0.75]
    assert raised.value.__notes__ == ["gave up after 3 attempts"]


def test_retry_returns_the_result_and_the_attempts(
    solution: ModuleType,
) -> None:
    def third_time_lucky(attempt: int) -> str:
        if attempt < 3:
            raise Conflict
        return "done"

    slept: list[float] = []
    result = solution.retry(third_time_lucky, (Conflict,), sleep=slept.append)
    assert result == ("done", 3)
    assert slept == [0.02, 0.04]


def test_retry_stops_at_a_permanent_error(solution: ModuleType) -> None:
    calls: list[int] = []

    def missing_account(attempt: int) -> None:
        calls.append(attempt)
        raise LookupError("no account 7")

    with pytest.raises(LookupError):
        solution.retry(missing_account, (Conflict,), sleep=pytest.fail)
    assert calls == [1]


def test_without_a_server_main_exits_77(
    solution: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x")
    assert solution.main() == 77
    assert "database_deadlock: skipped:" in capsys.readouterr().err


def test_without_psycopg_the_script_exits_77(solution: ModuleType) -> None:
    # None in sys.modules makes `import psycopg` raise ImportError.
    assert solution.__file__ is not None
    script = Path(solution.__file__)
    code = (
        "import runpy, sys; sys.modules['psycopg'] = None; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 77, run.stderr
    assert run.stdout == ""
    assert "database_deadlock: skipped:" in run.stderr


# --- Against PostgreSQL ---------------------------------------------------


def test_the_session_with_the_short_deadlock_timeout_is_aborted(
    solution: ModuleType, database_url: str
) -> None:
    with solution.Bank(database_url, START) as bank:
        a, b = solution.run_deadlock(bank, victim="B")
        assert a.result() == 1
        assert sqlstate(b.exception()) == "40P01"
        assert bank.balances() == ONLY_A


def test_swapping_the_timeouts_swaps_the_victim(
    solution: ModuleType, database_url: str
) -> None:
    with solution.Bank(database_url, START) as bank:
        a, b = solution.run_deadlock(bank, victim="A")
        assert sqlstate(a.exception()) == "40P01"
        assert b.result() == 1
        assert bank.balances() == ONLY_B


def test_retrying_the_victim_applies_both_transfers(
    solution: ModuleType, database_url: str
) -> None:
    with solution.Bank(database_url, START) as bank:
        a, b = solution.run_deadlock(bank, victim="B", retry_victim=True)
        # Only B's first attempt is choreographed into the deadlock; on a
        # loaded machine a retry can meet a transient error of its own.
        assert a.result() == 1
        assert b.result() >= 2
        assert bank.balances() == BOTH


def test_locking_in_id_order_makes_the_second_transfer_wait(
    solution: ModuleType, database_url: str
) -> None:
    with solution.Bank(database_url, START) as bank:
        a, b = solution.run_id_order(bank)
        assert (a.result(), b.result()) == (1, 1)
        assert bank.balances() == BOTH


def test_opposite_transfers_in_id_order_never_deadlock_under_load(
    solution: ModuleType, database_url: str
) -> None:
    rounds, one_to_two, two_to_one = 25, 30, 100
    with solution.Bank(database_url, START) as bank:

        def transfers(t: Any) -> None:
            with bank.session() as conn:
                for _ in range(rounds):
                    solution.transfer_in_id_order(conn, bank, t)

        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [
                pool.submit(transfers, solution.Transfer(1, 2, one_to_two)),
                pool.submit(transfers, solution.Transfer(2, 1, two_to_one)),
            ]
        for run in runs:
            run.result()
        moved = rounds * (two_to_one - one_to_two)
        assert bank.balances() == [(1, 10_000 + moved), (2, 10_000 - moved)]


def test_missing_accounts_and_overdrafts_are_errors_that_move_nothing(
    solution: ModuleType, database_url: str
) -> None:
    with solution.Bank(database_url, START) as bank, bank.session() as conn:
        to_nowhere = solution.Transfer(1, 99, 1)
        for transfer in (
            solution.transfer_in_id_order,
            solution.transfer_source_first,
        ):
            with pytest.raises(LookupError, match="no account 99"):
                transfer(conn, bank, to_nowhere)
        too_much = solution.Transfer(1, 2, 10_001)
        with pytest.raises(solution.InsufficientFunds, match="holds 10000"):
            solution.transfer_in_id_order(conn, bank, too_much)
        # The naive path is stopped by the CHECK constraint: 23514, which a
        # retry would only repeat.
        with pytest.raises(Exception) as raised:
            solution.transfer_source_first(conn, bank, too_much)
        assert sqlstate(raised.value) == "23514"
        assert not isinstance(raised.value, solution.transient_errors())
        assert bank.balances() == START, "nothing moved"


def test_the_scratch_table_is_dropped(
    solution: ModuleType, database_url: str
) -> None:
    with solution.Bank(database_url, START) as bank:
        name = bank.name
        exists = "SELECT to_regclass(%s) IS NOT NULL"
        assert bank.admin.execute(exists, (name,)).fetchone() == (True,)
    import psycopg

    with psycopg.connect(database_url) as conn:
        assert conn.execute(exists, (name,)).fetchone() == (False,)


@pytest.mark.parametrize("upgrade", ["READ_THEN_ALTER", "SHARE_THEN_UPDATE"])
def test_a_deadlock_needs_no_write(
    solution: ModuleType, database_url: str, upgrade: str
) -> None:
    # Plain SELECTs hold ACCESS SHARE until the transaction ends, and it
    # conflicts with ALTER TABLE's ACCESS EXCLUSIVE; two FOR SHARE row
    # locks each block the other's FOR UPDATE.
    weak, strong = getattr(solution, upgrade)
    with solution.Bank(database_url, START) as bank:
        survivor, victim = solution.run_upgrade_deadlock(bank, weak, strong)
        assert survivor.result() == 1
        assert sqlstate(victim.exception()) == "40P01"
        assert bank.balances() == START
        columns = (
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = %s AND column_name = 'note'"
        )
        added = bank.admin.execute(columns, (bank.name,)).fetchone()
        assert added == ((1,) if upgrade == "READ_THEN_ALTER" else (0,))


def test_a_cycle_through_an_application_lock_is_never_detected(
    solution: ModuleType, database_url: str
) -> None:
    """A holds a Python lock and waits for B's row lock; B holds the row
    lock and wants the Python lock. The server sees A waiting for B and B
    idle in its transaction: no cycle, so no 40P01, however long it waits.
    Only a timeout (here B's acquire) gets anyone out."""
    from psycopg import sql

    app_lock = threading.Lock()
    with solution.Bank(database_url, START) as bank:
        add_one = sql.SQL(
            "UPDATE {} SET balance_cents = balance_cents + 1 WHERE id = 1"
        ).format(sql.Identifier(bank.name))
        a = bank.session(deadlock_timeout_ms=50)
        b = bank.session(deadlock_timeout_ms=50)
        pool = ThreadPoolExecutor(max_workers=1)

        def a_side() -> None:
            with app_lock, a.transaction():
                a.execute(add_one)  # waits for B's row lock

        try:
            with b.transaction():
                b.execute(add_one)  # B holds row 1
                done = pool.submit(a_side)
                bank.wait_until_blocked(a.info.backend_pid)
                # B now wants A's lock: a cycle, half of it in Python. Ten
                # deadlock_timeouts later the server has reported nothing.
                assert not app_lock.acquire(timeout=0.5)
                assert not done.done(), "A is still waiting, not aborted"
                waiting = bank.admin.execute(
                    "SELECT wait_event_type FROM pg_stat_activity"
                    " WHERE pid = %s",
                    (a.info.backend_pid,),
                ).fetchone()
                assert waiting == ("Lock",)
            # B gave up on the lock and committed: A's update goes through.
            done.result(timeout=10)
        finally:
            pool.shutdown()
            a.close()
            b.close()
        assert bank.balances() == [(1, 10_002), (2, 10_000)]
