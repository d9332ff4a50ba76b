"""Backfill full_name in batches, one transaction per batch.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# ANCHOR: backfill
# A DO block may COMMIT (PostgreSQL 11+) when it is not inside a
# transaction block: each batch's row locks end at its COMMIT. The same
# SQL works online and in `alembic upgrade --sql`.
BACKFILL = """
DO $$
DECLARE
    last_id bigint := 0;
    batch_end bigint;
BEGIN
    LOOP
        SELECT max(id) INTO batch_end FROM (
            SELECT id FROM customer WHERE id > last_id
            ORDER BY id LIMIT 1000) AS batch;
        EXIT WHEN batch_end IS NULL;
        UPDATE customer SET full_name = name
        WHERE id > last_id AND id <= batch_end AND full_name IS NULL;
        last_id := batch_end;
        COMMIT;
    END LOOP;
END $$
"""


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(BACKFILL)


def downgrade() -> None:
    # Nothing to undo: 0002's downgrade drops the column.
    pass
    # ANCHOR_END: backfill
