"""A sign-up's language, so that the participant is told in it (nb or en).

Revision ID: 0004_reg
Revises: 0003
Create Date: 2026-12-04 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_reg"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default fills the sign-ups made before: they were all told nothing, in nb.
    op.add_column(
        "registrations",
        sa.Column("language", sa.String(length=2), nullable=False, server_default="nb"),
    )


def downgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("language")
