"""2.5 Rate limiting in FastAPI: a Redis-backed limiter used as a dependency
(per route) and as middleware (global), with three algorithms that run as
atomic Lua scripts: fixed window, sliding window log and GCRA.

- The scripts are the files in ../lua/, loaded with EVALSHA (redis-py's
  Script falls back to SCRIPT LOAD on NOSCRIPT). The Rust listing
  src/bin/rate_limit_layer.rs runs the same files; both print their SHA1.
- Time: in production the script asks Redis (TIME), so every app instance
  uses one clock; tests and `main` pass the time in, so results are exact.
- A client is its API key (X-API-Key: malformed -> 400, unknown -> 401),
  or else its address. X-Forwarded-For is read only when the TCP peer is a
  configured trusted proxy, from the right, skipping trusted hops; a
  malformed entry from a trusted proxy is a 400.
- A denial is 429 with Retry-After (RFC 9110 section 10.2.3) and the fields
  of draft-ietf-httpapi-ratelimit-headers-11: RateLimit-Policy and
  RateLimit, in an application/problem+json body (the draft's section 5.1).
- Redis unreachable: the global limit and ordinary routes fail open, the
  login route fails closed (503). Either way a warning is logged and a
  counter at /metrics goes up.
- `main` (needs Redis at REDIS_URL, default redis://127.0.0.1:6379/0; exits
  77 without it) counts what each algorithm allows at a window's edge and
  after a burst, on a hand-driven clock. The tests (test_rate_limiting.py)
  run the app under uvicorn and send real HTTP requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import os
import re
import sys
import uuid
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LUA = Path(__file__).resolve().parent.parent / "lua"
log = logging.getLogger("rate_limiting")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Clock = Callable[[], int]  # milliseconds


def ceil_seconds(ms: int) -> int:
    """Whole seconds, rounded up: a client that waits this long is not early."""
    return math.ceil(ms / 1000)


# ANCHOR: policy
Algorithm = Literal["fixed_window", "sliding_log", "gcra"]


@dataclass(frozen=True)
class Policy:
    """`limit` requests per `window_s` seconds for each client."""

    name: str
    algorithm: Algorithm
    limit: int
    window_s: int
    burst: int = 0  # GCRA only: how many may go at once (0: `limit`)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", self.name):
            raise ValueError(f"bad policy name {self.name!r}")
        if self.algorithm not in get_args(Algorithm):
            raise ValueError(f"unknown algorithm {self.algorithm!r}")
        if self.limit < 1 or self.window_s < 1 or self.burst < 0:
            raise ValueError("limit and window must be positive")
        if self.algorithm == "gcra" and self.window_ms % self.limit:
            raise ValueError("gcra: window in ms must divide by the limit")

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    def keys(self, prefix: str, client: str) -> list[str]:
        # The {hash tag} puts a client's keys in one Redis Cluster slot.
        tag = f"{prefix}:{{{self.name}:{client}}}"
        if self.algorithm == "sliding_log":
            return [f"{tag}:log", f"{tag}:seq"]
        return [f"{tag}:{self.algorithm}"]

    def args(self, now_ms: int | None) -> list[int | str]:
        now: int | str = "" if now_ms is None else now_ms  # "": Redis TIME
        args: list[int | str] = [self.limit, self.window_ms, now]
        if self.algorithm == "gcra":
            args.append(self.burst or self.limit)
        return args

    # ANCHOR_END: policy


# ANCHOR: decision
@dataclass(frozen=True)
class Decision:
    policy: Policy
    allowed: bool
    remaining: int  # requests still allowed now
    reset_ms: int  # until `remaining` grows
    retry_after_ms: int  # 0 when allowed

    def fields(self) -> dict[str, str]:
        """draft-ietf-httpapi-ratelimit-headers-11 fields, and Retry-After
        on a denial (the draft: not earlier than the effective window)."""
        p = self.policy
        fields = {
            "RateLimit-Policy": f'"{p.name}";q={p.limit};w={p.window_s}',
            "RateLimit": f'"{p.name}";r={self.remaining}'
            f";t={ceil_seconds(self.reset_ms)}",
        }
        if not self.allowed:
            fields["Retry-After"] = str(ceil_seconds(self.retry_after_ms))
        return fields

    # ANCHOR_END: decision


# ANCHOR: limiter
class RedisLimiter:
    """One policy's Lua script, run for one client at a time. redis-py's
    Script sends EVALSHA and, on NOSCRIPT, loads the script and retries."""

    def __init__(
        self,
        client: aioredis.Redis,
        policy: Policy,
        prefix: str,
        clock: Clock | None = None,  # None: the script asks Redis (TIME)
    ) -> None:
        self.policy, self.prefix, self.clock = policy, prefix, clock
        source = (LUA / f"rate_limit_{policy.algorithm}.lua").read_text()
        self.script = client.register_script(source)

    async def hit(self, client: str) -> Decision:
        now = None if self.clock is None else self.clock()
        reply = await self.script(
            keys=self.policy.keys(self.prefix, client),
            args=self.policy.args(now),
        )
        allowed, remaining, reset_ms, retry_ms = (int(x) for x in reply)
        return Decision(
            self.policy, allowed == 1, remaining, reset_ms, retry_ms
        )

    # ANCHOR_END: limiter


class Refused(Exception):
    """Caller input refused with a 4xx status and a message."""

    def __init__(
        self, status: int, message: str, headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


# ANCHOR: client_ip
def client_ip(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> Address:
    """The client's address. X-Forwarded-For counts only when the TCP peer is
    a trusted proxy: then it is read from the right (each proxy appends the
    address it saw), skipping trusted proxies. Entries left of the first
    untrusted one were written by the client and are ignored."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:  # no peer, or a Unix socket's path
        raise Refused(400, "no client address") from None
    if not any(address in net for net in trusted):
        return address  # a client's own X-Forwarded-For proves nothing
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            raise Refused(400, "malformed X-Forwarded-For") from None
        if not any(address in net for net in trusted):
            return address
    return address  # every hop is a proxy of ours: the last one seen
    # ANCHOR_END: client_ip


