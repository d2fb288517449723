"""Helpers for the loans tests: a clock to move, the service in-process, emitted events."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.loans.app import SPEC
from services.loans.models import messaging
from shared.calendar import OSLO
from tests.support.apps import RunningService, staffed_service
from tests.support.clock import TestClock

DESK = {"Authorization": "Bearer td"}
ADMIN = {"Authorization": "Bearer ta"}
CAFE = {"Authorization": "Bearer tc"}


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO).astimezone(UTC)  # type: ignore[misc]


Clock = TestClock

# A Tuesday, the desk open (10-14), no holiday near.
OPEN_TUESDAY = oslo(2026, 5, 12, 10, 30)


def loans_service(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AbstractAsyncContextManager[RunningService]:
    return staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix, clock=clock
    )


def borrower(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": f"Låner {n}", "phone": f"4000000{n % 10}", **extra}


async def emitted(service: RunningService, event_type: str) -> list[dict[str, Any]]:
    """The events the service wrote to its outbox (what it emitted), oldest first."""
    outbox = messaging.outbox
    async with service.runtime.db.read() as session:
        rows = (
            await session.execute(
                select(outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            )
        ).scalars()
        return [json.loads(r)["data"] for r in rows]


async def item_ids(service: RunningService, kind: str) -> dict[str, str]:
    r = await service.client.get("/items", params={"kind": kind})
    assert r.status_code == 200, r.text
    return {i["label"]: i["id"] for i in r.json()}
