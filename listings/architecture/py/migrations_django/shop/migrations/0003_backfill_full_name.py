"""Backfill full_name in batches, one transaction per batch."""

from django.apps.registry import Apps
from django.db import migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import F

BATCH = 1000


# ANCHOR: backfill
def backfill(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The model as it is at this migration, not the one in models.py.
    customer = apps.get_model("shop", "Customer")
    alias = schema_editor.connection.alias
    last = 0
    while True:
        with transaction.atomic(using=alias):
            keys = list(
                customer.objects.using(alias)
                .filter(id__gt=last)
                .order_by("id")
                .values_list("id", flat=True)[:BATCH]
            )
            if not keys:
                return
            customer.objects.using(alias).filter(
                id__in=keys, full_name__isnull=True
            ).update(full_name=F("name"))
        last = keys[-1]


class Migration(migrations.Migration):
    # Not one transaction for the whole migration: one per batch.
    atomic = False
    dependencies = (("shop", "0002_customer_full_name"),)
    operations = (migrations.RunPython(backfill, migrations.RunPython.noop),)
    # ANCHOR_END: backfill
