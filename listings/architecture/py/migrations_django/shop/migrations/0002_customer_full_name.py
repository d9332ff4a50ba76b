"""Expand: full_name, nullable, kept equal to name by a trigger."""

from django.db import migrations, models

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


# ANCHOR: expand
class Migration(migrations.Migration):
    dependencies = (("shop", "0001_initial"),)
    operations = (
        migrations.AddField(
            model_name="customer",
            name="full_name",
            field=models.TextField(null=True),
        ),
        migrations.RunSQL(SYNC_TRIGGER, reverse_sql=DROP_SYNC_TRIGGER),
    )
    # ANCHOR_END: expand
