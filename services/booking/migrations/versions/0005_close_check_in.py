"""Check-in and the release of no-shows: a resource's release_after_minutes, a booking's
checked_in_at and release_due_at (indexed for the release scan).

A released booking has status `released`, outside the overlap guards' active statuses
(0002: PostgreSQL's exclusion constraint, SQLite's triggers), so its time is free again
with no change to them.

Revision ID: 0005_close
Revises: 0004_close
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0005_close"
down_revision: str | None = "0004_close"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("resources", sa.Column("release_after_minutes", sa.Integer(), nullable=True))
    op.add_column(
        "bookings",
        sa.Column("checked_in_at", shared.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "bookings",
        sa.Column("release_due_at", shared.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_bookings_release_due", "bookings", ["release_due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bookings_release_due", table_name="bookings")
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying bookings would lose the
    # overlap triggers.
    op.drop_column("bookings", "release_due_at")
    op.drop_column("bookings", "checked_in_at")
    op.drop_column("resources", "release_after_minutes")
