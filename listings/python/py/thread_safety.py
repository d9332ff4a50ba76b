"""1.9 Thread safety: the GIL does not make a read-modify-write atomic.

What the script shows, each claim asserted before it is printed:

- A lost update. Each of four threads reads a shared counter, then writes
  back the value it read plus one. A threading.Barrier between the read and
  the write makes every thread read before any thread writes, which is the
  worst interleaving the scheduler could choose, chosen every time: each
  round adds 1, not 4. Without the barrier the same bug loses updates only
  sometimes, which is what makes it dangerous.
- The fix: the same read-modify-write under a threading.Lock. A
  time.sleep(0) inside the critical section invites a thread switch at the
  worst moment, and the count is still exact.
- queue.Queue for producers and consumers: no lock in user code, and every
  item is consumed exactly once.
- multiprocessing for CPU work: a Pool of processes, each with its own
  interpreter and GIL, counts primes; the result matches a serial count.
  Processes share nothing by default, so a shared counter is a
  multiprocessing.Value, and its += still needs get_lock().
"""

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
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


# ANCHOR: processes
def add_under_lock(counter: "Synchronized[int]", times: int) -> None:
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


def main() -> None:
    expected = THREADS * ROUNDS

    racy = unsynchronised_increments()
    assert racy == ROUNDS, racy
    print(
        f"unsynchronised: {THREADS} threads x {ROUNDS} increments = {racy} "
        f"({expected - racy} updates lost)"
    )

    locked = locked_increments()
    assert locked == expected, locked
    print(
        f"with threading.Lock: {THREADS} threads x {ROUNDS} increments "
        f"= {locked}"
    )

    count, total = producer_consumer(producers=2, consumers=3, items_each=500)
    assert count == 1_000 and total == sum(range(1_000)), (count, total)
    print(
        f"queue.Queue: 2 producers, 3 consumers: {count} items consumed, "
        f"sum {total}"
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
