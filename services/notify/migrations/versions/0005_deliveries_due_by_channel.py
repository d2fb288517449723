"""notify: the due index by channel

The sender claims what is due with a loop per channel (timers.Sender), so that a text is
never held up by the emails of its batch, nor an email by a slow SMS gateway. Each claim
asks for one channel: with the channel in the index, it reads that channel's due rows in
order, not every queued row of the other channel before them.

Revision ID: 0005_due_by_channel
Revises: 0004_notify_digest
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_due_by_channel"
down_revision: str | None = "0004_notify_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index(
        "ix_deliveries_due", "deliveries", ["status", "channel", "next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"], unique=False)
