"""Tests of 2.6 with SQLAlchemy: statement counts on a real PostgreSQL
(skipped when the server is unreachable, unless REQUIRE_SERVICES=1), each
test in its own scratch schema."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import orm_sqlalchemy as orm
import pytest
from orm_sqlalchemy import Author, Book, counted
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session, joinedload, load_only

HERE = Path(__file__).resolve().parent
N = orm.AUTHORS


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with orm.scratch_engine(database_url) as engine:
        yield engine


def add_authors(engine: Engine, count: int) -> None:
    with Session(engine) as session, session.begin():
        for a in range(N + 1, N + 1 + count):
            book = Book(title="t", price_cents=1, blurb="")
            session.add(Author(id=a, name=f"author{a}", books=[book]))


def test_lazy_loading_sends_one_query_per_author(engine: Engine) -> None:
    answer, sent = counted(engine, orm.lazy)
    assert answer == {f"author{a}": 5 for a in range(1, N + 1)}
    assert len(sent) == 1 + N
    assert sent[0].sql.startswith("SELECT authors.id")
    assert all(
        "FROM books" in s.sql and "books.author_id" in s.sql for s in sent[1:]
    )


def test_n_plus_one_grows_with_n_and_eager_loading_does_not(
    engine: Engine,
) -> None:
    add_authors(engine, 7)
    assert len(counted(engine, orm.lazy)[1]) == 1 + N + 7
    assert len(counted(engine, orm.select_in)[1]) == 2
    assert len(counted(engine, orm.joined)[1]) == 1


def test_eager_loads_and_group_by_give_the_lazy_answer(engine: Engine) -> None:
    lazy_answer = counted(engine, orm.lazy)[0]
    for work, statements in [
        (orm.select_in, 2),
        (orm.joined, 1),
        (orm.grouped, 1),
    ]:
        answer, sent = counted(engine, work)
        assert (answer, len(sent)) == (lazy_answer, statements), work
    select_in_sent = counted(engine, orm.select_in)[1]
    assert " IN (" in select_in_sent[1].sql
    assert "LEFT OUTER JOIN" in counted(engine, orm.joined)[1][0].sql


def test_raiseload_and_lazy_raise_refuse_to_load(engine: Engine) -> None:
    with Session(engine) as session, orm.statements(engine) as sent:
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            orm.guarded(session)
        assert len(sent) == 1  # the authors; no query per author
    with pytest.raises(InvalidRequestError, match=r"'Book\.author'"):
        counted(engine, orm.author_of_a_book)
    # An explicit eager load is still allowed through the guard.
    query = select(Book).options(joinedload(Book.author)).limit(1)
    name, sent = counted(
        engine, lambda s: s.scalars(query).unique().one().author.name
    )
    assert (name, len(sent)) == ("author1", 1)


def test_load_only_drops_columns_and_deferred_access_is_n_plus_one(
    engine: Engine,
) -> None:
    titles, sent = counted(engine, orm.titles_only)
    assert len(titles) == 5 and len(sent) == 1
    assert "blurb" not in sent[0].sql and "price_cents" not in sent[0].sql
    blurbs, sent = counted(engine, orm.then_blurbs)
    assert blurbs == [1, 2, 3, 4, 5]
    assert len(sent) == 1 + 5
    strict = select(Book).options(load_only(Book.title, raiseload=True))
    with pytest.raises(InvalidRequestError, match=r"'Book\.blurb'"):
        counted(engine, lambda s: s.scalars(strict.limit(1)).one().blurb)
    rows, sent = counted(engine, orm.rows_not_objects)
    assert len(sent) == 1 and rows[0] == (1, "b1.1")


@pytest.mark.parametrize(
    ("work", "statements", "shown"),
    [
        (orm.flush_each, 300, "rows each: 1, 1, 1, ..."),
        (orm.add_all, 1, "rows each: 300"),
        (orm.bulk_insert, 1, "executemany: 300"),
    ],
)
def test_bulk_inserts_send_fewer_statements(
    engine: Engine, work: Callable[..., None], statements: int, shown: str
) -> None:
    _, sent = counted(engine, partial(work, rows=orm.new_books(300)))
    assert (len(sent), orm.rows_sent(sent)) == (statements, shown)
    with Session(engine) as session:
        assert session.scalar(select(func.count(Book.id))) == 300 + 50


def test_add_all_splits_at_the_insertmanyvalues_page_size(
    engine: Engine,
) -> None:
    page = engine.dialect.insertmanyvalues_page_size
    _, sent = counted(engine, partial(orm.add_all, rows=orm.new_books(2500)))
    assert page == 1000
    assert orm.rows_sent(sent) == "rows each: 1000, 1000, 500"


def test_pool_defaults_are_queue_pool_5_10_30(engine: Engine) -> None:
    assert orm.pool_defaults(engine) == {
        "pool class": "QueuePool",
        "pool_size": 5,
        "max_overflow": 10,
        "pool_timeout (s)": 30.0,
        "pool_recycle (s)": -1,
        "pool_pre_ping": False,
        "declared defaults": (5, 10, 30.0),
    }


def test_server_connection_defaults(engine: Engine) -> None:
    assert orm.server_connections(engine) == {
        "max_connections": 100,
        "superuser_reserved_connections": 3,
    }
    with engine.connect() as conn:
        live = conn.execute(text("SHOW max_connections")).scalar_one()
    assert int(live) >= 1


def test_scratch_schema_is_dropped(database_url: str) -> None:
    with orm.scratch_engine(database_url) as engine, engine.connect() as c:
        schema = c.execute(text("SELECT current_schema()")).scalar_one()
    check = create_engine(orm.sqlalchemy_url(database_url))
    with check.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
            {"s": schema},
        ).scalar_one()
    check.dispose()
    assert schema.startswith("orm_sa_") and found == 0


def test_urls_name_the_psycopg_3_driver() -> None:
    assert orm.sqlalchemy_url("postgresql://u@h/db") == (
        "postgresql+psycopg://u@h/db"
    )
    assert orm.sqlalchemy_url("postgres://u@h/db").startswith(
        "postgresql+psycopg://"
    )
    assert orm.sqlalchemy_url("sqlite://") == "sqlite://"


def test_main_exits_77_without_a_server() -> None:
    env = dict(os.environ, DATABASE_URL="postgresql://postgres@127.0.0.1:1/x")
    done = subprocess.run(
        [sys.executable, str(HERE / "orm_sqlalchemy.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 77
    assert "orm_sqlalchemy: skipped: postgresql://" in done.stderr
    assert done.stdout == ""
