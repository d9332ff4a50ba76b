"""Index full_name without blocking writes.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# ANCHOR: index
def upgrade() -> None:
    # CONCURRENTLY cannot run in a transaction block (SQLSTATE 25001):
    # the autocommit block commits the migration's transaction first.
    with op.get_context().autocommit_block():
        # It blocks no reads or writes, but waits for every older
        # transaction in the database: no 2 s lock budget for it.
        op.execute("SET lock_timeout = 0")
        op.create_index(
            "customer_full_name_idx",
            "customer",
            ["full_name"],
            postgresql_concurrently=True,
        )
        op.execute("RESET lock_timeout")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "customer_full_name_idx",
            table_name="customer",
            postgresql_concurrently=True,
        )
        # ANCHOR_END: index
