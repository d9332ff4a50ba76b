"""Builds the Alembic configuration without an ini file."""

from pathlib import Path

from alembic.config import Config

HERE = Path(__file__).resolve().parent


def config(
    url: str, schema: str | None = None, lock_timeout: str = "2s"
) -> Config:
    """A Config for this environment. `url` is a SQLAlchemy URL such as
    postgresql+psycopg://postgres@127.0.0.1:5432/test; `schema`, when
    given, is where the tables and the version table go; `lock_timeout`
    bounds every lock wait of an online run."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    # Config values go through configparser interpolation: escape '%'.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("lock_timeout", lock_timeout)
    if schema is not None:
        cfg.set_main_option("schema", schema)
    return cfg
