"""Tests of 3.3's Python conditional update (inventory_conditional.py):
the naive read-then-write oversells when two buyers' steps interleave
(forced on two connections), the conditional UPDATE sells exactly the
stock to concurrent buyers, bad quantities are refused before any write,
and the program exits 77 without a server."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from inventory_conditional import (
    buy,
    create_table,
    race,
    read_stock,
    write_stock,
)
from psycopg import sql

HERE = Path(__file__).resolve().parent


@pytest.fixture
def scratch(database_url: str) -> Iterator[tuple[str, sql.Identifier]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        table = create_table(conn, 1)
        try:
            yield database_url, table
        finally:
            conn.execute(sql.SQL("DROP TABLE {}").format(table))


def set_stock(url: str, table: sql.Identifier, stock: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET stock = %s").format(table), (stock,)
        )


def test_naive_read_then_write_oversells(
    scratch: tuple[str, sql.Identifier],
) -> None:
    url, table = scratch
    with psycopg.connect(url) as a, psycopg.connect(url) as b:
        seen_a, seen_b = read_stock(a, table), read_stock(b, table)
        assert (seen_a, seen_b) == (1, 1)
        assert write_stock(a, table, seen_a, 1)
        a.commit()
        assert write_stock(b, table, seen_b, 1)
        b.commit()
    # Two sales of the one unit, and the stock shows 0, not -1.
    with psycopg.connect(url) as conn:
        assert read_stock(conn, table) == 0


def test_conditional_update_sells_exactly_the_stock(
    scratch: tuple[str, sql.Identifier],
) -> None:
    url, table = scratch
    set_stock(url, table, 7)
    assert race(url, table, 24) == (7, 17)
    with psycopg.connect(url) as conn:
        assert read_stock(conn, table) == 0


def test_bad_quantities_are_refused_before_any_write(
    scratch: tuple[str, sql.Identifier],
) -> None:
    url, table = scratch
    with psycopg.connect(url, autocommit=True) as conn:
        for qty in (0, -1, 101):
            with pytest.raises(ValueError, match="quantity"):
                buy(conn, table, qty)
        assert not buy(conn, table, 2)  # 1 left: sold out, not negative
        assert buy(conn, table, 1)
        assert read_stock(conn, table) == 0


def test_exits_77_without_a_server() -> None:
    env = dict(os.environ, DATABASE_URL="postgresql://nobody@127.0.0.1:1/x")
    done = subprocess.run(
        [sys.executable, str(HERE / "inventory_conditional.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 77
    assert "skipped" in done.stderr
