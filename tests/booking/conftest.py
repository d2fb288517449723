"""The booking service in-process on a test clock, and request builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from services.booking.app import SPEC
from shared.events import BOOKING_STREAM, Envelope
from tests.support.apps import RunningService, staffed_service
from tests.support.clock import TestClock
from tests.support.streams import stream_events

BOOKING_STAFF = {"Authorization": "Bearer tb"}
DESK_STAFF = {"Authorization": "Bearer td"}
ORG_NUMBER = "974760673"
OTHER_ORG_NUMBER = "974760681"
# Monday 1 March 2027, 09:00 in Oslo: a week before and a month before the DST change.
START_OF_TESTS = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


Clock = TestClock


@pytest.fixture
def clock() -> Clock:
    return Clock(START_OF_TESTS)


@pytest.fixture(autouse=True)
def _quiet_reminder_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests drive reminders and releases themselves (send_due_reminders,
    # release_no_shows); the loops wait a poll first.
    monkeypatch.setenv("BOOKING_REMINDER_POLL_SECONDS", "3600")
    monkeypatch.setenv("BOOKING_RELEASE_POLL_SECONDS", "3600")
    monkeypatch.setenv("BOOKING_OFFER_POLL_SECONDS", "3600")


@pytest.fixture
async def service(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AsyncIterator[RunningService]:
    async with staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix, clock=clock
    ) as svc:
        yield svc


def org_booking(
    resource_id: str, start: str, end: str, *, number: str = ORG_NUMBER, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource_id": resource_id,
        "start": start,
        "end": end,
        "booker_type": "organisation",
        "booker": {"name": "Kari Nordmann", "email": "kari@example.org", "phone": "+47 000 00 000"},
        "organisation": {"number": number, "name": "Strømsø Sjakklubb"},
    }
    body.update(extra)
    return body


def person_booking(resource_id: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource_id": resource_id,
        "start": start,
        "end": end,
        "booker_type": "person",
        "booker": {"name": "Ola Nordmann", "email": "ola@example.org"},
    }
    body.update(extra)
    return body


async def booking_events(redis: Redis, prefix: str) -> list[Envelope]:
    return await stream_events(redis, prefix + BOOKING_STREAM)


async def events_of(redis: Redis, prefix: str, booking_id: str) -> list[str]:
    return [e.type for e in await booking_events(redis, prefix) if e.subject == booking_id]


@pytest.fixture
async def sqlite_service(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AsyncIterator[RunningService]:
    """For rules that do not depend on the database (calendar, notice, limits)."""
    async with staffed_service(
        SPEC, database_url=sqlite_database_url, redis_url=redis_url, prefix=prefix, clock=clock
    ) as svc:
        yield svc
