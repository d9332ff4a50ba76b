"""The model at the end of the change (after 0006)."""

from __future__ import annotations

from django.db import models


# ANCHOR: model
class Customer(models.Model):
    full_name: models.TextField[str, str] = models.TextField()

    class Meta:
        db_table = "customer"
        indexes = (
            models.Index(fields=["full_name"], name="customer_full_name_idx"),
        )
        # ANCHOR_END: model
