"""The scraped counter under three worker processes: one worker's count
without multiprocess mode, the exact total with it."""

import tempfile
from collections.abc import Iterator

import pytest
from metrics_multiprocess import (
    TOTAL,
    UP,
    Workers,
    child_exit,
    sample,
)
from prometheus_client.multiprocess import mark_process_dead

PLAN = [4, 1, 7]


@pytest.fixture
def multiproc_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield directory


def test_without_multiprocess_mode_each_scrape_sees_one_worker() -> None:
    workers = Workers(PLAN, None)
    try:
        seen = [sample(workers.scrape(i), TOTAL) for i in range(len(PLAN))]
    finally:
        workers.close()
    assert seen == [4.0, 1.0, 7.0]
    assert all(value != sum(PLAN) for value in seen)


def test_multiprocess_mode_adds_every_worker(multiproc_dir: str) -> None:
    workers = Workers(PLAN, multiproc_dir)
    try:
        seen = [sample(workers.scrape(i), TOTAL) for i in range(len(PLAN))]
        assert seen == [12.0, 12.0, 12.0]
        assert sample(workers.scrape(1), UP) == 3.0
        # Worker 1 exits. Until the master marks it dead its gauge file
        # still counts; after, it does not. Its counter values stay.
        pid = workers.stop(0)
        assert sample(workers.scrape(1), UP) == 3.0
        mark_process_dead(pid, multiproc_dir)  # type: ignore[no-untyped-call]
        page = workers.scrape(2)
        assert sample(page, UP) == 2.0
        assert sample(page, TOTAL) == 12.0
    finally:
        workers.close()


def test_child_exit_hook_marks_the_worker_dead(
    multiproc_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", multiproc_dir)
    workers = Workers([1, 1], multiproc_dir)
    try:
        pid = workers.stop(1)

        class Worker:
            def __init__(self, pid: int) -> None:
                self.pid = pid

        child_exit(object(), Worker(pid))  # as gunicorn's master calls it
        assert sample(workers.scrape(0), UP) == 1.0
    finally:
        workers.close()


def test_a_missing_sample_is_an_error_not_a_zero() -> None:
    with pytest.raises(LookupError):
        sample("# HELP x y\n# TYPE x counter\n", TOTAL)
