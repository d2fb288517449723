"""Helpers for the catering tests: a clock the test moves, order bodies, events on Redis."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

from redis.asyncio import Redis

from services.catering.app import SPEC
from shared.calendar import at_local
from shared.events import WIRE_FIELD
from tests.support.apps import RunningService, running_service

STAFF_TOKENS = "tb:booking,td:desk,tc:cafe,ta:admin"
CAFE = {"Authorization": "Bearer tc"}
DESK = {"Authorization": "Bearer td"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, d: date, t: time) -> None:
        self.now = at_local(d, t)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def oslo(d: str, t: str = "10:00") -> datetime:
    return at_local(date.fromisoformat(d), time.fromisoformat(t))


@contextlib.asynccontextmanager
async def cafe_service(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AsyncIterator[RunningService]:
    async with running_service(
        SPEC,
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        staff_tokens=STAFF_TOKENS,
        clock=clock,
    ) as service:
        yield service


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
    entries = await redis.xrange(prefix + stream)
    return [json.loads(fields[WIRE_FIELD.encode()]) for _id, fields in entries]


async def event_types(redis: Redis, prefix: str) -> list[str]:
    return [e["type"] for e in await events(redis, prefix)]
