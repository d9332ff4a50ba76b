"""2.3: an Alembic migration environment for the customer table.

The environment needs no alembic.ini: `config.config()` builds the
`alembic.config.Config` from a database URL and a scratch schema, and the
tests and `alembic_migrations.py` drive it through `alembic.command`.
"""
