"""Tests of 2.3's Django project (migrations_django/), each in its own
scratch schema on a real PostgreSQL server. Django is configured once per
process, so every command runs as `python -m migrations_django ...` in a
subprocess, as manage.py would: migrate forwards and back, both releases'
SQL on every migration they share, the batched backfill, sqlmigrate,
--fake, lock_timeout, and how the autodetector treats a rename. Skipped
without a server, unless REQUIRE_SERVICES=1."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

HERE = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
OLD = ("INSERT INTO customer (name) VALUES (%s)", "SELECT name FROM customer")
NEW = (
    "INSERT INTO customer (full_name) VALUES (%s)",
    "SELECT full_name FROM customer",
)


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = f"django_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def manage(
    *args: str, schema: str = "", url: str = DEFAULT_URL
) -> subprocess.CompletedProcess[str]:
    """One management command in its own process, as manage.py runs."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MIGRATIONS_DJANGO_SCHEMA": schema,
        "DJANGO_SETTINGS_MODULE": "migrations_django.settings",
        # The settings' 2 s, shortened so the blocked test is quick.
        "MIGRATIONS_DJANGO_LOCK_TIMEOUT": "300ms",
    }
    return subprocess.run(
        [sys.executable, "-m", "migrations_django", *args],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def migrate(url: str, schema: str, *args: str) -> None:
    done = manage("migrate", "shop", *args, schema=schema, url=url)
    assert done.returncode == 0, done.stdout + done.stderr


def connect(url: str, schema: str) -> psycopg.Connection:
    return psycopg.connect(
        url, autocommit=True, options=f"-c search_path={schema}"
    )


def serve(conn: psycopg.Connection, release: tuple[str, str]) -> list[str]:
    insert, select = release
    conn.execute(insert, ("someone",))
    return [row[0] for row in conn.execute(select)]


def applied(url: str, schema: str) -> list[str]:
    with connect(url, schema) as conn:
        rows = conn.execute(
            "SELECT name FROM django_migrations WHERE app = 'shop'"
            " ORDER BY name"
        ).fetchall()
    return [str(row[0]) for row in rows]


def test_the_models_and_the_migrations_agree() -> None:
    # makemigrations --check exits 1 when a model change has no migration.
    done = manage("makemigrations", "--check", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "No changes detected"


def test_both_releases_work_on_every_migration_they_share_and_back(
    database_url: str, schema: str
) -> None:
    migrate(database_url, schema, "0001")
    with connect(database_url, schema) as conn:
        serve(conn, OLD)
        with pytest.raises(psycopg.errors.UndefinedColumn):
            serve(conn, NEW)
    for target in ["0002", "0003", "0004", "0005"]:
        migrate(database_url, schema, target)
        with connect(database_url, schema) as conn:
            old = serve(conn, OLD)
            new = serve(conn, NEW)
        assert len(new) == len(old) + 1
        if target != "0002":
            assert None not in old and None not in new, target
    migrate(database_url, schema, "0006")
    assert len(applied(database_url, schema)) == 6
    with connect(database_url, schema) as conn:
        with pytest.raises(psycopg.errors.UndefinedColumn):
            serve(conn, OLD)
        assert None not in serve(conn, NEW)
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'customer_full_name_idx'::regclass"
        ).fetchone()
    assert valid == (True,)
    # And all the way back: every operation reversed, nothing recorded.
    migrate(database_url, schema, "zero")
    assert applied(database_url, schema) == []
    with connect(database_url, schema) as conn:
        table = conn.execute("SELECT to_regclass('customer')").fetchone()
    assert table == (None,)


def test_the_backfill_commits_one_transaction_per_batch(
    database_url: str, schema: str
) -> None:
    migrate(database_url, schema, "0001")
    with connect(database_url, schema) as conn:
        conn.execute(
            "INSERT INTO customer (name)"
            " SELECT 'customer ' || g FROM generate_series(1, 2500) AS g"
        )
    migrate(database_url, schema, "0003")
    with connect(database_url, schema) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT xmin::text), count(full_name) FROM customer"
        ).fetchone()
    assert row == (3, 2500)


def test_sqlmigrate_shows_which_migrations_run_in_a_transaction(
    database_url: str, schema: str
) -> None:
    def sql(name: str) -> list[str]:
        done = manage(
            "sqlmigrate", "shop", name, schema=schema, url=database_url
        )
        assert done.returncode == 0, done.stderr
        return [
            line
            for line in done.stdout.splitlines()
            if line and not line.startswith("--")
        ]

    expand = sql("0002")
    assert expand[0] == "BEGIN;" and expand[-1] == "COMMIT;"
    assert 'ALTER TABLE "customer" ADD COLUMN "full_name" text NULL;' in expand
    index = sql("0005")
    assert index == [
        "SET lock_timeout = 0;",
        'CREATE INDEX CONCURRENTLY "customer_full_name_idx"'
        ' ON "customer" ("full_name");',
        "RESET lock_timeout;",
    ]
    not_null = sql("0004")
    assert "BEGIN;" not in not_null
    assert not_null[0].endswith("NOT VALID;")
    assert not_null[1] == (
        'ALTER TABLE "customer" VALIDATE CONSTRAINT "full_name_present";'
    )


def test_fake_records_a_migration_without_running_it(
    database_url: str, schema: str
) -> None:
    migrate(database_url, schema, "0001", "--fake")
    assert applied(database_url, schema) == ["0001_initial"]
    with connect(database_url, schema) as conn:
        table = conn.execute("SELECT to_regclass('customer')").fetchone()
    assert table == (None,)


def test_a_blocked_migration_fails_fast_and_is_not_recorded(
    database_url: str, schema: str
) -> None:
    migrate(database_url, schema, "0001")
    with connect(database_url, schema) as holder:
        holder.autocommit = False
        holder.execute("SELECT count(*) FROM customer")  # ACCESS SHARE
        done = manage(
            "migrate", "shop", "0002", schema=schema, url=database_url
        )
        holder.rollback()
    assert done.returncode != 0
    assert "canceling statement due to lock timeout" in done.stderr
    assert applied(database_url, schema) == ["0001_initial"]


def test_the_autodetector_asks_before_treating_a_change_as_a_rename() -> None:
    answered_no = manage("rename_plan")
    assert answered_no.returncode == 0, answered_no.stderr
    assert answered_no.stdout.splitlines() == [
        "RemoveIndex: Remove index customer_full_name_idx from customer",
        "RemoveField: Remove field full_name from customer",
        "AddField: Add field display_name to customer",
    ]
    answered_yes = manage("rename_plan", "--assume-rename")
    assert (
        "RenameField: Rename field full_name on customer to display_name"
        in answered_yes.stdout.splitlines()
    )


def test_an_unknown_migration_is_a_clear_error(schema: str) -> None:
    done = manage("migrate", "shop", "0099", schema=schema)
    assert done.returncode != 0
    assert "Cannot find a migration matching '0099'" in done.stderr
