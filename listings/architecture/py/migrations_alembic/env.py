"""The Alembic environment: runs the revisions online (against a live
connection) or offline (`alembic upgrade --sql`, printing the SQL)."""

from alembic import context
from sqlalchemy import create_engine, pool

from migrations_alembic.models import metadata

config = context.config
URL = config.get_main_option("sqlalchemy.url") or ""
SCHEMA = config.get_main_option("schema")


def run_offline() -> None:
    """Writes the SQL instead of running it: for a DBA, or a deploy tool
    that runs SQL files. Nothing connects."""
    context.configure(
        url=URL,
        target_metadata=metadata,
        literal_binds=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # ANCHOR: lock_timeout
    # Every DDL statement waits at most 2 s for its lock, then fails with
    # 55P03 instead of queueing the application's queries behind it.
    lock_timeout = config.get_main_option("lock_timeout", "2s")
    options = f"-c lock_timeout={lock_timeout}"
    # ANCHOR_END: lock_timeout
    if SCHEMA:
        # The scratch schema first in search_path: the unqualified names
        # in the revisions, and the version table, land in it.
        options += f" -c search_path={SCHEMA}"
    engine = create_engine(
        URL, poolclass=pool.NullPool, connect_args={"options": options}
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # One transaction per revision, so that a failure keeps the
            # revisions before it, and autocommit blocks end only one.
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
