"""2.6 Optimising ORM queries with SQLAlchemy 2.x, on PostgreSQL.

Every claim is a count of the SQL statements that reached the server,
recorded by a `before_cursor_execute` listener on the engine:

- lazy loading in a loop is N+1 (1 + one per author); selectinload makes
  it 2 and joinedload 1; a GROUP BY answers "how many books each" in 1;
- raiseload (per query) or lazy="raise" (on the relationship) turns a
  forgotten eager load into an exception instead of N hidden queries;
- load_only leaves columns out of the SELECT, and touching a deferred
  column costs one more query per row (another N+1) unless it raises;
- bulk inserts: one INSERT per row when the session flushes row by row,
  one multi-row INSERT per 1,000 rows ("insertmanyvalues") for add_all,
  and one executemany() for session.execute(insert(Book), rows);
- the engine's pool defaults, read from the installed SQLAlchemy, and the
  server's max_connections.

Each run uses its own schema (a unique name, dropped at the end). The
server comes from DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test); when it cannot be reached, the
script says why on stderr and exits 77.
"""

import inspect
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    ForeignKey,
    String,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import InvalidRequestError, OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    load_only,
    mapped_column,
    raiseload,
    relationship,
    selectinload,
)
from sqlalchemy.pool import QueuePool

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
AUTHORS = 10
BOOKS_PER_AUTHOR = 5
INSERTS = 2500
T = TypeVar("T")


# ANCHOR: models
class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # lazy="select" (the default): loaded on first access, one query each.
    books: Mapped[list["Book"]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int]
    blurb: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    # The guard on the relationship itself: never load it implicitly.
    author: Mapped[Author] = relationship(back_populates="books", lazy="raise")


# ANCHOR_END: models


# ANCHOR: counting
@dataclass
class Sent:
    sql: str
    # cursor.executemany(): how many parameter sets; else 1. (An
    # "insertmanyvalues" batch is one multi-row INSERT with one dict.)
    parameter_sets: int


@contextmanager
def statements(engine: Engine) -> Iterator[list[Sent]]:
    """Records every statement the engine hands to the driver."""
    sent: list[Sent] = []

    def record(
        conn: Any, cursor: Any, sql: str, params: Any, ctx: Any, many: bool
    ) -> None:
        sets = len(params) if isinstance(params, list | tuple) else 1
        sent.append(Sent(sql, sets))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def counted(
    engine: Engine, work: Callable[[Session], T]
) -> tuple[T, list[Sent]]:
    """Runs `work` in a fresh session: its result and what it sent."""
    with Session(engine) as session, statements(engine) as sent:
        result = work(session)
    return result, sent


# ANCHOR_END: counting


# ANCHOR: loading
def lazy(session: Session) -> dict[str, int]:
    authors = session.scalars(select(Author).order_by(Author.id))
    return {a.name: len(a.books) for a in authors}  # a query per author


def select_in(session: Session) -> dict[str, int]:
    query = select(Author).options(selectinload(Author.books))
    authors = session.scalars(query.order_by(Author.id))
    return {a.name: len(a.books) for a in authors}  # 2: authors, IN (...)


def joined(session: Session) -> dict[str, int]:
    query = select(Author).options(joinedload(Author.books))
    authors = session.scalars(query.order_by(Author.id)).unique()
    return {a.name: len(a.books) for a in authors}  # 1: LEFT OUTER JOIN


def grouped(session: Session) -> dict[str, int]:
    query = (
        select(Author.name, func.count(Book.id))
        .join(Author.books)
        .group_by(Author.id)
        .order_by(Author.id)
    )
    return {name: n for name, n in session.execute(query)}


def guarded(session: Session) -> dict[str, int]:
    query = select(Author).options(raiseload(Author.books))
    authors = session.scalars(query.order_by(Author.id))
    return {a.name: len(a.books) for a in authors}  # raises at a.books


def author_of_a_book(session: Session) -> str:
    book = session.scalars(select(Book).limit(1)).one()
    return book.author.name  # lazy="raise" on Book.author: raises


# ANCHOR_END: loading


# ANCHOR: columns
def titles_only(session: Session) -> list[str]:
    query = select(Book).options(load_only(Book.title)).order_by(Book.id)
    return [b.title for b in session.scalars(query.limit(5))]


def then_blurbs(session: Session) -> list[int]:
    query = select(Book).options(load_only(Book.title)).order_by(Book.id)
    return [len(b.blurb) for b in session.scalars(query.limit(5))]


def rows_not_objects(session: Session) -> list[tuple[int, str]]:
    query = select(Book.id, Book.title).order_by(Book.id).limit(5)
    return [(book_id, title) for book_id, title in session.execute(query)]


# ANCHOR_END: columns


# ANCHOR: bulk
def new_books(n: int) -> list[dict[str, Any]]:
    return [
        {"title": f"t{i}", "price_cents": i, "blurb": "", "author_id": 1}
        for i in range(n)
    ]