# ANCHOR: identity
API_KEY = re.compile(r"[A-Za-z0-9_-]{20,64}")


def client_id(sent: Sequence[str], known: frozenset[str], ip: Address) -> str:
    """The key a client is limited by: its API key if it sent one (checked,
    so that made-up keys cannot buy fresh quotas), else its address."""
    if not sent:
        return f"ip:{ip}"
    if len(sent) > 1:
        raise Refused(400, "send one X-API-Key header")
    if not API_KEY.fullmatch(sent[0]):
        raise Refused(400, "malformed X-API-Key: 20-64 of A-Z a-z 0-9 _ -")
    if sent[0] not in known:
        challenge = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
        raise Refused(401, "unknown API key", challenge)
    # Redis sees a digest, never the secret itself.
    return "key:" + hashlib.sha256(sent[0].encode()).hexdigest()[:32]
    # ANCHOR_END: identity


class Unavailable(Exception):
    """The limiter's store failed and the policy fails closed."""


class RateLimited(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.policy.name)
        self.decision = decision


# ANCHOR: guard
@dataclass
class Guard:
    """A limiter plus what to do when Redis fails: allow (fail open) or
    refuse (fail closed). Both log a warning and count the failure."""

    limiter: RedisLimiter
    fail_open: bool
    metrics: Counter[str]

    async def check(self, client: str) -> Decision | None:
        name = self.limiter.policy.name
        try:
            decision = await self.limiter.hit(client)
        except RedisError as error:
            mode = "open" if self.fail_open else "closed"
            self.metrics[
                f'ratelimit_store_errors_total{{policy="{name}"}}'
            ] += 1
            log.warning(
                "rate limit %s: Redis failed (%s), failing %s",
                name,
                type(error).__name__,
                mode,
            )
            if self.fail_open:
                return None
            raise Unavailable(name) from error
        outcome = "allowed" if decision.allowed else "denied"
        self.metrics[
            f'ratelimit_requests_total{{policy="{name}",outcome="{outcome}"}}'
        ] += 1
        return decision

    # ANCHOR_END: guard


def problem(
    status: int, title: str, headers: Mapping[str, str], **extra: object
) -> Response:
    """An RFC 9457 problem details response."""
    body = {"title": title, "status": status, **extra}
    return JSONResponse(
        body,
        status_code=status,
        headers=dict(headers),
        media_type="application/problem+json",
    )


def too_many(decision: Decision) -> Response:
    """429 with the draft's quota-exceeded problem type (section 5.1)."""
    fields = decision.fields()
    response = problem(
        429,
        "Too Many Requests",
        {"Retry-After": fields["Retry-After"]},
        type="https://iana.org/assignments/http-problem-types#quota-exceeded",
        **{"violated-policies": [decision.policy.name]},
    )
    add_fields(response, decision)
    return response


