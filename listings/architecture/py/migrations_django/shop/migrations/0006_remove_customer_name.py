"""Contract: drop name. Deploy only once no old release is running."""

from django.db import migrations

SYNC_TRIGGER = """
CREATE FUNCTION customer_sync_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.full_name := coalesce(NEW.full_name, NEW.name);
        NEW.name := coalesce(NEW.name, NEW.full_name);
    ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.full_name := NEW.name;
    ELSIF NEW.full_name IS DISTINCT FROM OLD.full_name THEN
        NEW.name := NEW.full_name;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER customer_sync_name
    BEFORE INSERT OR UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_sync_name()
"""
DROP_SYNC_TRIGGER = """
DROP TRIGGER customer_sync_name ON customer;
DROP FUNCTION customer_sync_name()
"""
RESTORE_NAME = """
ALTER TABLE customer ADD COLUMN name text;
UPDATE customer SET name = full_name;
ALTER TABLE customer ALTER COLUMN name SET NOT NULL
"""


# ANCHOR: contract
class Migration(migrations.Migration):
    dependencies = (("shop", "0005_customer_full_name_idx"),)
    operations = (
        migrations.RunSQL(DROP_SYNC_TRIGGER, reverse_sql=SYNC_TRIGGER),
        # RemoveField alone would reverse as ADD COLUMN name text NOT NULL,
        # which fails on a table with rows: spell out the way back.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE customer DROP COLUMN name",
                    reverse_sql=RESTORE_NAME,
                ),
            ],
            state_operations=[
                migrations.RemoveField(model_name="customer", name="name"),
            ],
        ),
    )
    # ANCHOR_END: contract
