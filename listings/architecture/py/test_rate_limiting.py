"""Tests of 2.5 rate limiting.

Without a server: policies, client addresses behind trusted proxies,
API keys, the response fields. Against Redis (skipped when it is
unreachable, unless REQUIRE_SERVICES=1): each Lua script against a plain
Python model of its algorithm (Hypothesis), the window-edge counts, Redis
TIME, bad arguments, hash tags. Over HTTP, with the app running under
uvicorn in subprocesses on loopback ports: 429 with its fields, two
instances sharing Redis letting exactly the limit through, keying by API key
or address, spoofed X-Forwarded-For, bad input, and Redis down (fail open for
routes, fail closed for login, with a log line and a metric).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, get_args

import httpx
import pytest
import rate_limiting as rl
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rate_limiting import Policy
from redis.crc import key_slot

HERE = Path(__file__).resolve().parent
KEY_A = "a" * 20
KEY_B = "b" * 20


# --- Without a server -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Bad", "gcra", 1, 1), "bad policy name"),
        (("x", "leaky", 1, 1), "unknown algorithm"),
        (("x", "gcra", 0, 1), "positive"),
        (("x", "sliding_log", 1, 0), "positive"),
        (("x", "gcra", 7, 60), "divide"),
    ],
)
def test_bad_policies_are_refused(
    args: tuple[str, rl.Algorithm, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(*args)


def test_keys_share_a_hash_tag_so_a_cluster_keeps_them_together() -> None:
    log, seq = Policy("p", "sliding_log", 5, 60).keys("rl", "ip:192.0.2.1")
    assert (log, seq) == ("rl:{p:ip:192.0.2.1}:log", "rl:{p:ip:192.0.2.1}:seq")
    assert key_slot(log.encode()) == key_slot(seq.encode())
    # Without the tag the two names land in different slots.
    assert key_slot(b"rl:p:ip:192.0.2.1:log") != key_slot(
        b"rl:p:ip:192.0.2.1:seq"
    )


NETS = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        # Not a proxy of ours: its X-Forwarded-For is ignored, even garbage.
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),
        ("198.51.100.7", ["not an address"], "198.51.100.7"),
        # A trusted proxy: the rightmost address that is not a proxy.
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["1.1.1.1, 203.0.113.9, 10.0.0.1"], "203.0.113.9"),
        ("10.0.0.2", ["1.1.1.1", "203.0.113.9, 10.0.0.1"], "203.0.113.9"),
        ("10.0.0.2", ["2001:db8::5"], "2001:db8::5"),
        ("::1", ["203.0.113.9"], "203.0.113.9"),
        # A garbage entry left of the client's is the client's own text.
        ("10.0.0.2", ["<script>, 203.0.113.9"], "203.0.113.9"),
        # No header, or only proxies: the last proxy seen.
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.1"], "10.0.0.1"),
    ],
)
def test_client_address(peer: str, xff: list[str], client: str) -> None:
    assert rl.client_ip(peer, xff, NETS) == ipaddress.ip_address(client)


@pytest.mark.parametrize(
    "xff", ["", "203.0.113.9,", "203.0.113.9:443", "garbage", "1.2.3.4.5"]
)
def test_a_trusted_proxy_passing_garbage_is_a_400(xff: str) -> None:
    with pytest.raises(rl.Refused) as caught:
        rl.client_ip("10.0.0.2", [xff], NETS)
    assert (caught.value.status, caught.value.message) == (
        400,
        "malformed X-Forwarded-For",
    )


@pytest.mark.parametrize("peer", [None, "", "/run/app.sock"])
def test_no_peer_address_is_a_400(peer: str | None) -> None:
    with pytest.raises(rl.Refused, match="no client address"):
        rl.client_ip(peer, [], NETS)


IP = ipaddress.ip_address("192.0.2.1")


def test_the_key_is_the_api_key_digest_or_else_the_address() -> None:
    known = frozenset({KEY_A})
    assert rl.client_id([], known, IP) == "ip:192.0.2.1"
    digest = hashlib.sha256(KEY_A.encode()).hexdigest()[:32]
    assert rl.client_id([KEY_A], known, IP) == f"key:{digest}"


@pytest.mark.parametrize(
    ("sent", "status", "message"),
    [
        ([""], 400, "malformed X-API-Key"),
        (["short"], 400, "malformed X-API-Key"),
        (["a" * 65], 400, "malformed X-API-Key"),
        (["a" * 19 + "{"], 400, "malformed X-API-Key"),
        (["a" * 19 + "é"], 400, "malformed X-API-Key"),
        ([KEY_A, KEY_A], 400, "send one X-API-Key header"),
        ([KEY_B], 401, "unknown API key"),
    ],
)
def test_bad_api_keys(sent: list[str], status: int, message: str) -> None:
    with pytest.raises(rl.Refused) as caught:
        rl.client_id(sent, frozenset({KEY_A}), IP)
    assert caught.value.status == status
    assert caught.value.message.startswith(message)
    if status == 401:
        assert caught.value.headers["WWW-Authenticate"].startswith("ApiKey")


def test_fields_follow_the_draft_and_round_retry_after_up() -> None:
    policy = Policy("items", "gcra", 50, 60)
    allowed = rl.Decision(policy, True, 49, 1_200, 0)
    assert allowed.fields() == {
        "RateLimit-Policy": '"items";q=50;w=60',
        "RateLimit": '"items";r=49;t=2',
    }
    denied = rl.Decision(policy, False, 0, 1_001, 1_001)
    assert denied.fields()["Retry-After"] == "2"
    assert denied.fields()["RateLimit"] == '"items";r=0;t=2'


def test_settings_from_the_environment() -> None:
    s = rl.Settings.from_env(
        {
            "RATELIMIT_GLOBAL": "5/60",
            "TRUSTED_PROXIES": "10.0.0.0/8, ::1",
            "API_KEYS": f"{KEY_A},{KEY_B}",
        }
    )
    assert s.global_policy == Policy("global", "gcra", 5, 60)
    assert (s.route_limit, s.route_window_s) == (50, 60)
    assert s.trusted == NETS
    assert s.api_keys == {KEY_A, KEY_B}


# --- Against Redis: the scripts -------------------------------------------


def allowed_times(url: str, policy: Policy, times: Sequence[int]) -> list[int]:
    async def go() -> list[int]:
        # Not the app's 0.5 s: what these tests check is the scripts, and
        # a loaded machine may take longer than that to connect.
        store = rl.redis_client(url, timeout_s=10.0)
        try:
            return await rl.allowed_times(store, policy, times)
        finally:
            await store.aclose()

    return asyncio.run(go())


def model(policy: Policy, times: Sequence[int]) -> list[int]:
    """Each algorithm the obvious way, in Python: the oracle."""
    limit, window = policy.limit, policy.window_ms
    allowed: list[int] = []
    tat: int | None = None
    for t in times:
        if policy.algorithm == "fixed_window":
            ok = sum(s // window == t // window for s in allowed) < limit
        elif policy.algorithm == "sliding_log":
            ok = sum(t - s < window for s in allowed) < limit
        else:
            interval = window // limit
            new_tat = max(t if tat is None else tat, t) + interval
            ok = t >= new_tat - (policy.burst or limit) * interval
            if ok:
                tat = new_tat
        if ok:
            allowed.append(t)
    return allowed


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Policy, list[int]]:
    algorithm = draw(st.sampled_from(get_args(rl.Algorithm)))
    limit = draw(st.integers(1, 6))
    window_s = draw(st.sampled_from([12, 30, 60]))
    burst = draw(st.integers(0, 8)) if algorithm == "gcra" else 0
    steps = draw(
        st.lists(
            st.one_of(
                st.just(0), st.integers(1, 2_000), st.integers(0, 70_000)
            ),
            max_size=40,
        )
    )
    start = draw(st.integers(0, 10**12))
    times, t = [], start
    for step in steps:
        t += step
        times.append(t)
    return Policy("prop", algorithm, limit, window_s, burst), times


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenarios())
def test_each_script_matches_its_model(
    redis_url: str, scenario: tuple[Policy, list[int]]
) -> None:
    policy, times = scenario
    allowed = allowed_times(redis_url, policy, times)
    assert allowed == model(policy, times)
    # The bounds each algorithm promises, over every span that starts at
    # an allowed request: the sliding log never more than `limit` in one
    # window; GCRA at most burst + d / interval in d ms.
    for i, start in enumerate(allowed):
        later = allowed[i:]
        if policy.algorithm == "sliding_log":
            in_window = [t for t in later if t - start < policy.window_ms]
            assert len(in_window) <= policy.limit
        if policy.algorithm == "gcra":
            interval = policy.window_ms // policy.limit
            burst = policy.burst or policy.limit
            for j, end in enumerate(later):
                assert j + 1 <= burst + (end - start) // interval


def test_the_fixed_window_lets_twice_the_limit_through_at_its_edge(
    redis_url: str,
) -> None:
    counts = {
        a: len(allowed_times(redis_url, Policy("edge", a, 10, 60), rl.EDGE))
        for a in get_args(rl.Algorithm)
    }
    assert counts == {"fixed_window": 20, "sliding_log": 10, "gcra": 10}


def test_after_a_burst_gcra_allows_burst_plus_rate(redis_url: str) -> None:
    def first_minute(policy: Policy) -> int:
        times = allowed_times(redis_url, policy, rl.BURST_THEN_DRIP)
        return sum(t < 60_000 for t in times)

    assert first_minute(Policy("b", "sliding_log", 10, 60)) == 10
    assert first_minute(Policy("b", "gcra", 10, 60)) == 19
    assert first_minute(Policy("b", "gcra", 10, 60, burst=1)) == 10


@pytest.mark.parametrize("algorithm", get_args(rl.Algorithm))
def test_with_no_time_passed_the_script_reads_redis_time(
    redis_url: str, algorithm: rl.Algorithm
) -> None:
    """Writes after TIME are allowed: scripts replicate their effects."""
    store = redis.Redis.from_url(redis_url)
    policy = Policy("clock", algorithm, 3, 3600)  # no window edge nearby
    keys = policy.keys(f"t:{uuid.uuid4().hex}", "c")
    script = store.register_script(
        (rl.LUA / f"rate_limit_{algorithm}.lua").read_text()
    )
    try:
        replies = [script(keys=keys, args=policy.args(None)) for _ in range(4)]
        assert [r[0] for r in replies] == [1, 1, 1, 0]
        assert [r[1] for r in replies] == [2, 1, 0, 0]
        # The wait comes from the server's clock: within the window.
        assert 0 < replies[3][3] <= 3_600_000
        assert store.pttl(keys[0]) > 0
    finally:
        store.delete(*keys)


@pytest.mark.parametrize(
    "args",
    [["0", "60000", "1"], ["5", "x", "1"], ["5", "60000", "noon"]],
)
@pytest.mark.parametrize("algorithm", get_args(rl.Algorithm))
def test_bad_arguments_are_an_error_reply(
    redis_url: str, algorithm: rl.Algorithm, args: list[str]
) -> None:
    store = redis.Redis.from_url(redis_url)
    source = (rl.LUA / f"rate_limit_{algorithm}.lua").read_text()
    keys = [f"t:{{{uuid.uuid4().hex}}}:a", f"t:{{{uuid.uuid4().hex}}}:b"]
    if algorithm != "sliding_log":
        keys = keys[:1]
    with pytest.raises(redis.ResponseError, match="rate limit: bad"):
        store.register_script(source)(keys=keys, args=[*args, "5"])
    assert store.exists(*keys) == 0


def test_gcra_refuses_an_interval_that_is_not_whole_ms(redis_url: str) -> None:
    store = redis.Redis.from_url(redis_url)
    script = store.register_script((rl.LUA / "rate_limit_gcra.lua").read_text())
    with pytest.raises(redis.ResponseError, match="bad limit, window"):
        script(keys=[f"t:{uuid.uuid4().hex}"], args=[7, 60_000, 1, 7])


def test_evalsha_finds_the_script_by_the_sha1_of_the_file(
    redis_url: str,
) -> None:
    store = redis.Redis.from_url(redis_url)
    for path in rl.LUA.glob("rate_limit_*.lua"):
        script = store.register_script(path.read_text())
        assert script.sha == hashlib.sha1(path.read_bytes()).hexdigest()
        store.script_load(path.read_text())
        assert store.script_exists(script.sha) == [True]


# --- Over HTTP: the app under uvicorn ---------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: IO[bytes]

    def stderr(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")


def start(env: dict[str, str]) -> Server:
    """uvicorn on a kernel-picked loopback port; its own proxy-header
    handling off (--no-proxy-headers), so the app decides whom to trust."""
    # Closed by stop(): the server writes to it for as long as it runs.
    log = tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "rate_limiting:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-proxy-headers",
            "--no-access-log",
        ],
        cwd=HERE,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(
            r"Uvicorn running on (http://127\.0\.0\.1:\d+)",
            Path(log.name).read_text(errors="replace"),
        )
        if found:
            return Server(process, found.group(1), log)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(
        "uvicorn did not start:\n" + Path(log.name).read_text(errors="replace")
    )


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.log.close()


KEYS = [f"key{n:02d}" + "k" * 15 for n in range(20)]


@pytest.fixture(scope="module")
def prefix(redis_url: str) -> Iterator[str]:
    """One key prefix for the module's servers; their keys are deleted after."""
    name = f"t-rl-{uuid.uuid4().hex}"
    yield name
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter(match=f"{name}*"):
        store.delete(key)


