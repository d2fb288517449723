"""A sign-up's language, so that the participant is told in it (nb or en).

Revision ID: 0006
Revises: 0005_close
Create Date: 2026-12-04 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005_close"
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
