"""The tables as the application's models declare them at head, for
autogenerate (`alembic revision --autogenerate` compares these with the
database)."""

from sqlalchemy import Column, Identity, Index, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import BIGINT

metadata = MetaData()

# ANCHOR: model
customer = Table(
    "customer",
    metadata,
    Column("id", BIGINT, Identity(always=True), primary_key=True),
    Column("full_name", Text, nullable=False),
    Index("customer_full_name_idx", "full_name"),
)
# ANCHOR_END: model