@pytest.fixture(scope="module")
def pair(prefix: str, redis_url: str) -> Iterator[tuple[Server, Server]]:
    """Two app instances sharing Redis and one prefix: 50 requests per hour
    and route, loopback trusted as a proxy. Redis timeouts of 5 s instead of
    0.5: on a loaded machine, opening 100 connections at once can take
    longer than 0.5 s, and a route that fails open then lets requests
    through uncounted (which the metric would show)."""
    env = {
        "REDIS_URL": redis_url,
        "RATELIMIT_REDIS_TIMEOUT": "5",
        "RATELIMIT_PREFIX": prefix,
        "RATELIMIT_ROUTE": "50/3600",
        "RATELIMIT_GLOBAL": "60000/60",
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "API_KEYS": ",".join(KEYS),
    }
    first = start(env)
    try:
        second = start(env)
    except BaseException:
        stop(first)
        raise
    yield first, second
    stop(first)
    stop(second)


@pytest.fixture(scope="module")
def untrusting(prefix: str, redis_url: str) -> Iterator[Server]:
    """An instance whose only trusted proxies are in 10.0.0.0/8, so a
    loopback client is a client, and 5 requests a minute per address."""
    server = start(
        {
            "REDIS_URL": redis_url,
            "RATELIMIT_PREFIX": f"{prefix}-untrusting",
            "RATELIMIT_GLOBAL": "5/60",
            "TRUSTED_PROXIES": "10.0.0.0/8",
        }
    )
    yield server
    stop(server)


