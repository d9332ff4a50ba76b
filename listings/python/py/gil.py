"""1.1 The GIL: what it serialises, what it does not, and how to get around it.

Four claims, each asserted before it is printed:

- Threads that wait (here, time.sleep) overlap: the GIL is released while a
  thread blocks, so four 0.2 s sleeps finish in about 0.2 s, not 0.8 s.
- Threads that compute do not: on a GIL build, two CPU-bound threads use at
  most one core between them. The script measures this as process CPU time
  divided by wall time, which cannot exceed about 1.0 while only one thread
  at a time may run Python bytecode. Load from other programs only lowers
  the ratio, so the check is robust on a busy machine.
- The switch interval (sys.getswitchinterval) is 0.005 s by default, and a
  pure-Python loop honours it: another thread gets a turn every few
  milliseconds. One long call into C code that does not release the GIL
  (here the built-in sum() over a range) keeps every other thread out for
  the whole call. Shown as the longest wait of a ticking thread relative to
  the run, with a wide margin, never as a printed duration.
- Processes (concurrent.futures.ProcessPoolExecutor) each have their own
  interpreter and GIL; the script checks they compute the same result.

The free-threaded build (PEP 703) is reported through version-guarded
calls, so the output is the same on every standard CPython 3.11+ build.
Timings are compared against wide margins and never printed.
"""

import itertools
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

SLEEPERS = 4
SLEEP_SECONDS = 0.2
# Overlapped sleeps take about 0.2 s, sequential ones 0.8 s. A delay of
# 0.4 s on top of the overlapped run would be needed to flip the verdict.
OVERLAP_THRESHOLD_SECONDS = 0.6

CPU_THREADS = 2
CPU_LIMIT = 15_001
# With the GIL, CPU time / wall time stays near 1.0. Two cores running
# freely would approach 2.0. 1.5 separates the two with room on both sides.
MAX_CORES_UNDER_GIL = 1.5


# ANCHOR: io_bound
def run_in_threads(target: Callable[[], object], count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def sleep_a_while() -> None:
    # time.sleep releases the GIL while it waits, like socket reads,
    # file I/O and most blocking calls in C extensions.
    time.sleep(SLEEP_SECONDS)


def sleepers_overlap() -> bool:
    start = time.perf_counter()
    run_in_threads(sleep_a_while, SLEEPERS)
    elapsed = time.perf_counter() - start
    return elapsed < OVERLAP_THRESHOLD_SECONDS
    # ANCHOR_END: io_bound


# ANCHOR: cpu_bound
def collatz_steps(start: int, stop: int) -> int:
    """Pure-Python CPU work: Collatz steps to reach 1, summed over
    start..stop-1."""
    total = 0
    for n in range(start, stop):
        x = n
        while x != 1:
            x = x // 2 if x % 2 == 0 else 3 * x + 1
            total += 1
    return total


def busy_thread() -> None:
    collatz_steps(1, CPU_LIMIT)


def cores_used_by_cpu_threads() -> float:
    """Process CPU seconds per wall second while CPU_THREADS threads
    compute: the number of cores the process kept busy."""
    wall_start = time.perf_counter()
    cpu_start = time.process_time()
    run_in_threads(busy_thread, CPU_THREADS)
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    return cpu / wall
    # ANCHOR_END: cpu_bound


# ANCHOR: c_call
SUM_LIMIT = 5_000_000


def python_loop_sum() -> int:
    total = 0
    for n in range(SUM_LIMIT):  # a switch point on every iteration
        total += n
    return total


def builtin_sum() -> int:
    return sum(range(SUM_LIMIT))  # one C call: no switch point inside


def longest_wait_share(work: Callable[[], int]) -> float:
    """While `work` runs, another thread wants to note the time every
    1 ms. Returns its longest wait as a share of the run: near 0 if it got
    turns all along, near 1 if it was kept out for the whole run."""
    stamps: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)  # releases the GIL while it waits

    thread = threading.Thread(target=ticker)
    thread.start()
    time.sleep(0.02)  # let it start ticking
    start = time.perf_counter()
    work()
    end = time.perf_counter()
    stop.set()
    thread.join()
    inside = [start, *(s for s in stamps if start < s < end), end]
    longest = max(b - a for a, b in itertools.pairwise(inside))
    return longest / (end - start)
    # ANCHOR_END: c_call


# ANCHOR: free_threading
def gil_enabled() -> bool:
    """Whether this process runs with the GIL (always True before 3.13)."""
    if sys.version_info >= (3, 13):
        return sys._is_gil_enabled()
    return True


def build_supports_free_threading() -> bool:
    """Whether this interpreter was built with --disable-gil (PEP 703)."""
    flag: object = sysconfig.get_config_var("Py_GIL_DISABLED")
    return flag == 1
    # ANCHOR_END: free_threading


# ANCHOR: processes
def split_range(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    bounds = [start + (stop - start) * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def collatz_steps_of(bounds: tuple[int, int]) -> int:
    return collatz_steps(*bounds)


def collatz_in_processes(start: int, stop: int, workers: int) -> int:
    # Each worker process has its own interpreter and its own GIL. Arguments
    # and results travel by pickling, so they must be small and picklable.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        ranges = split_range(start, stop, workers)
        return sum(pool.map(collatz_steps_of, ranges))
    # ANCHOR_END: processes


def main() -> None:
    overlapped = sleepers_overlap()
    assert overlapped, "blocking sleeps did not overlap"
    print(
        f"{SLEEPERS} threads sleeping {SLEEP_SECONDS} s each finished "
        f"in under {OVERLAP_THRESHOLD_SECONDS} s: {overlapped}"
    )

    interval = sys.getswitchinterval()
    assert interval == 0.005, interval
    print(f"switch interval: {interval} s")
    assert python_loop_sum() == builtin_sum()
    loop_share = longest_wait_share(python_loop_sum)
    c_share = longest_wait_share(builtin_sum)
    took_turns = loop_share < 0.5
    kept_out = c_share > 0.9
    if gil_enabled():
        assert took_turns, f"longest wait {loop_share:.0%} of a Python loop"
        assert kept_out, f"longest wait {c_share:.0%} of a C call"
    print(f"another thread got turns during a pure-Python loop: {took_turns}")
    print(f"another thread waited out a whole C call (sum): {kept_out}")

    enabled = gil_enabled()
    print(f"GIL enabled in this process: {enabled}")
    free_threading = build_supports_free_threading()
    print(f"interpreter built for free threading: {free_threading}")

    cores = cores_used_by_cpu_threads()
    one_core = cores < MAX_CORES_UNDER_GIL
    if enabled:
        assert one_core, f"{CPU_THREADS} threads used {cores:.2f} cores"
    print(
        f"{CPU_THREADS} CPU-bound threads used at most one core between them: "
        f"{one_core}"
    )

    sequential = collatz_steps(1, CPU_LIMIT)
    parallel = collatz_in_processes(1, CPU_LIMIT, CPU_THREADS)
    assert parallel == sequential, (parallel, sequential)
    print(
        f"Collatz steps for 1..{CPU_LIMIT - 1}, in this process: "
        f"{sequential}, in {CPU_THREADS} worker processes: {parallel}"
    )


if __name__ == "__main__":
    main()
