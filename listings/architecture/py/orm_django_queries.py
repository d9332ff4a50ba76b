"""2.6 Optimising ORM queries with the Django ORM, on PostgreSQL.

Every claim is a count of the queries Django sent, captured with
django.test.utils.CaptureQueriesContext:

- following a ForeignKey in a loop is N+1; select_related makes it one
  JOIN; a reverse relation in a loop is N+1 too, prefetch_related makes it
  2 and annotate(Count(...)) 1;
- only() leaves columns out, and reading a deferred field costs one query
  per object; values() returns dicts in one query;
- save() per object is one INSERT each; bulk_create() is one INSERT (or
  one per batch_size);
- connection.execute_wrapper() can forbid queries in a block (say, while a
  template renders), turning a hidden N+1 into an error;
- the connection settings' defaults (CONN_MAX_AGE, CONN_HEALTH_CHECKS) and
  the "pool" option of Django 5.1+ with its rules.

Django is configured in code (settings.configure) with the small app in
orm_django/, its tables in a scratch schema dropped at the end. The server
comes from DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test);
when it cannot be reached, the script says why on stderr and exits 77.
Django's settings are global to a process, so the tests run this module in
a child process (see test_orm_django_queries.py).
"""

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, connections
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
URL = os.environ.get("DATABASE_URL", DEFAULT_URL)
SCHEMA = f"orm_dj_{uuid.uuid4().hex[:12]}"
INSERTS = 500
T = TypeVar("T")


def database(url: str, schema: str, **extra: Any) -> dict[str, Any]:
    """A DATABASES entry for `url` whose search_path is `schema`."""
    parts = urlsplit(url)
    options: dict[str, Any] = {"connect_timeout": 5}
    options["options"] = f"-c search_path={schema}"
    options.update(extra.pop("OPTIONS", {}))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or 5432),
        "OPTIONS": options,
        **extra,
    }


def configure(url: str, schema: str) -> None:
    settings.configure(
        DATABASES={
            "default": database(url, schema),
            # Only inspected, never connected: the pool option's rules.
            "pooled": database(url, schema, OPTIONS={"pool": True}),
            "pooled_persistent": database(
                url, schema, OPTIONS={"pool": True}, CONN_MAX_AGE=60
            ),
        },
        INSTALLED_APPS=["orm_django"],
        USE_TZ=True,
    )
    django.setup()


# Models can be imported only once settings exist and the app is loaded.
configure(URL, SCHEMA)
from orm_django.models import Author, Book  # noqa: E402 (needs settings)


