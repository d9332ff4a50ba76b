"""1.4 Decorators: what `@` does, what functools.wraps keeps, and cross-cutting
concerns (caching, authentication, logging, retries) woven around functions.

Claims, each asserted before it is printed:

- `@d` above `def f` binds `f = d(f)`, and it runs when the `def` runs (at
  import time for a module-level function), not when `f` is called.
- A wrapper written without functools.wraps loses the wrapped function's
  `__name__`, `__qualname__`, `__doc__`, `__annotations__`, `__dict__` and
  signature, and has no `__wrapped__`; with wraps all of them come back.
  WRAPPER_ASSIGNMENTS gained `__type_params__` in 3.12 and names
  `__annotate__` instead of `__annotations__` from 3.14; the script checks
  the tuple that matches the running version and prints only the verdict.
- A hand-written LRU cache (a decorator factory: three levels of functions)
  counts the same hits and misses as functools.lru_cache / functools.cache.
- An authentication decorator on a framework-free handler answers 401 with a
  `WWW-Authenticate: Bearer` challenge when the token is missing or unknown
  (RFC 6750 section 3), 403 when the role is too low, and calls the handler
  otherwise.
- Stacked decorators are applied bottom-up and entered top-down, and the
  order matters: a cache stacked above the auth check serves a cached 200 to
  an anonymous caller.

Semantics chosen: tokens and roles live in a fixed table; "admin" outranks
"reader"; a request whose Authorization header is absent or uses another
scheme carries no Bearer credentials, so the 401 has no error code; an
unknown or empty Bearer token is `invalid_token`.
"""

import functools
import inspect
import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


# ANCHOR: sugar
REGISTRY: list[str] = []


def register(func: Callable[P, R]) -> Callable[P, R]:
    """A decorator that records the function and returns it unchanged."""
    REGISTRY.append(func.__name__)
    return func


@register
def health() -> str:
    return "ok"


def readiness() -> str:
    return "ready"


readiness = register(readiness)  # exactly what `@register` does above
# ANCHOR_END: sugar


# ANCHOR: wraps
def naive_trace(func: Callable[P, R]) -> Callable[P, R]:
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return func(*args, **kwargs)

    return wrapper


