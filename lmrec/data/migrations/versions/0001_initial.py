"""Initial schema: items, users, event types and events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(256), primary_key=True),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("category", sa.Text, nullable=False, server_default=""),
        sa.Column("brand", sa.Text, nullable=False, server_default=""),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("price", sa.Float, nullable=True),
        sa.Column("attributes", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=True),
        sa.Column("available", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("attributes", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=True),
    )
    op.create_table(
        "event_types",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("weight", sa.Float, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("item_id", sa.String(256), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("context", sa.Text, nullable=True),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_user_id", "events", ["user_id"])
    op.create_index("ix_events_item_id", "events", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_events_item_id", "events")
    op.drop_index("ix_events_user_id", "events")
    op.drop_table("events")
    op.drop_table("event_types")
    op.drop_table("users")
    op.drop_table("items")
