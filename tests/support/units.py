"""A service's use cases without HTTP: its migrated database and a UnitsOfWork on it.

async with service_units(SPEC, database_url, clock) as units:
    view = await units.run(lambda uow: usecases.approve(uow, cmd))
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from shared import migrations
from shared.db import Database
from shared.service import ServiceSpec
from shared.unit_of_work import UnitsOfWork


@contextlib.asynccontextmanager
async def service_units(
    spec: ServiceSpec, database_url: str, clock: Callable[[], datetime]
) -> AsyncIterator[UnitsOfWork[Any]]:
    db = Database(database_url)
    try:
        await migrations.upgrade(spec.name, db)
        yield UnitsOfWork(
            db,
            spec.tables,
            spec.store,
            clock,
            attempts=spec.transaction_attempts,
            integrity=spec.integrity,
        )
    finally:
        await db.dispose()
