"""What reaches Sentry's transport: personal data without the hook, none
with it. The transport keeps events in memory; nothing is sent."""

import json
from typing import Any

import pytest
from sentry_scrub import (
    REQUEST,
    CapturingTransport,
    before_send,
    fail_once,
    scrub,
)
from sentry_sdk.types import Event, Hint

SECRETS = ["ada@example.com", "ada%40example.com", "tok_9f8e7d", "s3cr3t"]


def captured(scrubbing: bool) -> tuple[CapturingTransport, str]:
    transport = CapturingTransport()
    fail_once(transport, scrubbing)
    assert len(transport.events) == 1
    return transport, json.dumps(transport.events[0])


def frames(event: Event) -> list[dict[str, Any]]:
    exception: Any = event["exception"]
    return [f for v in exception["values"] for f in v["stacktrace"]["frames"]]


def test_frame_variables_are_not_collected() -> None:
    """With data_collection set, include_local_variables=False would be
    ignored: only stack_frame_variables=False keeps the WSGI environ (and
    its Authorization header) out of the frames."""
    transport, _ = captured(scrubbing=False)
    assert frames(transport.events[0])
    assert all("vars" not in frame for frame in frames(transport.events[0]))


def test_without_before_send_personal_data_reaches_sentry() -> None:
    transport, text = captured(scrubbing=False)
    assert "ada@example.com" in text  # the user and the exception message
    assert "ada%40example.com" in text  # the query string
    # The SDK's own denylist filters the headers it knows by name.
    assert "tok_9f8e7d" not in text and "key_5a4b3c" not in text
    request: Any = transport.events[0]["request"]
    headers = request["headers"]
    assert headers["X-Customer-Email"] == "ada@example.com"


def test_before_send_removes_it_all() -> None:
    transport, text = captured(scrubbing=True)
    for secret in [*SECRETS, "key_5a4b3c"]:
        assert secret not in text, secret
    event = transport.events[0]
    assert event["user"] == {"id": "42"}
    assert event["release"] == "shop@1.4.2"  # not mistaken for an e-mail
    assert event["environment"] == "production"
    request: Any = event["request"]
    headers = request["headers"]
    assert headers["Authorization"] == "[Filtered]"
    assert headers["Cookie"] == "[Filtered]"
    assert headers["X-Api-Key"] == "[Filtered]"
    assert headers["X-Request-Id"] == REQUEST["HTTP_X_REQUEST_ID"]
    assert headers["X-Customer-Email"] == "[email]"
    exception: Any = event["exception"]
    value = exception["values"][0]["value"]
    assert value == "card declined for [email]"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("mail bob.o'neil+x@mail.co.uk now", "mail bob.o'[email] now"),
        ("to=a.b%40c.io&x=1", "to=[email]&x=1"),
        ("v2@2024.1", "v2@2024.1"),
        ("no address here", "no address here"),
    ],
)
def test_scrub_masks_emails_in_strings(raw: str, clean: str) -> None:
    assert scrub(raw) == clean


def test_scrub_filters_secret_keys_at_any_depth() -> None:
    nested = {
        "a": [{"HTTP_COOKIE": "x", "Set-Cookie": "y", "ok": 1}],
        "proxy_authorization": "z",
    }
    assert scrub(nested) == {
        "a": [
            {"HTTP_COOKIE": "[Filtered]", "Set-Cookie": "[Filtered]", "ok": 1}
        ],
        "proxy_authorization": "[Filtered]",
    }


def test_an_event_without_a_user_gets_an_empty_one() -> None:
    event: Event = {"message": "boom for x@y.org"}
    hint: Hint = {}
    assert before_send(event, hint) == {
        "message": "boom for [email]",
        "user": {},
    }
