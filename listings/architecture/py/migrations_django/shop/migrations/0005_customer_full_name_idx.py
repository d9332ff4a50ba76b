"""Index full_name without blocking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


# ANCHOR: index
class Migration(migrations.Migration):
    # CONCURRENTLY cannot run in a transaction block; Django refuses the
    # operation in an atomic migration before sending anything.
    atomic = False
    dependencies = (("shop", "0004_customer_full_name_not_null"),)
    operations = (
        # No reads or writes wait for it, but it waits for every older
        # transaction in the database: no 2 s lock budget for it.
        migrations.RunSQL(
            "SET lock_timeout = 0", reverse_sql="RESET lock_timeout"
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(
                fields=["full_name"], name="customer_full_name_idx"
            ),
        ),
        migrations.RunSQL(
            "RESET lock_timeout", reverse_sql="SET lock_timeout = 0"
        ),
    )
    # ANCHOR_END: index
