"""`python -m migrations_django rename_plan [--assume-rename]`: what
makemigrations would write if customer.full_name became display_name.

The autodetector compares two project states; when a field disappears and
an identical one appears, it asks the questioner whether that is a rename.
`makemigrations` asks the person at the terminal; with --noinput the answer
is no, and the migration drops the column and adds an empty one."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import models
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ModelState


class Command(BaseCommand):
    help = "Print the operations a rename of full_name would produce."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--assume-rename", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        # No connection: the states come from the migration files alone.
        loader = MigrationLoader(None, ignore_no_migrations=True)
        before = loader.project_state()
        after = before.clone()
        after.remove_model("shop", "customer")
        id_field: models.BigAutoField[int, int] = models.BigAutoField(
            auto_created=True,
            primary_key=True,
            serialize=False,
            verbose_name="ID",
        )
        after.add_model(
            ModelState(
                "shop",
                "Customer",
                [("id", id_field), ("display_name", models.TextField())],
                options={"db_table": "customer"},
            )
        )
        questioner = MigrationQuestioner(
            defaults={"ask_rename": options["assume_rename"]}
        )
        changes = MigrationAutodetector(before, after, questioner).changes(
            graph=loader.graph
        )
        for migration in changes.get("shop", []):
            for operation in migration.operations:
                name = type(operation).__name__
                self.stdout.write(f"{name}: {operation.describe()}")
