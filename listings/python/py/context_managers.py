"""1.10 Context managers: a database transaction that commits on success,
rolls back on an exception and lets the exception propagate.

What the script shows, each claim asserted before it is printed, against a
real database (sqlite3, in memory):

- A class with __enter__/__exit__: BEGIN on entry, COMMIT when the block
  ends normally, ROLLBACK when it raises. __exit__ returns False, so the
  exception reaches the caller. The table is checked after each case: a
  transfer that fails halfway (a CHECK constraint on the second UPDATE)
  leaves no trace of its first UPDATE.
- The same manager written with contextlib.contextmanager: the code before
  `yield` is __enter__, an exception raised in the block is re-raised at the
  `yield`, and a bare `raise` after the rollback propagates it.
- contextlib.ExitStack for a number of resources known only at run time:
  they are closed in reverse order, also when opening one of them fails,
  and also when closing one of them fails.
- sqlite3's own `with conn:` commits or rolls back, but does not close the
  connection; contextlib.closing does.
- contextlib.asynccontextmanager and `async with`: the same protocol with
  __aenter__/__aexit__. Every statement runs in a worker thread
  (asyncio.to_thread), never on the event loop's thread, which a trace
  callback checks. A real task.cancel() and an asyncio.timeout() each
  interrupt a transfer: it is rolled back, and the cancellation propagates
  (the task ends cancelled, the timeout raises TimeoutError). A manager that
  swallows CancelledError is shown breaking both.

Transactions are explicit: connections are opened with isolation_level=None,
so the sqlite3 module never opens one implicitly and every BEGIN, COMMIT
and ROLLBACK below is ours. (Python 3.12 added the `autocommit` attribute
for PEP 249 behaviour; isolation_level works the same on 3.11 and later.)
"""

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Literal, TypeVar


