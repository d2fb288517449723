"""Alembic, per service: each service keeps its migrations in services/<name>/migrations.

Migrations run inside one connection that first takes a PostgreSQL advisory lock, so
replicas starting together do not race; on SQLite BEGIN IMMEDIATE serialises them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import Database, advisory_key

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def _config(service: str, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("version_table", "alembic_version")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(service: str, db: Database, revision: str = "head") -> None:
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(f"migrate:{service}")}
            )
        await conn.run_sync(lambda sync: command.upgrade(_config(service, sync), revision))


async def current(service: str, db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def run_env(context: Any, metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through the service (python -m services.<name> migrate) "
            "or `python -m shared.migrations`"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _revision(service: str, url: str, message: str) -> None:
    db = Database(url)
    await upgrade(service, db)
    async with db.engine.begin() as conn:
        await conn.run_sync(
            lambda sync: command.revision(
                _config(service, sync), message=message, autogenerate=True
            )
        )
    await db.dispose()


if __name__ == "__main__":
    # Developer tool: python -m shared.migrations <service> "<message>"
    # autogenerates a revision against a scratch SQLite database at head.
    import asyncio
    import tempfile

    name, msg = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_revision(name, f"sqlite+aiosqlite:///{tmp}/scratch.db", msg))
