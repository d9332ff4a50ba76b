"""Tests of 2.4's Python cache-aside (cache_aside.py). Without a server:
TTL validation, exit code 77, and functools.lru_cache running every
concurrent miss. Against PostgreSQL and Redis (skipped
when unreachable, unless REQUIRE_SERVICES=1): TTLs in range and jittered,
hits and misses, negative caching, delete after commit, refused updates,
unreadable entries and bad ids."""

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cache_aside
import psycopg
import pytest
import redis
from cache_aside import MISSING_TTL, PRICE_TTL, Shop, Ttl

HERE = Path(__file__).resolve().parent


@pytest.fixture
def shop(database_url: str, redis_url: str) -> Iterator[Shop]:
    """A shop on a scratch table (products 1 and 2), dropped afterwards;
    skips (or fails, with REQUIRE_SERVICES=1) without the servers
    (conftest.py)."""
    conn = psycopg.connect(database_url, autocommit=True, connect_timeout=5)
    r = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    with conn:
        table = cache_aside.create_table(conn)
        try:
            yield Shop(conn, r, table)
        finally:
            cache_aside.drop(conn, r, table)


def ttl_of(shop: Shop, product_id: int) -> int:
    ttl = shop.get_price.redis.ttl(shop.get_price.key(product_id))
    assert isinstance(ttl, int)
    return ttl


# --- Without a server ---------------------------------------------------


@pytest.mark.parametrize(("base", "spread"), [(10, 10), (10, -1), (0, 0)])
def test_a_ttl_must_stay_positive(base: int, spread: int) -> None:
    with pytest.raises(ValueError, match="spread < base"):
        Ttl(base, spread)


def test_picked_ttls_stay_in_range_and_vary() -> None:
    picks = [PRICE_TTL.pick() for _ in range(200)]
    assert all(270 <= p <= 330 for p in picks)
    assert len(set(picks)) > 1


def test_lru_cache_runs_every_concurrent_miss() -> None:
    """functools.lru_cache has no single-flight: four threads that miss the
    same key at once all run the function. The barrier lets none of them
    return before all four are inside, so a cache that made the others wait
    would break it (BrokenBarrierError after 5 s)."""
    calls = 0
    counting = threading.Lock()
    inside = threading.Barrier(4)

    @functools.lru_cache
    def load(key: int) -> int:
        nonlocal calls
        with counting:
            calls += 1
        inside.wait(timeout=5)
        return key * 2

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(load, [7, 7, 7, 7]))
    assert results == [14, 14, 14, 14]
    assert calls == 4
    assert load.cache_info().misses == 4
    assert load(7) == 14 and calls == 4  # now it is cached


def test_without_redis_main_exits_77() -> None:
    env = dict(os.environ, REDIS_URL="redis://127.0.0.1:1/0")
    run = subprocess.run(
        [sys.executable, str(HERE / "cache_aside.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if run.returncode != 77 and "DATABASE_URL" in run.stderr:
        pytest.skip("PostgreSQL is absent too")
    assert run.returncode == 77, run.stderr
    assert "cache_aside: skipped:" in run.stderr


# --- Against PostgreSQL and Redis ---------------------------------------


def test_fills_get_jittered_ttls_in_the_stated_ranges(shop: Shop) -> None:
    ttls = []
    for product_id in range(1, 21):
        shop.get_price(product_id)
        ttls.append(ttl_of(shop, product_id))
    # 1 and 2 exist; 3..20 are cached as missing.
    low, high = PRICE_TTL.base - PRICE_TTL.spread, PRICE_TTL.base + 30
    assert all(low - 1 <= t <= high for t in ttls[:2])
    low, high = MISSING_TTL.base - 3, MISSING_TTL.base + 3
    assert all(low - 1 <= t <= high for t in ttls[2:])
    assert len(set(ttls[2:])) > 1, "18 fills, one TTL: no jitter"


def test_a_hit_does_not_call_the_loader(shop: Shop) -> None:
    assert shop.get_price(2) == 2500
    shop.conn.execute(
        psycopg.sql.SQL("UPDATE {} SET cents = 1 WHERE id = 2").format(
            shop.table
        )
    )
    assert shop.get_price(2) == 2500  # the cached value, not the row
    assert (shop.get_price.hits, shop.get_price.misses) == (1, 1)


def test_a_missing_product_is_cached_as_missing(shop: Shop) -> None:
    assert shop.get_price(99) is None
    assert shop.get_price.redis.get(shop.get_price.key(99)) == b"none"
    assert shop.get_price(99) is None
    assert (shop.get_price.hits, shop.get_price.misses) == (1, 1)


def test_an_update_commits_then_deletes_the_key(shop: Shop) -> None:
    assert shop.get_price(1) == 1000
    shop.update_price(1, 1200)
    assert shop.get_price.redis.exists(shop.get_price.key(1)) == 0
    assert shop.get_price(1) == 1200
    assert shop.get_price.misses == 2


@pytest.mark.parametrize(
    ("product_id", "cents", "error", "message"),
    [
        (1, -5, ValueError, "cannot be negative"),
        (99, 10, LookupError, "no product with id 99"),
    ],
)
def test_refused_updates_change_neither_row_nor_cache(
    shop: Shop,
    product_id: int,
    cents: int,
    error: type[Exception],
    message: str,
) -> None:
    assert shop.get_price(1) == 1000
    with pytest.raises(error, match=message):
        shop.update_price(product_id, cents)
    assert shop.get_price(1) == 1000
    assert shop.get_price.hits == 1  # still cached
    assert shop.get_price.loader(1) == 1000  # the row itself


@pytest.mark.parametrize("junk", [b"12.5", b"", b"\xff\xfe", b"NaN"])
def test_an_unreadable_entry_is_a_miss_and_is_replaced(
    shop: Shop, junk: bytes
) -> None:
    shop.get_price.redis.set(shop.get_price.key(1), junk)
    assert shop.get_price(1) == 1000
    assert shop.get_price.misses == 1
    assert shop.get_price.redis.get(shop.get_price.key(1)) == b"1000"


@pytest.mark.parametrize("bad", ["1", 1.0, True, None])
def test_an_id_that_is_not_an_int_is_refused(shop: Shop, bad: object) -> None:
    with pytest.raises(TypeError, match="id must be an int"):
        shop.get_price(bad)  # type: ignore[arg-type]
    assert shop.get_price.misses == 0


def test_the_wrapper_keeps_the_loaders_name(shop: Shop) -> None:
    assert shop.get_price.__name__ == "get_price"  # type: ignore[attr-defined]
