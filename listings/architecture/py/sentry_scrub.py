"""2.9: Sentry's Python SDK with personal data scrubbed in `before_send`.

A WSGI app fails while handling a checkout; the SDK's WSGI middleware
captures the exception with the request (URL, query string, headers), the
user, the release and the environment. `before_send` runs on every error
event before it leaves the process: it drops auth headers and cookies,
keeps only the user's id, and masks e-mail addresses wherever they are.

Nothing touches the network: the SDK gets a `Transport` subclass that
keeps the envelopes in memory, and the DSN names a host that cannot
resolve. `main` prints what reached the transport, once without the hook
and once with it.
"""

import contextlib
import re
import wsgiref.util
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware
from sentry_sdk.transport import Transport
from sentry_sdk.types import Event, Hint


# ANCHOR: transport
class CapturingTransport(Transport):
    """Keeps each error event instead of sending it to Sentry."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


# ANCHOR_END: transport


# ANCHOR: scrub
# A top-level domain of letters: `shop@1.4.2` is a release, not an e-mail.
EMAIL = re.compile(r"[\w.+-]+(?:@|%40)(?:[\w-]+\.)+[a-z]{2,}\b", re.I)
# Header names as the WSGI environ spells them or as HTTP does.
SECRET_KEYS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
}
FILTERED = "[Filtered]"


def is_secret(key: str) -> bool:
    name = key.lower().replace("_", "-").removeprefix("http-")
    return name in SECRET_KEYS


def scrub(value: Any) -> Any:
    """The same value with secrets filtered and e-mails masked."""
    if isinstance(value, dict):
        return {
            k: FILTERED if is_secret(str(k)) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return EMAIL.sub("[email]", value)
    return value


def before_send(event: Event, hint: Hint) -> Event | None:
    user = event.get("user") or {}
    cleaned: Event = scrub(event)
    # The id is enough to find the user again; the rest is personal.
    cleaned["user"] = {"id": user["id"]} if "id" in user else {}
    return cleaned


# ANCHOR_END: scrub


# ANCHOR: init
def init(transport: Transport, scrubbing: bool) -> None:
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",  # .invalid never resolves
        transport=transport,
        release="shop@1.4.2",  # errors grouped by the release that made them
        environment="production",
        # Replaces send_default_pii (deprecated since 2.72). Once it is set,
        # include_local_variables and the EventScrubber are ignored: frame
        # variables are collected unless switched off here.
        data_collection={"stack_frame_variables": False},
        before_send=before_send if scrubbing else None,
        default_integrations=False,
    )


# ANCHOR_END: init


def checkout(environ: WSGIEnvironment, start: StartResponse) -> list[bytes]:
    sentry_sdk.set_user({"id": "42", "email": "ada@example.com"})
    raise ValueError("card declined for ada@example.com")


REQUEST = {
    "PATH_INFO": "/checkout",
    "QUERY_STRING": "email=ada%40example.com&plan=pro",
    "HTTP_AUTHORIZATION": "Bearer tok_9f8e7d",
    "HTTP_COOKIE": "sessionid=s3cr3t; theme=dark",
    "HTTP_X_API_KEY": "key_5a4b3c",
    "HTTP_X_REQUEST_ID": "req-1",
    "HTTP_X_CUSTOMER_EMAIL": "ada@example.com",
}


def fail_once(transport: CapturingTransport, scrubbing: bool) -> Event:
    """One failing request through the SDK's WSGI middleware."""
    init(transport, scrubbing)
    environ: WSGIEnvironment = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ.update(REQUEST)
    app: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]
    app = SentryWsgiMiddleware(checkout)
    # The middleware re-raises after capturing, as a server would see.
    with contextlib.suppress(ValueError):
        list(app(environ, lambda status, headers, exc=None: lambda b: None))
    sentry_sdk.flush()
    return transport.events[-1]


def main() -> None:
    for scrubbing in (False, True):
        event = fail_once(CapturingTransport(), scrubbing)
        request: dict[str, Any] = dict(event.get("request") or {})
        headers: dict[str, Any] = request.get("headers") or {}
        value = event["exception"]["values"][0]["value"]
        print(f"before_send {'on' if scrubbing else 'off'}:")
        print(f"  release           {event.get('release')}")
        print(f"  exception         {value}")
        print(f"  user              {event.get('user')}")
        print(f"  query string      {request.get('query_string')}")
        for name in (
            "Authorization",
            "Cookie",
            "X-Api-Key",
            "X-Customer-Email",
            "X-Request-Id",
        ):
            print(f"  {name + ':':<17} {headers.get(name)}")


if __name__ == "__main__":
    main()