def traced(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return func(*args, **kwargs)

    return wrapper


def fetch_user(user_id: int, *, with_email: bool = False) -> dict[str, object]:
    """Load one user by id."""
    return {"id": user_id, "email": "a@example.com" if with_email else None}


fetch_user.owner = "accounts-team"  # type: ignore[attr-defined]


def metadata_lost(wrapper: Callable[..., object]) -> list[str]:
    """The parts of fetch_user's identity that the wrapper did not keep."""
    lost = [
        attr
        for attr in ("__name__", "__qualname__", "__doc__", "__annotations__")
        if getattr(wrapper, attr) != getattr(fetch_user, attr)
    ]
    if "owner" not in vars(wrapper):
        lost.append("__dict__")
    if getattr(wrapper, "__wrapped__", None) is not fetch_user:
        lost.append("__wrapped__")
    if inspect.signature(wrapper) != inspect.signature(fetch_user):
        lost.append("signature")
    return lost
    # ANCHOR_END: wraps


# ANCHOR: assignments
def wrapper_assignments_match_this_version() -> bool:
    assigned = functools.WRAPPER_ASSIGNMENTS
    always = {"__module__", "__name__", "__qualname__", "__doc__"}
    type_params_expected = sys.version_info >= (3, 12)
    annotations_attr = (
        "__annotate__" if sys.version_info >= (3, 14) else "__annotations__"
    )
    return (
        always <= set(assigned)
        and ("__type_params__" in assigned) == type_params_expected
        and annotations_attr in assigned
        and functools.WRAPPER_UPDATES == ("__dict__",)
    )
    # ANCHOR_END: assignments


# ANCHOR: lru
class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int | None
    currsize: int


def lru_cache_by_hand(
    maxsize: int | None = 128,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Level 1, the factory: takes the decorator's own arguments."""

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        """Level 2, the decorator: takes the function, runs once per `@`."""
        cache: OrderedDict[Hashable, R] = OrderedDict()
        hits = misses = 0

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            """Level 3, the wrapper: runs on every call."""
            nonlocal hits, misses
            # Keyword order is ignored; an unhashable argument raises
            # TypeError here, as it does with functools.lru_cache.
            key = (args, frozenset(kwargs.items()))
            if key in cache:
                hits += 1
                cache.move_to_end(key)
                return cache[key]
            misses += 1
            result = func(*args, **kwargs)
            cache[key] = result
            if maxsize is not None and len(cache) > maxsize:
                cache.popitem(last=False)  # evict the least recently used
            return result

        def cache_info() -> CacheInfo:
            return CacheInfo(hits, misses, maxsize, len(cache))

        wrapper.cache_info = cache_info  # type: ignore[attr-defined]
        return wrapper

    return decorator


@lru_cache_by_hand(maxsize=None)
def fib(n: int) -> int:
    # The recursive calls look up the global name `fib`, which `@` rebound to
    # the wrapper, so they go through the cache too.
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@functools.cache
def fib_stdlib(n: int) -> int:
    return n if n < 2 else fib_stdlib(n - 1) + fib_stdlib(n - 2)
    # ANCHOR_END: lru


StrDecorator = Callable[[Callable[[str], str]], Callable[[str], str]]


def profile_loads(cached: StrDecorator) -> tuple[list[str], Any]:
    """Run the same access pattern through a cache of size 2."""
    loads: list[str] = []

    @cached
    def load_profile(user: str) -> str:
        loads.append(user)
        return user.upper()

    for user in ["ann", "bob", "ann", "cy", "bob"]:
        load_profile(user)
    return loads, load_profile.cache_info()  # type: ignore[attr-defined]


# ANCHOR: auth_types
Request = dict[str, Any]  # {"method": ..., "path": ..., "headers": {...}}


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class User:
    name: str
    role: str


TOKENS = {
    "alice-token": User("alice", "admin"),
    "bob-token": User("bob", "reader"),
}
ROLE_RANK = {"reader": 1, "admin": 2}
CHALLENGE = 'Bearer realm="api"'

Handler = Callable[[Request, User], Response]
Endpoint = Callable[[Request], Response]


def header(request: Request, name: str) -> str | None:
    """Header names are matched without regard to case."""
    for key, value in request.get("headers", {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def unauthorized(error: str | None) -> Response:
    # No credentials at all: no error code (RFC 6750 section 3.1).
    if error is None:
        return Response(401, "unauthorized", {"WWW-Authenticate": CHALLENGE})
    challenge = f'{CHALLENGE}, error="{error}"'
    return Response(401, "unauthorized", {"WWW-Authenticate": challenge})


def forbidden(role: str) -> Response:
    challenge = f'{CHALLENGE}, error="insufficient_scope", scope="{role}"'
    return Response(403, "forbidden", {"WWW-Authenticate": challenge})
    # ANCHOR_END: auth_types


# ANCHOR: auth
def requires_role(role: str) -> Callable[[Handler], Endpoint]:
    def decorator(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        def endpoint(request: Request) -> Response:
            auth = header(request, "Authorization")
            if auth is None or not auth.startswith("Bearer "):
                return unauthorized(None)
            user = TOKENS.get(auth.removeprefix("Bearer ").strip())
            if user is None:
                return unauthorized("invalid_token")
            if ROLE_RANK[user.role] < ROLE_RANK[role]:
                return forbidden(role)
            return handler(request, user)

        return endpoint

    return decorator


@requires_role("admin")
def admin_report(request: Request, user: User) -> Response:
    return Response(200, f"quarterly report for {user.name}")
    # ANCHOR_END: auth


def get(path: str, token: str | None = None) -> Request:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return {"method": "GET", "path": path, "headers": headers}


# ANCHOR: order
TRACE: list[str] = []


def logged(label: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        TRACE.append(f"apply {label}")

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            TRACE.append(f"enter {label}")
            try:
                return func(*args, **kwargs)
            finally:
                TRACE.append(f"exit {label}")

        return wrapper

    return decorator


@logged("outer")
@logged("inner")
def ping() -> str:
    TRACE.append("ping")
    return "pong"


def cache_by_path(
    func: Callable[Concatenate[Request, P], Response],
) -> Callable[Concatenate[Request, P], Response]:
    store: dict[str, Response] = {}

    @functools.wraps(func)
    def wrapper(
        request: Request, /, *args: P.args, **kwargs: P.kwargs
    ) -> Response:
        path = request["path"]
        if path not in store:
            store[path] = func(request, *args, **kwargs)
        return store[path]

    return wrapper


@cache_by_path  # applied last, so it runs first: before the auth check
@requires_role("admin")
def leaky_report(request: Request, user: User) -> Response:
    return Response(200, "q3 numbers")


@requires_role("admin")  # auth first, then the cache
@cache_by_path
def safe_report(request: Request, user: User) -> Response:
    return Response(200, "q3 numbers")
    # ANCHOR_END: order


# ANCHOR: retry
def retry(
    times: int, on: tuple[type[Exception], ...]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, times + 1):
                try:
                    return func(*args, **kwargs)
                except on:
                    if attempt == times:
                        raise
            raise ValueError("times must be at least 1")

        return wrapper

    return decorator


def flaky(failures: int) -> Callable[[], str]:
    attempts: list[int] = []

    @retry(times=3, on=(ConnectionError,))
    def call_upstream() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) <= failures:
            raise ConnectionError("upstream reset")
        return f"ok after {len(attempts)} attempts"

    return call_upstream
    # ANCHOR_END: retry


def show_sugar() -> None:
    assert REGISTRY == ["health", "readiness"], REGISTRY
    assert health() == "ok" and readiness() == "ready"
    print(f"decorators ran when the defs ran, before any call: {REGISTRY}")


def show_wraps() -> None:
    lost = metadata_lost(naive_trace(fetch_user))
    expected = [
        "__name__",
        "__qualname__",
        "__doc__",
        "__annotations__",
        "__dict__",
        "__wrapped__",
        "signature",
    ]
    assert lost == expected, lost
    print(f"without functools.wraps the wrapper loses: {', '.join(lost)}")
    kept = traced(fetch_user)
    assert metadata_lost(kept) == [], metadata_lost(kept)
    assert kept.__wrapped__ is fetch_user  # type: ignore[attr-defined]
    print(f"with functools.wraps: nothing lost, __name__ = {kept.__name__!r}")
    matches = wrapper_assignments_match_this_version()
    assert matches, functools.WRAPPER_ASSIGNMENTS
    print(f"WRAPPER_ASSIGNMENTS matches this Python version: {matches}")


def show_caches() -> None:
    assert fib(30) == 832040 and fib_stdlib(30) == 832040
    ours = fib.cache_info()  # type: ignore[attr-defined]
    theirs = fib_stdlib.cache_info()
    # Memoized recursion misses once for each n in 0..30 and hits fib(n - 2)
    # for every n >= 3.
    assert (ours.hits, ours.misses) == (30 - 2, 30 + 1), ours
    assert (ours.hits, ours.misses) == (theirs.hits, theirs.misses), theirs
    print(
        f"fib(30): by hand hits={ours.hits} misses={ours.misses}; "
        f"functools.cache hits={theirs.hits} misses={theirs.misses}"
    )

    loads, info = profile_loads(lru_cache_by_hand(maxsize=2))
    std_loads, std = profile_loads(functools.lru_cache(maxsize=2))
    assert loads == std_loads == ["ann", "bob", "cy", "bob"], std_loads
    assert (info.hits, info.misses, info.currsize) == (1, 4, 2), info
    assert (std.hits, std.misses, std.currsize) == (1, 4, 2), std
    print(
        f"LRU maxsize=2 over ann,bob,ann,cy,bob: loads {loads}, "
        f"hits={info.hits} misses={info.misses}, "
        "as functools.lru_cache"
    )

    try:
        fib([1])  # type: ignore[arg-type]
    except TypeError:
        unhashable_rejected = True
    else:
        unhashable_rejected = False
    assert unhashable_rejected
    print(f"unhashable argument raises TypeError: {unhashable_rejected}")


def show_auth() -> None:
    basic = {
        "path": "/admin/report",
        "headers": {"authorization": "Basic YWxpY2U6cHc="},
    }
    cases = [
        ("no token", get("/admin/report"), 401),
        ("Basic scheme", basic, 401),
        ("unknown token", get("/admin/report", "nope"), 401),
        ("reader's token", get("/admin/report", "bob-token"), 403),
        ("admin's token", get("/admin/report", "alice-token"), 200),
    ]
    for label, request, status in cases:
        response = admin_report(request)
        assert response.status == status, (label, response)
        challenge = response.headers.get("WWW-Authenticate", "-")
        print(
            f"  {label:<15} -> {response.status}  {challenge}  {response.body}"
        )
    challenge = unauthorized(None).headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="api"', challenge
    # wraps makes the endpoint report the handler's signature, not its own.
    params = list(inspect.signature(admin_report).parameters)
    assert params == ["request", "user"], params
    print(f"inspect.signature(admin_report) follows __wrapped__: {params}")


def show_order() -> None:
    assert TRACE == ["apply inner", "apply outer"], TRACE
    print(f"applied bottom-up: {TRACE}")
    TRACE.clear()
    assert ping() == "pong"
    calls = ["enter outer", "enter inner", "ping", "exit inner", "exit outer"]
    assert calls == TRACE, TRACE
    print(f"entered top-down: {TRACE}")

    admin = get("/admin/report", "alice-token")
    anonymous = get("/admin/report")
    assert leaky_report(admin).status == safe_report(admin).status == 200
    leaked = leaky_report(anonymous).status
    refused = safe_report(anonymous).status
    assert (leaked, refused) == (200, 401), (leaked, refused)
    print(
        f"anonymous after admin: cache above auth -> {leaked}, "
        f"auth above cache -> {refused}"
    )


def show_retry() -> None:
    assert flaky(failures=2)() == "ok after 3 attempts"
    try:
        flaky(failures=3)()
    except ConnectionError:
        gave_up = True
    else:
        gave_up = False
    assert gave_up
    print(
        f"retry(times=3): two failures -> {flaky(failures=2)()!r}; "
        f"three failures re-raise: {gave_up}"
    )


def main() -> None:
    show_sugar()
    show_wraps()
    show_caches()
    print("requires_role('admin') on GET /admin/report:")
    show_auth()
    show_order()
    show_retry()


if __name__ == "__main__":
    main()
