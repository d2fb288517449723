"""Booking's main rules as use cases, without HTTP: a unit of work on a real database
(SQLite and PostgreSQL), asserting the result, the stored rows and the recorded events."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from services.booking import domain, usecases
from services.booking.app import SPEC
from services.booking.domain import Contact
from services.booking.models import Booking, BookingHistory, Registration
from services.booking.seed import seed_resources
from services.booking.store import Store
from shared.auth import hash_token
from shared.errors import Conflict, NotAllowed, NotFound, Refusal, Refused
from shared.events import Envelope
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.booking.conftest import ORG_NUMBER, START_OF_TESTS
from tests.support.clock import TestClock
from tests.support.units import service_units

T = TypeVar("T")
Units = UnitsOfWork[Store]
Uow = UnitOfWork[Store]

ROOM_SLOT = (datetime.fromisoformat("2027-03-02T10:00:00+01:00"), timedelta(hours=2))
OWNER_TOKEN = "the-owners-manage-token"
GYM_SLOT = (datetime.fromisoformat("2027-03-05T17:00:00+01:00"), timedelta(hours=2))


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START_OF_TESTS)


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[Units]:
    async with service_units(SPEC, database_url, clock) as made:
        await seed_resources(made.db, clock())
        yield made


def details(resource_id: str = "moterom-1", **changes: Any) -> usecases.BookingDetails:
    made = usecases.BookingDetails(
        resource_id=resource_id,
        booker_type="organisation",
        booker=Contact("Kari Nordmann", "kari@example.org", "+47 000 00 000"),
        token_hash=hash_token(OWNER_TOKEN),
        organisation=usecases.OrganisationDetails(ORG_NUMBER, "Strømsø Sjakklubb"),
    )
    return dataclasses.replace(made, **changes)


def booking(
    slot: tuple[datetime, timedelta] = ROOM_SLOT, resource_id: str = "moterom-1", **changes: Any
) -> usecases.MakeBooking:
    start, length = slot
    return usecases.MakeBooking(details(resource_id, **changes), start, start + length)


async def run_recording(
    units: Units, use_case: Callable[[Uow], Awaitable[T]]
) -> tuple[T, list[str]]:
    """Run a use case; its result and the types of the events it recorded."""

    async def work(uow: Uow) -> tuple[T, list[str]]:
        result = await use_case(uow)
        return result, [e.type for e in uow.recorded]

    return await units.run(work)


async def outbox(units: Units) -> list[Envelope]:
    async with units.db.read() as session:
        rows = await session.execute(
            select(SPEC.tables.outbox.c.payload).order_by(SPEC.tables.outbox.c.id)
        )
        return [Envelope.model_validate_json(payload) for (payload,) in rows]


async def stored(units: Units, booking_id: str) -> Booking:
    async with units.db.read() as session:
        row = await session.get(Booking, booking_id)
        assert row is not None
        return row


async def history(units: Units, booking_id: str) -> list[tuple[str, str]]:
    async with units.db.read() as session:
        rows = await session.execute(
            select(BookingHistory.status, BookingHistory.actor)
            .where(BookingHistory.booking_id == booking_id)
            .order_by(BookingHistory.id)
        )
        return [(s, a) for s, a in rows]


async def refused(units: Units, use_case: Callable[[Uow], Awaitable[Any]]) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await units.run(use_case)
    return caught.value


async def test_an_instant_booking_is_confirmed_and_an_overlap_is_refused(units: Units) -> None:
    cmd = booking()
    booked, recorded = await run_recording(units, lambda uow: usecases.make_booking(uow, cmd))
    assert booked.booking.status == "confirmed"
    assert booked.resource.id == "moterom-1"
    assert recorded == ["BookingConfirmed"]
    row = await stored(units, booked.booking.id)
    assert (row.status, row.booker_phone, row.free_of_charge) == ("confirmed", "+4700000000", True)
    assert await history(units, row.id) == [("confirmed", "owner")]
    [event] = await outbox(units)
    assert (event.type, event.subject) == ("BookingConfirmed", row.id)
    assert event.data["auto_approved"] is True
    assert event.data["organisation_name"] == "Strømsø Sjakklubb"

    start = ROOM_SLOT[0] + timedelta(hours=1)
    clash = booking((start, timedelta(hours=1)), organisation=None, booker_type="person")
    refusal = await refused(units, lambda uow: usecases.make_booking(uow, clash))
    assert isinstance(refusal, Conflict)
    assert refusal.code == "booking_overlap"
    assert refusal.details["conflict"]["booking_id"] == row.id
    assert refusal.details["conflict"]["blocked_until"] == row.blocked_until.isoformat()
    assert refusal.nb and "allerede booket" in refusal.nb
    assert len(await outbox(units)) == 1  # the refused booking recorded nothing


async def test_the_database_guard_is_read_as_the_same_conflict(units: Units) -> None:
    """An overlapping row that gets past the application's check (written straight
    through the store) is refused by the schema, and store.refusal_of makes it a 409."""
    booked = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    first = await stored(units, booked.booking.id)
    copy = {c.key: getattr(first, c.key) for c in Booking.__table__.columns}

    async def bypass(uow: Uow) -> None:
        await uow.store.add_booking(Booking(**{**copy, "id": str(uuid.uuid4())}), "owner")

    refusal = await refused(units, bypass)
    assert isinstance(refusal, Conflict)
    assert (refusal.code, refusal.message) == (
        "booking_overlap",
        "the resource is already booked at that time",
    )


async def test_a_range_query_finds_the_longest_booking_that_began_before_it(
    units: Units,
) -> None:
    """The range query bounds start_at below by the longest a booking may be (so that it
    is an index range): a booking of that length that began just inside the bound, before
    `from`, is in the answer; one that ended at `from` is not. Rows written straight
    through the store, as no seeded resource is open a whole week."""
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    template = await stored(units, made.booking.id)
    copy = {c.key: getattr(template, c.key) for c in Booking.__table__.columns}
    since = ROOM_SLOT[0] + timedelta(days=30)
    longest = domain.MAX_LENGTH_CAP
    longest_start = since - longest + timedelta(minutes=1)
    rows = {
        "longest": (longest_start, longest_start + longest, "moterom-2"),
        "ended": (since - timedelta(hours=2), since, "gymsalen"),
    }

    async def write(uow: Uow) -> None:
        for key, (start, end, resource_id) in rows.items():
            await uow.store.add_booking(
                Booking(
                    **{
                        **copy,
                        "id": key,
                        "resource_id": resource_id,
                        "start_at": start,
                        "end_at": end,
                        "blocked_until": end,
                    }
                ),
                "owner",
            )

    await units.run(write)
    for resource_id in (None, "moterom-2"):
        query = usecases.BookingQuery(resource_id, since, since + timedelta(hours=1))
        found = await units.run(lambda uow, q=query: usecases.list_bookings(uow, q))
        assert [b.id for b in found.rows] == ["longest"]


async def test_approval_flow(units: Units) -> None:
    made, recorded = await run_recording(
        units, lambda uow: usecases.make_booking(uow, booking(GYM_SLOT, "gymsalen"))
    )
    assert (made.booking.status, recorded) == ("pending", ["BookingRequested"])
    booking_id = made.booking.id

    approve = usecases.DecideBooking(booking_id, approve=True)
    decided, recorded = await run_recording(
        units, lambda uow: usecases.decide_booking(uow, approve)
    )
    assert (decided.booking.status, recorded) == ("confirmed", ["BookingConfirmed"])
    again = await refused(units, lambda uow: usecases.decide_booking(uow, approve))
    assert isinstance(again, Conflict) and again.code == "booking_not_pending"
    assert await history(units, booking_id) == [("pending", "owner"), ("confirmed", "staff")]
    confirmed = [e for e in await outbox(units) if e.type == "BookingConfirmed"]
    assert [e.data["auto_approved"] for e in confirmed] == [False]

    later = (GYM_SLOT[0] + timedelta(days=1), GYM_SLOT[1])
    other = await units.run(lambda uow: usecases.make_booking(uow, booking(later, "gymsalen")))
    reject = usecases.DecideBooking(other.booking.id, approve=False, reason="Opptatt av kurs")
    rejected, recorded = await run_recording(
        units, lambda uow: usecases.decide_booking(uow, reject)
    )
    assert (rejected.booking.status, recorded) == ("rejected", ["BookingRejected"])
    assert (await stored(units, other.booking.id)).reason == "Opptatt av kurs"


async def test_the_owner_cancels_before_the_deadline_staff_at_any_time(
    units: Units, clock: TestClock
) -> None:
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    booking_id = made.booking.id
    clock.advance(hours=14)  # 23 h before the start; the deadline is 24 h
    owner = usecases.CancelBooking(booking_id, usecases.Access(token="not-the-token"))
    wrong = await refused(units, lambda uow: usecases.cancel_booking(uow, owner))
    assert isinstance(wrong, NotAllowed)

    owner = dataclasses.replace(owner, access=usecases.Access(token=OWNER_TOKEN))
    late = await refused(units, lambda uow: usecases.cancel_booking(uow, owner))
    assert isinstance(late, Refused) and late.code == "cancel_deadline_passed"
    assert "deadline" in late.message
    assert (await stored(units, booking_id)).status == "confirmed"

    staff = usecases.CancelBooking(booking_id, usecases.Access(staff=True), reason="Vannlekkasje")
    cancelled, recorded = await run_recording(
        units, lambda uow: usecases.cancel_booking(uow, staff)
    )
    assert (cancelled.booking.status, cancelled.booking.cancelled_by) == ("cancelled", "staff")
    assert recorded == ["BookingCancelled"]
    row = await stored(units, booking_id)
    assert (row.status, row.reason) == ("cancelled", "Vannlekkasje")
    again = await refused(units, lambda uow: usecases.cancel_booking(uow, staff))
    assert isinstance(again, Conflict) and again.code == "booking_not_active"
    assert [e.type for e in await outbox(units)] == ["BookingConfirmed", "BookingCancelled"]


def series(**changes: Any) -> usecases.MakeSeries:
    made = usecases.MakeSeries(
        details=details(title="Trening"),
        start_time=time(10, 0),
        end_time=time(12, 0),
        first_date=date(2027, 3, 4),
        count=4,
    )
    return dataclasses.replace(made, **changes)


async def test_a_series_reports_a_conflict_per_occurrence(units: Units) -> None:
    in_the_way = booking(
        (datetime.fromisoformat("2027-03-11T11:00:00+01:00"), timedelta(hours=1)),
        organisation=None,
        booker_type="person",
    )
    await units.run(lambda uow: usecases.make_booking(uow, in_the_way))

    refusal = await refused(units, lambda uow: usecases.make_series(uow, series()))
    assert isinstance(refusal, Conflict) and refusal.code == "series_not_bookable"
    report = {o["date"]: o["status"] for o in refusal.details["occurrences"]}
    assert report == {
        "2027-03-04": "ok",
        "2027-03-11": "conflict",
        "2027-03-18": "ok",
        "2027-03-25": "closed",  # Skjærtorsdag
    }
    async with units.db.read() as session:
        assert len(list(await session.scalars(select(Booking.id)))) == 1  # nothing half-done

    skip = series(mode="skip_conflicts")
    made, recorded = await run_recording(units, lambda uow: usecases.make_series(uow, skip))
    booked = [o for o in made.occurrences if o.status == "booked"]
    assert [o.date.isoformat() for o in booked] == ["2027-03-04", "2027-03-18"]
    assert recorded == ["BookingConfirmed", "BookingConfirmed"]
    for occurrence in booked:
        assert occurrence.booking_id is not None
        assert (await stored(units, occurrence.booking_id)).series_id == made.series_id
    # Wall time is kept: 10:00 in Oslo in winter is 09:00 UTC.
    assert booked[0].slot.start.hour == 9


async def test_sign_up_with_a_waiting_list_that_moves_up(units: Units) -> None:
    course = booking(title="Datakurs", public=True, signup_capacity=2)
    activity = (await units.run(lambda uow: usecases.make_booking(uow, course))).booking.id
    tokens = [f"token-{i}" for i in range(3)]
    signed = []
    for i, token in enumerate(tokens):
        cmd = usecases.SignUp(
            activity, f"Deltaker {i}", None, f"+47 000 00 00{i}", hash_token(token)
        )
        signed.append(await units.run(lambda uow, cmd=cmd: usecases.sign_up(uow, cmd)))
    assert [s.registration.status for s in signed] == ["registered", "registered", "waitlisted"]
    assert [s.waitlist_position for s in signed] == [None, None, 1]
    assert signed[0].registration.phone == "+4700000000"

    views = await units.run(lambda uow: usecases.list_activities(uow, usecases.ActivityQuery()))
    assert [(v.registered, v.waitlisted, v.places_left) for v in views] == [(2, 1, 0)]

    first = signed[0].registration.id
    stolen = usecases.CancelSignUp(activity, first, tokens[1])
    assert isinstance(
        await refused(units, lambda uow: usecases.cancel_sign_up(uow, stolen)), NotAllowed
    )
    cancel = usecases.CancelSignUp(activity, first, tokens[0])
    cancelled = await units.run(lambda uow: usecases.cancel_sign_up(uow, cancel))
    assert cancelled.status == "cancelled"
    async with units.db.read() as session:
        statuses = dict(
            (await session.execute(select(Registration.id, Registration.status))).tuples().all()
        )
    assert statuses == {
        first: "cancelled",
        signed[1].registration.id: "registered",
        signed[2].registration.id: "registered",  # first in line moved up
    }
    again = await refused(units, lambda uow: usecases.cancel_sign_up(uow, cancel))
    assert isinstance(again, Conflict) and again.code == "registration_cancelled"
    no_contact = usecases.SignUp(activity, "Uten kontakt", None, None, "h")
    missing = await refused(units, lambda uow: usecases.sign_up(uow, no_contact))
    assert isinstance(missing, Refused) and missing.code == "contact_required"


async def test_reminders_fall_due_and_go_out_once(units: Units, clock: TestClock) -> None:
    made = await units.run(lambda uow: usecases.make_booking(uow, booking()))
    due = usecases.DueReminders(lead=timedelta(hours=24))
    assert await units.run(lambda uow: usecases.due_reminders(uow, due)) == []
    clock.advance(hours=2)  # 23 h before the start
    ids = await units.run(lambda uow: usecases.due_reminders(uow, due))
    assert ids == [made.booking.id]
    send = usecases.SendReminder(ids[0], due.lead)
    sent, recorded = await run_recording(units, lambda uow: usecases.send_reminder(uow, send))
    assert (sent, recorded) == (True, ["BookingReminder"])
    again, recorded = await run_recording(units, lambda uow: usecases.send_reminder(uow, send))
    assert (again, recorded) == (False, [])
    assert (await stored(units, made.booking.id)).reminder_sent_at == clock()
    assert await units.run(lambda uow: usecases.due_reminders(uow, due)) == []
    assert [e.type for e in await outbox(units)] == ["BookingConfirmed", "BookingReminder"]


async def test_concurrent_bookings_of_one_slot_give_one(units: Units) -> None:
    """The advisory lock (PostgreSQL) or BEGIN IMMEDIATE (SQLite) serialises the check."""

    async def attempt(i: int) -> str:
        cmd = booking(
            booker=Contact(f"P{i}", "p@example.org", None), organisation=None, booker_type="person"
        )
        try:
            await units.run(lambda uow: usecases.make_booking(uow, cmd))
        except Conflict as exc:
            return exc.code
        return "booked"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(10)))
    assert sorted(outcomes) == ["booked"] + ["booking_overlap"] * 9
    async with units.db.read() as session:
        assert len(list(await session.scalars(select(Booking.id)))) == 1


# ------------------------------------------------------- no reminder inside the window


LEAD = timedelta(hours=24)


async def remind(units: Units) -> list[str]:
    """One pass of the reminder timer: the events it recorded."""
    due = usecases.DueReminders(lead=LEAD)
    ids = await units.run(lambda uow: usecases.due_reminders(uow, due))
    recorded: list[str] = []
    for booking_id in ids:
        send = usecases.SendReminder(booking_id, LEAD)

        async def work(uow: Uow, send: usecases.SendReminder = send) -> None:
            await usecases.send_reminder(uow, send)
            recorded.extend(e.subject or "" for e in uow.recorded)

        await units.run(work)
    return recorded


async def test_no_reminder_for_a_booking_confirmed_inside_the_window(
    units: Units, clock: TestClock
) -> None:
    # Booked at 09:00 for 13:00 the same day: the confirmation is all the booker needs.
    today = (datetime.fromisoformat("2027-03-01T13:00:00+01:00"), timedelta(hours=1))
    late = await units.run(lambda uow: usecases.make_booking(uow, booking(today)))
    # Booked now for the day after tomorrow, outside the window: reminded when it opens.
    early = await units.run(lambda uow: usecases.make_booking(uow, booking(
        (datetime.fromisoformat("2027-03-03T10:00:00+01:00"), timedelta(hours=1))
    )))  # fmt: skip
    # Gymsalen on Friday, asked for now but approved only on the day: no reminder either.
    gym = await units.run(lambda uow: usecases.make_booking(uow, booking(GYM_SLOT, "gymsalen")))

    assert await remind(units) == []  # the late booking is settled, without a reminder
    assert (await stored(units, late.booking.id)).reminder_sent_at == clock()
    clock.set(datetime.fromisoformat("2027-03-02T10:30:00+01:00"))
    assert await remind(units) == [early.booking.id]

    clock.set(datetime.fromisoformat("2027-03-05T09:00:00+01:00"))
    approve = usecases.DecideBooking(gym.booking.id, approve=True)
    await units.run(lambda uow: usecases.decide_booking(uow, approve))
    clock.advance(minutes=1)
    assert await remind(units) == []
    assert await remind(units) == []  # and not found again
    reminders = [e.subject for e in await outbox(units) if e.type == "BookingReminder"]
    assert reminders == [early.booking.id]


# ------------------------------------------------------- the participant is told


async def sign_up(units: Units, activity: str, i: int, **changes: Any) -> usecases.SignedUp:
    cmd = usecases.SignUp(
        activity, f"Deltaker {i}", f"d{i}@example.org", None, hash_token(f"token-{i}")
    )
    cmd = dataclasses.replace(cmd, **changes)
    return await units.run(lambda uow: usecases.sign_up(uow, cmd))


async def test_the_participant_hears_of_each_step_in_their_language(
    units: Units, clock: TestClock
) -> None:
    # 25 hours before the start: inside 48 hours, outside 24.
    course = booking(title="Datakurs", public=True, signup_capacity=1)
    activity = (await units.run(lambda uow: usecases.make_booking(uow, course))).booking.id
    first = await sign_up(units, activity, 0)
    clock.advance(minutes=1)  # the waiting list is in the order people signed up
    second = await sign_up(units, activity, 1, language="en")
    clock.advance(minutes=1)
    third = await sign_up(units, activity, 2, email=None, phone="+47 000 00 002")
    events = await outbox(units)
    assert [(e.type, e.subject) for e in events[1:]] == [
        ("RegistrationConfirmed", first.registration.id),
        ("RegistrationWaitlisted", second.registration.id),
        ("RegistrationWaitlisted", third.registration.id),
    ]
    confirmed, *waitlisted = (e.data for e in events[1:])
    assert confirmed["participant"] == {
        "name": "Deltaker 0", "email": "d0@example.org", "phone": None, "language": "nb"
    }  # fmt: skip
    assert (confirmed["activity_id"], confirmed["title"]) == (activity, "Datakurs")
    assert confirmed["resource_name"] == "Møterom 1"
    assert [w["waitlist_position"] for w in waitlisted] == [1, 2]
    assert waitlisted[0]["participant"]["language"] == "en"
    assert waitlisted[1]["participant"]["phone"] == "+4700000002"

    # A place frees up 25 hours before the start (less two minutes): outside a 24-hour
    # window, no SMS.
    cancel = usecases.CancelSignUp(
        activity, first.registration.id, "token-0", short_notice=timedelta(hours=24)
    )
    _, recorded = await run_recording(units, lambda uow: usecases.cancel_sign_up(uow, cancel))
    assert recorded == ["RegistrationCancelled", "RegistrationPromoted"]
    # Inside the default 48 hours: the next one moved up is told by SMS as well.
    cancel = usecases.CancelSignUp(activity, second.registration.id, "token-1")
    _, recorded = await run_recording(units, lambda uow: usecases.cancel_sign_up(uow, cancel))
    assert recorded == ["RegistrationCancelled", "RegistrationPromoted"]
    events = (await outbox(units))[4:]
    cancelled = [e.data for e in events if e.type == "RegistrationCancelled"]
    promoted = [e.data for e in events if e.type == "RegistrationPromoted"]
    assert [c["was_waitlisted"] for c in cancelled] == [False, False]
    assert [c["participant"]["name"] for c in cancelled] == ["Deltaker 0", "Deltaker 1"]
    assert [(p["participant"]["name"], p["short_notice"]) for p in promoted] == [
        ("Deltaker 1", False),
        ("Deltaker 2", True),
    ]
    assert [e.subject for e in events if e.type == "RegistrationPromoted"] == [
        second.registration.id,
        third.registration.id,
    ]


async def test_leaving_the_waiting_list_moves_nobody_up(units: Units) -> None:
    course = booking(title="Datakurs", public=True, signup_capacity=1)
    activity = (await units.run(lambda uow: usecases.make_booking(uow, course))).booking.id
    await sign_up(units, activity, 0)
    waiting = await sign_up(units, activity, 1)
    cancel = usecases.CancelSignUp(activity, waiting.registration.id, "token-1")
    _, recorded = await run_recording(units, lambda uow: usecases.cancel_sign_up(uow, cancel))
    assert recorded == ["RegistrationCancelled"]
    assert (await outbox(units))[-1].data["was_waitlisted"] is True


# ------------------------------------------------------- cancelling a series


def weekly(**changes: Any) -> usecases.MakeSeries:
    # 4, 11 and 18 March 2027 (the 25th is Skjærtorsdag, closed, and skipped).
    made = usecases.MakeSeries(
        details=dataclasses.replace(booking().details, title="Trening"),
        start_time=time(10, 0),
        end_time=time(12, 0),
        first_date=date(2027, 3, 4),
        count=4,
        mode="skip_conflicts",
    )
    return dataclasses.replace(made, **changes)


async def booked_series(units: Units, **changes: Any) -> tuple[str, list[str]]:
    made = await units.run(lambda uow: usecases.make_series(uow, weekly(**changes)))
    ids = [o.booking_id for o in made.occurrences if o.booking_id is not None]
    assert len(ids) == 3
    return made.series_id, ids


async def test_the_rest_of_a_series_is_cancelled_in_one_request(units: Units) -> None:
    series_id, (kept, *rest) = await booked_series(units)
    owner = usecases.Access(token=OWNER_TOKEN)
    cancel = usecases.CancelSeries(series_id, owner, from_date=date(2027, 3, 11), reason="Ferie")
    done, recorded = await run_recording(units, lambda uow: usecases.cancel_series(uow, cancel))
    assert [b.booking.id for b in done.cancelled] == rest
    assert recorded == ["BookingCancelled", "BookingCancelled", "SeriesCancelled"]
    assert (await stored(units, kept)).status == "confirmed"  # before the date: kept
    for booking_id in rest:
        row = await stored(units, booking_id)
        assert (row.status, row.cancelled_by, row.reason) == ("cancelled", "owner", "Ferie")

    events = await outbox(units)
    per_occurrence = [e for e in events if e.type == "BookingCancelled"]
    assert [e.subject for e in per_occurrence] == rest
    assert all(e.data["series_cancellation"] for e in per_occurrence)
    (whole,) = [e for e in events if e.type == "SeriesCancelled"]
    assert whole.subject == series_id
    assert [o["booking_id"] for o in whole.data["occurrences"]] == rest
    assert (whole.data["cancelled_by"], whole.data["reason"]) == ("owner", "Ferie")
    assert whole.data["booker"]["email"] == "kari@example.org"

    again = await refused(units, lambda uow: usecases.cancel_series(uow, cancel))
    assert isinstance(again, Conflict) and again.code == "series_nothing_to_cancel"


async def test_a_series_cancellation_is_all_or_nothing_and_only_for_its_owner(
    units: Units, clock: TestClock
) -> None:
    series_id, ids = await booked_series(units)
    stranger = usecases.CancelSeries(series_id, usecases.Access(token="not-the-token"))
    assert isinstance(
        await refused(units, lambda uow: usecases.cancel_series(uow, stranger)), NotAllowed
    )
    missing = usecases.CancelSeries("no-such-series", usecases.Access(staff=True))
    gone = await refused(units, lambda uow: usecases.cancel_series(uow, missing))
    assert isinstance(gone, NotFound) and gone.code == "series_not_found"

    # Wednesday 3 March 12:00: the first occurrence is 22 hours away, inside the deadline.
    clock.set(datetime.fromisoformat("2027-03-03T12:00:00+01:00"))
    owner = usecases.CancelSeries(series_id, usecases.Access(token=OWNER_TOKEN))
    late = await refused(units, lambda uow: usecases.cancel_series(uow, owner))
    assert isinstance(late, Refused) and late.code == "cancel_deadline_passed"
    assert [(await stored(units, i)).status for i in ids] == ["confirmed"] * 3

    # The first has begun: staff cancel the rest, and what has begun is left as it is.
    clock.set(datetime.fromisoformat("2027-03-04T10:30:00+01:00"))
    staff = usecases.CancelSeries(series_id, usecases.Access(staff=True))
    done = await units.run(lambda uow: usecases.cancel_series(uow, staff))
    assert [b.booking.id for b in done.cancelled] == ids[1:]
    assert [(await stored(units, i)).status for i in ids] == ["confirmed", *["cancelled"] * 2]