@pytest.fixture(scope="module")
def no_redis() -> Iterator[Server]:
    """An instance pointed at a port where nothing listens (bound, never
    listening, so nobody else takes it: connections are refused)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        server = start({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})
        yield server
        stop(server)


def get_all(
    requests: Sequence[tuple[str, str, dict[str, str]]],
) -> list[httpx.Response]:
    """Sends (method, url, headers) requests concurrently, up to 50 at a
    time. The timeout is generous (it also covers waiting for one of the 50
    connections) so that a loaded CI machine does not fail the test."""

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(60.0),
            limits=httpx.Limits(max_connections=50),
        ) as client:
            return await asyncio.gather(
                *(client.request(m, u, headers=h) for m, u, h in requests)
            )

    return asyncio.run(go())


def wait_out_a_window_edge(redis_url: str, window_s: int) -> None:
    """Sleeps past a fixed window's end if one is less than 10 s away."""
    seconds, _ = redis.Redis.from_url(redis_url).time()
    left = window_s - seconds % window_s
    if left < 10:
        time.sleep(left + 0.1)


@pytest.mark.parametrize("algorithm", get_args(rl.Algorithm))
def test_two_instances_let_exactly_the_limit_through(
    redis_url: str, pair: tuple[Server, Server], algorithm: str
) -> None:
    if algorithm == "fixed_window":
        wait_out_a_window_edge(redis_url, 3600)
    key = KEYS[get_args(rl.Algorithm).index(algorithm)]
    requests = [
        ("GET", f"{pair[i % 2].base}/{algorithm}", {"X-API-Key": key})
        for i in range(200)
    ]
    statuses = [r.status_code for r in get_all(requests)]
    errors = [httpx.get(f"{s.base}/metrics").text for s in pair]
    assert not any("store_errors" in text for text in errors), errors
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150


