"""full_name NOT NULL, without holding ACCESS EXCLUSIVE during the scan."""

from django.contrib.postgres.operations import (
    AddConstraintNotValid,
    ValidateConstraint,
)
from django.db import migrations, models


# ANCHOR: not_null
class Migration(migrations.Migration):
    # Each operation commits on its own, so VALIDATE's scan runs after
    # ADD CONSTRAINT's ACCESS EXCLUSIVE lock is released.
    atomic = False
    dependencies = (("shop", "0003_backfill_full_name"),)
    operations = (
        AddConstraintNotValid(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=models.Q(full_name__isnull=False),
                name="full_name_present",
            ),
        ),
        ValidateConstraint(model_name="customer", name="full_name_present"),
        # SET NOT NULL: PostgreSQL 12+ proves it from the valid check.
        migrations.AlterField(
            model_name="customer",
            name="full_name",
            field=models.TextField(),
        ),
        migrations.RemoveConstraint(
            model_name="customer", name="full_name_present"
        ),
    )
    # ANCHOR_END: not_null
