"""No double booking, ever: concurrent requests, and the database's own guard."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.booking import store
from services.booking.models import Booking
from tests.booking.conftest import org_booking, person_booking
from tests.support.apps import RunningService

SLOT = ("2027-03-02T10:00:00+01:00", "2027-03-02T12:00:00+01:00")


async def test_fifty_concurrent_requests_for_one_slot_give_one_booking(
    service: RunningService,
) -> None:
    async def attempt(i: int) -> int:
        body = person_booking(
            "moterom-1", *SLOT, booker={"name": f"P{i}", "email": "p@example.org"}
        )
        return (await service.client.post("/bookings", json=body)).status_code

    statuses = Counter(await asyncio.gather(*(attempt(i) for i in range(50))))
    assert statuses == {201: 1, 409: 49}
    async with service.runtime.db.read() as session:
        active = list(
            await session.scalars(
                select(Booking).where(Booking.status.in_(("pending", "confirmed")))
            )
        )
    assert len(active) == 1


async def test_overlap_answer_names_the_conflicting_time(service: RunningService) -> None:
    first = await service.client.post("/bookings", json=org_booking("moterom-1", *SLOT))
    assert first.status_code == 201, first.text
    clash = await service.client.post(
        "/bookings",
        json=org_booking("moterom-1", "2027-03-02T11:30:00+01:00", "2027-03-02T13:00:00+01:00"),
    )
    assert clash.status_code == 409
    body = clash.json()
    assert body["conflict"]["booking_id"] == first.json()["id"]
    assert body["conflict"]["start"].startswith("2027-03-02T09:00:00")
    # Touching is not overlapping: a booking may start when the previous one ends.
    after = await service.client.post(
        "/bookings",
        json=org_booking("moterom-1", "2027-03-02T12:00:00+01:00", "2027-03-02T13:00:00+01:00"),
    )
    assert after.status_code == 201, after.text
    # The other room is free at the same time.
    other = await service.client.post("/bookings", json=org_booking("moterom-2", *SLOT))
    assert other.status_code == 201, other.text


async def test_the_database_itself_refuses_an_overlap(service: RunningService) -> None:
    """Bypassing the application's check (a bug, a script): the exclusion constraint
    (PostgreSQL) or the trigger (SQLite) still refuses, and the buffer counts."""
    first = await service.client.post(
        "/bookings",
        json=org_booking("gymsalen", "2027-03-05T17:00:00+01:00", "2027-03-05T19:00:00+01:00"),
    )
    assert first.status_code == 201, first.text
    async with service.runtime.db.read() as session:
        row = await session.get(Booking, first.json()["id"])
        assert row is not None
        assert row.blocked_until == row.end_at + timedelta(minutes=30)
        template = {c.key: getattr(row, c.key) for c in Booking.__table__.columns}

    async def insert(**changes: object) -> None:
        async with service.runtime.db.transaction() as session:
            session.add(Booking(**{**template, "id": str(uuid.uuid4()), **changes}))

    # Starts inside the first one's buffer (19:00-19:30).
    with pytest.raises(IntegrityError) as caught:
        await insert(
            start_at=row.end_at + timedelta(minutes=10),
            end_at=row.end_at + timedelta(hours=1),
            blocked_until=row.end_at + timedelta(hours=1, minutes=30),
        )
    assert store.is_overlap_violation(caught.value)
    # A cancelled row may overlap; re-activating it may not.
    await insert(status="cancelled")
    async with service.runtime.db.transaction() as session:
        cancelled = await session.scalar(select(Booking).where(Booking.status == "cancelled"))
        assert cancelled is not None
        cancelled_id = cancelled.id
    with pytest.raises(IntegrityError):
        async with service.runtime.db.transaction() as session:
            again = await session.get(Booking, cancelled_id)
            assert again is not None
            again.status = "confirmed"
    # After the buffer it is allowed.
    await insert(
        start_at=row.blocked_until,
        end_at=row.blocked_until + timedelta(hours=1),
        blocked_until=row.blocked_until + timedelta(hours=1, minutes=30),
    )
