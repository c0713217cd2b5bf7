"""The store's tables as SQLAlchemy Core metadata: the single description of the schema.

Migrations in `lmrec/data/migrations/versions/` create and evolve these tables; a test checks that
the migrated database matches this metadata exactly.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

items = sa.Table(
    "items",
    metadata,
    sa.Column("item_id", sa.String(256), primary_key=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("category", sa.Text, nullable=False, server_default=""),
    sa.Column("brand", sa.Text, nullable=False, server_default=""),
    sa.Column("tags", sa.Text, nullable=False, server_default="[]"),  # JSON list of strings
    sa.Column("price", sa.Float, nullable=True),
    sa.Column("attributes", sa.Text, nullable=True),  # JSON object
    sa.Column("created_at", sa.Float, nullable=True),  # unix seconds
    sa.Column("available", sa.Boolean, nullable=False, server_default=sa.true()),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("attributes", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=True),
)

event_types = sa.Table(
    "event_types",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("weight", sa.Float, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(256), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("item_id", sa.String(256), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("context", sa.Text, nullable=True),  # JSON object
    sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    sa.Index("ix_events_user_id", "user_id"),
    sa.Index("ix_events_item_id", "item_id"),
)
