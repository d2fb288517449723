"""A closure over existing bookings: every booker is told, with the closure's reason, and
staff cancel or keep each booking (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from services.booking import usecases
from services.booking.app import SPEC
from services.booking.domain import ClosureAction, Contact
from services.booking.seed import seed_resources
from shared.errors import Conflict, NotFound
from shared.events import Actor
from tests.booking.conftest import (
    BOOKING_STAFF,
    DESK_STAFF,
    START_OF_TESTS,
    Clock,
    booking_events,
    events_of,
    org_booking,
)
from tests.booking.test_usecases import (
    OWNER_TOKEN,
    ROOM_SLOT,
    Units,
    Uow,
    booking,
    outbox,
    refused,
    run_recording,
    stored,
)
from tests.support.apps import RunningService
from tests.support.clock import TestClock
from tests.support.units import service_units
from tests.support.waiting import wait_for

DAY_START = datetime.fromisoformat("2027-03-02T00:00:00+01:00")
STAFF = Actor(kind="person", id="officer-1", roles=["booking"])


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START_OF_TESTS)


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[Units]:
    async with service_units(SPEC, database_url, clock) as made:
        await seed_resources(made.db, clock())
        yield made


def close(resource_id: str | None, reason: str = "Vannlekkasje") -> usecases.AddClosure:
    return usecases.AddClosure(
        resource_id, DAY_START, DAY_START + timedelta(days=1), reason, actor=STAFF
    )


def decide(
    closure_id: str, booking_id: str, action: ClosureAction
) -> usecases.DecideClosureBooking:
    return usecases.DecideClosureBooking(closure_id, booking_id, action, STAFF)


async def test_the_bookers_are_told_and_staff_cancel_or_keep_each(units: Units) -> None:
    room = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    person = booking(
        resource_id="moterom-2",
        booker_type="person",
        organisation=None,
        booker=Contact("Ola Nordmann", "ola@example.org", None, "en"),
    )
    other_room = await units.run(lambda uow: usecases.make_booking(uow, person))
    next_day = booking((ROOM_SLOT[0] + timedelta(days=1), ROOM_SLOT[1]))
    not_that_day = await units.run(lambda uow: usecases.make_booking(uow, next_day))
    later = booking((ROOM_SLOT[0] + timedelta(hours=3), timedelta(hours=1)))
    gone = await units.run(lambda uow: usecases.make_booking(uow, later))
    owner = usecases.CancelBooking(gone.booking.id, usecases.Access(token=OWNER_TOKEN))
    await units.run(lambda uow: usecases.cancel_booking(uow, owner))
    before = len(await outbox(units))

    added, recorded = await run_recording(
        units, lambda uow: usecases.add_closure(uow, close("moterom-1"))
    )
    # Only the room's active booking that day: not the other room, day, or a cancelled one.
    assert added.affected_bookings == [room.booking.id]
    assert recorded == ["BookingAffectedByClosure"]
    [told] = (await outbox(units))[before:]
    assert told.subject == room.booking.id
    assert told.data["booker"]["phone"] == "+4700000000"
    assert told.data["booker"]["email"] == "kari@example.org"
    assert told.data["closure_reason"] == "Vannlekkasje"
    assert told.data["closure_resource_id"] == "moterom-1"
    assert told.data["closure_id"] == added.closure.id
    assert told.data["organisation_name"] == "Strømsø Sjakklubb"
    assert told.data["actor"]["id"] == "officer-1"

    hub, recorded = await run_recording(units, lambda uow: usecases.add_closure(uow, close(None)))
    assert sorted(hub.affected_bookings) == sorted([room.booking.id, other_room.booking.id])
    assert recorded == ["BookingAffectedByClosure"] * 2
    assert not_that_day.booking.id not in hub.affected_bookings

    # The default: each booking stands, undecided, until staff choose.
    listed = await units.run(lambda uow: usecases.closure_bookings(uow, hub.closure.id))
    assert [(a.decision, a.booked.booking.status) for a in listed] == [("open", "confirmed")] * 2

    keep = decide(hub.closure.id, other_room.booking.id, "keep")
    kept, recorded = await run_recording(
        units, lambda uow: usecases.decide_closure_booking(uow, keep)
    )
    assert (kept.decision, kept.booked.booking.status, recorded) == ("kept", "confirmed", [])
    assert (await stored(units, other_room.booking.id)).status == "confirmed"

    cancel = decide(hub.closure.id, room.booking.id, "cancel")
    cancelled, recorded = await run_recording(
        units, lambda uow: usecases.decide_closure_booking(uow, cancel)
    )
    assert (cancelled.decision, cancelled.booked.booking.status) == ("cancelled", "cancelled")
    assert recorded == ["BookingCancelled"]
    row = await stored(units, room.booking.id)
    assert (row.status, row.cancelled_by, row.reason) == ("cancelled", "staff", "Vannlekkasje")
    event = (await outbox(units))[-1]
    assert (event.type, event.data["cancelled_by"]) == ("BookingCancelled", "staff")
    assert event.data["actor"]["id"] == "officer-1"

    # A cancelled one stays so; a kept one may still be cancelled.
    again = await refused(units, lambda uow: usecases.decide_closure_booking(uow, cancel))
    assert isinstance(again, Conflict) and again.code == "closure_booking_decided"
    keep_cancelled = decide(hub.closure.id, room.booking.id, "keep")
    again = await refused(units, lambda uow: usecases.decide_closure_booking(uow, keep_cancelled))
    assert isinstance(again, Conflict) and again.code == "closure_booking_decided"
    # The same booking under the first closure: it is no longer active.
    first = decide(added.closure.id, room.booking.id, "keep")
    inactive = await refused(units, lambda uow: usecases.decide_closure_booking(uow, first))
    assert isinstance(inactive, Conflict) and inactive.code == "booking_not_active"
    changed_mind = decide(hub.closure.id, other_room.booking.id, "cancel")
    late = await units.run(lambda uow: usecases.decide_closure_booking(uow, changed_mind))
    assert late.decision == "cancelled"

    listed = await units.run(lambda uow: usecases.closure_bookings(uow, hub.closure.id))
    assert [a.decision for a in listed] == ["cancelled", "cancelled"]


async def test_only_what_the_closure_fell_on_can_be_decided(units: Units) -> None:
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    added = await units.run(lambda uow: usecases.add_closure(uow, close("moterom-2")))
    assert added.affected_bookings == []
    outside = decide(added.closure.id, made.booking.id, "cancel")
    missing = await refused(units, lambda uow: usecases.decide_closure_booking(uow, outside))
    assert isinstance(missing, NotFound) and missing.code == "closure_booking_not_found"
    assert (await stored(units, made.booking.id)).status == "confirmed"
    nowhere = dataclasses.replace(outside, closure_id="no-such-closure")
    missing = await refused(units, lambda uow: usecases.decide_closure_booking(uow, nowhere))
    assert isinstance(missing, NotFound) and missing.code == "closure_not_found"
    missing = await refused(units, lambda uow: usecases.closure_bookings(uow, "no-such-closure"))
    assert missing.code == "closure_not_found"


async def test_staff_cancel_a_closed_booking_over_http_with_its_catering(
    service: RunningService, redis: Redis, prefix: str, clock: Clock
) -> None:
    body = org_booking(
        "moterom-1",
        "2027-03-02T10:00:00+01:00",
        "2027-03-02T12:00:00+01:00",
        catering={
            "lines": [{"item_id": "kaffe-te", "quantity": 10}],
            "people": 10,
            "serve_at": "2027-03-02T10:00:00+01:00",
        },
    )
    created = (await service.client.post("/bookings", json=body)).json()
    closure_body = {
        "start": "2027-03-02T00:00:00+01:00",
        "end": "2027-03-03T00:00:00+01:00",
        "reason": "Strømbrudd",
    }
    closed = await service.client.post("/closures", headers=BOOKING_STAFF, json=closure_body)
    assert closed.status_code == 201, closed.text
    closure_id = closed.json()["id"]
    assert closed.json()["affected_bookings"] == [created["id"]]

    path = f"/closures/{closure_id}/bookings"
    assert (await service.client.get(path)).status_code == 401
    assert (await service.client.get(path, headers=DESK_STAFF)).status_code == 403
    listed = await service.client.get(path, headers=BOOKING_STAFF)
    assert listed.status_code == 200
    [entry] = listed.json()
    assert (entry["decision"], entry["decided_at"]) == ("open", None)
    assert entry["booking"]["id"] == created["id"]

    decide_path = f"{path}/{created['id']}"
    assert (await service.client.post(f"{decide_path}/cancel")).status_code == 401
    odd = await service.client.post(f"{decide_path}/postpone", headers=BOOKING_STAFF)
    assert odd.status_code == 422
    unknown = await service.client.post(
        f"/closures/nope/bookings/{created['id']}/keep", headers=BOOKING_STAFF
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "closure_not_found")

    clock.advance(timedelta(minutes=5))
    cancelled = await service.client.post(f"{decide_path}/cancel", headers=BOOKING_STAFF)
    assert cancelled.status_code == 200, cancelled.text
    answer = cancelled.json()
    assert (answer["decision"], answer["booking"]["status"]) == ("cancelled", "cancelled")
    assert answer["booking"]["reason"] == "Strømbrudd"
    assert answer["decided_at"].startswith("2027-03-01T08:05:00")
    again = await service.client.post(
        f"{decide_path}/keep", headers={**BOOKING_STAFF, "Accept-Language": "nb"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "closure_booking_decided")
    assert again.json()["detail"] == "bookingen er allerede avlyst på grunn av denne stengingen"

    async def settled() -> list[str] | None:
        types = await events_of(redis, prefix, created["id"])
        return types if len(types) >= 3 else None

    types = await wait_for(settled, timeout=10, message="the closure's events")
    assert types == ["BookingConfirmed", "BookingAffectedByClosure", "BookingCancelled"]
    by_type = {e.type: e for e in await booking_events(redis, prefix)}
    assert by_type["BookingAffectedByClosure"].data["closure_reason"] == "Strømbrudd"
    assert by_type["BookingAffectedByClosure"].data["closure_resource_id"] is None
    # Catering cancels the order on this, as on any staff cancellation.
    assert by_type["BookingCancelled"].data["had_catering"] is True
    assert by_type["BookingCancelled"].data["reason"] == "Strømbrudd"


async def test_a_booking_made_while_a_closure_is_added_is_told(
    postgres_database_url: str, clock: TestClock
) -> None:
    """PostgreSQL (SQLite's BEGIN IMMEDIATE serialises the two already): a booking still
    being made when staff close the hub is among the bookings the closure tells."""
    async with service_units(SPEC, postgres_database_url, clock) as units:
        await seed_resources(units.db, clock())
        made_it, go_on = asyncio.Event(), asyncio.Event()

        async def slow_booking(uow: Uow) -> usecases.Booked:
            made = await usecases.make_booking(uow, booking())
            made_it.set()
            await go_on.wait()  # holds its transaction open, uncommitted
            return made

        booking_task = asyncio.create_task(units.run(slow_booking))
        await wait_for(made_it.is_set, timeout=10, message="the booking inserted")
        closure_task = asyncio.create_task(
            units.run(lambda uow: usecases.add_closure(uow, close(None)))
        )

        async def closure_waits_or_is_done() -> bool:
            if closure_task.done():
                return True
            async with units.db.read() as session:
                waiting = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
            return bool(waiting)

        await wait_for(closure_waits_or_is_done, timeout=10, message="the closure under way")
        go_on.set()
        made = await booking_task
        added = await closure_task
        assert added.affected_bookings == [made.booking.id]
