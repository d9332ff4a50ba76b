"""1.9 Thread safety: the GIL does not make a read-modify-write atomic.

What the script shows, each claim asserted before it is printed:

- A lost update. Each of four threads reads a shared counter, then writes
  back the value it read plus one. A threading.Barrier between the read and
  the write makes every thread read before any thread writes, which is the
  worst interleaving the scheduler could choose, chosen every time: each
  round adds 1, not 4.
- Where the scheduler can switch. Since 3.10 a thread gives up the GIL only
  at a few points: a loop's backward jump, the start of a Python function,
  and the return of most calls. `counter.value += 1` in a loop has none
  inside it and loses nothing on a GIL build (3.9 lost updates here);
  `counter.value = checked(counter.value)` calls a Python function between
  the read and the write, and loses updates on every version. The count
  lost depends on timing, so only "lost some" or "lost none" is printed.
- One bytecode is not atomic when it runs Python code: a single
  STORE_SUBSCR (`table[key] = value`) calls the key's __hash__ and __eq__
  and the old value's __del__.
- The fix: the same read-modify-write under a threading.Lock. A
  time.sleep(0) inside the critical section invites a thread switch at the
  worst moment, and the count is still exact.
- asyncio: tasks switch only at `await`, so an await between the read and
  the write loses updates exactly as threads do; an asyncio.Lock fixes it.
- queue.Queue for producers and consumers: no lock in user code, and every
  item is consumed exactly once.
- fork() while another thread holds a lock: the child inherits the lock,
  held, but not the thread that would release it. Since 3.12 os.fork()
  warns (DeprecationWarning) when it sees other threads.
- multiprocessing for CPU work: a Pool of processes, each with its own
  interpreter and GIL, counts primes; the result matches a serial count.
  Processes share nothing by default, so a shared counter is a
  multiprocessing.Value, and its += still needs get_lock().
"""

# Lets 3.9 import this file: the version test compares 3.9 with 3.10+.
from __future__ import annotations

import asyncio
import dis
import multiprocessing
import os
import queue
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import Synchronized

THREADS = 4
ROUNDS = 1_000


class Counter:
    def __init__(self) -> None:
        self.value = 0


def run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ANCHOR: lost_update
def unsynchronised_increments() -> int:
    counter = Counter()
    everyone_has_read = threading.Barrier(THREADS)
    everyone_has_written = threading.Barrier(THREADS)

    def worker() -> None:
        for _ in range(ROUNDS):
            seen = counter.value  # read
            everyone_has_read.wait()  # every thread now holds the same value
            counter.value = seen + 1  # write: three of four writes are lost
            everyone_has_written.wait()

    run_threads(worker, THREADS)
    return counter.value
    # ANCHOR_END: lost_update


# ANCHOR: switch_points
RACE_THREADS = 4
RACE_ROUNDS = 100_000


@contextmanager
def frequent_switches() -> Iterator[None]:
    # A 1 us switch interval instead of 5 ms: many more switches per
    # second, so a race that is rare in production shows up in a short run.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def checked(value: int) -> int:
    if value < 0:
        raise ValueError(value)
    return value + 1


def plain_increment(counter: Counter) -> None:
    for _ in range(RACE_ROUNDS):
        counter.value += 1  # load, add, store: no switch point in between


def increment_through_a_call(counter: Counter) -> None:
    for _ in range(RACE_ROUNDS):
        # Entering checked() is a switch point between the read and the
        # write: another thread can run, and this write then undoes its work.
        counter.value = checked(counter.value)


def lost_updates(update: Callable[[Counter], None]) -> int:
    counter = Counter()
    with frequent_switches():
        run_threads(lambda: update(counter), RACE_THREADS)
    return RACE_THREADS * RACE_ROUNDS - counter.value
    # ANCHOR_END: switch_points


# ANCHOR: one_bytecode
CALLS: list[str] = []


class Key:
    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        CALLS.append("Key.__hash__")
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        CALLS.append("Key.__eq__")
        return isinstance(other, Key) and other.name == self.name


