"""notify: preference links by token

A preferences link named the person's address in its path; it now carries only its token
(an HMAC of the address), on the web front. The token is kept with each message that
carries the link, and with the preferences the address set, so that the link can find
its address again. Anonymisation and erasure clear it with the address.

Revision ID: 0006_preference_tokens
Revises: 0005_due_by_channel
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_preference_tokens"
down_revision: str | None = "0005_due_by_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as table:
        table.add_column(sa.Column("preference_token", sa.String(length=32), nullable=True))
        table.create_index("ix_deliveries_preference_token", ["preference_token"])
    with op.batch_alter_table("preferences") as table:
        table.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        table.create_index("ix_preferences_token", ["token"])


def downgrade() -> None:
    with op.batch_alter_table("preferences") as table:
        table.drop_index("ix_preferences_token")
        table.drop_column("token")
    with op.batch_alter_table("deliveries") as table:
        table.drop_index("ix_deliveries_preference_token")
        table.drop_column("preference_token")
