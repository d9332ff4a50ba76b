"""Tests of 2.7's Celery listing (celery_tasks.py) against a real worker
(`celery -A celery_tasks worker`, prefork, one child) on RabbitMQ, with
effects in PostgreSQL. Without the servers (skipped, or failed under
REQUIRE_SERVICES=1) only the backoff arithmetic and task options run.

One worker serves the module; the last test kills it (SIGKILL to its whole
process group) and starts another. Each run has its own schema and queue,
named below before celery_tasks is imported, and removed at the end."""

import os
import signal
import uuid
from collections.abc import Iterator

import pytest

SUFFIX = uuid.uuid4().hex[:10]
os.environ["EVENTS_SCHEMA"] = f"celery_test_{SUFFIX}"
os.environ["CELERY_QUEUE"] = f"celery_test_{SUFFIX}"

import celery_tasks  # noqa: E402 (the names above must be set first)
from celery.utils.time import get_exponential_backoff_interval  # noqa: E402
from celery_tasks import (  # noqa: E402
    charge,
    create_order,
    create_order_racy,
    logged,
    rows,
    send_receipt,
    slow_export,
    slow_export_lossy,
    wait_for,
)


class Workers:
    """The current worker process; `restart` replaces it."""

    def __init__(self) -> None:
        self.stack: list[object] = []
        self.pid = 0
        self._start()

    def _start(self) -> None:
        context = celery_tasks.worker()
        process = context.__enter__()
        self.stack.append(context)
        self.pid = process.pid

    def kill_and_restart(self) -> None:
        os.killpg(self.pid, signal.SIGKILL)
        self._start()

    def close(self) -> None:
        for context in reversed(self.stack):
            context.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def workers(database_url: str, amqp_url: str) -> Iterator[Workers]:
    celery_tasks.create_schema()
    try:
        running = Workers()
        try:
            yield running
        finally:
            running.close()
    finally:
        celery_tasks.drop_schema()
        celery_tasks.delete_queue()


# --- Without a server ---------------------------------------------------


def test_backoff_doubles_from_one_second_up_to_the_cap() -> None:
    waits = [get_exponential_backoff_interval(1, n, 600) for n in range(5)]
    assert waits == [1, 2, 4, 8, 16]
    assert get_exponential_backoff_interval(1, 20, 600) == 600
    jittered = {
        get_exponential_backoff_interval(1, 3, 600, full_jitter=True)
        for _ in range(200)
    }
    assert jittered <= set(range(9)) and len(jittered) > 1


def test_the_tasks_ack_late_and_requeue_when_their_process_dies() -> None:
    assert celery_tasks.app.conf.task_acks_late is True
    assert celery_tasks.app.conf.worker_prefetch_multiplier == 1
    assert send_receipt.acks_late and send_receipt.reject_on_worker_lost
    assert slow_export.reject_on_worker_lost
    assert slow_export_lossy.reject_on_worker_lost is False
    assert charge.max_retries == 3


# --- Against RabbitMQ, PostgreSQL and a worker ---------------------------


def test_delay_inside_the_transaction_runs_before_the_commit(
    workers: Workers,
) -> None:
    with celery_tasks.db() as conn:
        order_id = create_order_racy(
            conn,
            100,
            lambda oid: wait_for(
                "receipt", logged("send_receipt", str(oid), "missing"), 10
            ),
        )
        # The order exists now, but the task has already run without it.
        assert conn.execute(
            "SELECT total FROM orders WHERE id = %s", (order_id,)
        ).fetchone() == (100,)
    assert [n for n, _ in rows("send_receipt", str(order_id))] == ["missing"]


def test_delay_after_the_commit_finds_the_row(workers: Workers) -> None:
    seen_inside: list[int] = []
    with celery_tasks.db() as conn:
        order_id = create_order(conn, 250, seen_inside.append)
    wait_for("receipt", logged("send_receipt", str(order_id), "found"), 10)
    assert seen_inside == [order_id]
    assert [n for n, _ in rows("send_receipt", str(order_id))] == ["found"]


def test_a_failing_task_is_retried_with_exponential_backoff(
    workers: Workers,
) -> None:
    charge.delay("r1", failures=2)
    wait_for("charge", logged("charge", "r1", "done"), 15)
    notes = [note for note, _ in rows("charge", "r1")]
    assert notes == ["attempt", "attempt", "attempt", "done"]
    first, second = celery_tasks.gaps("charge", "r1", "attempt")
    assert 0.9 <= first < 2.0, first  # countdown 1 s
    assert 1.9 <= second < 3.5, second  # countdown 2 s


def test_killing_the_child_requeues_the_task_which_runs_again(
    workers: Workers,
) -> None:
    slow_export.delay("k1")
    wait_for("start", logged("slow_export", "k1", "started"), 10)
    (_, child), *_ = rows("slow_export", "k1")
    os.kill(child, signal.SIGKILL)
    wait_for("rerun", logged("slow_export", "k1", "done"), 15)
    runs = rows("slow_export", "k1")
    assert [n for n, _ in runs] == ["started", "started", "done"]
    assert runs[1][1] != child, "the rerun is in a new child process"


def test_without_reject_on_worker_lost_the_killed_task_is_lost(
    workers: Workers,
) -> None:
    slow_export_lossy.delay("k2")
    wait_for("start", logged("slow_export_lossy", "k2", "started"), 10)
    (_, child), *_ = rows("slow_export_lossy", "k2")
    os.kill(child, signal.SIGKILL)
    # A task sent after the kill runs, so the worker has moved on; a
    # requeued message would have been delivered before it.
    send_receipt.delay(-2)
    wait_for("marker", logged("send_receipt", "-2", "missing"), 15)
    runs = rows("slow_export_lossy", "k2")
    assert [n for n, _ in runs] == ["started"], "acked as failed, never rerun"


def test_a_worker_killed_whole_leaves_the_message_for_the_next_one(
    workers: Workers,
) -> None:
    slow_export.delay("w1")
    wait_for("start", logged("slow_export", "w1", "started"), 10)
    (_, child), *_ = rows("slow_export", "w1")
    workers.kill_and_restart()  # the machine dies: nobody rejects anything
    wait_for("rerun", logged("slow_export", "w1", "done"), 15)
    runs = rows("slow_export", "w1")
    assert [n for n, _ in runs] == ["started", "started", "done"]
    assert runs[1][1] != child
