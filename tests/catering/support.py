"""Helpers for the catering tests: a clock the test moves, order bodies, events on Redis."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, time
from typing import Any

from redis.asyncio import Redis

from services.catering.app import SPEC
from shared.calendar import at_local
from tests.support.apps import RunningService, staffed_service
from tests.support.clock import TestClock
from tests.support.streams import stream_entries

CAFE = {"Authorization": "Bearer tc"}
DESK = {"Authorization": "Bearer td"}


Clock = TestClock


def oslo(d: str, t: str = "10:00") -> datetime:
    return at_local(date.fromisoformat(d), time.fromisoformat(t))


def cafe_service(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AbstractAsyncContextManager[RunningService]:
    return staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix, clock=clock
    )


def customer() -> dict[str, Any]:
    return {"name": "Kari Nordmann", "email": "kari@example.org", "phone": "+4700000000"}


def takeaway(pickup_at: datetime, **lines: int) -> dict[str, Any]:
    return {
        "kind": "takeaway",
        "pickup_at": pickup_at.isoformat(),
        "lines": [{"item_id": k.replace("_", "-"), "quantity": v} for k, v in lines.items()],
        "customer": customer(),
    }


def catering(pickup_at: datetime, people: int, **lines: int) -> dict[str, Any]:
    return {
        "kind": "catering",
        "pickup_at": pickup_at.isoformat(),
        "people": people,
        "lines": [{"item_id": k.replace("_", "-"), "quantity": v} for k, v in lines.items()],
        "customer": customer(),
    }


async def events(redis: Redis, prefix: str, stream: str = "catering.events") -> list[dict]:
    """Every envelope on the stream, oldest first."""
    return await stream_entries(redis, prefix + stream)


async def event_types(redis: Redis, prefix: str) -> list[str]:
    return [e["type"] for e in await events(redis, prefix)]
