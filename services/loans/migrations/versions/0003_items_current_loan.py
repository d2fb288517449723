"""The active loan on the item's row (items.current_loan_id), for check-outs by kind at once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_loan_id", sa.String(length=36), nullable=True))
    # Loans made before this revision: the one active loan per item (uq_loans_active_item).
    op.execute(
        "UPDATE items SET current_loan_id = ("
        "SELECT loans.id FROM loans"
        " WHERE loans.item_id = items.id AND loans.returned_at IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("current_loan_id")
