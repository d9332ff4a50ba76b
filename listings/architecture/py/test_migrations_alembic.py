"""Tests of 2.3's Alembic environment (migrations_alembic/), each in its
own scratch schema on a real PostgreSQL server: upgrade and downgrade,
both releases' SQL on every revision they share, the batched backfill,
lock_timeout, offline SQL, autogenerate's view of a rename, and the
concurrent index. Skipped without a server, unless REQUIRE_SERVICES=1."""

import io
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from migrations_alembic.config import config
from migrations_alembic.models import metadata

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
OLD = ("INSERT INTO customer (name) VALUES (%s)", "SELECT name FROM customer")
NEW = (
    "INSERT INTO customer (full_name) VALUES (%s)",
    "SELECT full_name FROM customer",
)


def sqlalchemy_url(url: str) -> str:
    """The same server, through SQLAlchemy's psycopg 3 dialect."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = f"alembic_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def connect(database_url: str, schema: str) -> psycopg.Connection:
    return psycopg.connect(
        database_url, autocommit=True, options=f"-c search_path={schema}"
    )


def revision_of(database_url: str, schema: str) -> str | None:
    with connect(database_url, schema) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def serve(conn: psycopg.Connection, release: tuple[str, str]) -> list[str]:
    """One write and one read of a release; raises what the server says."""
    insert, select = release
    conn.execute(insert, ("someone",))
    return [row[0] for row in conn.execute(select)]


def test_the_revisions_form_one_line_from_0001_to_0006() -> None:
    scripts = ScriptDirectory.from_config(config(DEFAULT_URL))
    ids = [s.revision for s in scripts.walk_revisions("base", "heads")]
    assert ids == ["0006", "0005", "0004", "0003", "0002", "0001"]
    assert scripts.get_heads() == ["0006"]


def test_upgrade_to_head_and_downgrade_to_base(
    database_url: str, schema: str
) -> None:
    cfg = config(sqlalchemy_url(database_url), schema)
    command.upgrade(cfg, "head")
    assert revision_of(database_url, schema) == "0006"
    with connect(database_url, schema) as conn:
        columns = conn.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'customer'"
            " ORDER BY ordinal_position",
            (schema,),
        ).fetchall()
    assert columns == [("id", "NO"), ("full_name", "NO")]
    command.downgrade(cfg, "0001")
    assert revision_of(database_url, schema) == "0001"
    command.downgrade(cfg, "base")
    assert revision_of(database_url, schema) is None
    with connect(database_url, schema) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    assert tables == [("alembic_version",)]


def test_both_releases_work_on_every_revision_they_share(
    database_url: str, schema: str
) -> None:
    cfg = config(sqlalchemy_url(database_url), schema)
    command.upgrade(cfg, "0001")
    with connect(database_url, schema) as conn:
        serve(conn, OLD)
        with pytest.raises(psycopg.errors.UndefinedColumn):
            serve(conn, NEW)
    # The old release runs through 0002-0005; the new one is deployed
    # once 0003 has backfilled, and must then work on 0003-0006.
    for revision in ["0002", "0003", "0004", "0005"]:
        command.upgrade(cfg, revision)
        with connect(database_url, schema) as conn:
            old = serve(conn, OLD)
            new = serve(conn, NEW)
        # Each release sees every row, the other release's too.
        assert len(new) == len(old) + 1
        if revision != "0002":
            assert None not in old and None not in new, revision
    command.upgrade(cfg, "0006")
    with connect(database_url, schema) as conn:
        with pytest.raises(psycopg.errors.UndefinedColumn):
            serve(conn, OLD)
        assert None not in serve(conn, NEW)


def test_the_backfill_commits_one_transaction_per_batch(
    database_url: str, schema: str
) -> None:
    cfg = config(sqlalchemy_url(database_url), schema)
    command.upgrade(cfg, "0001")
    with connect(database_url, schema) as conn:
        conn.execute(
            "INSERT INTO customer (name)"
            " SELECT 'customer ' || g FROM generate_series(1, 2500) AS g"
        )
    command.upgrade(cfg, "0003")
    with connect(database_url, schema) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT xmin::text), count(full_name) FROM customer"
        ).fetchone()
    # Each row's xmin is the transaction that last wrote it: 1000 + 1000
    # + 500 rows, three transactions.
    assert row == (3, 2500)


def test_a_blocked_migration_fails_fast_and_changes_nothing(
    database_url: str, schema: str
) -> None:
    cfg = config(sqlalchemy_url(database_url), schema, lock_timeout="300ms")
    command.upgrade(cfg, "0001")
    with connect(database_url, schema) as holder:
        holder.autocommit = False
        holder.execute("SELECT count(*) FROM customer")  # ACCESS SHARE
        with pytest.raises(sa.exc.OperationalError) as caught:
            command.upgrade(cfg, "0002")
        holder.rollback()
    assert getattr(caught.value.orig, "sqlstate", None) == "55P03"
    assert revision_of(database_url, schema) == "0001"
    command.upgrade(cfg, "0002")
    assert revision_of(database_url, schema) == "0002"


def test_offline_sql_needs_no_server_and_commits_around_concurrently() -> None:
    out = io.StringIO()
    # Port 1: nothing listens there, and offline mode never connects.
    cfg = config("postgresql+psycopg://nobody@127.0.0.1:1/none")
    cfg.output_buffer = out
    command.upgrade(cfg, "0003:0005", sql=True)
    lines = [line for line in out.getvalue().splitlines() if line]
    cic = (
        "CREATE INDEX CONCURRENTLY customer_full_name_idx"
        " ON customer (full_name);"
    )
    index = lines.index(cic)
    assert lines[index - 2 : index + 3] == [
        "COMMIT;",
        "SET lock_timeout = 0;",
        cic,
        "RESET lock_timeout;",
        "BEGIN;",
    ]
    validate = lines.index(
        "ALTER TABLE customer VALIDATE CONSTRAINT full_name_present;"
    )
    assert lines[validate - 1 : validate + 2 : 2] == ["COMMIT;", "BEGIN;"]
    assert any(line.endswith("NOT VALID;") for line in lines)


def test_autogenerate_sees_a_rename_as_a_drop_and_an_add(
    database_url: str, schema: str
) -> None:
    command.upgrade(config(sqlalchemy_url(database_url), schema), "head")
    engine = sa.create_engine(
        sqlalchemy_url(database_url),
        connect_args={"options": f"-c search_path={schema}"},
        poolclass=sa.pool.NullPool,
    )
    renamed = sa.MetaData()
    sa.Table(
        "customer",
        renamed,
        sa.Column(
            "id", sa.BigInteger, sa.Identity(always=True), primary_key=True
        ),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Index("customer_full_name_idx", "display_name"),
    )
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert compare_metadata(context, metadata) == []
        diffs = compare_metadata(context, renamed)
    engine.dispose()
    # Changes to an existing column come as lists ("modify_..."): none.
    assert all(isinstance(diff, tuple) for diff in diffs), diffs
    kinds = sorted(str(diff[0]) for diff in diffs)
    assert kinds == ["add_column", "add_index", "remove_column", "remove_index"]
    columns = {
        (diff[0], diff[3].name) for diff in diffs if diff[0].endswith("column")
    }
    assert columns == {
        ("add_column", "display_name"),
        ("remove_column", "full_name"),
    }


def test_the_concurrent_index_is_valid_and_needs_its_autocommit_block(
    database_url: str, schema: str
) -> None:
    cfg = config(sqlalchemy_url(database_url), schema)
    command.upgrade(cfg, "0005")
    with connect(database_url, schema) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'customer_full_name_idx'::regclass"
        ).fetchone()
    assert valid == (True,)
    command.downgrade(cfg, "0004")
    # Without the autocommit block: the same operation in a transaction.
    engine = sa.create_engine(
        sqlalchemy_url(database_url),
        connect_args={"options": f"-c search_path={schema}"},
        poolclass=sa.pool.NullPool,
    )
    with engine.connect() as conn:
        op = Operations(MigrationContext.configure(conn))
        with pytest.raises(sa.exc.InternalError) as caught:
            op.create_index(
                "i", "customer", ["full_name"], postgresql_concurrently=True
            )
    engine.dispose()
    assert getattr(caught.value.orig, "sqlstate", None) == "25001"


def test_an_unknown_revision_is_a_clear_error() -> None:
    # Bad input at the command boundary: an unknown revision is a clear
    # error before anything connects.
    cfg = config("postgresql+psycopg://nobody@127.0.0.1:1/none")
    cfg.output_buffer = io.StringIO()
    with pytest.raises(Exception, match="Can't locate revision"):
        command.upgrade(cfg, "9999", sql=True)
