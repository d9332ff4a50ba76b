"""Tests of 3.9's Python client (third_party_requests.py), against its
fake provider on loopback: a call without a timeout stays blocked on a
provider that never answers (bounded by the test), the same call with a
timeout fails fast, urllib3's Retry retries GET through 503/429 but never
POST, honours Retry-After in seconds and as an HTTP-date (and raises on a
malformed one), and gives up
after its total; tenacity does the same with full jitter."""

import email.utils
import threading
import time

import pytest
import requests
import tenacity
from third_party_requests import TIMEOUT, running, session


def test_no_timeout_blocks_for_as_long_as_the_provider_wants() -> None:
    with running(["hang"]) as p:
        errors: list[Exception] = []

        def call() -> None:
            try:
                requests.get(f"{p.url}/items/1")  # no timeout: the bug
            except Exception as e:
                errors.append(e)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(timeout=1.0)
        assert caller.is_alive(), "still waiting after 1 s"
        p.release.set()  # the provider answers: the thread ends
        caller.join(timeout=5.0)
        assert not caller.is_alive()
        assert errors == []


def test_the_same_call_with_a_timeout_fails_fast() -> None:
    with running(["hang"]) as p:
        start = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            requests.get(f"{p.url}/items/1", timeout=(1.0, 0.3))
        assert time.monotonic() - start < 1.0


def test_after_retries_a_read_timeout_is_a_connection_error() -> None:
    # requests maps urllib3's MaxRetryError to ConnectionError, so an
    # `except requests.Timeout` no longer sees the timeout.
    with running(["hang", "hang"]) as p:
        with pytest.raises(requests.ConnectionError) as caught:
            session(attempts=2).get(f"{p.url}/items/1", timeout=(1.0, 0.2))
        assert not isinstance(caught.value, requests.Timeout)
        assert "Read timed out" in str(caught.value)
        assert len(p.calls) == 2


def test_get_is_retried_through_503_and_429() -> None:
    with running([503, 429, 503]) as p:
        r = session().get(f"{p.url}/items/1", timeout=TIMEOUT)
        assert r.status_code == 200
        assert p.calls == ["GET"] * 4


def test_post_is_not_retried() -> None:
    with running([503, 503]) as p:
        r = session().post(f"{p.url}/charges", timeout=TIMEOUT)
        assert r.status_code == 503
        assert p.calls == ["POST"]


def test_retries_stop_at_the_total() -> None:
    with running([503] * 10) as p:
        r = session(attempts=3).get(f"{p.url}/items/1", timeout=TIMEOUT)
        assert r.status_code == 503
        assert len(p.calls) == 3


def test_retry_after_in_seconds_is_honoured() -> None:
    with running([429], retry_after="1") as p:
        start = time.monotonic()
        r = session().get(f"{p.url}/items/1", timeout=TIMEOUT)
        assert r.status_code == 200
        assert time.monotonic() - start >= 1.0
        assert len(p.calls) == 2


def test_retry_after_as_an_http_date_is_honoured() -> None:
    date = email.utils.formatdate(time.time() + 2, usegmt=True)
    with running([429], retry_after=date) as p:
        start = time.monotonic()
        r = session().get(f"{p.url}/items/1", timeout=TIMEOUT)
        assert r.status_code == 200
        assert time.monotonic() - start >= 0.9
        assert len(p.calls) == 2


def test_a_malformed_retry_after_is_an_error_not_a_retry() -> None:
    # urllib3 refuses the header instead of falling back to its backoff.
    with running([429], retry_after="soon") as p:
        with pytest.raises(requests.exceptions.InvalidHeader, match="soon"):
            session().get(f"{p.url}/items/1", timeout=TIMEOUT)
        assert len(p.calls) == 1


# ANCHOR: tenacity
def flaky_get(url: str) -> requests.Response:
    r = requests.get(url, timeout=TIMEOUT)
    if r.status_code in (429, 502, 503, 504):
        r.raise_for_status()  # HTTPError: retried below
    return r


def test_tenacity_retries_with_full_jitter() -> None:
    retrying = tenacity.retry(
        stop=tenacity.stop_after_attempt(4),
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.1),
        retry=tenacity.retry_if_exception_type(
            (requests.ConnectionError, requests.Timeout, requests.HTTPError)
        ),
        reraise=True,
    )(flaky_get)
    with running([503, 503, 503]) as p:
        assert retrying(f"{p.url}/items/1").status_code == 200
        assert len(p.calls) == 4
    with running([503] * 4) as p:
        with pytest.raises(requests.HTTPError):
            retrying(f"{p.url}/items/1")
        assert len(p.calls) == 4


# ANCHOR_END: tenacity
