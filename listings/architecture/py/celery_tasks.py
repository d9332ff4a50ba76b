"""2.7 Event-driven architecture: Celery tasks on RabbitMQ that survive a
worker dying mid-task, retry with exponential backoff, and are enqueued
only after the transaction that created their data has committed.

- The broker is RabbitMQ (AMQP_URL); no result backend: each task writes
  what it did to a `task_log` table in PostgreSQL (DATABASE_URL), in a
  schema named by EVENTS_SCHEMA.
- `acks_late` acks a task's message after the task returns, not before it
  starts; `reject_on_worker_lost` requeues it when the process running it
  dies (SIGKILL, OOM killer) instead of recording a failure.
- `autoretry_for` + `retry_backoff` retry on the listed exceptions after
  1, 2, 4, ... seconds (jitter off here, so the waits are exact).
- Run as a program, it creates a scratch schema and queue, starts a real
  worker (`celery -A celery_tasks worker`), shows the enqueue-inside-the-
  transaction race and its fix, a retried task and a task whose worker
  process was killed, then stops the worker and removes everything. When
  a server is unreachable it says why on stderr and exits 77.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from itertools import pairwise
from pathlib import Path
from typing import Any

import pika  # type: ignore[import-untyped]
import pika.exceptions  # type: ignore[import-untyped]
import psycopg
from celery import Celery
from psycopg import sql

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2f"
DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
AMQP_URL = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
SCHEMA = os.environ.get("EVENTS_SCHEMA", "celery_events")
QUEUE = os.environ.get("CELERY_QUEUE", "celery_events")
HERE = Path(__file__).resolve().parent

# ANCHOR: app
app = Celery("celery_tasks", broker=AMQP_URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,  # ack after the task returns
    task_reject_on_worker_lost=True,  # a killed child: requeue, not fail
    worker_prefetch_multiplier=1,  # reserve one task per process
    task_ignore_result=True,  # no result backend: effects go to PostgreSQL
    worker_hijack_root_logger=False,
    worker_enable_remote_control=False,  # no pidbox exchanges to clean up
)
# ANCHOR_END: app


def db() -> psycopg.Connection[tuple[Any, ...]]:
    conn = psycopg.connect(DATABASE_URL, autocommit=True, connect_timeout=5)
    conn.execute(
        sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA))
    )
    return conn


def log(task: str, key: str, note: str) -> None:
    with db() as conn:
        conn.execute(
            "INSERT INTO task_log (task, key, note, pid)"
            " VALUES (%s, %s, %s, %s)",
            (task, key, note, os.getpid()),
        )


def attempts(task: str, key: str, note: str) -> int:
    with db() as conn:
        row = conn.execute(
            "SELECT count(*) FROM task_log"
            " WHERE task = %s AND key = %s AND note = %s",
            (task, key, note),
        ).fetchone()
    return 0 if row is None else int(row[0])


# ANCHOR: tasks
@app.task
def send_receipt(order_id: int) -> None:
    """Reads the order its message names: it must already be committed."""
    with db() as conn:
        found = conn.execute(
            "SELECT total FROM orders WHERE id = %s", (order_id,)
        ).fetchone()
    log("send_receipt", str(order_id), "found" if found else "missing")


class Unavailable(Exception):
    """A dependency that may come back: worth retrying."""


@app.task(
    autoretry_for=(Unavailable,),
    retry_backoff=True,  # 1 s, 2 s, 4 s, ... (base 1 s)
    retry_jitter=False,  # exact waits, for the test; keep it on in prod
    max_retries=3,
)
def charge(key: str, failures: int) -> None:
    """Fails `failures` times with Unavailable, then succeeds."""
    log("charge", key, "attempt")
    if attempts("charge", key, "attempt") <= failures:
        raise Unavailable(f"payment provider down for {key}")
    log("charge", key, "done")


@app.task
def slow_export(key: str) -> None:
    """Its first run hangs (the test kills its process); reruns finish."""
    log("slow_export", key, "started")
    if attempts("slow_export", key, "started") == 1:
        time.sleep(30)
    log("slow_export", key, "done")


@app.task(reject_on_worker_lost=False)
def slow_export_lossy(key: str) -> None:
    """The same, with the default that drops a task whose process died."""
    log("slow_export_lossy", key, "started")
    if attempts("slow_export_lossy", key, "started") == 1:
        time.sleep(30)
    log("slow_export_lossy", key, "done")


# ANCHOR_END: tasks


# ANCHOR: enqueue
def create_order(
    conn: psycopg.Connection[tuple[Any, ...]],
    total: int,
    before_commit: Callable[[int], None] = lambda order_id: None,
) -> int:
    """INSERT the order and COMMIT, then enqueue its receipt. The task
    must never run before the row it reads is visible to other sessions.
    `before_commit` runs inside the transaction: only the demo of the
    race passes one."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO orders (total) VALUES (%s) RETURNING id", (total,)
        ).fetchone()
        assert row is not None
        order_id = int(row[0])
        before_commit(order_id)
    send_receipt.delay(order_id)  # after the `with`: committed
    return order_id


