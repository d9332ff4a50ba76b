"""Expand: add full_name, nullable, and keep it equal to name.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from migrations_alembic.sync_trigger import (
    CREATE_SYNC_TRIGGER,
    DROP_SYNC_TRIGGER,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# ANCHOR: expand
def upgrade() -> None:
    # Nullable and without a default: a catalog change, no table rewrite.
    op.add_column("customer", sa.Column("full_name", sa.Text))
    op.execute(CREATE_SYNC_TRIGGER)


def downgrade() -> None:
    op.execute(DROP_SYNC_TRIGGER)
    op.drop_column("customer", "full_name")
    # ANCHOR_END: expand
