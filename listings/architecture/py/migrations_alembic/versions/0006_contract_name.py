"""Contract: drop name. Deploy only once no old release is running.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from migrations_alembic.sync_trigger import (
    CREATE_SYNC_TRIGGER,
    DROP_SYNC_TRIGGER,
)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# ANCHOR: contract
def upgrade() -> None:
    op.execute(DROP_SYNC_TRIGGER)
    op.drop_column("customer", "name")


def downgrade() -> None:
    op.add_column("customer", sa.Column("name", sa.Text))
    op.execute("UPDATE customer SET name = full_name")
    op.alter_column("customer", "name", nullable=False)
    op.execute(CREATE_SYNC_TRIGGER)
    # ANCHOR_END: contract