class Value:
    def __del__(self) -> None:
        CALLS.append("Value.__del__")


def store(table: dict[Key, Value], key: Key, value: Value) -> None:
    table[key] = value  # one instruction, STORE_SUBSCR


def python_code_run_by_one_store() -> tuple[int, list[str]]:
    """How many STORE_SUBSCR instructions `store` has, and what Python
    code one call of it ran."""
    stores = [
        i for i in dis.get_instructions(store) if i.opname == "STORE_SUBSCR"
    ]
    table = {Key("a"): Value()}
    CALLS.clear()
    store(table, Key("a"), Value())  # same key, new value
    return len(stores), list(CALLS)
    # ANCHOR_END: one_bytecode


# ANCHOR: locked
def locked_increments() -> int:
    counter = Counter()
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(ROUNDS):
            with lock:
                seen = counter.value
                time.sleep(0)  # release the GIL mid-update: still safe
                counter.value = seen + 1

    run_threads(worker, THREADS)
    return counter.value
    # ANCHOR_END: locked


# ANCHOR: asyncio_lock
async def task_increments(lock: asyncio.Lock | None) -> int:
    counter = Counter()

    async def update() -> None:
        seen = counter.value
        await asyncio.sleep(0)  # another task runs here
        counter.value = seen + 1

    async def worker() -> None:
        for _ in range(ROUNDS):
            if lock is None:
                await update()
            else:
                async with lock:  # held across the await inside
                    await update()

    async with asyncio.TaskGroup() as group:
        for _ in range(THREADS):
            group.create_task(worker())
    return counter.value
    # ANCHOR_END: asyncio_lock


# ANCHOR: queue
DONE = None  # sentinel: one per consumer tells it to stop


def producer_consumer(
    producers: int, consumers: int, items_each: int
) -> tuple[int, int]:
    """Returns (items consumed, sum of items consumed)."""
    # Bounded, so fast producers wait for slow consumers: backpressure.
    work: queue.Queue[int | None] = queue.Queue(maxsize=64)
    results: queue.Queue[tuple[int, int]] = queue.Queue()

    def produce(start: int) -> None:
        for item in range(start, start + items_each):
            work.put(item)  # blocks while the queue is full

    def consume() -> None:
        count = total = 0
        while (item := work.get()) is not DONE:
            count += 1
            total += item
        results.put((count, total))

    producer_threads = [
        threading.Thread(target=produce, args=(p * items_each,))
        for p in range(producers)
    ]
    consumer_threads = [
        threading.Thread(target=consume) for _ in range(consumers)
    ]
    for thread in producer_threads + consumer_threads:
        thread.start()
    for thread in producer_threads:
        thread.join()
    for _ in consumer_threads:
        work.put(DONE)
    for thread in consumer_threads:
        thread.join()
    per_consumer = [results.get() for _ in consumer_threads]
    return sum(c for c, _ in per_consumer), sum(t for _, t in per_consumer)
    # ANCHOR_END: queue


# ANCHOR: fork
def fork_while_another_thread_holds_a_lock() -> tuple[bool, list[str]]:
    """Returns (whether the child found the lock still held, the warning
    categories os.fork() raised in the parent)."""
    lock = threading.Lock()
    held, done = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            done.wait()  # a thread busy in a critical section

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:  # the child: a copy of memory, and only this thread
            # The holder does not exist here, so nobody will ever release
            # the lock; without the timeout this would block forever.
            os._exit(0 if not lock.acquire(timeout=0.2) else 1)
    _, status = os.waitpid(pid, 0)
    done.set()
    thread.join()
    categories = [w.category.__name__ for w in caught]
    return os.waitstatus_to_exitcode(status) == 0, categories
    # ANCHOR_END: fork


# ANCHOR: processes
def add_under_lock(counter: Synchronized[int], times: int) -> None:
    for _ in range(times):
        # counter.value += 1 alone is a read and a write: not atomic across
        # processes either. The Value's own lock makes it one step.
        with counter.get_lock():
            counter.value += 1


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


