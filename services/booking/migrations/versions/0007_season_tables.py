"""Seasonal allocation: seasons, applications, allocations and waiting-list offers.

Revision ID: 0007_season
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0007_season"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "seasons",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("hub", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("applications_open_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applications_close_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("frame", sa.JSON(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("published", sa.JSON(), nullable=True),
        sa.Column("published_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_seasons_hub", "seasons", ["hub"])
    op.create_index("ix_seasons_resource_id", "seasons", ["resource_id"])
    op.create_table(
        "season_applications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("season_id", sa.String(length=64), nullable=False),
        sa.Column("org_number", sa.String(length=9), nullable=False),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("target_group", sa.String(length=16), nullable=False),
        sa.Column("activity", sa.String(length=200), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("wishes", sa.JSON(), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("wanted", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["org_number"], ["organisations.org_number"]),
        sa.ForeignKeyConstraint(["season_id"], ["seasons.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_season_applications_season_id", "season_applications", ["season_id"])
    op.create_index("ix_season_applications_org_number", "season_applications", ["org_number"])
    op.create_table(
        "season_allocations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("season_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("end_time", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("series_id", sa.String(length=64), nullable=True),
        sa.Column("skipped", sa.JSON(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["application_id"], ["season_applications.id"]),
        sa.ForeignKeyConstraint(["season_id"], ["seasons.id"]),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_season_allocations_season_id", "season_allocations", ["season_id"])
    op.create_index(
        "ix_season_allocations_application_id", "season_allocations", ["application_id"]
    )
    op.create_index("ix_season_allocations_series_id", "season_allocations", ["series_id"])
    op.create_table(
        "season_offers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("season_id", sa.String(length=64), nullable=False),
        sa.Column("release_id", sa.String(length=64), nullable=False),
        sa.Column("allocation_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("occurrences", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["allocation_id"], ["season_allocations.id"]),
        sa.ForeignKeyConstraint(["application_id"], ["season_applications.id"]),
        sa.ForeignKeyConstraint(["season_id"], ["seasons.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "application_id"),
    )
    op.create_index("ix_season_offers_season_id", "season_offers", ["season_id"])
    op.create_index("ix_season_offers_release_id", "season_offers", ["release_id"])
    op.create_index("ix_season_offers_expires_at", "season_offers", ["expires_at"])


def downgrade() -> None:
    op.drop_table("season_offers")
    op.drop_table("season_allocations")
    op.drop_table("season_applications")
    op.drop_table("seasons")