@contextmanager
def scratch_tables() -> Iterator[None]:
    """Creates the app's tables in a fresh schema, and drops it after."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
    try:
        with connection.schema_editor() as editor:
            editor.create_model(Author)
            editor.create_model(Book)
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        connection.close()


def seed(authors: int) -> None:
    made = Author.objects.bulk_create(
        Author(name=f"author{a}") for a in range(1, authors + 1)
    )
    Book.objects.bulk_create(
        Book(title=f"b{a.pk}.{i}", price_cents=100 * i, blurb="x" * i, author=a)
        for a in made
        for i in range(1, 6)
    )


# ANCHOR: counting
def counted(work: Callable[[], T]) -> tuple[T, list[str]]:
    """Runs `work`; its result and the SQL of every query it sent."""
    with CaptureQueriesContext(connection) as captured:
        result = work()
    return result, [q["sql"] for q in captured.captured_queries]


# ANCHOR_END: counting


# ANCHOR: forward
def book_authors() -> list[str]:
    books = Book.objects.order_by("id")[:10]
    return [b.author.name for b in books]  # a query per book


def book_authors_joined() -> list[str]:
    books = Book.objects.select_related("author").order_by("id")[:10]
    return [b.author.name for b in books]  # one query, INNER JOIN


# ANCHOR_END: forward


# ANCHOR: reverse
def books_per_author() -> dict[str, int]:
    authors = Author.objects.order_by("id")
    return {a.name: len(a.books.all()) for a in authors}  # N+1


def books_per_author_prefetched() -> dict[str, int]:
    authors = Author.objects.prefetch_related("books").order_by("id")
    return {a.name: len(a.books.all()) for a in authors}  # 2: IN (...)


def books_per_author_counted() -> dict[str, int]:
    authors = Author.objects.annotate(n=Count("books")).order_by("id")
    return {name: n for name, n in authors.values_list("name", "n")}


# ANCHOR_END: reverse


# ANCHOR: columns
def titles_only() -> list[str]:
    return [b.title for b in Book.objects.only("title").order_by("id")[:5]]


def then_blurbs() -> list[int]:
    books = Book.objects.only("title").order_by("id")[:5]
    return [len(b.blurb) for b in books]  # a query per deferred read


def as_dicts() -> list[dict[str, Any]]:
    return list(Book.objects.order_by("id").values("id", "title")[:5])


# ANCHOR_END: columns


# ANCHOR: bulk
def new_books(n: int) -> list[Book]:
    author = Author.objects.order_by("id").first()
    return [
        Book(title=f"t{i}", price_cents=i, blurb="", author=author)
        for i in range(n)
    ]


def save_each(books: list[Book]) -> None:
    for book in books:
        book.save()  # autocommit: an INSERT (and its commit) each


def bulk(books: list[Book], batch_size: int | None = None) -> None:
    Book.objects.bulk_create(books, batch_size=batch_size)


# ANCHOR_END: bulk


# ANCHOR: guard
class QueryForbidden(RuntimeError):
    pass


def forbid_queries(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any
) -> Any:
    raise QueryForbidden(f"query while rendering: {sql[:33]}...")


def render(books: list[Book]) -> str:
    """A 'template': it must get everything it needs from the view."""
    with connection.execute_wrapper(forbid_queries):
        return "\n".join(f"{b.title} by {b.author.name}" for b in books)


# ANCHOR_END: guard


# ANCHOR: settings
def connection_settings() -> dict[str, object]:
    default = connections["default"].settings_dict
    found: dict[str, object] = {
        "CONN_MAX_AGE": default["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": default["CONN_HEALTH_CHECKS"],
    }
    for alias in ("pooled_persistent", "pooled"):
        try:  # the pool is built on first use of .pool
            found[alias] = getattr(connections[alias], "pool", None)
        except ImproperlyConfigured as error:
            found[alias] = str(error).splitlines()[0]
    return found


# ANCHOR_END: settings


def measure(authors: int = 10) -> dict[str, Any]:
    """Runs every scenario; what each returned and the queries it sent."""
    results: dict[str, Any] = {}

    def run(name: str, work: Callable[[], object]) -> None:
        answer, sql = counted(work)
        inserts = sum(q.startswith("INSERT") for q in sql)
        results[name] = {
            "answer": answer,
            "queries": len(sql),
            "inserts": inserts,
            "sql": sql,
        }

    with scratch_tables():
        seed(authors)
        run("book_authors", book_authors)
        run("book_authors_joined", book_authors_joined)
        run("books_per_author", books_per_author)
        run("books_per_author_prefetched", books_per_author_prefetched)
        run("books_per_author_counted", books_per_author_counted)
        run("titles_only", titles_only)
        run("then_blurbs", then_blurbs)
        run("as_dicts", as_dicts)
        batches = [new_books(INSERTS) for _ in range(3)]
        run("save_each", lambda: save_each(batches[0]))
        run("bulk", lambda: bulk(batches[1]))
        run("bulk_200", lambda: bulk(batches[2], batch_size=200))
        for name, query in [
            ("render_lazy", Book.objects.all()),
            ("render_joined", Book.objects.select_related("author")),
        ]:
            try:
                results[name] = render(list(query.order_by("id")[:3]))
            except QueryForbidden as error:
                results[name] = f"{type(error).__name__}: {error}"
        results["settings"] = connection_settings()
    return results


def show(results: dict[str, Any]) -> None:
    def line(label: str, name: str) -> None:
        found = results[name]
        text = f"{label:<36} {found['queries']:>4} queries"
        if found["inserts"] and found["inserts"] != found["queries"]:
            text += f" ({found['inserts']} INSERT, BEGIN, COMMIT)"
        print(text)

    print("10 authors x 5 books each\n")
    line("10 books, then book.author (N+1)", "book_authors")
    line("select_related('author')", "book_authors_joined")
    line("authors, then author.books (N+1)", "books_per_author")
    line("prefetch_related('books')", "books_per_author_prefetched")
    line("annotate(n=Count('books'))", "books_per_author_counted")
    same = {
        results[n]["answer"] == results["books_per_author"]["answer"]
        for n in ("books_per_author_prefetched", "books_per_author_counted")
    }
    print(f"same books per author each way: {same == {True}}")
    print()
    line("5 books, only('title')", "titles_only")
    line("only('title'), then each blurb", "then_blurbs")
    line("values('id', 'title')", "as_dicts")
    print()
    line(f"{INSERTS} books, save() each", "save_each")
    line("bulk_create(books)", "bulk")
    line("bulk_create(books, batch_size=200)", "bulk_200")
    print()
    print("render() under execute_wrapper(forbid_queries):")
    print("  lazy book.author:")
    print(f"    {results['render_lazy']}")
    print("  select_related('author'):")
    for rendered in results["render_joined"].splitlines():
        print(f"    {rendered}")
    print()
    for key, value in results["settings"].items():
        print(f"{key}: {value}")


def main() -> int:
    authors = os.environ.get("AUTHORS", "10")
    if not authors.isdigit() or not 1 <= int(authors) <= 1000:
        print(f"AUTHORS must be 1 to 1000, got {authors!r}", file=sys.stderr)
        return 2
    try:
        connection.ensure_connection()
    except OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        print(f"orm_django_queries: skipped: {URL}: {reason}", file=sys.stderr)
        return 77
    results = measure(int(authors))
    if "--json" in sys.argv[1:]:
        print(json.dumps(results))
    else:
        show(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
