"""2.9: prometheus_client under several worker processes.

gunicorn (and uvicorn's `--workers`, and Celery's prefork pool) run the app
in N processes. Each process has its own copy of every metric, and a
scrape of `/metrics` lands on one of them, so without help the scraped
counter is one worker's count, a different one each time. Multiprocess
mode fixes that: with `PROMETHEUS_MULTIPROC_DIR` set before the library is
imported, every process writes its values to files in that directory, and
`MultiProcessCollector` adds them up at scrape time.

Here the workers are `multiprocessing` processes started with `spawn` (a
fresh interpreter, as `uvicorn --workers` starts them; gunicorn forks, so
there the variable must be set before the master starts), and each
worker's own import reads the environment variable. `main` sends the
same requests to three workers in both modes and prints what each worker
would answer to a scrape.
"""

import multiprocessing
import os
import tempfile
from multiprocessing.connection import Connection
from typing import Protocol

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.multiprocess import (
    MultiProcessCollector,
    mark_process_dead,
)
from prometheus_client.parser import text_string_to_metric_families

# ANCHOR: metrics
# Created at import, in every worker.
REQUESTS = Counter("app_requests", "Requests handled", ["route"])
# A gauge needs a rule for combining processes; `livesum` adds up the
# processes that are alive (those not marked dead).
WORKERS_UP = Gauge(
    "app_workers_up", "Workers serving", multiprocess_mode="livesum"
)
# ANCHOR_END: metrics


# ANCHOR: scrape
def metrics_page() -> str:
    """What `/metrics` returns from whichever worker takes the scrape."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # A fresh registry per scrape, reading every process's files.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry).decode()
    return generate_latest(REGISTRY).decode()  # this process only


class HasPid(Protocol):
    pid: int


def child_exit(server: object, worker: HasPid) -> None:
    """A gunicorn.conf.py hook, run in the master when a worker exits:
    the dead worker's live gauges stop counting (counters stay)."""
    mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


# ANCHOR_END: scrape


def worker(handled: int, conn: Connection) -> None:
    """Handle `handled` requests, then answer scrapes until told to stop."""
    WORKERS_UP.set(1)
    for _ in range(handled):
        REQUESTS.labels(route="/orders").inc()
    conn.send("ready")
    while conn.recv() == "scrape":
        conn.send(metrics_page())


def sample(page: str, name: str) -> float:
    """The value of the one sample called `name` in an exposition."""
    for family in text_string_to_metric_families(page):
        for s in family.samples:
            if s.name == name:
                return float(s.value)
    raise LookupError(f"{name} not in the scrape")


class Workers:
    """N worker processes, each with a pipe to ask it for a scrape."""

    def __init__(self, plan: list[int], multiproc_dir: str | None):
        # Children inherit the environment at start: set it for them only.
        before = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if multiproc_dir is not None:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        try:
            for handled in plan:
                mine, theirs = context.Pipe()
                process = context.Process(target=worker, args=(handled, theirs))
                process.start()
                self.pipes.append(mine)
                self.processes.append(process)
            for pipe in self.pipes:
                assert pipe.recv() == "ready"
        finally:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            if before is not None:
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = before

    def scrape(self, index: int) -> str:
        self.pipes[index].send("scrape")
        page = self.pipes[index].recv()
        assert isinstance(page, str)
        return page

    def stop(self, index: int) -> int:
        """Stop one worker; its pid, for `mark_process_dead`."""
        self.pipes[index].send("stop")
        process = self.processes[index]
        process.join(timeout=10)
        assert process.pid is not None
        return process.pid

    def close(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive():
                self.stop(index)


PLAN = [5, 3, 2]  # requests handled by each worker
TOTAL = "app_requests_total"
UP = "app_workers_up"


def main() -> None:
    print(
        f"{len(PLAN)} workers handled {' + '.join(map(str, PLAN))}"
        f" = {sum(PLAN)} requests"
    )
    plain = Workers(PLAN, None)
    try:
        seen = [sample(plain.scrape(i), TOTAL) for i in range(len(PLAN))]
    finally:
        plain.close()
    print("one registry per process: a scrape answered by worker")
    for i, value in enumerate(seen):
        print(f"  {i + 1} says app_requests_total = {value:g}")
    with tempfile.TemporaryDirectory() as directory:
        shared = Workers(PLAN, directory)
        try:
            seen = [sample(shared.scrape(i), TOTAL) for i in range(len(PLAN))]
            print("PROMETHEUS_MULTIPROC_DIR: a scrape answered by worker")
            for i, value in enumerate(seen):
                print(f"  {i + 1} says app_requests_total = {value:g}")
            print(f"workers up: {sample(shared.scrape(0), UP):g}")
            pid = shared.stop(2)
            print("worker 3 exits:")
            page = shared.scrape(0)
            print(
                f"  workers up before mark_process_dead: {sample(page, UP):g}"
            )
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
            page = shared.scrape(0)
            print(f"  workers up after mark_process_dead: {sample(page, UP):g}")
            print(
                f"  app_requests_total still {sample(page, TOTAL):g}"
                " (a dead worker's counts are kept)"
            )
        finally:
            shared.close()


if __name__ == "__main__":
    main()