def flush_each(session: Session, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        session.add(Book(**row))
        session.flush()  # what a save() per object amounts to
    session.commit()


def add_all(session: Session, rows: list[dict[str, Any]]) -> None:
    session.add_all(Book(**row) for row in rows)
    session.commit()  # one flush: batched, RETURNING the new ids


def bulk_insert(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(Book), rows)  # ORM bulk INSERT, no objects
    session.commit()


# ANCHOR_END: bulk


# ANCHOR: pool
def pool_defaults(engine: Engine) -> dict[str, object]:
    """What create_engine(url) gives you with no pool arguments."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    declared = inspect.signature(QueuePool.__init__).parameters
    return {
        "pool class": type(pool).__name__,
        "pool_size": pool.size(),
        "max_overflow": pool._max_overflow,
        "pool_timeout (s)": pool.timeout(),
        "pool_recycle (s)": pool._recycle,
        "pool_pre_ping": pool._pre_ping,
        "declared defaults": tuple(
            declared[name].default
            for name in ("pool_size", "max_overflow", "timeout")
        ),
    }


def server_connections(engine: Engine) -> dict[str, int]:
    """max_connections and the superuser reserve: compiled-in defaults."""
    query = text(
        "SELECT name, boot_val::int FROM pg_settings WHERE name IN"
        " ('max_connections', 'superuser_reserved_connections')"
    )
    with engine.connect() as conn:
        return {name: value for name, value in conn.execute(query)}


# ANCHOR_END: pool


def sqlalchemy_url(url: str) -> str:
    """postgresql://... names psycopg2 to SQLAlchemy; we use psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres") and sep:
        return f"postgresql+psycopg://{rest}"
    return url


@contextmanager
def scratch_engine(url: str) -> Iterator[Engine]:
    """An engine whose search_path is a fresh schema, seeded, then dropped."""
    schema = f"orm_sa_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sqlalchemy_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(
        sqlalchemy_url(url),
        connect_args={"options": f"-c search_path={schema}"},
    )
    try:
        Base.metadata.create_all(engine)
        seed(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def seed(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        for a in range(1, AUTHORS + 1):
            books = [
                Book(title=f"b{a}.{i}", price_cents=100 * i, blurb="x" * i)
                for i in range(1, BOOKS_PER_AUTHOR + 1)
            ]
            session.add(Author(id=a, name=f"author{a}", books=books))


def report(label: str, sent: list[Sent], note: str = "") -> None:
    print(f"{label:<36} {len(sent):>4} statements  {note}".rstrip())


def rows_sent(sent: list[Sent]) -> str:
    """Rows per INSERT: parameter sets, or the VALUES tuples in its SQL."""
    rows = [
        s.parameter_sets if s.parameter_sets > 1 else s.sql.count("), (") + 1
        for s in sent
    ]
    many = any(s.parameter_sets > 1 for s in sent)
    shown = ", ".join(map(str, rows[:3])) + (", ..." if len(rows) > 3 else "")
    return ("executemany: " if many else "rows each: ") + shown


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0].split(" (Background")[0]


def demo(url: str) -> None:
    with scratch_engine(url) as engine:
        print(f"{AUTHORS} authors x {BOOKS_PER_AUTHOR} books each")
        print("\nloading authors and their books")
        expected = {f"author{a}": BOOKS_PER_AUTHOR for a in range(1, 11)}
        for label, work in [
            ("lazy loading in a loop (N+1)", lazy),
            ("selectinload", select_in),
            ("joinedload", joined),
            ("GROUP BY, no objects", grouped),
        ]:
            result, sent = counted(engine, work)
            report(label, sent, "same answer" * (result == expected))
        try:
            counted(engine, guarded)
        except InvalidRequestError as error:
            print(f"raiseload: {first_line(error)}")
        try:
            counted(engine, author_of_a_book)
        except InvalidRequestError as error:
            print(f"lazy='raise': {first_line(error)}")

        print("\ncolumns of 5 books")
        with Session(engine) as session, statements(engine) as sent:
            titles_only(session)
        columns = sent[0].sql.split("FROM")[0].removeprefix("SELECT").strip()
        print(f"load_only(Book.title) selects: {columns}")
        for label, columns_work in [
            ("load_only, titles", titles_only),
            ("load_only, then each blurb", then_blurbs),
            ("select(Book.id, Book.title)", rows_not_objects),
        ]:
            report(label, counted(engine, columns_work)[1])

        page = engine.dialect.insertmanyvalues_page_size
        print(f"\ninserting {INSERTS} books (insertmanyvalues page: {page})")
        rows = new_books(INSERTS)
        for label, insert_work in [
            ("session.flush() per object", flush_each),
            ("session.add_all(), commit", add_all),
            ("session.execute(insert(Book), rows)", bulk_insert),
        ]:
            sent = counted(engine, partial(insert_work, rows=rows))[1]
            report(label, sent, rows_sent(sent))

        print("\nconnection pool, create_engine(url) defaults")
        for key, value in pool_defaults(engine).items():
            print(f"{key}: {value}")
        server = server_connections(engine)
        for key, value in server.items():
            print(f"server {key} (default): {value}")
        usable = (
            server["max_connections"] - server["superuser_reserved_connections"]
        )
        most = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
        print(
            f"processes that fit at {most} connections each: {usable // most}"
        )


def main() -> int:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    try:
        engine = create_engine(
            sqlalchemy_url(url), connect_args={"connect_timeout": 5}
        )
        engine.connect().close()
        engine.dispose()
    except OperationalError as error:
        reason = first_line(error)
        print(f"orm_sqlalchemy: skipped: {url}: {reason}", file=sys.stderr)
        return 77
    demo(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
