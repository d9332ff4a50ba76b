"""2.10 API versioning in FastAPI: the Rust listing's design in Python.

- One core in the newest shape; `CHANGES` walks a response back to the
  client's version (newest change first).
- Versioned routers: `/v1` (the date 2024-01-01, deprecated) and `/v2`,
  where a dependency reads the `Api-Version` header (absent: 2025-01-15).
  An unknown or malformed version is a 400 that lists the supported ones.
- `/v1` answers carry Deprecation (RFC 9745), Sunset (RFC 8594) and Link
  (`rel="deprecation"`, `rel="sunset"`), and its routes are marked
  `deprecated` in the OpenAPI document.
- Request models refuse unknown fields (`extra="forbid"`); pydantic's
  default would drop a misspelt field silently.
- The tests (test_api_versioning_fastapi.py) replay the same recorded
  contracts as the Rust listing (../contracts/*.json) against this app.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import httpx
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

Body = dict[str, Any]

# ANCHOR: versions
V1 = date(2024, 1, 1)
V2_VERSIONS = (date(2025, 1, 15), date(2025, 6, 1))
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def rename(body: Body, old: str, new: str) -> None:
    if old in body and new not in body:
        body[new] = body.pop(old)


def paused_is_inactive(body: Body) -> None:
    if body.get("status") == "paused":
        body["status"] = "inactive"


# (version that introduced the change, how to undo it in a response)
CHANGES: list[tuple[date, Callable[[Body], None]]] = [
    (date(2025, 1, 15), lambda b: rename(b, "display_name", "name")),
    (date(2025, 6, 1), paused_is_inactive),
]


def downgrade(body: Body, pinned: date) -> Body:
    body = dict(body)
    for version, undo in reversed(CHANGES):
        if version > pinned:
            undo(body)
    return body


# ANCHOR_END: versions


@dataclass
class Customer:
    id: int
    display_name: str
    email: str
    status: Literal["active", "inactive", "paused"] = "active"


def seed() -> dict[int, Customer]:
    return {
        1: Customer(1, "Ada Lovelace", "ada@example.com"),
        2: Customer(2, "Grace Hopper", "grace@example.com", "paused"),
    }


# ANCHOR: dependency
class VersionError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def supported() -> dict[str, list[str]]:
    return {
        "/v1": [V1.isoformat()],
        "/v2": [v.isoformat() for v in V2_VERSIONS],
    }


def v2_version(
    api_version: Annotated[str | None, Header()] = None,
) -> date:
    """The `Api-Version` header of a /v2 request, checked."""
    if api_version is None:
        return V2_VERSIONS[0]
    try:
        if not DATE.fullmatch(api_version):
            raise ValueError(api_version)
        pinned = date.fromisoformat(api_version)
    except ValueError:
        raise VersionError(f"malformed Api-Version {api_version!r}") from None
    if pinned not in V2_VERSIONS:
        raise VersionError(f"Api-Version {pinned} is not a version of /v2")
    return pinned


def v1_version(
    api_version: Annotated[str | None, Header()] = None,
) -> date:
    """/v1 is one frozen date."""
    if api_version is not None:
        raise VersionError("/v1 is fixed at 2024-01-01")
    return V1


DEPRECATION = {
    "Deprecation": "@1767225600",  # 2026-01-01T00:00:00Z
    "Sunset": "Thu, 01 Jul 2027 00:00:00 GMT",
    "Link": (
        '<https://api.example.com/docs/deprecations/v1>; rel="deprecation", '
        '<https://api.example.com/docs/migrate-to-v2>; rel="sunset"'
    ),
}


V1Pin = Annotated[date, Depends(v1_version)]
V2Pin = Annotated[date, Depends(v2_version)]
# ANCHOR_END: dependency


# ANCHOR: models
class NewCustomerV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    email: str


class NewCustomerV2(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str
    email: str


# ANCHOR_END: models


# ANCHOR: app
def create_app() -> FastAPI:
    app = FastAPI()
    store = seed()

    app.state.store = store

    @app.middleware("http")
    async def deprecate_v1(
        request: Request,
        call_next: Callable[[Request], Awaitable[Response]],
    ) -> Response:
        # Middleware, so that errors from /v1 carry the headers too.
        response = await call_next(request)
        if request.url.path.startswith("/v1/"):
            response.headers.update(DEPRECATION)
        return response

    @app.exception_handler(VersionError)
    async def bad_version(request: Request, exc: Exception) -> JSONResponse:
        detail = exc.detail if isinstance(exc, VersionError) else str(exc)
        body = {"detail": detail, "supported_versions": supported()}
        return JSONResponse(body, status_code=400)

    def read(customer_id: int, pinned: date) -> Body:
        customer = store.get(customer_id)
        if customer is None:
            raise HTTPException(404, f"no customer {customer_id}")
        return downgrade(vars(customer), pinned)

    def create(name: str, email: str, pinned: date) -> Body:
        customer = Customer(max(store, default=0) + 1, name, email)
        store[customer.id] = customer
        return downgrade(vars(customer), pinned)

    v1 = APIRouter(prefix="/v1", deprecated=True)
    v2 = APIRouter(prefix="/v2")

    @v1.get("/customers/{customer_id}")
    def get_v1(customer_id: int, pinned: V1Pin) -> Body:
        return read(customer_id, pinned)

    @v1.post("/customers", status_code=201)
    def post_v1(new: NewCustomerV1, pinned: V1Pin) -> Body:
        return create(new.name, new.email, pinned)  # upgraded: name

    @v2.get("/customers/{customer_id}")
    def get_v2(customer_id: int, pinned: V2Pin, response: Response) -> Body:
        response.headers["Api-Version"] = pinned.isoformat()
        return read(customer_id, pinned)

    @v2.post("/customers", status_code=201)
    def post_v2(new: NewCustomerV2, pinned: V2Pin) -> Body:
        return create(new.display_name, new.email, pinned)

    app.include_router(v1)
    app.include_router(v2)
    return app


# ANCHOR_END: app


async def call(
    app: FastAPI,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    json: Any = None,
) -> httpx.Response:
    """One request to the app, in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api.test"
    ) as client:
        return await client.request(method, path, headers=headers, json=json)


async def main() -> None:
    app = create_app()
    requests: list[tuple[str, dict[str, str]]] = [
        ("/v1/customers/2", {}),
        ("/v2/customers/2", {}),
        ("/v2/customers/2", {"Api-Version": "2025-06-01"}),
        ("/v2/customers/2", {"Api-Version": "2025-6-1"}),
    ]
    for path, headers in requests:
        reply = await call(app, "GET", path, headers)
        shown = f" {headers}" if headers else ""
        print(f"GET {path}{shown} -> {reply.status_code}")
        print(f"  {reply.json()}")
    reply = await call(app, "GET", "/v1/customers/1")
    for name in ("Deprecation", "Sunset"):
        print(f"  {name}: {reply.headers[name]}")
    schema = (await call(app, "GET", "/openapi.json")).json()
    for path, operations in sorted(schema["paths"].items()):
        for method, operation in sorted(operations.items()):
            flag = "deprecated" if operation.get("deprecated") else ""
            print(f"openapi: {method.upper()} {path} {flag}".rstrip())


if __name__ == "__main__":
    asyncio.run(main())
