"""3.9 in Python: `requests` against a misbehaving provider. A fake
provider (http.server on loopback) answers from a script of faults: 503,
429 with Retry-After, or an answer that never comes. The client is a
Session with urllib3's Retry mounted: capped exponential backoff, only
idempotent methods, Retry-After honoured, and a timeout on every call.

Run: python listings/design/py/third_party_requests.py"""

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


# ANCHOR: provider
class Provider(ThreadingHTTPServer):
    """Each request takes the next fault: an int status (with a
    Retry-After for 429), "hang" (no answer until `release`), or 200 once
    the script is empty."""

    daemon_threads = True

    def __init__(self, faults: list[int | str], retry_after: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.faults: deque[int | str] = deque(faults)
        self.retry_after = retry_after
        self.calls: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class Handler(BaseHTTPRequestHandler):
    server: Provider

    def answer(self) -> None:
        with self.server.lock:
            self.server.calls.append(self.command)
            fault = self.server.faults.popleft() if self.server.faults else 200
        if fault == "hang":
            self.server.release.wait()  # until the test lets go
            fault = 200
        assert isinstance(fault, int)
        self.send_response(fault)
        if fault == 429:
            self.send_header("Retry-After", self.server.retry_after)
        self.send_header("Content-Length", "2")
        self.end_headers()
        # The client may have given up first.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(b"{}")

    do_GET = do_POST = answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


# ANCHOR_END: provider


@contextlib.contextmanager
def running(
    faults: list[int | str], retry_after: str = "0"
) -> Iterator[Provider]:
    provider = Provider(faults, retry_after)
    thread = threading.Thread(
        target=provider.serve_forever, args=(0.02,), daemon=True
    )
    thread.start()
    try:
        yield provider
    finally:
        provider.release.set()
        provider.shutdown()
        provider.server_close()


# ANCHOR: session
TIMEOUT = (1.0, 0.5)  # (connect, read) seconds: never leave it out


def session(attempts: int = 4) -> requests.Session:
    retry = Retry(
        total=attempts - 1,
        backoff_factor=0.05,  # 0, 0.1, 0.2, ... s, capped by backoff_max
        backoff_max=2.0,
        backoff_jitter=0.05,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE"}),
        respect_retry_after_header=True,
        retry_after_max=5,  # the default is 6 hours
        raise_on_status=False,  # hand back the last answer
    )
    s = requests.Session()
    s.mount("http://", HTTPAdapter(max_retries=retry))
    s.mount("https://", HTTPAdapter(max_retries=retry))
    return s


# ANCHOR_END: session


def main() -> None:
    # ANCHOR: main
    with running([503, 429, 503]) as p:
        r = session().get(f"{p.url}/items/1", timeout=TIMEOUT)
        print(f"GET through 503, 429, 503: {r.status_code}, calls {p.calls}")
    with running([503]) as p:
        r = session().post(f"{p.url}/charges", timeout=TIMEOUT)
        print(f"POST on 503: {r.status_code}, calls {p.calls}")
    with running([503] * 10) as p:
        r = session().get(f"{p.url}/items/1", timeout=TIMEOUT)
        print(f"GET, provider down: {r.status_code}, calls {len(p.calls)}")
    with running(["hang"]) as p:
        start = time.monotonic()
        try:
            requests.get(f"{p.url}/items/1", timeout=TIMEOUT)
        except requests.Timeout as e:
            waited = time.monotonic() - start
            print(f"GET, no answer: {type(e).__name__} in < 1 s: {waited < 1}")
    with running(["hang", "hang"]) as p:
        try:
            session(attempts=2).get(f"{p.url}/items/1", timeout=TIMEOUT)
        except requests.RequestException as e:
            name, timeout = type(e).__name__, isinstance(e, requests.Timeout)
            print(f"same, Retry mounted: {name}, a Timeout: {timeout}")
    # ANCHOR_END: main


if __name__ == "__main__":
    main()
