"""Check-in and no-shows: a booking of a resource that releases (release_after_minutes) and
not checked in by then is released once, its time free again, and counted against its
organisation (SQLite and PostgreSQL, on the injected clock)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from services.booking import usecases
from services.booking.app import SPEC
from services.booking.domain import Contact
from services.booking.seed import seed_resources
from services.booking.timers import release_no_shows
from shared.errors import Conflict, NotAllowed, NotFound, Refused
from tests.booking.conftest import (
    BOOKING_STAFF,
    ORG_NUMBER,
    START_OF_TESTS,
    Clock,
    booking_events,
    org_booking,
    person_booking,
)
from tests.booking.test_usecases import (
    OWNER_TOKEN,
    ROOM_SLOT,
    Units,
    booking,
    history,
    outbox,
    refused,
    run_recording,
    stored,
)
from tests.support.apps import RunningService, staffed_service
from tests.support.clock import TestClock
from tests.support.units import service_units
from tests.support.waiting import wait_for

START = ROOM_SLOT[0].astimezone(UTC)
RELEASING = {"release_after_minutes": 15, "min_notice_minutes": 0}


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START_OF_TESTS)


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[Units]:
    async with service_units(SPEC, database_url, clock) as made:
        await seed_resources(made.db, clock())
        edit = usecases.EditResource("moterom-1", RELEASING)
        await made.run(lambda uow: usecases.edit_resource(uow, edit))
        yield made


def at(clock: TestClock, after_start: timedelta) -> None:
    clock.now = START + after_start


async def due(units: Units) -> list[str]:
    return await units.run(lambda uow: usecases.due_releases(uow, usecases.DueReleases()))


async def release(units: Units, booking_id: str) -> tuple[bool, list[str]]:
    return await run_recording(units, lambda uow: usecases.release_booking(uow, booking_id))


async def test_a_no_show_is_released_once_and_its_time_booked_again(
    units: Units, clock: TestClock
) -> None:
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    booking_id = made.booking.id
    assert (await stored(units, booking_id)).release_due_at == START + timedelta(minutes=15)
    at(clock, timedelta(minutes=14, seconds=59))
    assert await due(units) == []
    assert await release(units, booking_id) == (False, [])

    at(clock, timedelta(minutes=15))
    assert await due(units) == [booking_id]
    assert await release(units, booking_id) == (True, ["BookingReleased"])
    assert await release(units, booking_id) == (False, [])  # a second run: nothing
    assert await due(units) == []
    row = await stored(units, booking_id)
    assert (row.status, row.checked_in_at) == ("released", None)
    assert await history(units, booking_id) == [("confirmed", "owner"), ("released", "system")]
    event = (await outbox(units))[-1]
    assert (event.type, event.subject) == ("BookingReleased", booking_id)
    assert event.data["release_after_minutes"] == 15
    assert event.data["booker"]["email"] == "kari@example.org"
    assert datetime.fromisoformat(event.data["released_at"]) == START + timedelta(minutes=15)

    # The time is free again: the overlap check and the database's guard let it through.
    rest = booking(
        (START + timedelta(minutes=30), timedelta(minutes=90)),
        booker_type="person",
        organisation=None,
        booker=Contact("Ola Nordmann", "ola@example.org", None),
    )
    again = await units.run(lambda uow: usecases.make_booking(uow, rest))
    assert again.booking.status == "confirmed"

    record = await units.run(lambda uow: usecases.organisation_record(uow, ORG_NUMBER))
    assert (record.organisation.name, record.no_shows) == ("Strømsø Sjakklubb", 1)
    staff = usecases.CancelBooking(booking_id, usecases.Access(staff=True))
    gone = await refused(units, lambda uow: usecases.cancel_booking(uow, staff))
    assert isinstance(gone, Conflict) and gone.code == "booking_not_active"
    late = usecases.CheckIn(booking_id, usecases.Access(token=OWNER_TOKEN))
    gone = await refused(units, lambda uow: usecases.check_in(uow, late))
    assert isinstance(gone, Conflict) and gone.code == "booking_released"


async def test_a_checked_in_booking_is_kept_and_the_booker_checks_in_from_15_minutes(
    units: Units, clock: TestClock
) -> None:
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    booking_id = made.booking.id
    owner = usecases.CheckIn(booking_id, usecases.Access(token=OWNER_TOKEN))
    at(clock, -timedelta(minutes=15, seconds=1))
    early = await refused(units, lambda uow: usecases.check_in(uow, owner))
    assert isinstance(early, Refused) and early.code == "check_in_not_open"
    stranger = dataclasses.replace(owner, access=usecases.Access(token="someone-else"))
    wrong = await refused(units, lambda uow: usecases.check_in(uow, stranger))
    assert isinstance(wrong, NotAllowed)

    at(clock, -timedelta(minutes=15))
    checked = await units.run(lambda uow: usecases.check_in(uow, owner))
    assert checked.booking.checked_in_at == clock()
    at(clock, timedelta(minutes=5))
    await units.run(lambda uow: usecases.check_in(uow, owner))  # twice: nothing changes
    assert (await stored(units, booking_id)).checked_in_at == START - timedelta(minutes=15)

    at(clock, timedelta(minutes=30))
    assert await due(units) == []
    assert await release(units, booking_id) == (False, [])
    assert (await stored(units, booking_id)).status == "confirmed"
    at(clock, ROOM_SLOT[1])
    ended = await refused(units, lambda uow: usecases.check_in(uow, owner))
    assert isinstance(ended, Refused) and ended.code == "booking_ended"
    record = await units.run(lambda uow: usecases.organisation_record(uow, ORG_NUMBER))
    assert record.no_shows == 0


async def test_staff_check_in_and_what_is_never_released(units: Units, clock: TestClock) -> None:
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    # A resource that does not release, and one whose rule came after the booking.
    other_room = booking(resource_id="moterom-2")
    plain = await units.run(lambda uow: usecases.make_booking(uow, other_room))
    edit = usecases.EditResource("moterom-2", RELEASING)
    await units.run(lambda uow: usecases.edit_resource(uow, edit))
    assert (await stored(units, plain.booking.id)).release_due_at is None
    hall = booking((START + timedelta(days=2, hours=8), timedelta(hours=2)), "gymsalen")
    pending = await units.run(lambda uow: usecases.make_booking(uow, hall))
    assert pending.booking.status == "pending"
    undecided = usecases.CheckIn(pending.booking.id, usecases.Access(staff=True))
    not_yet = await refused(units, lambda uow: usecases.check_in(uow, undecided))
    assert isinstance(not_yet, Conflict) and not_yet.code == "booking_not_confirmed"

    by_staff = usecases.CheckIn(made.booking.id, usecases.Access(staff=True))
    at(clock, -timedelta(hours=3))  # staff need no window
    await units.run(lambda uow: usecases.check_in(uow, by_staff))
    at(clock, timedelta(minutes=30))
    assert await due(units) == []
    assert (await stored(units, made.booking.id)).status == "confirmed"
    assert (await stored(units, plain.booking.id)).status == "confirmed"
    missing = await refused(units, lambda uow: usecases.organisation_record(uow, "999999999"))
    assert isinstance(missing, NotFound) and missing.code == "organisation_not_found"


async def test_two_replicas_release_once_over_http(
    service: RunningService,
    database_url: str,
    redis_url: str,
    prefix: str,
    redis: Redis,
    clock: Clock,
) -> None:
    patched = await service.client.patch(
        "/resources/moterom-1", headers=BOOKING_STAFF, json=RELEASING
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["release_after_minutes"] == 15
    room = ("2027-03-02T10:00:00+01:00", "2027-03-02T12:00:00+01:00")
    no_show = (await service.client.post("/bookings", json=org_booking("moterom-1", *room))).json()
    shows = (
        await service.client.post(
            "/bookings",
            json=org_booking("moterom-1", "2027-03-03T10:00:00+01:00", "2027-03-03T12:00:00+01:00"),
        )
    ).json()

    clock.now = START  # 2 March 10:00: check-in opened 15 minutes ago for the first only
    check_in = f"/bookings/{shows['id']}/check-in"
    early = await service.client.post(check_in, headers={"X-Manage-Token": shows["manage_token"]})
    assert (early.status_code, early.json()["code"]) == (422, "check_in_not_open")
    assert (await service.client.post(check_in)).status_code == 401
    by_staff = await service.client.post(check_in, headers=BOOKING_STAFF)
    assert by_staff.status_code == 200
    assert by_staff.json()["checked_in_at"].startswith("2027-03-02T09:00:00")

    async with staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix, clock=clock
    ) as replica:
        clock.advance(timedelta(minutes=15))
        released = await asyncio.gather(
            release_no_shows(service.runtime),
            release_no_shows(replica.runtime),
            release_no_shows(service.runtime),
            release_no_shows(replica.runtime),
        )
        assert sum(released) == 1
        assert await release_no_shows(replica.runtime) == 0

    read = await service.client.get(f"/bookings/{no_show['id']}", headers=BOOKING_STAFF)
    assert read.json()["status"] == "released"
    listed = await service.client.get(
        "/bookings", headers=BOOKING_STAFF, params={"status": "released"}
    )
    assert [b["id"] for b in listed.json()] == [no_show["id"]]
    walk_in = person_booking("moterom-1", "2027-03-02T10:30:00+01:00", "2027-03-02T12:00:00+01:00")
    assert (await service.client.post("/bookings", json=walk_in)).status_code == 201

    org = f"/organisations/{ORG_NUMBER}"
    assert (await service.client.get(org)).status_code == 401
    record = await service.client.get(org, headers=BOOKING_STAFF)
    assert record.status_code == 200
    assert (record.json()["name"], record.json()["no_shows"]) == ("Strømsø Sjakklubb", 1)

    async def released_events() -> dict[str, str] | None:
        # Keyed by event id: two relays on one SQLite file may publish a row twice.
        found = {
            e.id: e.subject or ""
            for e in await booking_events(redis, prefix)
            if e.type == "BookingReleased"
        }
        return found or None

    found = await wait_for(released_events, timeout=10, message="BookingReleased")
    assert list(found.values()) == [no_show["id"]]
