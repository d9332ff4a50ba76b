"""The two models of 2.6: an author has many books."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.db import models

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager


# ANCHOR: models
class Author(models.Model):
    name: models.CharField[str, str] = models.CharField(max_length=100)
    objects: ClassVar[models.Manager[Author]]
    if TYPE_CHECKING:  # the reverse side of Book.author, for mypy
        books: RelatedManager[Book]

    class Meta:
        app_label = "orm_django"


class Book(models.Model):
    title: models.CharField[str, str] = models.CharField(max_length=200)
    price_cents: models.IntegerField[int, int] = models.IntegerField()
    blurb: models.TextField[str, str] = models.TextField()
    author: models.ForeignKey[Author, Author] = models.ForeignKey(
        Author, on_delete=models.CASCADE, related_name="books"
    )  # ForeignKey gets an index by default (db_index=True)
    objects: ClassVar[models.Manager[Book]]

    class Meta:
        app_label = "orm_django"


# ANCHOR_END: models
