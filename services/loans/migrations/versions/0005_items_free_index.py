"""loans: an index of the items a check-out may pick

A check-out takes the first free item of its kind by label. With only the (hub, label)
index, the search stepped over every item on loan before the first free one: the more of a
kind were out, the longer each check-out looked (300 rows on average when 600 are lent one
after another). This partial index holds the items that are neither on loan nor retired,
in the order the pick wants them.

Revision ID: 0005_items_free
Revises: 0004_orders
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_items_free"
down_revision: str | None = "0004_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As models.ITEM_FREE says it today; a migration keeps its own copy.
_FREE = "current_loan_id IS NULL AND retired_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_items_free",
        "items",
        ["hub", "kind", "label"],
        unique=False,
        sqlite_where=sa.text(_FREE),
        postgresql_where=sa.text(_FREE),
    )


def downgrade() -> None:
    op.drop_index("ix_items_free", table_name="items")
