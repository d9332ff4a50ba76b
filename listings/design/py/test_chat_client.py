"""The `websockets` client (17.4) against `chat_server serve` processes:
two processes relaying through Redis, the handshake refusals, the close
codes for a message too big and for a flood, and presence expiring after
a process is killed."""

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from chat_client import (
    Scratch,
    Server,
    chat_server,
    closed_code,
    join,
    receive,
    refused,
    scratch,
    send,
    server_binary,
    token,
)
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


@pytest.fixture(scope="module")
def binary() -> Path:
    found = server_binary()
    if found is None:
        pytest.skip("chat_server is not built: cargo build --bin chat_server")
    return found


@pytest.fixture
def s(database_url: str, redis_url: str) -> Iterator[Scratch]:
    with scratch() as s:
        yield s


@pytest.fixture(scope="module")
def pair(
    binary: Path, database_url: str, redis_url: str
) -> Iterator[tuple[Server, Server]]:
    """Two server processes over one schema and one Redis prefix, shared
    by the tests that do not kill them (each uses its own message ids)."""
    with (
        scratch() as s,
        chat_server(binary, s) as one,
        chat_server(binary, s) as two,
    ):
        yield one, two


def test_clients_on_two_processes_talk(pair: tuple[Server, Server]) -> None:
    async def talk(one: str, two: str) -> None:
        alice, bob = await join(one, "alice"), await join(two, "bob")
        first = (await send(alice, 1, "p-1", "hi"))["seq"]
        got = await receive(bob)
        assert (got["type"], got["seq"], got["from"]) == ("msg", first, "alice")
        assert (await send(bob, 1, "p-2", "hi"))["seq"] == first + 1
        assert (await receive(alice))["seq"] == first + 1
        again = await send(alice, 1, "p-1", "hi")
        assert (again["seq"], again["duplicate"]) == (first, True)
        await alice.close()
        await bob.close()

    asyncio.run(talk(pair[0].url, pair[1].url))


def test_handshake_refusals(pair: tuple[Server, Server]) -> None:
    async def statuses(url: str) -> list[int]:
        return [
            await refused(url, ""),
            await refused(url, token("alice", expires=int(time.time()) - 1)),
            await refused(url, token("alice", secret="another secret")),
            await refused(url, token("alice"), "https://evil.example"),
            await refused(url, token("alice")),
        ]

    assert asyncio.run(statuses(pair[0].url)) == [401, 401, 401, 403, 101]


# ANCHOR: reconnect_loop
def test_a_401_ends_the_reconnect_loop_at_once(
    pair: tuple[Server, Server],
) -> None:
    async def status(url: str) -> int:
        expired = token("alice", expires=int(time.time()) - 1)
        try:
            async for ws in connect(f"{url}?token={expired}", proxy=None):
                await ws.close()
                return 101
        except InvalidStatus as e:  # fatal: a retry would fail the same way
            return e.response.status_code
        return 0

    started = time.monotonic()
    assert asyncio.run(status(pair[0].url)) == 401
    assert time.monotonic() - started < 2, "no backoff, no retry"


# ANCHOR_END: reconnect_loop


# ANCHOR: close_codes
def test_close_codes_for_too_big_and_too_fast(
    pair: tuple[Server, Server],
) -> None:
    async def codes(url: str) -> tuple[int | None, int | None]:
        alice = await join(url, "alice")
        big = {"type": "send", "conv": 1, "id": "big", "body": "x" * 5000}
        await alice.send(json.dumps(big))
        too_big = await closed_code(alice)
        bob = await join(url, "bob")
        for n in range(15):
            m = {"type": "send", "conv": 1, "id": f"f{n}", "body": "spam"}
            await bob.send(json.dumps(m))
        return too_big, await closed_code(bob)

    assert asyncio.run(codes(pair[1].url)) == (1009, 1008)


# ANCHOR_END: close_codes


# ANCHOR: crash
def test_presence_expires_after_the_process_is_killed(
    binary: Path, s: Scratch, redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    key = f"{s.prefix}:presence:bob"

    async def crash(server: Server) -> None:
        bob = await join(server.url, "bob")
        await asyncio.sleep(0.65)  # over two TTLs, idle: websockets answers
        assert r.exists(key)  # the server's pings, so bob stays online
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=5)
        assert r.exists(key), "nobody deleted it: the process died"
        assert 0 < r.pttl(key) <= 300, "it expires within one TTL"
        killed = time.monotonic()
        while r.exists(key):
            assert time.monotonic() - killed < 2, "presence outlived its TTL"
            await asyncio.sleep(0.02)
        await bob.wait_closed()  # the client saw its connection go

    with chat_server(binary, s, presence_ttl_ms=300) as server:
        asyncio.run(crash(server))


# ANCHOR_END: crash
