"""3.3 E-commerce inventory: the conditional UPDATE in Python (psycopg 3).

- The naive purchase reads the stock, decides in Python and writes the
  computed value back: two buyers who both read "1 left" both buy.
- The fix puts the check in the write (`WHERE stock >= %s`) and reads the
  answer from `cursor.rowcount`: 1 is a sale, 0 is "sold out".
- Server: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test);
  without it, the program exits 77. A scratch table per run, dropped at
  the end.
"""

import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg import sql

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def create_table(conn: psycopg.Connection, stock: int) -> sql.Identifier:
    """A scratch product table holding product 1 with `stock` units."""
    table = sql.Identifier(f"inv_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (id int PRIMARY KEY, stock int NOT NULL)"
        ).format(table)
    )
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (1, %s)").format(table), (stock,)
    )
    return table


def check_qty(qty: int) -> None:
    if not 1 <= qty <= 100:
        raise ValueError(f"quantity must be 1 to 100, got {qty}")


# ANCHOR: naive
def read_stock(conn: psycopg.Connection, table: sql.Identifier) -> int:
    row = conn.execute(
        sql.SQL("SELECT stock FROM {} WHERE id = 1").format(table)
    ).fetchone()
    if row is None:
        raise LookupError("no product 1")
    return int(row[0])


def write_stock(
    conn: psycopg.Connection, table: sql.Identifier, seen: int, qty: int
) -> bool:
    """The bug: decide on a value read earlier, write it back."""
    if seen < qty:
        return False
    conn.execute(
        sql.SQL("UPDATE {} SET stock = %s WHERE id = 1").format(table),
        (seen - qty,),
    )
    return True


# ANCHOR_END: naive


# ANCHOR: buy
def buy(conn: psycopg.Connection, table: sql.Identifier, qty: int) -> bool:
    """One statement checks and takes: True if bought, False if sold out."""
    check_qty(qty)
    with conn.transaction():
        cur = conn.execute(
            sql.SQL(
                "UPDATE {} SET stock = stock - %(n)s"
                " WHERE id = 1 AND stock >= %(n)s"
            ).format(table),
            {"n": qty},
        )
        return cur.rowcount == 1


# ANCHOR_END: buy


def race(url: str, table: sql.Identifier, buyers: int) -> tuple[int, int]:
    """`buyers` threads, each on its own connection, buy one unit each."""

    def one(_: int) -> bool:
        with psycopg.connect(url, autocommit=True) as conn:
            return buy(conn, table, 1)

    with ThreadPoolExecutor(max_workers=buyers) as pool:
        results = list(pool.map(one, range(buyers)))
    return results.count(True), results.count(False)


def main() -> int:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        print(f"inventory_conditional: skipped: {reason}", file=sys.stderr)
        return 77
    with conn:
        table = create_table(conn, 5)
        try:
            bought, sold_out = race(url, table, 20)
            stock = read_stock(conn, table)
            print(f"20 buyers, 5 units: {bought} bought, {sold_out} sold out")
            print(f"stock left: {stock}")
        finally:
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
