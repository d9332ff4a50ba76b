"""2.1 in a Python shop: what FastAPI's OAuth2PasswordBearer does (extract
the token, nothing more), an opaque-token session store behind it whose
logout is immediate, and Django's session defaults, read from the installed
Django rather than quoted.

No server is needed: httpx drives the app in-process through its ASGI
transport, the same request and response objects as over a socket.
"""

import asyncio
import secrets
from typing import Annotated

import httpx
from django.conf import global_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.security import OAuth2PasswordBearer


# ANCHOR: app
class Sessions:
    """Opaque bearer tokens mapped to users: revoking is deleting."""

    def __init__(self) -> None:
        self._users: dict[str, str] = {}

    def issue(self, user: str) -> str:
        token = secrets.token_urlsafe(32)  # 256 random bits
        self._users[token] = user
        return token

    def user(self, token: str) -> str | None:
        return self._users.get(token)

    def revoke(self, token: str) -> None:
        self._users.pop(token, None)


sessions = Sessions()
app = FastAPI()
# Only extracts `Authorization: Bearer <token>`; validates nothing.
bearer = OAuth2PasswordBearer(tokenUrl="auth/login")


def current_token(token: Annotated[str, Depends(bearer)]) -> str:
    """The token, if it names a live session; 401 invalid_token if not."""
    if sessions.user(token) is None:
        raise HTTPException(
            status_code=401,
            detail="invalid or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return token


@app.get("/me")
def me(token: Annotated[str, Depends(current_token)]) -> dict[str, str]:
    return {"sub": sessions.user(token) or ""}


@app.post("/auth/logout", status_code=204)
def logout(token: Annotated[str, Depends(current_token)]) -> Response:
    sessions.revoke(token)
    return Response(status_code=204)


# ANCHOR_END: app


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(
    method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    """One request to the app, in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://auth.test"
    ) as client:
        return await client.request(method, path, headers=headers)


def show(label: str, r: httpx.Response) -> str:
    lines = [f"{label:<24} -> {r.status_code}"]
    if "www-authenticate" in r.headers:
        lines.append(f"  WWW-Authenticate: {r.headers['www-authenticate']}")
    if r.text:
        lines.append(f"  {r.text}")
    return "\n".join(lines)


# ANCHOR: main
def main() -> None:
    auth = bearer_header(sessions.issue("alice"))
    requests = [
        ("GET /me, no header", "GET", "/me", {}),
        ("GET /me, Basic", "GET", "/me", {"Authorization": "Basic YTpi"}),
        ("GET /me, unknown token", "GET", "/me", bearer_header("xyz")),
        ("GET /me", "GET", "/me", auth),
        ("POST /auth/logout", "POST", "/auth/logout", auth),
        ("GET /me after logout", "GET", "/me", auth),
    ]
    for label, method, path, headers in requests:
        print(show(label, asyncio.run(call(method, path, headers))))
    g = global_settings
    print("Django session cookie defaults:")
    print(f"  HTTPONLY={g.SESSION_COOKIE_HTTPONLY}")
    print(f"  SECURE={g.SESSION_COOKIE_SECURE}")
    print(f"  SAMESITE={g.SESSION_COOKIE_SAMESITE}")
    print(f"  AGE={g.SESSION_COOKIE_AGE} s, ENGINE={g.SESSION_ENGINE}")
    print(f"Django default hasher: {g.PASSWORD_HASHERS[0]}")
    print(f"  iterations={PBKDF2PasswordHasher.iterations}")


# ANCHOR_END: main

if __name__ == "__main__":
    main()
