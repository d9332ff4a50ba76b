"""Tests of 2.8's service (container_service.py): its probe endpoints in
process, and uvicorn's own SIGTERM handling for real: uvicorn serving the
app as a child process gets SIGTERM during a slow request. It closes its
listening socket at once (new connections are refused: there is no drain
phase, which is why the Deployment has a preStop sleep), finishes the
request in flight with 200, then raises the SIGTERM again with the
default action restored: a plain process dies of it (-15, exit code 143
in a shell or a container status), while as PID 1 of a PID namespace the
kernel drops that second SIGTERM and the exit status is 0."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import container_service
import httpx
import pid1_signals
import pytest
from fastapi.testclient import TestClient

HERE = Path(__file__).resolve().parent


def test_probes_while_serving() -> None:
    with TestClient(container_service.app) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        r = client.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "in_flight": 0}


def test_not_ready_outside_the_lifespan() -> None:
    """Before start-up has finished and once shutdown has begun."""
    client = TestClient(container_service.app)  # no `with`: no lifespan
    container_service.Health.ready = False
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "not ready", "in_flight": 0}
    with TestClient(container_service.app) as serving:
        assert serving.get("/readyz").status_code == 200
    assert container_service.Health.ready is False


@pytest.mark.parametrize(
    ("query", "status"),
    [("ms=soon", 422), ("", 422), ("ms=-1", 422), ("ms=10001", 400)],
)
def test_bad_slow_requests_are_refused(query: str, status: int) -> None:
    with TestClient(container_service.app) as client:
        assert client.get(f"/slow?{query}").status_code == status


# --- uvicorn and SIGTERM, for real ------------------------------------------


@pytest.fixture(params=[False, True], ids=["child", "pid1"])
def uvicorn(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """uvicorn serving the app on a free loopback port (its port read from
    its own start-up log line), as a plain child or as PID 1 of a new PID
    namespace; with the pid to send SIGTERM to."""
    as_pid1: bool = request.param
    ns = ["unshare", "--pid", "--fork", "--mount-proc"] if as_pid1 else []
    if as_pid1 and (why := pid1_signals.unshare_works()) is not None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 and no PID namespace: {why}")
        pytest.skip(f"no PID namespace: {why}")
    proc = subprocess.Popen(
        [
            *ns,
            sys.executable,
            "-m",
            "uvicorn",
            "container_service:app",
            "--port",
            "0",
            "--timeout-graceful-shutdown",
            "5",
        ],
        cwd=HERE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    port = 0
    deadline = time.monotonic() + 15
    while not port and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if m := re.search(r"running on http://127\.0\.0\.1:(\d+)", line):
            port = int(m[1])
        elif not line:
            break
    try:
        assert port, "uvicorn did not start"
        # Keep reading its log so that a full pipe never blocks it.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        target = pid1_signals.namespace_init(proc.pid) if as_pid1 else proc.pid
        yield proc, port, target
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)


def test_uvicorn_refuses_new_connections_and_finishes_in_flight(
    uvicorn: tuple[subprocess.Popen[str], int, int],
) -> None:
    proc, port, target = uvicorn
    as_pid1 = target != proc.pid
    base = f"http://127.0.0.1:{port}"
    results: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: results.append(
            httpx.get(f"{base}/slow?ms=800", timeout=10)
        )
    )
    slow.start()
    for _ in range(500):  # until the request is inside the handler
        if httpx.get(f"{base}/readyz").json()["in_flight"] == 1:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the slow request never started")
    os.kill(target, signal.SIGTERM)
    sent = time.monotonic()
    # uvicorn's main loop checks for a signal every 0.1 s: within that
    # tick, long before the slow request is done, the port is closed.
    refused_at = None
    while time.monotonic() - sent < 0.5:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except ConnectionRefusedError:
            refused_at = time.monotonic() - sent
            break
        time.sleep(0.01)
    assert refused_at is not None and refused_at < 0.3
    assert slow.is_alive()
    slow.join(timeout=5)
    assert results[0].status_code == 200
    assert results[0].json() == {"slept_ms": 800}
    assert proc.wait(timeout=5) == (0 if as_pid1 else -signal.SIGTERM)
    assert time.monotonic() - sent < 5  # before --timeout-graceful-shutdown