def test_a_429_carries_retry_after_and_both_policies(
    pair: tuple[Server, Server],
) -> None:
    headers = {"X-API-Key": KEYS[5]}
    with httpx.Client(base_url=pair[0].base) as client:
        first = client.get("/gcra", headers=headers)
        for _ in range(49):
            client.get("/gcra", headers=headers)
        denied = client.get("/gcra", headers=headers)
    assert first.status_code == 200
    assert first.headers.get_list("RateLimit-Policy") == [
        '"gcra";q=50;w=3600',
        '"global";q=60000;w=60',
    ]
    assert first.headers.get_list("RateLimit")[0] == '"gcra";r=49;t=72'
    assert denied.status_code == 429
    assert denied.headers["Content-Type"] == "application/problem+json"
    body = denied.json()
    assert body["title"] == "Too Many Requests"
    assert body["type"].endswith("/http-problem-types#quota-exceeded")
    assert body["violated-policies"] == ["gcra"]
    retry_after = int(denied.headers["Retry-After"])
    assert 0 < retry_after <= 72  # one request every 72 s
    rate_limit = denied.headers.get_list("RateLimit")
    assert rate_limit[0] == f'"gcra";r=0;t={retry_after}'
    assert rate_limit[1].startswith('"global";r=')


def test_api_keys_have_their_own_quotas_and_the_address_is_the_fallback(
    pair: tuple[Server, Server],
) -> None:
    base = pair[1].base
    by_key = [("GET", f"{base}/sliding_log", {"X-API-Key": KEYS[6]})] * 50
    other_key = ("GET", f"{base}/sliding_log", {"X-API-Key": KEYS[7]})
    # No key: the address, which X-Forwarded-For gives (loopback is a
    # trusted proxy for this pair).
    by_ip = ("GET", f"{base}/sliding_log", {"X-Forwarded-For": "203.0.113.50"})
    assert {r.status_code for r in get_all(by_key)} == {200}
    assert [r.status_code for r in get_all([by_key[0], other_key, by_ip])] == [
        429,
        200,
        200,
    ]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_quota(
    redis_url: str, pair: tuple[Server, Server]
) -> None:
    wait_out_a_window_edge(redis_url, 3600)
    base = pair[0].base
    one = {"X-Forwarded-For": "198.51.100.1, 203.0.113.60"}
    spoofed_left = {"X-Forwarded-For": "198.51.100.2, 203.0.113.60"}
    other = {"X-Forwarded-For": "203.0.113.61"}
    requests = [("GET", f"{base}/fixed_window", one)] * 50
    assert {r.status_code for r in get_all(requests)} == {200}
    # Changing what is left of the proxy's entry changes nothing.
    last = get_all(
        [
            ("GET", f"{base}/fixed_window", spoofed_left),
            ("GET", f"{base}/fixed_window", other),
        ]
    )
    assert [r.status_code for r in last] == [429, 200]


