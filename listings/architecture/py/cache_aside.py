"""2.4 Caching and invalidation: cache-aside as a decorator, redis-py in
front of PostgreSQL (psycopg 3).

The Python side of listings/architecture/src/bin/cache_aside.rs, cut down
to the pattern a Python service writes:

- `@cached(redis, prefix)` wraps a loader `f(id) -> int | None`. A call
  GETs the key; on a miss it calls the loader and SETs the result with a
  jittered TTL (`EX`). `None` ("no such product") is cached too, as
  "none", for a shorter TTL: negative caching.
- A writer commits first and deletes the key after the commit.
- An entry that does not parse is a miss: deleted, then reloaded.
- Each run has its own table and key prefix, removed at the end.
- Servers: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
  and REDIS_URL (default redis://127.0.0.1:6379/0). When one is
  unreachable, main says why on stderr and exits with code 77 (skipped).
"""

from __future__ import annotations

import functools
import os
import random
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
from psycopg import sql

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


# ANCHOR: ttl
@dataclass(frozen=True)
class Ttl:
    """`base` seconds, spread at random by up to `spread` either way, so
    that keys filled together do not expire together."""

    base: int
    spread: int

    def __post_init__(self) -> None:
        if not 0 <= self.spread < self.base:
            raise ValueError(f"need 0 <= spread < base, got {self}")

    def pick(self) -> int:
        return random.randint(self.base - self.spread, self.base + self.spread)


PRICE_TTL = Ttl(300, 30)  # 5 minutes, plus or minus 10 %
MISSING_TTL = Ttl(30, 3)  # "no such product" is forgotten sooner
# ANCHOR_END: ttl

# ANCHOR: cached
Loader = Callable[[int], int | None]


class CachedLookup:
    """What `@cached` makes of a loader: call it like the loader; call
    `invalidate(id)` after a commit that changed the row."""

    def __init__(self, loader: Loader, r: redis.Redis, prefix: str) -> None:
        functools.update_wrapper(self, loader)
        self.loader, self.redis, self.prefix = loader, r, prefix
        self.hits = self.misses = 0

    def key(self, item_id: int) -> str:
        return f"{self.prefix}:{item_id}"

    def __call__(self, item_id: int) -> int | None:
        if isinstance(item_id, bool) or not isinstance(item_id, int):
            raise TypeError(f"id must be an int, got {item_id!r}")
        key = self.key(item_id)
        raw = self.redis.get(key)
        if raw is not None:
            try:
                value = None if raw == b"none" else int(raw)
            except ValueError:  # not ours: drop it and reload
                self.redis.delete(key)
            else:
                self.hits += 1
                return value
        self.misses += 1
        value = self.loader(item_id)
        ttl = (MISSING_TTL if value is None else PRICE_TTL).pick()
        self.redis.set(key, "none" if value is None else str(value), ex=ttl)
        return value

    def invalidate(self, item_id: int) -> None:
        self.redis.delete(self.key(item_id))


def cached(r: redis.Redis, prefix: str) -> Callable[[Loader], CachedLookup]:
    def decorate(loader: Loader) -> CachedLookup:
        return CachedLookup(loader, r, prefix)

    return decorate


# ANCHOR_END: cached

Connection = psycopg.Connection[tuple[Any, ...]]


# ANCHOR: shop
class Shop:
    """Product prices in PostgreSQL, read through a Redis cache."""

    def __init__(self, conn: Connection, r: redis.Redis, table: str) -> None:
        self.conn, self.table = conn, sql.Identifier(table)

        @cached(r, prefix=f"{table}:price")
        def get_price(product_id: int) -> int | None:
            query = sql.SQL("SELECT cents FROM {} WHERE id = %s")
            row = conn.execute(query.format(self.table), (product_id,))
            found = row.fetchone()
            return None if found is None else int(found[0])

        self.get_price = get_price

    def update_price(self, product_id: int, cents: int) -> None:
        if cents < 0:
            raise ValueError(f"a price cannot be negative: {cents} cents")
        query = sql.SQL("UPDATE {} SET cents = %s WHERE id = %s")
        with self.conn.transaction():
            done = self.conn.execute(
                query.format(self.table), (cents, product_id)
            )
            if done.rowcount == 0:
                raise LookupError(f"no product with id {product_id}")
        # The `with` block has committed. Only now may the key go: deleted
        # earlier, a reader could refill it from the old row.
        self.get_price.invalidate(product_id)


# ANCHOR_END: shop


def create_table(conn: Connection) -> str:
    table = f"cache_py_{uuid.uuid4().hex[:12]}"
    ident = sql.Identifier(table)
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (id integer PRIMARY KEY,"
            " cents bigint NOT NULL CHECK (cents >= 0))"
        ).format(ident)
    )
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (1, 1000), (2, 2500)").format(ident)
    )
    return table


def drop(conn: Connection, r: redis.Redis, table: str) -> None:
    keys = list(r.scan_iter(match=f"{table}:*"))
    if keys:
        r.delete(*keys)
    conn.execute(
        sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table))
    )


# ANCHOR: demo
def demo(conn: Connection, r: redis.Redis, table: str) -> None:
    shop = Shop(conn, r, table)
    get_price = shop.get_price
    for product_id in (1, 1, 99, 99):
        price = get_price(product_id)
        print(f"get_price({product_id}) = {price}  hits={get_price.hits}")
    for product_id, low, high in ((1, 270, 330), (99, 27, 33)):
        ttl = r.ttl(get_price.key(product_id))
        print(
            f"TTL of {product_id} within {low}..{high} s: {low <= ttl <= high}"
        )
    shop.update_price(1, 1200)
    print(f"after update: cached={r.exists(get_price.key(1)) == 1}")
    print(f"get_price(1) = {get_price(1)}  misses={get_price.misses}")
    for product_id, cents in ((1, -5), (99, 10)):
        try:
            shop.update_price(product_id, cents)
        except (ValueError, LookupError) as error:
            print(f"update_price({product_id}, {cents}) refused: {error}")


# ANCHOR_END: demo


def main() -> int:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        print(f"cache_aside: skipped: {url}: {reason}", file=sys.stderr)
        return 77
    r = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        r.ping()
    except redis.RedisError as error:
        print(f"cache_aside: skipped: {redis_url}: {error}", file=sys.stderr)
        conn.close()
        return 77
    with conn:
        table = create_table(conn)
        try:
            demo(conn, r, table)
        finally:
            drop(conn, r, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
