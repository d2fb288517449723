"""Replicas started together on a fresh database seed it at the same moment: every one of
them gets through, and each demo row is there once (issue 14)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.catering.models import MenuItem
from services.catering.seed import DEMO_MENU, seed_menu
from shared import migrations
from shared.db import Database
from shared.hubs import DEFAULT_HUB
from tests.catering.support import oslo

REPLICAS = 4


async def test_replicas_seeding_at_once_all_succeed_and_seed_each_row_once(
    database_url: str,
) -> None:
    first = Database(database_url)
    try:
        await migrations.upgrade("catering", first)
    finally:
        await first.dispose()
    now = oslo("2026-06-01", "09:00")
    ready = asyncio.Barrier(REPLICAS)

    async def replica() -> None:
        db = Database(database_url)  # each replica has its own engine and connections
        try:
            await db.ping()
            await ready.wait()
            await seed_menu(db, now)
        finally:
            await db.dispose()

    results = await asyncio.gather(*(replica() for _ in range(REPLICAS)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []

    db = Database(database_url)
    try:
        async with db.read() as session:
            counts = dict(
                (
                    await session.execute(
                        select(MenuItem.id, func.count())
                        .where(MenuItem.hub == DEFAULT_HUB)
                        .group_by(MenuItem.id)
                    )
                ).all()
            )
    finally:
        await db.dispose()
    assert counts == {item["id"]: 1 for item in DEMO_MENU}
