"""2.3: the SQL that Alembic and Django would run for the NOT NULL and
index steps of the expand/contract rename, without running it.

`alembic upgrade 0003:0005 --sql` renders the revisions offline (no
connection at all); Django's `sqlmigrate` renders one migration (it
connects, to read which migrations are applied). Both show where the
tools commit: around VALIDATE and CREATE INDEX CONCURRENTLY.

Exits with 77 when PostgreSQL (for sqlmigrate) is unreachable.
"""

import io
import os
import sys

import psycopg
from alembic import command
from migrations_alembic.config import config

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


# ANCHOR: offline
def alembic_offline(start: str, end: str) -> list[str]:
    """`alembic upgrade start:end --sql`, as lines."""
    out = io.StringIO()
    # Offline mode never connects: the URL only picks the dialect.
    cfg = config("postgresql+psycopg://")
    cfg.output_buffer = out
    command.upgrade(cfg, f"{start}:{end}", sql=True)
    return [line.rstrip() for line in out.getvalue().splitlines() if line]


def django_sqlmigrate(migration: str) -> list[str]:
    """`python -m migrations_django sqlmigrate shop <migration>`."""
    os.environ.setdefault(
        "DJANGO_SETTINGS_MODULE", "migrations_django.settings"
    )
    import django
    from django.core.management import call_command

    django.setup()
    out = io.StringIO()
    call_command("sqlmigrate", "shop", migration, stdout=out)
    lines = out.getvalue().splitlines()
    return [line for line in lines if line and not line.startswith("--")]
    # ANCHOR_END: offline


def main() -> int:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        print(f"migration_sql: skipped: {url}: {reason}", file=sys.stderr)
        return 77
    print("$ alembic upgrade 0003:0005 --sql")
    print("\n".join(alembic_offline("0003", "0005")))
    for migration in ["0004", "0005"]:
        print(f"\n$ python -m migrations_django sqlmigrate shop {migration}")
        print("\n".join(django_sqlmigrate(migration)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
