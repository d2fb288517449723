"""Replicas started together on a fresh database all seed it (issue 14): the seed is one
INSERT … ON CONFLICT DO NOTHING, so no replica's startup dies of a unique violation."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from services.booking.models import Resource
from services.booking.seed import RESOURCES, seed_resources
from shared import migrations
from shared.db import Database
from tests.booking.conftest import START_OF_TESTS

REPLICAS = 4


async def test_replicas_seeding_a_fresh_database_together_each_row_once(
    database_url: str,
) -> None:
    together = asyncio.Barrier(REPLICAS)

    async def replica() -> None:
        db = Database(database_url)  # an engine of its own, as a replica process has
        try:
            await migrations.upgrade("booking", db)
            await together.wait()  # all seed at the same moment
            await seed_resources(db, START_OF_TESTS)
        finally:
            await db.dispose()

    await asyncio.gather(*(replica() for _ in range(REPLICAS)))  # raises if any replica did

    db = Database(database_url)
    try:
        async with db.read() as session:
            ids = Counter(await session.scalars(select(Resource.id)))
    finally:
        await db.dispose()
    assert ids == Counter({spec["id"]: 1 for spec in RESOURCES})
