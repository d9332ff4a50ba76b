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
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(
                fields=["full_name"], name="customer_full_name_idx"
            ),
        ),
    )
    # ANCHOR_END: index
