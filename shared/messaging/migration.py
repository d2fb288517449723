"""The outbox and inbox tables as an Alembic step, shared by every service's first migration."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime


def create_messaging_tables() -> None:
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(length=100), primary_key=True),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(length=100), nullable=False, unique=True),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )


def drop_messaging_tables() -> None:
    op.drop_table("outbox")
    op.drop_table("inbox")
