"""catering: customers' changes to orders

Revision ID: 0003_orders
Revises: 0002
Create Date: 2026-12-04 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0003_orders"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_changes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pickup_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pickup_day", sa.Date(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("portions", sa.Integer(), nullable=False),
        sa.Column("total_ore", sa.Integer(), nullable=False),
        sa.Column("short_notice", sa.Boolean(), nullable=False),
        sa.Column("order_by", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancel_cutoff_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("previous_pickup_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("portions > 0", name="ck_order_changes_portions"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_changes_order_id", "order_changes", ["order_id"], unique=False)
    op.create_index(
        "uq_order_changes_pending",
        "order_changes",
        ["order_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_order_changes_pending", table_name="order_changes")
    op.drop_index("ix_order_changes_order_id", table_name="order_changes")
    op.drop_table("order_changes")
