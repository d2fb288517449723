"""sender instances with a heartbeat; each delivery keeps its own send hours

Revision ID: 0003
Revises: 0002

Deliveries planned before this revision have no send hours. A citizen's non-urgent SMS still
waiting is given the default quiet hours' complement (08:00-21:00), so that its retries keep
quiet hours as before; a waiting staff SMS keeps none (the directory is not readable here),
which at most lets a retry reach a staff phone outside its hours once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_senders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notify_senders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_senders_heartbeat_at"), ["heartbeat_at"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_hours", sa.String(length=11), nullable=True))
    op.execute(
        "UPDATE deliveries SET send_hours = '08:00-21:00' WHERE channel = 'sms'"
        " AND recipient_kind = 'person' AND urgent = false AND status IN ('queued', 'sending')"
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("send_hours")
    with op.batch_alter_table("notify_senders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_senders_heartbeat_at"))
    op.drop_table("notify_senders")
