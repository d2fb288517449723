"""Each resource's version: how often it and its bookings have changed, counted by
triggers on `resources` and `bookings` (every insert, update and delete, whoever writes),
so that the staff's lists can tell in one short read whether they changed (their ETags).

On PostgreSQL the count of a resource is one row that a writer holds until it commits;
writers of one resource's bookings already queue for that resource (Store.lock_resource),
so they wait no longer for it.

Revision ID: 0008_versions
Revises: 0007_season
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_versions"
down_revision: str | None = "0007_season"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The column that names the resource, in each table counted.
_COUNTED = {"bookings": "resource_id", "resources": "id"}


def _count(row: str, column: str, when: str = "") -> str:
    """SQLite: one more change of the resource `row`.`column` names (`row`: NEW or OLD)."""
    where = f" WHERE {when}" if when else " WHERE true"
    return (
        f"INSERT INTO resource_versions (resource_id, version) SELECT {row}.{column}, 1{where} "
        "ON CONFLICT (resource_id) DO UPDATE SET version = version + 1;"
    )


_POSTGRES_FUNCTION = """
CREATE FUNCTION count_resource_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text;
    after text;
BEGIN
    -- Each branch is planned only when it runs: a resources row has no resource_id.
    IF TG_TABLE_NAME = 'bookings' THEN
        IF TG_OP <> 'INSERT' THEN before := OLD.resource_id; END IF;
        IF TG_OP <> 'DELETE' THEN after := NEW.resource_id; END IF;
    ELSE
        IF TG_OP <> 'INSERT' THEN before := OLD.id; END IF;
        IF TG_OP <> 'DELETE' THEN after := NEW.id; END IF;
    END IF;
    IF after IS NOT NULL THEN
        INSERT INTO resource_versions (resource_id, version) VALUES (after, 1)
        ON CONFLICT (resource_id) DO UPDATE SET version = resource_versions.version + 1;
    END IF;
    IF before IS NOT NULL AND before IS DISTINCT FROM after THEN
        INSERT INTO resource_versions (resource_id, version) VALUES (before, 1)
        ON CONFLICT (resource_id) DO UPDATE SET version = resource_versions.version + 1;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "resource_versions",
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for table in _COUNTED:
            op.execute(
                f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION count_resource_version()"
            )
    elif dialect == "sqlite":
        for table, column in _COUNTED.items():
            op.execute(
                f"CREATE TRIGGER {table}_version_insert AFTER INSERT ON {table} "
                f"BEGIN {_count('NEW', column)} END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_version_update AFTER UPDATE ON {table} BEGIN "
                f"{_count('NEW', column)} "
                f"{_count('OLD', column, f'OLD.{column} IS NOT NEW.{column}')} END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_version_delete AFTER DELETE ON {table} "
                f"BEGIN {_count('OLD', column)} END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in _COUNTED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS count_resource_version()")
    elif dialect == "sqlite":
        for table in _COUNTED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{event}")
    op.drop_table("resource_versions")