def test_rotating_x_forwarded_for_from_an_untrusted_client_gets_nowhere(
    untrusting: Server,
) -> None:
    requests = [
        (
            "GET",
            f"{untrusting.base}/gcra",
            {"X-Forwarded-For": f"203.0.113.{n}"},
        )
        for n in range(12)
    ]
    statuses = [r.status_code for r in get_all(requests)]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7


@pytest.mark.parametrize(
    ("headers", "status", "title"),
    [
        ({"X-API-Key": "short"}, 400, "malformed X-API-Key"),
        ({"X-API-Key": "x" * 300}, 400, "malformed X-API-Key"),
        ({"X-API-Key": "z" * 30}, 401, "unknown API key"),
        ({"X-Forwarded-For": "999.1.1.1"}, 400, "malformed X-Forwarded-For"),
        ({"X-Forwarded-For": "203.0.113.9, ,"}, 400, "malformed X-Forw"),
    ],
)
def test_bad_input_gets_a_clear_status(
    pair: tuple[Server, Server],
    headers: dict[str, str],
    status: int,
    title: str,
) -> None:
    response = httpx.get(f"{pair[0].base}/sliding_log", headers=headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["title"].startswith(title)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("ApiKey")


def test_two_api_key_headers_are_a_400(pair: tuple[Server, Server]) -> None:
    response = httpx.get(
        f"{pair[0].base}/gcra",
        headers=[("X-API-Key", KEYS[8]), ("X-API-Key", KEYS[9])],
    )
    assert (response.status_code, response.json()["title"]) == (
        400,
        "send one X-API-Key header",
    )


def test_garbage_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    untrusting: Server,
) -> None:
    response = httpx.get(
        f"{untrusting.base}/healthz", headers={"X-Forwarded-For": "garbage"}
    )
    assert response.status_code == 200


def test_redis_down_routes_fail_open_and_login_fails_closed(
    no_redis: Server,
) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=no_redis.base, timeout=10) as client:
        route = client.get("/gcra")
        login = client.post("/login")
        metrics = client.get("/metrics").text
    assert time.monotonic() - started < 5  # refused at once, no retries
    assert route.status_code == 200
    assert "RateLimit" not in route.headers
    assert login.status_code == 503
    assert login.headers["Retry-After"] == "5"
    assert login.json()["title"] == "rate limiter unavailable"
    assert 'ratelimit_store_errors_total{policy="global"} 2' in metrics
    assert 'ratelimit_store_errors_total{policy="gcra"} 1' in metrics
    assert 'ratelimit_store_errors_total{policy="login"} 1' in metrics
    log = no_redis.stderr()
    assert (
        "rate limit gcra: Redis failed (ConnectionError), failing open" in log
    )
    assert (
        "rate limit login: Redis failed (ConnectionError), failing closed"
        in (log)
    )
