"""The servers every test file here talks to, as fixtures: the address from
DATABASE_URL / REDIS_URL / AMQP_URL (the standard local defaults otherwise),
checked with a short timeout. An unreachable server skips the tests that need
it, saying why, or fails them when REQUIRE_SERVICES=1 (as in CI).

Each fixture imports its client itself, so a test file that needs no
server does not pay for importing three clients."""

import os
from typing import NoReturn

import pytest

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2f"


def unreachable(what: str, url: str, error: Exception) -> NoReturn:
    if os.environ.get("REQUIRE_SERVICES") == "1":
        raise error
    reason = (str(error).strip().splitlines() or [repr(error)])[0]
    pytest.skip(f"{what} unreachable at {url}: {reason}")


@pytest.fixture(scope="session")
def database_url() -> str:
    import psycopg

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        unreachable("PostgreSQL", url, error)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        unreachable("Redis", url, error)
    return url


@pytest.fixture(scope="session")
def amqp_url() -> str:
    import pika  # type: ignore[import-untyped]
    import pika.exceptions  # type: ignore[import-untyped]

    url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = 3
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPError as error:
        unreachable("RabbitMQ", url, error)
    return url
