"""1.5 Generators, coroutines and async/await, and the asyncio pitfalls.

Claims, each asserted before it is printed:

- A generator pipeline (read -> parse -> filter -> aggregate) is lazy: building
  it runs nothing, and pulling one item reads and parses one line at a time.
  `yield from` (PEP 380) delegates to a subgenerator and receives its
  `return` value.
- A generator is a coroutine you drive with send() (PEP 342); a native
  coroutine (`async def`, PEP 492) runs on the same send()/StopIteration
  protocol, but is not an iterator.
- asyncio.timeout() (3.11+) and asyncio.wait_for() cancel the work they time
  out; TaskGroup (3.11+) cancels the siblings of a failed task and raises an
  ExceptionGroup.
- time.sleep() inside a coroutine blocks the event loop: a ticker task gets
  no turn at all while it runs. `await asyncio.sleep()`, asyncio.to_thread()
  (3.9+) and loop.run_in_executor() leave the loop free. This is shown as an
  ordering in a trace, never as a duration.
- Cancelling a task raises CancelledError inside it, its `finally` blocks
  run, and `except Exception` does not catch it: CancelledError has been a
  BaseException subclass since 3.8.

Orderings are checked against wide margins (sleeps of 0.05 s and more, with
gaps of 0.05 s between competing deadlines); durations are never printed.
"""

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
)
from typing import Any, NamedTuple

ACCESS_LOG = """\
GET /api/users 200 12
GET /api/orders 500 340
this line is garbage
GET /api/orders 503 1200
GET /api/users 200 9
"""

WORKER_LOG = """\
POST /api/jobs 201 40
POST /api/jobs 500 95
"""


# ANCHOR: pipeline
class Record(NamedTuple):
    path: str
    status: int
    millis: int


TRACE: list[str] = []


def read_lines(text: str) -> Iterator[str]:
    for line in text.splitlines():
        TRACE.append("read")
        yield line


def parse_source(text: str) -> Generator[Record, None, int]:
    """Yield the records of one source; return how many lines were bad."""
    malformed = 0
    for line in read_lines(text):
        fields = line.split()
        if len(fields) != 4 or not (fields[2] + fields[3]).isdigit():
            malformed += 1
            continue
        TRACE.append("parse")
        yield Record(fields[1], int(fields[2]), int(fields[3]))
    return malformed


def parse_all(sources: Iterable[str], malformed: list[int]) -> Iterator[Record]:
    for text in sources:
        # PEP 380: values flow straight through; the return value lands here.
        malformed.append((yield from parse_source(text)))


def server_errors(records: Iterable[Record]) -> Iterator[Record]:
    return (record for record in records if record.status >= 500)


def errors_by_path(records: Iterable[Record]) -> Counter[str]:
    return Counter(record.path for record in records)
    # ANCHOR_END: pipeline


# ANCHOR: send
def running_mean(closed: list[str]) -> Generator[float, float, None]:
    """A PEP 342 coroutine: each send() delivers a value, yields the mean."""
    total, count, mean = 0.0, 0, 0.0
    try:
        while True:
            value = yield mean
            total, count = total + value, count + 1
            mean = total / count
    finally:
        closed.append("running_mean closed")  # close() raises GeneratorExit


async def answer() -> int:
    return 42