def count_primes_in_processes(limit: int, processes: int) -> int:
    # CPU work: each process runs its own interpreter with its own GIL.
    # The function and its arguments are pickled, so is_prime must be a
    # module-level function, not a lambda or a closure.
    with multiprocessing.Pool(processes) as pool:
        return sum(pool.map(is_prime, range(limit), chunksize=1_000))


def count_in_processes(processes: int, times: int) -> int:
    counter: Synchronized[int] = multiprocessing.Value("q", 0)
    workers = [
        multiprocessing.Process(target=add_under_lock, args=(counter, times))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(worker.exitcode == 0 for worker in workers)
    return counter.value
    # ANCHOR_END: processes


def gil_enabled() -> bool:
    if sys.version_info >= (3, 13):
        return sys._is_gil_enabled()
    return True


def main() -> None:
    expected = THREADS * ROUNDS

    racy = unsynchronised_increments()
    assert racy == ROUNDS, racy
    print(
        f"unsynchronised: {THREADS} threads x {ROUNDS} increments = {racy} "
        f"({expected - racy} updates lost)"
    )

    plain = lost_updates(plain_increment) > 0
    # 3.10+ with the GIL: no switch point inside `+=` (3.9 lost updates).
    assert not plain or not gil_enabled(), "+= lost updates"
    print(f"counter.value += 1, {RACE_THREADS} threads: lost updates: {plain}")
    # A race is a matter of chance: one run nearly always loses updates,
    # but on a busy machine a run can pass without a switch at the wrong
    # point, so up to five runs are made.
    through_call = any(
        lost_updates(increment_through_a_call) > 0 for _ in range(5)
    )
    assert through_call, "no update lost across a call in five runs"
    print(
        "counter.value = checked(counter.value), "
        f"{RACE_THREADS} threads: lost updates: {through_call}"
    )

    stores, calls = python_code_run_by_one_store()
    assert stores == 1, stores
    assert calls == ["Key.__hash__", "Key.__eq__", "Value.__del__"], calls
    print(f"table[key] = value, one STORE_SUBSCR, ran Python code: {calls}")

    locked = locked_increments()
    assert locked == expected, locked
    print(
        f"with threading.Lock: {THREADS} threads x {ROUNDS} increments "
        f"= {locked}"
    )

    tasks_racy = asyncio.run(task_increments(lock=None))
    tasks_locked = asyncio.run(task_increments(lock=asyncio.Lock()))
    assert (tasks_racy, tasks_locked) == (ROUNDS, expected)
    print(
        f"asyncio, {THREADS} tasks x {ROUNDS}, await inside the update: "
        f"{tasks_racy} without a lock, {tasks_locked} with asyncio.Lock"
    )

    count, total = producer_consumer(producers=2, consumers=3, items_each=500)
    assert count == 1_000 and total == sum(range(1_000)), (count, total)
    print(
        f"queue.Queue: 2 producers, 3 consumers: {count} items consumed, "
        f"sum {total}"
    )

    still_held, categories = fork_while_another_thread_holds_a_lock()
    assert still_held
    warned = "DeprecationWarning" in categories
    assert warned == (sys.version_info >= (3, 12)), categories
    print(
        "fork() while another thread held a lock: still held in the child: "
        f"{still_held}"
    )
    print(
        "os.fork() in a process with threads warns from 3.12 on: "
        f"{warned == (sys.version_info >= (3, 12))}"
    )

    primes = count_primes_in_processes(limit=20_000, processes=2)
    assert primes == sum(map(is_prime, range(20_000))), primes
    print(
        "multiprocessing.Pool: primes below 20,000 counted in 2 processes: "
        f"{primes}"
    )

    shared = count_in_processes(processes=2, times=500)
    assert shared == 1_000, shared
    print(
        f"multiprocessing.Value under get_lock(): 2 processes x 500 = {shared}"
    )


if __name__ == "__main__":
    main()