def add_fields(response: Response, decision: Decision | None) -> None:
    """Appends this policy's fields: one field line per policy, which the
    draft's Structured Fields lists allow (RFC 9651 section 3.1)."""
    if decision is None:
        return
    for name, value in decision.fields().items():
        if name != "Retry-After":
            response.headers.append(name, value)


@dataclass(frozen=True)
class Settings:
    redis_url: str
    redis_timeout_s: float
    prefix: str
    global_policy: Policy
    route_limit: int
    route_window_s: int
    trusted: tuple[Network, ...]
    api_keys: frozenset[str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """RATELIMIT_GLOBAL / RATELIMIT_ROUTE as `limit/seconds`."""

        def rate(name: str, default: str) -> tuple[int, int]:
            limit, _, window = env.get(name, default).partition("/")
            return int(limit), int(window)

        global_limit, global_window = rate("RATELIMIT_GLOBAL", "1000/60")
        route_limit, route_window = rate("RATELIMIT_ROUTE", "50/60")
        proxies = env.get("TRUSTED_PROXIES", "")
        keys = env.get("API_KEYS", "")
        return cls(
            redis_url=env.get("REDIS_URL", DEFAULT_REDIS_URL),
            redis_timeout_s=float(env.get("RATELIMIT_REDIS_TIMEOUT", "0.5")),
            prefix=env.get("RATELIMIT_PREFIX", "ratelimit"),
            global_policy=Policy("global", "gcra", global_limit, global_window),
            route_limit=route_limit,
            route_window_s=route_window,
            trusted=tuple(
                ipaddress.ip_network(p.strip())
                for p in proxies.split(",")
                if p.strip()
            ),
            api_keys=frozenset(k for k in keys.split(",") if k),
        )


def redis_client(url: str, timeout_s: float = 0.5) -> aioredis.Redis:
    """Short timeouts and no retries: a limiter that waits for Redis makes
    every request wait."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def create_app(settings: Settings) -> FastAPI:
    store = redis_client(settings.redis_url, settings.redis_timeout_s)
    metrics: Counter[str] = Counter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = FastAPI(lifespan=lifespan)

    def guard(policy: Policy, fail_open: bool) -> Guard:
        return Guard(
            RedisLimiter(store, policy, settings.prefix), fail_open, metrics
        )

    def ip_of(request: Request) -> Address:
        peer = request.client.host if request.client else None
        xff = request.headers.getlist("x-forwarded-for")
        return client_ip(peer, xff, settings.trusted)

    # ANCHOR: dependency
    def rate_limit(g: Guard) -> Callable[[Request, Response], Awaitable[None]]:
        """A per-route limit, used as `dependencies=[Depends(...)]`."""

        async def dependency(request: Request, response: Response) -> None:
            sent = request.headers.getlist("x-api-key")
            client = client_id(sent, settings.api_keys, ip_of(request))
            decision = await g.check(client)  # None: failed open
            if decision is not None and not decision.allowed:
                raise RateLimited(decision)
            add_fields(response, decision)

        return dependency

    # ANCHOR_END: dependency

    global_guard = guard(settings.global_policy, fail_open=True)

    # ANCHOR: middleware
    @app.middleware("http")
    async def global_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Every request, before routing: one limit per client address."""
        if request.url.path in ("/healthz", "/metrics"):
            return await call_next(request)
        try:
            decision = await global_guard.check(f"ip:{ip_of(request)}")
        except Refused as error:
            return problem(error.status, error.message, error.headers)
        if decision is not None and not decision.allowed:
            return too_many(decision)
        response = await call_next(request)
        add_fields(response, decision)
        return response

    # ANCHOR_END: middleware

    # ANCHOR: handlers
    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        return problem(error.status, error.message, error.headers)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, error: RateLimited) -> Response:
        return too_many(error.decision)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, error: Unavailable) -> Response:
        # Fail closed: refuse, and say when to come back.
        return problem(503, "rate limiter unavailable", {"Retry-After": "5"})

    # ANCHOR_END: handlers

    # ANCHOR: routes
    for algorithm in get_args(Algorithm):
        policy = Policy(
            algorithm, algorithm, settings.route_limit, settings.route_window_s
        )
        limit = Depends(rate_limit(guard(policy, fail_open=True)))

        @app.get(f"/{algorithm}", dependencies=[limit])
        async def limited() -> dict[str, str]:
            return {"status": "ok"}

    login_policy = Policy("login", "sliding_log", 5, 60)
    login_limit = Depends(rate_limit(guard(login_policy, fail_open=False)))

    @app.post("/login", dependencies=[login_limit])
    async def login() -> dict[str, str]:
        return {"status": "checked"}

    # ANCHOR_END: routes

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def show_metrics() -> PlainTextResponse:
        lines = [f"{name} {value}" for name, value in sorted(metrics.items())]
        return PlainTextResponse("\n".join(lines) + "\n")

    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory rate_limiting:app_from_env`."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(levelname)s %(name)s: %(message)s")
        )
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return create_app(Settings.from_env(os.environ))


# --- The program: what each algorithm allows, on a hand-driven clock -----


class ManualClock:
    def __init__(self, ms: int = 0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


async def allowed_times(
    store: aioredis.Redis, policy: Policy, times: Sequence[int]
) -> list[int]:
    """Sends one request at each time (ms) and returns the allowed ones."""
    clock = ManualClock()
    prefix = f"demo:{uuid.uuid4().hex}"
    limiter = RedisLimiter(store, policy, prefix, clock)
    allowed = []
    try:
        for t in times:
            clock.ms = t
            if (await limiter.hit("client")).allowed:
                allowed.append(t)
    finally:
        await store.delete(*policy.keys(prefix, "client"))
    return allowed


# ANCHOR: edge
EDGE = [59_999] * 10 + [60_000] * 10  # 10 just before, 10 at the boundary


async def edge_of_window(store: aioredis.Redis) -> None:
    print("Window edge: limit 10 per 60 s, 10 requests at 59.999 s, 10 at 60 s")
    for algorithm in get_args(Algorithm):
        allowed = await allowed_times(
            store, Policy("demo", algorithm, 10, 60), EDGE
        )
        before = sum(t < 60_000 for t in allowed)
        after = len(allowed) - before
        print(f"  {algorithm:<13} {before} + {after} = {len(allowed)} in 1 ms")
    # ANCHOR_END: edge


# ANCHOR: burst
BURST_THEN_DRIP = [0] * 10 + list(range(1_000, 120_000, 1_000))


async def burst_then_drip(store: aioredis.Redis) -> None:
    print("10 at 0 s, then one a second: allowed in [0 s, 60 s), [60 s, 120 s)")
    policies = [Policy("demo", a, 10, 60) for a in get_args(Algorithm)]
    policies.append(Policy("demo", "gcra", 10, 60, burst=1))
    for policy in policies:
        allowed = await allowed_times(store, policy, BURST_THEN_DRIP)
        first = sum(t < 60_000 for t in allowed)
        label: str = policy.algorithm
        if policy.algorithm == "gcra":
            label += f" burst {policy.burst or policy.limit}"
        print(f"  {label:<16} {first:>2}, {len(allowed) - first:>2}")
    # ANCHOR_END: burst


async def denial(store: aioredis.Redis) -> None:
    print("The 11th request in a window (sliding_log, at 30 s):")
    policy = Policy("demo", "sliding_log", 10, 60)
    clock = ManualClock(0)
    prefix = f"demo:{uuid.uuid4().hex}"
    limiter = RedisLimiter(store, policy, prefix, clock)
    try:
        for t in range(0, 30_001, 3_000):
            clock.ms = t
            decision = await limiter.hit("client")
    finally:
        await store.delete(*policy.keys(prefix, "client"))
    print(f"  allowed: {decision.allowed}")
    for name, value in decision.fields().items():
        print(f"  {name}: {value}")


async def demo(url: str) -> int:
    store = redis_client(url)
    try:
        await store.ping()
    except RedisError as error:
        print(
            f"rate_limiting: Redis at {url} unavailable: {error}",
            file=sys.stderr,
        )
        return 77
    try:
        print(
            "Lua scripts, SHA1 as EVALSHA sends it (the Rust listing agrees):"
        )
        for algorithm in get_args(Algorithm):
            path = LUA / f"rate_limit_{algorithm}.lua"
            sha = hashlib.sha1(path.read_bytes()).hexdigest()
            print(f"  {path.name:<28} {sha}")
        await edge_of_window(store)
        await burst_then_drip(store)
        await denial(store)
    finally:
        await store.aclose()
    return 0


def main() -> int:
    return asyncio.run(demo(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)))


if __name__ == "__main__":
    sys.exit(main())
