"""loans: staff closures of the desk

Revision ID: 0004_orders
Revises: 0003
Create Date: 2026-12-04 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0004_orders"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_closures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hub", sa.String(length=50), nullable=False),
        sa.Column("start_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_desk_closures_hub", "desk_closures", ["hub"], unique=False)
    op.create_index("ix_desk_closures_end_at", "desk_closures", ["end_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_desk_closures_end_at", table_name="desk_closures")
    op.drop_index("ix_desk_closures_hub", table_name="desk_closures")
    op.drop_table("desk_closures")