def open_bank(check_same_thread: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(
        ":memory:", isolation_level=None, check_same_thread=check_same_thread
    )
    conn.execute(
        "CREATE TABLE accounts ("
        " owner TEXT PRIMARY KEY,"
        " cents INTEGER NOT NULL CHECK (cents >= 0))"
    )
    conn.executemany(
        "INSERT INTO accounts VALUES (?, ?)", [("alice", 100), ("bob", 50)]
    )
    return conn


def balances(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT owner, cents FROM accounts ORDER BY owner")
    return dict(rows.fetchall())


def transfer(conn: sqlite3.Connection, src: str, dst: str, cents: int) -> None:
    """Two writes; the second breaks the CHECK constraint if src is short."""
    conn.execute(
        "UPDATE accounts SET cents = cents + ? WHERE owner = ?", (cents, dst)
    )
    conn.execute(
        "UPDATE accounts SET cents = cents - ? WHERE owner = ?", (cents, src)
    )


# ANCHOR: class_based
class Transaction:
    """BEGIN; COMMIT on success; ROLLBACK on error, which propagates."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        if self.conn.in_transaction:
            raise RuntimeError("transaction already open on this connection")
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False  # never swallow the exception
        # ANCHOR_END: class_based


# ANCHOR: generator_based
@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN")
    try:
        yield conn  # the body of the with block runs here
    except BaseException:
        conn.execute("ROLLBACK")
        raise  # re-raise: the caller sees the original exception
    else:
        conn.execute("COMMIT")
    # ANCHOR_END: generator_based


Begin = Callable[
    [sqlite3.Connection], contextlib.AbstractContextManager[sqlite3.Connection]
]


# ANCHOR: transaction_cases
def run_cases(begin: Begin) -> list[tuple[str, str, dict[str, int]]]:
    """Commit, a raised error, a failed constraint: what the caller sees."""
    conn = open_bank()
    results = []

    with begin(conn) as tx:
        transfer(tx, "alice", "bob", 30)
    results.append(("transfer 30 alice -> bob", "committed", balances(conn)))

    try:
        with begin(conn) as tx:
            transfer(tx, "bob", "alice", 10)
            raise TimeoutError("payment provider timed out")
    except TimeoutError as e:
        outcome = f"{type(e).__name__} propagated: {e}"
    results.append(("transfer 10, then an error", outcome, balances(conn)))

    try:
        with begin(conn) as tx:
            transfer(tx, "bob", "alice", 500)  # credits alice, then fails
    except sqlite3.IntegrityError as e:
        reason = str(e).split(":")[0]  # the rest names the constraint
        outcome = f"{type(e).__name__} propagated: {reason}"
    results.append(("transfer 500, bob cannot pay", outcome, balances(conn)))

    assert not conn.in_transaction
    conn.close()
    return results
    # ANCHOR_END: transaction_cases


EXPECTED_CASES = [
    ("transfer 30 alice -> bob", "committed", {"alice": 70, "bob": 80}),
    (
        "transfer 10, then an error",
        "TimeoutError propagated: payment provider timed out",
        {"alice": 70, "bob": 80},
    ),
    (
        "transfer 500, bob cannot pay",
        "IntegrityError propagated: CHECK constraint failed",
        {"alice": 70, "bob": 80},
    ),
]


def nested_transaction_is_refused() -> bool:
    conn = open_bank()
    try:
        with Transaction(conn), Transaction(conn):
            pass
    except RuntimeError:
        refused = not conn.in_transaction  # the outer one rolled back
    else:
        refused = False
    conn.close()
    return refused


# ANCHOR: exit_stack
class ShardDown(ConnectionError):
    pass


def open_shard(
    name: str, log: list[str]
) -> contextlib.AbstractContextManager[str]:
    @contextlib.contextmanager
    def shard() -> Iterator[str]:
        if name.startswith("down"):
            raise ShardDown(f"{name} is unreachable")
        log.append(f"open {name}")
        try:
            yield name
        finally:
            log.append(f"close {name}")

    return shard()


def query_shards(
    names: list[str], log: list[str], failing_close: str | None = None
) -> list[str]:
    """Open every shard, or none: ExitStack unwinds whatever was opened."""
    with contextlib.ExitStack() as stack:
        opened = []
        for name in names:
            opened.append(stack.enter_context(open_shard(name, log)))
            if name == failing_close:
                # A cleanup step that fails; the steps after it still run.
                stack.callback(_fail_to_flush, name)
        return opened


def _fail_to_flush(name: str) -> None:
    raise OSError(f"could not flush {name}")
    # ANCHOR_END: exit_stack


def exit_stack_cases() -> list[tuple[str, str, list[str]]]:
    cases = []
    log: list[str] = []
    opened = query_shards(["s1", "s2", "s3"], log)
    cases.append((f"open {len(opened)} shards", "ok", log))

    log = []
    try:
        query_shards(["s1", "s2", "down3", "s4"], log)
        outcome = "no error"
    except ShardDown as e:
        outcome = f"ShardDown propagated: {e}"
    cases.append(("the third shard is down", outcome, log))

    log = []
    try:
        query_shards(["s1", "s2", "s3"], log, failing_close="s2")
        outcome = "no error"
    except OSError as e:
        outcome = f"OSError propagated: {e}"
    cases.append(("flushing s2 fails on exit", outcome, log))
    return cases


EXPECTED_EXIT_STACK = [
    (
        "open 3 shards",
        "ok",
        ["open s1", "open s2", "open s3", "close s3", "close s2", "close s1"],
    ),
    (
        "the third shard is down",
        "ShardDown propagated: down3 is unreachable",
        ["open s1", "open s2", "close s2", "close s1"],
    ),
    (
        "flushing s2 fails on exit",
        "OSError propagated: could not flush s2",
        ["open s1", "open s2", "open s3", "close s3", "close s2", "close s1"],
    ),
]


# ANCHOR: sqlite_with
def sqlite_with_does_not_close() -> dict[str, object]:
    # Default (legacy) transaction control: sqlite3 opens a transaction
    # implicitly before the INSERT, and `with conn:` ends it.
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        count_rows = "SELECT count(*) FROM t"
        try:
            with conn:
                conn.execute("INSERT INTO t VALUES (1)")
                raise KeyError("abort")
        except KeyError:
            pass
        rows_after_rollback = conn.execute(count_rows).fetchone()[0]
        with conn:
            conn.execute("INSERT INTO t VALUES (2)")
        still_open = conn.execute(count_rows).fetchone()[0] == 1
    try:
        conn.execute("SELECT 1")
        closed_by_closing = False
    except sqlite3.ProgrammingError:
        closed_by_closing = True
    return {
        "rows after `with conn:` raised": rows_after_rollback,
        "connection usable after `with conn:`": still_open,
        "closed after contextlib.closing": closed_by_closing,
    }
    # ANCHOR_END: sqlite_with


# ANCHOR: in_thread
T = TypeVar("T")


async def in_thread(call: Callable[..., T], *args: object) -> T:
    """Runs a blocking database call in a worker thread, so the event loop
    keeps serving other tasks. A thread cannot be interrupted: if the task
    is cancelled meanwhile, wait for the call to finish, then re-raise, so
    no statement is still running when the cancellation moves on."""
    job = asyncio.ensure_future(asyncio.to_thread(call, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        job.exception()  # its error, if any, is dropped: cancellation wins
        raise
    # ANCHOR_END: in_thread


# ANCHOR: async_with
@contextlib.asynccontextmanager
async def async_transaction(
    conn: sqlite3.Connection,
) -> AsyncIterator[sqlite3.Connection]:
    try:
        await in_thread(conn.execute, "BEGIN")
        yield conn
    except BaseException:  # CancelledError too: roll back, then re-raise
        if conn.in_transaction:
            await in_thread(conn.execute, "ROLLBACK")
        raise
    else:
        await in_thread(conn.execute, "COMMIT")


async def pay(conn: sqlite3.Connection, cents: int, slow: bool) -> None:
    async with async_transaction(conn) as tx:
        await in_thread(transfer, tx, "alice", "bob", cents)
        if slow:  # waiting on a payment provider that never answers
            await asyncio.sleep(3600)
            # ANCHOR_END: async_with


# ANCHOR: async_cases
async def async_cases() -> dict[str, object]:
    conn = open_bank(check_same_thread=False)  # used from worker threads
    loop_thread = threading.get_ident()
    on_loop: list[str] = []
    off_loop: list[str] = []

    def record(sql: str) -> None:  # runs in the thread that runs the SQL
        on_thread = threading.get_ident() == loop_thread
        (on_loop if on_thread else off_loop).append(sql)

    conn.set_trace_callback(record)
    await pay(conn, 1, slow=False)

    task = asyncio.create_task(pay(conn, 99, slow=True))
    await asyncio.sleep(0.05)  # let it write, then wait on the provider
    task.cancel()
    await asyncio.wait([task])  # waits without catching its outcome

    try:
        async with asyncio.timeout(0.05):
            await pay(conn, 42, slow=True)
        timed_out = "no"
    except TimeoutError:
        timed_out = "TimeoutError"

    conn.set_trace_callback(None)
    assert "ROLLBACK" in off_loop, off_loop
    result = {
        "balances after commit 1, cancel 99, time out 42": balances(conn),
        "task.cancelled() after task.cancel()": task.cancelled(),
        "asyncio.timeout() raised": timed_out,
        "statements run on the event loop's thread": len(on_loop),
    }
    conn.close()
    return result
    # ANCHOR_END: async_cases


# ANCHOR: swallowing
@contextlib.asynccontextmanager
async def swallowing_cancellation() -> AsyncIterator[None]:
    with contextlib.suppress(asyncio.CancelledError):  # the bug
        yield


async def swallowed_cases() -> dict[str, object]:
    async def victim() -> str:
        async with swallowing_cancellation():
            await asyncio.sleep(3600)
        return "ran to the end"

    task = asyncio.create_task(victim())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task])

    steps = []
    try:
        async with asyncio.timeout(0.01):
            async with swallowing_cancellation():
                await asyncio.sleep(3600)
            steps.append("code after the deadline ran")
    except TimeoutError:
        steps.append("TimeoutError")
    return {
        "task.cancelled() after task.cancel()": task.cancelled(),
        "the cancelled task returned": task.result(),
        "asyncio.timeout()": steps[0],
    }
    # ANCHOR_END: swallowing


def main() -> None:
    managers: list[tuple[str, Begin]] = [
        ("class with __enter__/__exit__:", Transaction),
        ("@contextlib.contextmanager:", transaction),
    ]
    for title, begin in managers:
        cases = run_cases(begin)
        assert cases == EXPECTED_CASES, cases
        print(title)
        for action, outcome, after in cases:
            print(f"  {action}: {outcome}")
            print(f"    balances after: {after}")

    assert nested_transaction_is_refused()
    print(
        "a second Transaction on the same connection: "
        "refused, outer rolled back"
    )

    shard_cases = exit_stack_cases()
    assert shard_cases == EXPECTED_EXIT_STACK, shard_cases
    print("contextlib.ExitStack over shards:")
    for action, outcome, log in shard_cases:
        print(f"  {action}: {outcome}")
        print(f"    {', '.join(log)}")

    facts = sqlite_with_does_not_close()
    assert facts == {
        "rows after `with conn:` raised": 0,
        "connection usable after `with conn:`": True,
        "closed after contextlib.closing": True,
    }, facts
    print("sqlite3's own `with conn:`:")
    for name, value in facts.items():
        print(f"  {name}: {value}")

    facts_async = asyncio.run(async_cases())
    assert facts_async == {
        "balances after commit 1, cancel 99, time out 42": {
            "alice": 99,
            "bob": 51,
        },
        "task.cancelled() after task.cancel()": True,
        "asyncio.timeout() raised": "TimeoutError",
        "statements run on the event loop's thread": 0,
    }, facts_async
    print("async with, asynccontextmanager, statements in worker threads:")
    for name, value in facts_async.items():
        print(f"  {name}: {value}")

    swallowed = asyncio.run(swallowed_cases())
    assert swallowed == {
        "task.cancelled() after task.cancel()": False,
        "the cancelled task returned": "ran to the end",
        "asyncio.timeout()": "code after the deadline ran",
    }, swallowed
    print("a manager that swallows CancelledError (the bug):")
    for name, value in swallowed.items():
        print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
