"""Retention (docs/privacy.md): a booking past BOOKING_RETENTION_DAYS after its end, a
sign-up past BOOKING_REGISTRATION_RETENTION_DAYS after its activity, and a season
application's contact BOOKING_RETENTION_DAYS after its season's last day, lose their personal
data once; what is inside its retention is untouched; the counts statistics need survive;
two replicas anonymise each row once (SQLite and PostgreSQL, on the injected clock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from functools import partial

import pytest
from sqlalchemy import select

from services.booking import timers, usecases
from services.booking.app import SPEC
from services.booking.domain import Contact
from services.booking.models import (
    Booking,
    BookingHistory,
    Registration,
    SeasonAllocation,
    SeasonApplication,
)
from services.booking.seed import seed_resources
from shared.anonymise import ANONYMISED
from shared.calendar import OSLO
from tests.booking.conftest import START_OF_TESTS
from tests.booking.test_usecases import ROOM_SLOT, Units, booking
from tests.support.apps import staffed_service
from tests.support.clock import TestClock
from tests.support.units import service_units

RETENTION = usecases.AnonymiseExpired(
    bookings=timedelta(days=90), registrations=timedelta(days=30), limit=2
)
LATER_SLOT = (datetime.fromisoformat("2027-05-04T10:00:00+02:00"), timedelta(hours=2))
COURSE_SLOT = (datetime.fromisoformat("2027-03-03T10:00:00+01:00"), timedelta(hours=2))


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START_OF_TESTS)


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[Units]:
    async with service_units(SPEC, database_url, clock) as made:
        await seed_resources(made.db, clock())
        yield made


async def make(units: Units, cmd: usecases.MakeBooking) -> str:
    made = await units.run(lambda uow: usecases.make_booking(uow, cmd))
    return made.booking.id


async def rows(units: Units) -> dict[str, Booking]:
    async with units.db.read() as session:
        return {b.id: b for b in await session.scalars(select(Booking))}


async def registrations(units: Units) -> list[Registration]:
    async with units.db.read() as session:
        return list(await session.scalars(select(Registration).order_by(Registration.id)))


def statistics(bookings: dict[str, Booking]) -> Counter[tuple[str, str, str, str]]:
    """Bookings per resource, Oslo month, kind of booker and status."""
    return Counter(
        (b.resource_id, b.start_at.astimezone(OSLO).strftime("%Y-%m"), b.booker_type, b.status)
        for b in bookings.values()
    )


async def anonymise(units: Units) -> usecases.Anonymised:
    return await units.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))


async def test_past_retention_is_anonymised_once_and_inside_it_untouched(
    units: Units, clock: TestClock
) -> None:
    old = await make(units, booking())
    newer = await make(units, booking(LATER_SLOT))
    course = await make(
        units, booking(COURSE_SLOT, title="Datakurs", public=True, signup_capacity=5)
    )
    signup = usecases.SignUp(course, "Per Deltaker", "per@example.org", "+4700000001", "h")
    await units.run(lambda uow: usecases.sign_up(uow, signup))
    before = await rows(units)
    counts = statistics(before)

    # Inside the bookings' 90 days; past the course's sign-ups' 30.
    end_of_old = before[old].end_at
    clock.now = end_of_old + timedelta(days=90) - timedelta(seconds=1)
    assert await anonymise(units) == usecases.Anonymised(bookings=0, registrations=1)
    assert (await rows(units))[old].booker_name == "Kari Nordmann"

    clock.now = end_of_old + timedelta(days=90, seconds=1)
    assert await anonymise(units) == usecases.Anonymised(bookings=1, registrations=0)
    assert await anonymise(units) == usecases.Anonymised(bookings=0, registrations=0)

    after = await rows(units)
    gone = after[old]
    assert (gone.booker_name, gone.booker_email, gone.booker_phone) == (ANONYMISED, None, None)
    assert (gone.participants, gone.reason, gone.manage_token_hash) == ([], None, "")
    kept = after[newer]
    assert (kept.booker_name, kept.booker_email, kept.booker_phone) == (
        "Kari Nordmann",
        "kari@example.org",
        "+4700000000",
    )
    # What statistics need is all still there.
    assert statistics(after) == counts
    assert (gone.resource_id, gone.start_at, gone.org_number) == (
        before[old].resource_id,
        before[old].start_at,
        before[old].org_number,
    )
    [signed] = await registrations(units)
    assert (signed.name, signed.email, signed.phone, signed.status) == (
        ANONYMISED,
        None,
        None,
        "registered",
    )
    assert after[course].booker_name == "Kari Nordmann"  # ended a day later than `old`
    clock.now = before[course].end_at + timedelta(days=90, seconds=1)
    assert await anonymise(units) == usecases.Anonymised(bookings=1, registrations=0)
    after = await rows(units)
    assert (after[course].booker_name, after[course].title) == (ANONYMISED, "Datakurs")
    assert statistics(after) == counts
    async with units.db.read() as session:
        history = list(await session.scalars(select(BookingHistory.booking_id)))
    assert sorted(history) == sorted([old, newer, course])  # the status history stays


async def test_a_booking_note_in_catering_and_participants_go_too(
    units: Units, clock: TestClock
) -> None:
    with_people = booking(
        participants=(Contact("Ola Deltaker", "ola.d@example.org", "+4700000002"),),
    )
    booking_id = await make(units, with_people)
    before = (await rows(units))[booking_id]
    assert before.participants
    clock.now = before.end_at + timedelta(days=91)
    assert (await anonymise(units)).bookings == 1
    after = (await rows(units))[booking_id]
    assert after.participants == []
    assert "Ola" not in repr(after.__dict__) and "kari" not in repr(after.__dict__)


async def test_two_replicas_anonymise_each_booking_once(
    units: Units, clock: TestClock, database_url: str
) -> None:
    made = []
    for day in range(5):
        start = ROOM_SLOT[0] + timedelta(weeks=day)
        made.append(await make(units, booking((start, ROOM_SLOT[1]))))
    clock.now = max(b.end_at for b in (await rows(units)).values()) + timedelta(days=91)
    async with service_units(SPEC, database_url, clock) as replica:

        async def run_all(on: Units) -> int:
            total = 0
            while True:
                done = await on.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))
                total += done.bookings
                if done.bookings < RETENTION.limit:
                    return total

        first, second = await asyncio.gather(run_all(units), run_all(replica))
        # Each replica may stop early when the other took its batch; what one left, the
        # next tick takes. Every booking is counted once, by one of them.
        rest = await run_all(units)
    assert first + second + rest == 5
    assert all(b.booker_name == ANONYMISED for b in (await rows(units)).values())


async def test_the_timer_reads_its_retention_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, prefix: str
) -> None:
    monkeypatch.setenv("BOOKING_RETENTION_DAYS", "10")
    monkeypatch.setenv("BOOKING_SEED_DEMO", "false")
    clock = TestClock(START_OF_TESTS)
    async with staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix, clock=clock
    ) as svc:
        units = svc.runtime.uow
        await seed_resources(units.db, clock())
        booking_id = await make(units, booking())
        end = (await rows(units))[booking_id].end_at
        clock.now = end + timedelta(days=10) - timedelta(seconds=1)
        assert await timers.anonymise_expired(svc.runtime) == 0
        clock.now = end + timedelta(days=10, seconds=1)
        assert await timers.anonymise_expired(svc.runtime, batch=1) == 1
        assert await timers.anonymise_expired(svc.runtime) == 0
        assert (await rows(units))[booking_id].booker_name == ANONYMISED


# --------------------------------------------------------------------------- seasons

# Valid organisation numbers (MOD11), as tests/booking/test_seasons.py uses.
CLUBS = ("974760606", "974760614", "974760622")
SPRING = usecases.CreateSeason(
    resource_id="gymsalen",
    name="Vår 2027",
    starts_on=date(2027, 3, 8),
    ends_on=date(2027, 6, 13),
    opens_at=datetime.fromisoformat("2027-03-01T00:00:00+01:00"),
    closes_at=datetime.fromisoformat("2027-03-05T00:00:00+01:00"),
    frame={"mon-fri": "17:00-21:00"},
    slot_minutes=60,
)
# The spring season ends at the Oslo midnight after its last day (summer time).
END_OF_SPRING = datetime.fromisoformat("2027-06-14T00:00:00+02:00")
AUTUMN = replace(
    SPRING,
    name="Høst 2027",
    starts_on=date(2027, 8, 16),
    ends_on=date(2027, 12, 12),
    closes_at=datetime.fromisoformat("2027-08-01T00:00:00+02:00"),
)


async def season_with_applications(units: Units, season: usecases.CreateSeason) -> list[str]:
    """An open season with an application from each club (its contact named by number)."""
    made = await units.run(lambda uow: usecases.create_season(uow, season))
    season_id = made.season.id
    opening = usecases.SeasonAction(season_id, "open")
    await units.run(lambda uow: usecases.change_season_status(uow, opening))
    ids = []
    for n, number in enumerate(CLUBS):
        details = usecases.ApplicationDetails(
            organisation=usecases.OrganisationDetails(number, f"Klubb {n}"),
            contact=Contact(f"Leder {n}", f"leder{n}@example.org", f"+470000010{n}"),
            target_group="youth",
            activity="Basistrening",
            participants=20,
            local=True,
            wishes=((n, time(18, 0)),),
        )
        cmd = usecases.Apply(season_id, details, "h")
        ids.append((await units.run(partial(usecases.apply_for_season, cmd=cmd))).id)
    return ids


async def applications(units: Units) -> dict[str, SeasonApplication]:
    async with units.db.read() as session:
        return {a.id: a for a in await session.scalars(select(SeasonApplication))}


async def anonymise_all(units: Units) -> int:
    """Run retention until a call does nothing; the season applications it anonymised."""
    total = 0
    while True:
        done = await anonymise(units)
        total += done.applications
        if done.total == 0:
            return total


async def test_a_season_s_contacts_go_90_days_after_its_end_and_its_report_stays(
    units: Units, clock: TestClock
) -> None:
    spring = await season_with_applications(units, SPRING)
    autumn = await season_with_applications(units, AUTUMN)
    season_id = (await applications(units))[spring[0]].season_id
    closing = usecases.SeasonAction(season_id, "close")
    await units.run(lambda uow: usecases.change_season_status(uow, closing))
    await units.run(lambda uow: usecases.propose_allocation(uow, season_id))
    await units.run(lambda uow: usecases.publish_season(uow, season_id))
    report = await units.run(lambda uow: usecases.season_report(uow, season_id))
    assert report["total_hours"] > 0
    async with units.db.read() as session:
        allocated = sorted(await session.scalars(select(SeasonAllocation.application_id)))
    assert sorted(allocated) == sorted(spring)

    clock.now = END_OF_SPRING + timedelta(days=90) - timedelta(seconds=1)
    assert await anonymise_all(units) == 0
    assert all(a.contact_name.startswith("Leder") for a in (await applications(units)).values())

    clock.now = END_OF_SPRING + timedelta(days=90, seconds=1)
    assert await anonymise_all(units) == 3  # two to a batch: counted once across batches
    assert await anonymise_all(units) == 0
    after = await applications(units)
    for app_id in spring:
        gone = after[app_id]
        assert (gone.contact_name, gone.contact_email, gone.contact_phone, gone.token_hash) == (
            ANONYMISED,
            None,
            None,
            "",
        )
        assert (gone.org_number, gone.target_group, gone.status) == (
            CLUBS[spring.index(app_id)],
            "youth",
            "received",
        )
    assert [after[a].contact_name for a in autumn] == ["Leder 0", "Leder 1", "Leder 2"]
    # The season's own bookings went by the booking rule; the report is the same.
    assert all(b.booker_name == ANONYMISED for b in (await rows(units)).values())
    assert await units.run(lambda uow: usecases.season_report(uow, season_id)) == report
    async with units.db.read() as session:
        assert sorted(await session.scalars(select(SeasonAllocation.application_id))) == allocated


async def test_two_replicas_anonymise_each_season_application_once(
    units: Units, clock: TestClock, database_url: str
) -> None:
    spring = await season_with_applications(units, SPRING)
    clock.now = END_OF_SPRING + timedelta(days=91)
    async with service_units(SPEC, database_url, clock) as replica:

        async def run_all(on: Units) -> int:
            total = 0
            while True:
                done = await on.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))
                total += done.applications
                if done.applications < RETENTION.limit:
                    return total

        first, second = await asyncio.gather(run_all(units), run_all(replica))
        rest = await run_all(units)
    assert first + second + rest == len(spring)
    assert all(a.contact_name == ANONYMISED for a in (await applications(units)).values())