def create_order_racy(
    conn: psycopg.Connection[tuple[Any, ...]],
    total: int,
    until_done: Callable[[int], None],
) -> int:
    """The bug: `.delay()` inside the transaction (a Django view under
    ATOMIC_REQUESTS, a `post_save` handler). `until_done` holds the
    commit back until the task has run, which makes the race certain."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO orders (total) VALUES (%s) RETURNING id", (total,)
        ).fetchone()
        assert row is not None
        order_id = int(row[0])
        send_receipt.delay(order_id)  # before COMMIT
        until_done(order_id)
    return order_id


# ANCHOR_END: enqueue


# --- Plumbing: scratch schema and queue, the worker process -------------


def create_schema() -> None:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        ident = sql.Identifier(SCHEMA)
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.orders (id serial PRIMARY KEY,"
                " total integer NOT NULL)"
            ).format(ident)
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.task_log (id serial PRIMARY KEY,"
                " task text, key text, note text, pid integer,"
                " at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ).format(ident)
        )


def drop_schema() -> None:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(SCHEMA)
            )
        )


def consumers() -> int:
    """How many consumers the queue has (0 if it does not exist yet)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        ok = connection.channel().queue_declare(QUEUE, passive=True)
        return int(ok.method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        connection.close()


def delete_queue() -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(QUEUE)
    finally:
        connection.close()


def wait_for(what: str, check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


@contextmanager
def worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` (prefork, one child) on QUEUE, in its own
    process group; killed (the whole group) on exit."""
    command = [
        *(sys.executable, "-m", "celery", "-A", "celery_tasks", "worker"),
        *("--pool=prefork", "--concurrency=1", "-Q", QUEUE),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        *("--loglevel=ERROR", "-n", f"{QUEUE}@%h"),
    ]
    env = dict(os.environ, EVENTS_SCHEMA=SCHEMA, CELERY_QUEUE=QUEUE)
    process = subprocess.Popen(
        command,
        cwd=HERE,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("the worker to consume", lambda: consumers() > 0, 20)
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def rows(task: str, key: str) -> list[tuple[str, int]]:
    with db() as conn:
        return [
            (str(note), int(pid))
            for note, pid in conn.execute(
                "SELECT note, pid FROM task_log"
                " WHERE task = %s AND key = %s ORDER BY id",
                (task, key),
            )
        ]


def gaps(task: str, key: str, note: str) -> list[float]:
    """Seconds between consecutive `note` rows of one task and key."""
    with db() as conn:
        times = [
            row[0]
            for row in conn.execute(
                "SELECT at FROM task_log"
                " WHERE task = %s AND key = %s AND note = %s ORDER BY id",
                (task, key, note),
            )
        ]
    return [(b - a).total_seconds() for a, b in pairwise(times)]


def logged(task: str, key: str, note: str) -> Callable[[], bool]:
    return lambda: attempts(task, key, note) > 0


# ANCHOR: demo
def demo() -> None:
    with db() as conn, worker():
        racy = create_order_racy(
            conn,
            1200,
            lambda order_id: wait_for(
                "receipt", logged("send_receipt", str(order_id), "missing"), 10
            ),
        )
        print(f"delay() inside the transaction: {rows_of(racy)}")
        fixed = create_order(conn, 1500)
        wait_for("receipt", logged("send_receipt", str(fixed), "found"), 10)
        print(f"delay() after the commit: {rows_of(fixed)}")

        charge.delay("c1", failures=2)
        wait_for("charge", logged("charge", "c1", "done"), 10)
        notes = [note for note, _ in rows("charge", "c1")]
        waits = [int(gap) for gap in gaps("charge", "c1", "attempt")]
        print(f"charge: {notes}, waits {waits} s")

        slow_export.delay("x1")
        wait_for("start", logged("slow_export", "x1", "started"), 10)
        (_, child), *_ = rows("slow_export", "x1")
        os.kill(child, signal.SIGKILL)
        wait_for("rerun", logged("slow_export", "x1", "done"), 10)
        runs = rows("slow_export", "x1")
        new_pid = runs[-1][1] != child
        print(f"SIGKILL mid-task: {[n for n, _ in runs]}, new pid: {new_pid}")


def rows_of(order_id: int) -> list[str]:
    return [note for note, _ in rows("send_receipt", str(order_id))]


# ANCHOR_END: demo


def main() -> int:
    try:
        psycopg.connect(DATABASE_URL, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        print(f"celery_tasks: skipped: {reason}", file=sys.stderr)
        return 77
    try:
        consumers()
    except pika.exceptions.AMQPError as error:
        print(f"celery_tasks: skipped: {AMQP_URL}: {error!r}", file=sys.stderr)
        return 77
    create_schema()
    try:
        demo()
    finally:
        drop_schema()
        delete_queue()
    return 0


if __name__ == "__main__":
    if "EVENTS_SCHEMA" not in os.environ:
        # A fresh schema and queue per run; the worker inherits them.
        suffix = uuid.uuid4().hex[:10]
        os.environ["EVENTS_SCHEMA"] = f"celery_{suffix}"
        os.environ["CELERY_QUEUE"] = f"celery_{suffix}"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    sys.exit(main())
