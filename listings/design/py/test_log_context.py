"""Tests of 3.7's Python logging (log_context.py): concurrent asyncio tasks
keep their own trace ids, the listener thread cannot see them (so the
filter sits on the QueueHandler), every line is JSON, a full queue drops
and counts instead of blocking or printing errors, a slow sink does not
slow the caller, and which ways of leaving the event loop carry the
context."""

import asyncio
import io
import json
import logging
import logging.handlers
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from log_context import (
    JsonFormatter,
    accept,
    pipeline,
    trace_id,
)

SPEC = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(t) for t in out.getvalue().splitlines()]


def test_concurrent_tasks_keep_their_own_trace_ids() -> None:
    out = io.StringIO()
    log, _, listener = pipeline("t_tasks", logging.StreamHandler(out))
    rng = random.Random(7)
    delays = [[rng.random() / 500 for _ in range(3)] for _ in range(20)]
    mine: dict[int, str] = {}

    async def task(n: int) -> None:
        mine[n] = accept(None)  # a new trace for each task
        for step, delay in enumerate(delays[n]):
            await asyncio.sleep(delay)  # interleave with the others
            log.info("step", extra={"task": n, "step": step})

    async def run() -> None:
        await asyncio.gather(*(task(n) for n in range(20)))

    listener.start()
    asyncio.run(run())
    listener.stop()
    got = lines(out)
    assert len(got) == 60
    assert len(set(mine.values())) == 20
    for line in got:
        assert line["trace_id"] == mine[int(str(line["task"]))]
    # Interleaved, not one task after another.
    order = [int(str(line["task"])) for line in got]
    assert order != sorted(order)


def test_the_listener_thread_does_not_see_the_tasks_context() -> None:
    seen: list[str] = []

    class ReadsContextHere(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(trace_id.get())  # in the listener's thread

    log, _, listener = pipeline("t_thread", ReadsContextHere())
    out = io.StringIO()
    listener.handlers = (*listener.handlers, logging.StreamHandler(out))
    listener.handlers[1].setFormatter(JsonFormatter())

    async def run() -> None:
        accept(SPEC)
        log.info("hello")

    listener.start()
    asyncio.run(run())
    listener.stop()
    assert seen == ["-"]  # what a formatter reading the var would log
    assert lines(out)[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_every_line_is_json_with_extra_fields_and_the_exception() -> None:
    out = io.StringIO()
    log, _, listener = pipeline("t_json", logging.StreamHandler(out))
    listener.start()
    log.info('quote " and newline\n', extra={"order": 7, "obj": object()})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    listener.stop()
    first, second = lines(out)
    assert first["message"] == 'quote " and newline\n'
    assert first["order"] == 7
    assert str(first["obj"]).startswith("<object")
    assert str(first["ts"]).endswith("Z")
    # QueueHandler.prepare merges the traceback into the message and
    # clears exc_info before the record crosses the queue.
    assert "ValueError: boom" in str(second["message"])
    assert "exc" not in second


def test_a_full_queue_drops_and_counts_without_noise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log, handler, _ = pipeline("t_full", logging.NullHandler(), maxsize=5)
    for n in range(20):
        log.info("line %d", n)  # the listener never started
    assert handler.dropped == 15
    assert isinstance(handler.queue, queue.Queue)
    assert handler.queue.qsize() == 5
    assert capsys.readouterr().err == ""


def test_the_plain_queue_handler_reports_every_drop_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    q: queue.Queue[logging.LogRecord] = queue.Queue(1)
    log = logging.getLogger("t_plain")
    log.handlers = [logging.handlers.QueueHandler(q)]
    log.propagate = False
    for n in range(3):
        log.warning("line %d", n)
    err = capsys.readouterr().err
    assert err.count("--- Logging error ---") == 2
    assert err.count("queue.Full") == 2


def test_a_slow_sink_does_not_slow_the_caller() -> None:
    released = threading.Event()

    class Slow(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            released.wait(timeout=2)  # a sink that has stalled

    log, handler, listener = pipeline("t_slow", Slow(), maxsize=10)
    listener.start()
    start = time.perf_counter()
    for n in range(50):
        log.info("line %d", n)
    elapsed = time.perf_counter() - start
    released.set()
    listener.stop()
    # A caller that waited would wait 2 s per record; a second leaves
    # room for a loaded machine without hiding that.
    assert elapsed < 1.0, elapsed
    # The listener took one record off, so 10 or 11 were kept.
    assert handler.dropped in (39, 40)


def test_to_thread_carries_the_context_and_run_in_executor_does_not() -> None:
    async def run() -> tuple[str, str]:
        accept(SPEC)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            bare = await loop.run_in_executor(pool, trace_id.get)
        carried = await asyncio.to_thread(trace_id.get)
        return bare, carried

    bare, carried = asyncio.run(run())
    assert bare == "-"
    assert carried == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        SPEC.upper(),
        SPEC.replace("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32),
        SPEC.replace("00f067aa0ba902b7", "0" * 16),
        "ff" + SPEC[2:],
        SPEC + "-extra",  # version 00 has exactly four fields
        SPEC + ".",
        "cc" + SPEC[2:] + ".what-the-future-will-be-like",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(value: str | None) -> None:
    async def run() -> str:
        return accept(value)

    new = asyncio.run(run())
    assert new != "4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(new) == 32 and int(new, 16) != 0


@pytest.mark.parametrize(
    "value",
    [
        SPEC,
        # A future version: its first four fields are read (the W3C
        # suite's test_traceparent_version_0xcc).
        "cc" + SPEC[2:],
        "cc" + SPEC[2:] + "-what-the-future-will-be-like",
    ],
)
def test_a_valid_traceparent_continues_the_callers_trace(value: str) -> None:
    async def run() -> str:
        return accept(value)

    assert asyncio.run(run()) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id.get() == "-"  # asyncio.run's task had its own copy
