"""The bookings a closure fell on, with staff's choice for each (cancel or keep).

Revision ID: 0004_close
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0004_close"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closure_bookings",
        sa.Column("closure_id", sa.String(length=64), nullable=False),
        sa.Column("booking_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"]),
        sa.ForeignKeyConstraint(["closure_id"], ["closures.id"]),
        sa.PrimaryKeyConstraint("closure_id", "booking_id"),
    )
    op.create_index(
        "ix_closure_bookings_booking_id", "closure_bookings", ["booking_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_closure_bookings_booking_id", table_name="closure_bookings")
    op.drop_table("closure_bookings")
