"""3.6 Chat from Python: the `websockets` client (a library we did not
write) against two `chat_server serve` processes that share one
PostgreSQL schema and one Redis. alice talks to the first process, bob to
the second; the handshake refusals and the size limit as a client sees
them.

Run `cargo build --bin chat_server` first; without the binary, PostgreSQL
or Redis this exits 77.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.typing import Origin

DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "python secret"
ORIGIN = "https://chat.example"


def server_binary() -> Path | None:
    """target/debug/chat_server, under CARGO_TARGET_DIR if it is set."""
    root = Path(__file__).resolve().parents[3]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    binary = target / "debug" / "chat_server"
    return binary if binary.is_file() else None


# ANCHOR: token
def token(user: str, expires: int | None = None, secret: str = SECRET) -> str:
    """`user.expiry.signature`: the server's format, made independently
    (HMAC-SHA256 of `user.expiry`, unpadded base64url)."""
    expires = int(time.time()) + 3600 if expires is None else expires
    payload = f"{user}.{expires}"
    tag = hmac.new(secret.encode(), payload.encode(), hashlib.sha256)
    b64 = base64.urlsafe_b64encode(tag.digest()).rstrip(b"=").decode()
    return f"{payload}.{b64}"


# ANCHOR_END: token


@dataclass
class Scratch:
    """A PostgreSQL schema and a Redis key prefix of our own."""

    schema: str
    prefix: str


@contextmanager
def scratch() -> Iterator[Scratch]:
    name = f"chat_py_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield Scratch(name, name)
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        with redis.Redis.from_url(REDIS_URL) as r:
            keys = list(r.scan_iter(f"{name}:*"))
            if keys:
                r.delete(*keys)


@dataclass
class Server:
    url: str
    process: "subprocess.Popen[str]"


@contextmanager
def chat_server(
    binary: Path, s: Scratch, presence_ttl_ms: int = 30_000
) -> Iterator[Server]:
    args = [str(binary), "serve", "--schema", s.schema, "--prefix", s.prefix]
    args += ["--secret", SECRET, "--origin", ORIGIN, "--port", "0"]
    args += ["--presence-ttl-ms", str(presence_ttl_ms)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "listening on ws://..."
        if not line.startswith("listening on "):
            raise RuntimeError(f"chat_server did not start: {line!r}")
        yield Server(line.split()[-1], process)
    finally:
        process.kill()
        process.wait(timeout=5)


# ANCHOR: client
async def join(url: str, user: str, origin: str = ORIGIN) -> ClientConnection:
    """Opens a socket (token in the query string) and reads `ready`."""
    uri = f"{url}?token={token(user)}"
    ws = await connect(uri, origin=Origin(origin), proxy=None)
    ready = json.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return ws


async def send(ws: ClientConnection, conv: int, id: str, body: str) -> Any:
    """Sends and waits for the ack (a retry would reuse `id`)."""
    msg = {"type": "send", "conv": conv, "id": id, "body": body}
    await ws.send(json.dumps(msg))
    while True:
        got = json.loads(await ws.recv())
        if got["type"] in ("ack", "error"):
            return got


async def receive(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=2))


# ANCHOR_END: client


async def refused(url: str, user_token: str, origin: str = ORIGIN) -> int:
    """The HTTP status of a handshake the server refuses."""
    try:
        uri = f"{url}?token={user_token}"
        ws = await connect(uri, origin=Origin(origin), proxy=None)
    except InvalidStatus as e:
        return e.response.status_code
    await ws.close()
    return 101


async def closed_code(ws: ClientConnection) -> int | None:
    """Reads until the server closes; its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout=2)
    except ConnectionClosedError as e:
        return e.rcvd.code if e.rcvd else None


# ANCHOR: main
async def session(one: Server, two: Server) -> None:
    alice = await join(one.url, "alice")
    bob = await join(two.url, "bob")
    ack = await send(alice, 1, "py-1", "hello from Python")
    print(f"alice (process 1) sends py-1: ack seq {ack['seq']}")
    got = await receive(bob)
    print(f"bob (process 2) receives:     seq {got['seq']} {got['body']!r}")
    ack = await send(bob, 1, "py-2", "hello back")
    print(f"bob replies py-2:             ack seq {ack['seq']}")
    got = await receive(alice)
    print(f"alice receives:               seq {got['seq']} {got['body']!r}")
    ack = await send(alice, 1, "py-1", "hello from Python")
    print(f"alice resends py-1:           duplicate={ack['duplicate']}")
    print(f"no token:                     HTTP {await refused(one.url, '')}")
    evil = await refused(one.url, token("alice"), "https://evil.example")
    print(f"Origin https://evil.example:  HTTP {evil}")
    big = {"type": "send", "conv": 1, "id": "big", "body": "x" * 5000}
    await alice.send(json.dumps(big))
    print(f"a 5,000-byte message:         closed {await closed_code(alice)}")
    await bob.close()


def main() -> None:
    binary = server_binary()
    if binary is None:
        print("build it first: cargo build --bin chat_server", file=sys.stderr)
        sys.exit(77)
    try:
        psycopg.connect(DATABASE_URL, connect_timeout=3).close()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except (psycopg.OperationalError, redis.RedisError) as e:
        print(f"a server is unavailable: {e}", file=sys.stderr)
        sys.exit(77)
    with (
        scratch() as s,
        chat_server(binary, s) as one,
        chat_server(binary, s) as two,
    ):
        asyncio.run(session(one, two))


# ANCHOR_END: main


if __name__ == "__main__":
    main()
