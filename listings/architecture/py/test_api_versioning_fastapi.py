"""Tests of 2.10 API versioning in FastAPI, in process (no server).

Each version's shape from one core; bad versions get a 400 listing the
supported ones; /v1's Deprecation, Sunset and Link parsed back; bad bodies
get a 4xx and store nothing; the Rust listing's recorded contracts pass
against this app and fail once a release renames a field.
"""

from __future__ import annotations

import asyncio
import json
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import api_versioning_fastapi as av
import httpx
import pytest

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


def call(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    content: bytes | None = None,
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api.test"
        ) as client:
            return await client.request(
                method, path, headers=headers, json=body, content=content
            )

    return asyncio.run(go())


def test_each_version_gets_its_own_shape_from_one_core() -> None:
    app = av.create_app()
    v1 = call(app, "GET", "/v1/customers/2").json()
    assert v1["name"] == "Grace Hopper" and "display_name" not in v1
    assert v1["status"] == "inactive"
    v2 = call(app, "GET", "/v2/customers/2")
    assert v2.headers["api-version"] == "2025-01-15"
    assert v2.json()["display_name"] == "Grace Hopper"
    assert v2.json()["status"] == "inactive"
    newest = call(app, "GET", "/v2/customers/2", {"Api-Version": "2025-06-01"})
    assert newest.json()["status"] == "paused"


@pytest.mark.parametrize(
    ("version", "detail"),
    [
        ("2023-01-01", "not a version of /v2"),
        ("2024-01-01", "not a version of /v2"),
        ("2025-02-30", "malformed"),
        ("2025-6-1", "malformed"),
        ("20250601", "malformed"),
        ("latest", "malformed"),
    ],
)
def test_bad_versions_get_a_400_listing_the_supported(
    version: str, detail: str
) -> None:
    reply = call(
        av.create_app(), "GET", "/v2/customers/1", {"Api-Version": version}
    )
    assert reply.status_code == 400
    assert detail in reply.json()["detail"]
    assert reply.json()["supported_versions"] == {
        "/v1": ["2024-01-01"],
        "/v2": ["2025-01-15", "2025-06-01"],
    }


def test_a_date_on_v1_is_refused_and_still_says_deprecated() -> None:
    reply = call(
        av.create_app(), "GET", "/v1/customers/1", {"Api-Version": "2024-01-01"}
    )
    assert reply.status_code == 400
    assert reply.headers["deprecation"] == "@1767225600"


def test_v1_says_when_it_was_deprecated_and_when_it_ends() -> None:
    app = av.create_app()
    for path in ("/v1/customers/1", "/v1/customers/99"):
        reply = call(app, "GET", path)
        match = re.fullmatch(r"@(-?\d{1,15})", reply.headers["deprecation"])
        assert match, reply.headers["deprecation"]
        deprecated = int(match[1])
        sunset = parsedate_to_datetime(reply.headers["sunset"])
        assert sunset.tzinfo is not None
        assert sunset.timestamp() == 1_814_400_000
        assert sunset.timestamp() >= deprecated  # RFC 9745, section 4
        rels = re.findall(
            r'<https://[^>]+>; rel="(\w+)"', reply.headers["link"]
        )
        assert rels == ["deprecation", "sunset"]
    v2 = call(app, "GET", "/v2/customers/1")
    assert not {"deprecation", "sunset", "link"} & set(v2.headers)


def test_v1_is_marked_deprecated_in_the_openapi_document() -> None:
    paths = call(av.create_app(), "GET", "/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            assert operation.get("deprecated", False) == path.startswith("/v1/")


@pytest.mark.parametrize(
    ("ctype", "content", "error"),
    [
        ("text/plain", b'{"name": "A", "email": "a@b"}', "model_attributes"),
        ("application/json", b'{"name": ', "json_invalid"),
        ("application/json", b'{"name": "A", "emial": "a@b"}', "extra"),
        ("application/json", b'{"name": "A"}', "missing"),
        ("application/json", b'{"name": 7, "email": "a@b"}', "string_type"),
        ("application/json", b"[1, 2]", "model_attributes"),
        (
            "application/json",
            b'{"display_name": "A", "email": "a@b"}',
            "extra_forbidden",
        ),
    ],
)
def test_bad_bodies_get_a_422_and_store_nothing(
    ctype: str, content: bytes, error: str
) -> None:
    app = av.create_app()
    reply = call(
        app, "POST", "/v1/customers", {"content-type": ctype}, content=content
    )
    # FastAPI answers 422 for all of these, even the wrong content type
    # and malformed JSON, where the axum listing answers 415 and 400.
    assert reply.status_code == 422
    assert error in reply.text
    assert len(app.state.store) == 2


def load(name: str) -> dict[str, Any]:
    contract: dict[str, Any] = json.loads((CONTRACTS / name).read_text())
    return contract


def subset_failures(want: Any, got: Any, at: str) -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        failures = []
        for key, value in want.items():
            if key not in got:
                failures.append(f"{at}.{key} is missing")
            else:
                failures += subset_failures(value, got[key], f"{at}.{key}")
        return failures
    return [] if want == got else [f"{at} is {got!r}, expected {want!r}"]


def replay(contract: dict[str, Any]) -> list[str]:
    app = av.create_app()
    failures = []
    for step in contract["interactions"]:
        reply = call(
            app,
            step["method"],
            step["path"],
            step.get("headers", {}),
            step.get("body"),
        )
        at = f"{step['method']} {step['path']}"
        if reply.status_code != step["expect_status"]:
            failures.append(f"{at}: status {reply.status_code}")
        for name, value in step.get("expect_headers", {}).items():
            if reply.headers.get(name) != value:
                failures.append(f"{at}: header {name}")
        if step["expect_status"] < 400:  # error bodies differ by framework
            failures += subset_failures(
                step["expect_body"], reply.json(), f"{at}: body"
            )
    return failures


CONTRACT_FILES = ["mobile_app_v1.json", "billing_2025_01_15.json"]


@pytest.mark.parametrize("name", CONTRACT_FILES)
def test_the_recorded_contracts_pass(name: str) -> None:
    assert replay(load(name)) == []


@pytest.mark.parametrize("name", CONTRACT_FILES)
def test_a_renamed_field_fails_the_contracts(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = av.downgrade

    def renamed(body: av.Body, pinned: Any) -> av.Body:
        body = real(body, pinned)
        body["contact_email"] = body.pop("email")
        return body

    monkeypatch.setattr(av, "downgrade", renamed)
    failures = replay(load(name))
    assert failures
    assert all(f.endswith("body.email is missing") for f in failures)


def test_the_contract_files_are_the_ones_the_rust_listing_replays() -> None:
    assert sorted(CONTRACT_FILES) == sorted(
        p.name for p in CONTRACTS.glob("*.json")
    )
