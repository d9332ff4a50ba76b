"""full_name NOT NULL, without holding ACCESS EXCLUSIVE during the scan.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# ANCHOR: not_null
def upgrade() -> None:
    op.create_check_constraint(
        "full_name_present",
        "customer",
        "full_name IS NOT NULL",
        postgresql_not_valid=True,
    )
    # Commit first: in the same transaction, VALIDATE would scan while
    # the ACCESS EXCLUSIVE lock of ADD CONSTRAINT is still held.
    with op.get_context().autocommit_block():
        op.execute("ALTER TABLE customer VALIDATE CONSTRAINT full_name_present")
    # PostgreSQL 12+ proves NOT NULL from the valid check: no scan.
    op.alter_column("customer", "full_name", nullable=False)
    op.drop_constraint("full_name_present", "customer", type_="check")


def downgrade() -> None:
    op.alter_column("customer", "full_name", nullable=True)
    # ANCHOR_END: not_null
