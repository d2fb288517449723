"""An index on bookings.start_at alone, for the queries over every resource of a time range
(staff's day view, public activities, a closure's bookings).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX on both backends: the table is small next to the locks a
    # CONCURRENTLY build would need outside the migration's transaction.
    op.create_index("ix_bookings_start", "bookings", ["start_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bookings_start", table_name="bookings")