def drive(coroutine: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine that never suspends, by hand, as an event loop would."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return int(stop.value)
    raise RuntimeError("the coroutine suspended; it needs an event loop")
    # ANCHOR_END: send


# ANCHOR: timeouts
async def slow_call(trace: list[str]) -> str:
    try:
        await asyncio.sleep(10)
        return "done"
    except asyncio.CancelledError:
        trace.append("slow_call cancelled")
        raise  # let the cancellation finish what it started


async def with_timeout_block(trace: list[str]) -> str:
    try:
        async with asyncio.timeout(0.05):  # 3.11+
            return await slow_call(trace)
    except TimeoutError:
        return "timed out"


async def with_wait_for(trace: list[str]) -> str:
    try:
        return await asyncio.wait_for(slow_call(trace), timeout=0.05)
    except TimeoutError:  # asyncio.TimeoutError is this same class since 3.11
        return "timed out"
    # ANCHOR_END: timeouts


# ANCHOR: taskgroup
async def fetch(name: str, delay: float, finished: list[str]) -> str:
    await asyncio.sleep(delay)
    finished.append(name)
    return name.upper()


async def fan_out() -> tuple[list[str], list[str]]:
    finished: list[str] = []
    async with asyncio.TaskGroup() as group:  # 3.11+
        tasks = [
            group.create_task(fetch(name, delay, finished))
            for name, delay in [("a", 0.15), ("b", 0.05), ("c", 0.10)]
        ]
    # Leaving the block waited for every task.
    return [task.result() for task in tasks], finished


async def failing_upstream() -> None:
    await asyncio.sleep(0.01)
    raise ValueError("upstream returned 502")


async def group_failure(trace: list[str]) -> list[str]:
    caught: list[str] = []
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(failing_upstream())
            group.create_task(slow_call(trace))
    except* ValueError as errors:
        caught = [str(error) for error in errors.exceptions]
    return caught
    # ANCHOR_END: taskgroup


# ANCHOR: blocking
async def ticker(trace: list[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        trace.append("tick")
        await asyncio.sleep(0.01)


async def ticks_during(work: Callable[[], Awaitable[None]]) -> int:
    """How many ticks another task got while `work` ran."""
    trace: list[str] = []
    stop = asyncio.Event()
    ticking = asyncio.create_task(ticker(trace, stop))
    await asyncio.sleep(0)  # let the ticker start
    trace.append("start")
    await work()
    trace.append("end")
    stop.set()
    await ticking
    return trace[trace.index("start") : trace.index("end")].count("tick")


WORK_SECONDS = 0.2


async def blocking_sleep() -> None:
    time.sleep(WORK_SECONDS)  # holds the only thread the loop has


async def async_sleep() -> None:
    await asyncio.sleep(WORK_SECONDS)


async def sleep_in_thread() -> None:
    await asyncio.to_thread(time.sleep, WORK_SECONDS)  # 3.9+


async def sleep_in_executor() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, time.sleep, WORK_SECONDS)
    # ANCHOR_END: blocking


# ANCHOR: cancel
async def worker_with_cleanup(trace: list[str]) -> None:
    try:
        await asyncio.sleep(10)
    finally:
        trace.append("cleanup ran")


async def swallow_errors(trace: list[str]) -> None:
    try:
        await asyncio.sleep(10)
    except Exception:  # does not catch CancelledError (3.8+)
        trace.append("swallowed")


async def cancel(
    make: Callable[[list[str]], Coroutine[Any, Any, None]],
) -> tuple[bool, list[str]]:
    trace: list[str] = []
    task = asyncio.create_task(make(trace))
    await asyncio.sleep(0)  # let it start and suspend in sleep()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        trace.append("awaiting it raised CancelledError")
    return task.cancelled(), trace
    # ANCHOR_END: cancel


def show_pipeline() -> None:
    malformed: list[int] = []
    pipeline = server_errors(parse_all([ACCESS_LOG, WORKER_LOG], malformed))
    assert TRACE == [], TRACE  # building the pipeline ran nothing
    first = next(pipeline)
    assert first == Record("/api/orders", 500, 340), first
    assert TRACE == ["read", "parse", "read", "parse"], TRACE
    print(f"lazy: after the first 5xx record, the trace is {TRACE}")
    counts = errors_by_path([first, *pipeline])
    assert counts == {"/api/orders": 2, "/api/jobs": 1}, counts
    assert malformed == [1, 0], malformed
    print(
        f"5xx by path: {dict(sorted(counts.items()))}; "
        f"malformed lines per source (yield from): {malformed}"
    )


def show_coroutines() -> None:
    closed: list[str] = []
    mean = running_mean(closed)
    primed = next(mean)  # run to the first yield
    means = [primed, mean.send(10), mean.send(20), mean.send(60)]
    mean.close()
    assert means == [0.0, 10.0, 15.0, 30.0] and closed, (means, closed)
    print(
        f"generator coroutine: send(10), send(20), send(60) -> {means[1:]}; "
        f"close() ran finally: {bool(closed)}"
    )
    coroutine = answer()
    assert inspect.iscoroutine(coroutine)
    not_an_iterator = not hasattr(coroutine, "__next__")
    assert not_an_iterator
    assert drive(coroutine) == 42
    print(
        f"async def coroutine driven by send(None) returns "
        f"{drive(answer())}; not an iterator: {not_an_iterator}"
    )


async def show_asyncio() -> None:
    trace: list[str] = []
    results = [await with_timeout_block(trace), await with_wait_for(trace)]
    assert results == ["timed out", "timed out"], results
    assert trace == ["slow_call cancelled", "slow_call cancelled"], trace
    print(
        f"asyncio.timeout and wait_for: {results}, inner work "
        f"cancelled both times: {len(trace) == 2}"
    )

    results, finished = await fan_out()
    assert results == ["A", "B", "C"] and finished == ["b", "c", "a"]
    print(
        f"TaskGroup results in submission order {results}, "
        f"completion order {finished}"
    )

    trace = []
    caught = await group_failure(trace)
    assert caught == ["upstream returned 502"], caught
    assert trace == ["slow_call cancelled"], trace
    print(
        f"TaskGroup failure: except* caught {caught}, sibling cancelled: "
        f"{trace == ['slow_call cancelled']}"
    )

    blocked = await ticks_during(blocking_sleep)
    assert blocked == 0, blocked
    print(f"ticks while time.sleep ran inside a coroutine: {blocked}")
    for fix in (async_sleep, sleep_in_thread, sleep_in_executor):
        ticks = await ticks_during(fix)
        assert ticks > 0, (fix.__name__, ticks)
        print(f"other tasks ran during {fix.__name__}: {ticks > 0}")

    cancelled, trace = await cancel(worker_with_cleanup)
    assert cancelled
    assert trace == ["cleanup ran", "awaiting it raised CancelledError"]
    print(f"cancel(): task.cancelled() = {cancelled}, trace {trace}")
    cancelled, trace = await cancel(swallow_errors)
    assert cancelled and "swallowed" not in trace, trace
    print(
        f"except Exception inside the task did not stop the "
        f"cancellation: {cancelled}"
    )
    base = issubclass(asyncio.CancelledError, BaseException)
    plain = issubclass(asyncio.CancelledError, Exception)
    assert base and not plain
    print(
        f"CancelledError is a BaseException but not an Exception: "
        f"{base and not plain}"
    )


def main() -> None:
    show_pipeline()
    show_coroutines()
    asyncio.run(show_asyncio())


if __name__ == "__main__":
    main()
