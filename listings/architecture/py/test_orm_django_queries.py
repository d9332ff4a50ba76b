"""Tests of 2.6 with the Django ORM: query counts on a real PostgreSQL
(skipped when the server is unreachable, unless REQUIRE_SERVICES=1).

Django's settings are global to a process and other chapters configure
Django too, so nothing here imports Django: each measurement runs
orm_django_queries.py in a child process (its own scratch schema) and the
assertions read the JSON it prints."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "orm_django_queries.py"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
    )


def start(authors: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--json"],
        env={**os.environ, "AUTHORS": str(authors)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )


def finish(child: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = child.communicate(timeout=120)
    if child.returncode == 77:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL required: {stderr}")
        pytest.skip(stderr.strip())
    assert child.returncode == 0, stderr
    results: dict[str, Any] = json.loads(stdout)
    return results


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, Any]]:
    """10 and 17 authors, measured side by side in two child processes."""
    children = {n: start(n) for n in (10, 17)}
    return {n: finish(child) for n, child in children.items()}


@pytest.fixture(scope="module")
def ten(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return runs[10]


def queries(results: dict[str, Any], name: str) -> int:
    count: int = results[name]["queries"]
    return count


def test_following_a_foreign_key_in_a_loop_is_n_plus_one(
    ten: dict[str, Any],
) -> None:
    assert queries(ten, "book_authors") == 1 + 10
    assert queries(ten, "book_authors_joined") == 1
    assert "INNER JOIN" in ten["book_authors_joined"]["sql"][0]
    lazy, joined = ten["book_authors"], ten["book_authors_joined"]
    assert (
        lazy["answer"] == joined["answer"] == ["author1"] * 5 + ["author2"] * 5
    )


def test_reverse_relations_prefetch_in_two_and_aggregate_in_one(
    ten: dict[str, Any],
) -> None:
    expected = {f"author{a}": 5 for a in range(1, 11)}
    for name, count in [
        ("books_per_author", 11),
        ("books_per_author_prefetched", 2),
        ("books_per_author_counted", 1),
    ]:
        assert (ten[name]["answer"], queries(ten, name)) == (expected, count)
    prefetch = ten["books_per_author_prefetched"]["sql"][1]
    assert '"author_id" IN (' in prefetch
    assert "COUNT(" in ten["books_per_author_counted"]["sql"][0]


def test_the_n_in_n_plus_one_is_the_number_of_rows(
    runs: dict[int, dict[str, Any]],
) -> None:
    seventeen = runs[17]
    assert queries(seventeen, "books_per_author") == 1 + 17
    assert queries(seventeen, "books_per_author_prefetched") == 2
    assert queries(seventeen, "books_per_author_counted") == 1


def test_only_defers_columns_and_reading_one_costs_a_query_each(
    ten: dict[str, Any],
) -> None:
    only = ten["titles_only"]
    assert queries(ten, "titles_only") == 1
    assert '"blurb"' not in only["sql"][0]
    assert '"title"' in only["sql"][0]
    assert ten["then_blurbs"]["answer"] == [1, 2, 3, 4, 5]
    assert queries(ten, "then_blurbs") == 1 + 5
    rows = ten["as_dicts"]["answer"]
    assert queries(ten, "as_dicts") == 1
    assert rows[0] == {"id": 1, "title": "b1.1"}


def test_bulk_create_sends_one_insert_per_batch(ten: dict[str, Any]) -> None:
    assert (queries(ten, "save_each"), ten["save_each"]["inserts"]) == (
        500,
        500,
    )
    bulk = ten["bulk"]
    assert (bulk["inserts"], bulk["sql"][0], bulk["sql"][-1]) == (
        1,
        "BEGIN",
        "COMMIT",
    )
    assert "UNNEST" in bulk["sql"][1]  # Django 5.2 on PostgreSQL
    assert ten["bulk_200"]["inserts"] == 3  # 200 + 200 + 100


def test_execute_wrapper_forbids_queries_while_rendering(
    ten: dict[str, Any],
) -> None:
    assert ten["render_lazy"].startswith("QueryForbidden: ")
    assert ten["render_joined"].splitlines() == [
        "b1.1 by author1",
        "b1.2 by author1",
        "b1.3 by author1",
    ]


def test_connection_setting_defaults_and_pool_rules(
    ten: dict[str, Any],
) -> None:
    found = ten["settings"]
    assert found["CONN_MAX_AGE"] == 0
    assert found["CONN_HEALTH_CHECKS"] is False
    assert found["pooled_persistent"] == (
        "Pooling doesn't support persistent connections."
    )
    # psycopg_pool is not in this project's environment.
    assert found["pooled"] == "Error loading psycopg_pool module."


def test_bad_authors_value_is_refused_before_any_query() -> None:
    done = run(AUTHORS="ten")
    assert done.returncode == 2
    assert "AUTHORS must be 1 to 1000, got 'ten'" in done.stderr
    assert done.stdout == ""


def test_main_exits_77_without_a_server() -> None:
    done = run(DATABASE_URL="postgresql://postgres@127.0.0.1:1/x")
    assert done.returncode == 77
    assert "orm_django_queries: skipped: postgresql://" in done.stderr
    assert done.stdout == ""
