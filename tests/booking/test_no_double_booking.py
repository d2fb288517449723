"""No double booking, ever: concurrent requests, and the database's own guard."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
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
    row, insert = await _copies_of(service, first.json()["id"])
    assert row.blocked_until == row.end_at + timedelta(minutes=30)

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


async def test_a_long_booking_is_found_past_cancelled_ones_after_it(
    service: RunningService,
) -> None:
    """Only the last active booking to start before a new one can reach into it (active
    bookings never overlap), so that is where the check and the guard look: past cancelled
    rows in between, however long ago the long one began."""
    made = await service.client.post(
        "/bookings",
        json=org_booking("gymsalen", "2027-03-08T17:00:00+01:00", "2027-03-08T18:00:00+01:00"),
    )
    assert made.status_code == 201, made.text
    first, copy = await _copies_of(service, made.json()["id"])

    async def insert(start: timedelta, length: timedelta, status: str = "confirmed") -> str:
        at = first.start_at + start
        return await copy(status=status, start_at=at, end_at=at + length, blocked_until=at + length)

    # Three days long (a script's or staff's), from a day after the first; cancelled
    # bookings inside it; an active one the day it ends.
    long_id = await insert(timedelta(days=1), timedelta(days=3))
    for hours in range(30, 80, 7):
        await insert(timedelta(hours=hours), timedelta(hours=1), status="cancelled")
    later_id = await insert(timedelta(days=4, hours=2), timedelta(hours=1))

    # The database: into the long one, and over the later one.
    for start, length in (
        (timedelta(days=3), timedelta(hours=1)),
        (timedelta(days=4), timedelta(hours=3)),
    ):
        with pytest.raises(IntegrityError) as caught:
            await insert(start, length)
        assert store.is_overlap_violation(caught.value)
    # The service: the same two, each naming the booking in the way.
    for start, end, in_the_way in (
        ("2027-03-11T17:00:00+01:00", "2027-03-11T18:00:00+01:00", long_id),
        ("2027-03-12T17:00:00+01:00", "2027-03-12T20:00:00+01:00", later_id),
    ):
        clash = await service.client.post("/bookings", json=person_booking("gymsalen", start, end))
        assert clash.status_code == 409, clash.text
        assert clash.json()["conflict"]["booking_id"] == in_the_way
    # Between the long one (and its cancelled neighbours) and the later one: free.
    await insert(timedelta(days=4), timedelta(hours=1))


async def _copies_of(
    service: RunningService, booking_id: str
) -> tuple[Booking, Callable[..., Awaitable[str]]]:
    """A booking made through the service, and a writer of rows like it straight to the
    table (bypassing the service's check, as a bug or a script would); it returns the id."""
    async with service.runtime.db.read() as session:
        row = await session.get(Booking, booking_id)
        assert row is not None
        template = {c.key: getattr(row, c.key) for c in Booking.__table__.columns}

    async def insert(**changes: object) -> str:
        new_id = str(uuid.uuid4())
        async with service.runtime.db.transaction() as session:
            session.add(Booking(**{**template, "id": new_id, **changes}))
        return new_id

    return row, insert
