"""Tests of 2.1's FastAPI listing: OAuth2PasswordBearer's own 401 for a
missing or non-Bearer header, the application's invalid_token challenge,
immediate revocation by logout, and bad input that never reaches a
handler."""

import asyncio

import httpx
from authentication_fastapi import call, sessions


def get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return asyncio.run(call("GET", path, headers or {}))


def post(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return asyncio.run(call("POST", path, headers or {}))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_or_other_scheme_gets_fastapis_bare_challenge() -> None:
    for headers in ({}, {"Authorization": "Basic YTpi"}):
        r = get("/me", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"detail": "Not authenticated"}


def test_any_string_passes_the_scheme_check_but_not_the_store() -> None:
    for token in ("xyz", "a.b.c", "x" * 4096):
        r = get("/me", headers=bearer(token))
        assert r.status_code == 401
        challenge = r.headers["www-authenticate"]
        assert challenge == 'Bearer error="invalid_token"'


def test_a_live_token_reaches_the_handler() -> None:
    token = sessions.issue("bob")
    r = get("/me", headers=bearer(token))
    assert (r.status_code, r.json()) == (200, {"sub": "bob"})


def test_logout_revokes_at_once_and_only_that_token() -> None:
    mine, other = sessions.issue("carol"), sessions.issue("carol")
    assert post("/auth/logout", headers=bearer(mine)).status_code == 204
    assert get("/me", headers=bearer(mine)).status_code == 401
    assert post("/auth/logout", headers=bearer(mine)).status_code == 401
    assert get("/me", headers=bearer(other)).status_code == 200


def test_tokens_are_unique_and_url_safe() -> None:
    tokens = {sessions.issue("dave") for _ in range(100)}
    assert len(tokens) == 100
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    alphabet |= set("0123456789-_")
    assert all(set(t) <= alphabet and len(t) == 43 for t in tokens)


def test_wrong_method_and_unknown_path_are_refused() -> None:
    assert post("/me").status_code == 405
    assert get("/nope").status_code == 404
