"""the staff's daily digest: per-item digest state and the digests made

Revision ID: 0004_notify_digest
Revises: 0004_notify
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0004_notify_digest"
down_revision: str | None = "0004_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_items",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("hub", sa.String(length=50), nullable=True),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("short_notice", sa.Boolean(), nullable=False),
        sa.Column("event_time", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_digest_items_role_open_at", "digest_items", ["role", "open", "at"])
    op.create_table(
        "digests_sent",
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("made_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("role", "day"),
    )


def downgrade() -> None:
    op.drop_table("digests_sent")
    op.drop_index("ix_digest_items_role_open_at", table_name="digest_items")
    op.drop_table("digest_items")
