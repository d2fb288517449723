"""Every query and write of the booking service, on one session (the unit of work's).

Rows go in and out as models.py defines them; the rules they feed are domain.py's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from services.booking import domain
from services.booking.models import (
    Booking,
    BookingHistory,
    Closure,
    ClosureBooking,
    Organisation,
    Registration,
    Resource,
    ResourceVersion,
    Season,
    SeasonAllocation,
    SeasonApplication,
    SeasonOffer,
    Series,
)
from shared.anonymise import ANONYMISED
from shared.calendar import Calendar
from shared.calendar import Closure as CalendarClosure
from shared.db import advisory_xact_lock, insert_at_flush, insert_for, on_connection
from shared.errors import Conflict, Refusal
from shared.messaging.redact import Person

OVERLAP_SQLSTATE = "23P01"  # exclusion_violation: PostgreSQL's booking_no_overlap
OVERLAP_CONSTRAINT = "booking_no_overlap"  # also the SQLite triggers' abort message


def policy_of(resource: Resource) -> domain.Policy:
    return domain.Policy(
        approval_required=resource.approval_required,
        free_for=frozenset(resource.free_for),
        min_notice=timedelta(minutes=resource.min_notice_minutes),
        min_length=timedelta(minutes=resource.min_length_minutes),
        max_length=timedelta(minutes=resource.max_length_minutes),
        max_days_ahead=resource.max_days_ahead,
        buffer=timedelta(minutes=resource.buffer_minutes),
        cancel_deadline=timedelta(hours=resource.cancel_deadline_hours),
        weekly_free_hours=resource.weekly_free_hours,
        price_per_hour_nok=resource.price_per_hour_nok,
        release_after=(
            None
            if resource.release_after_minutes is None
            else timedelta(minutes=resource.release_after_minutes)
        ),
    )


def is_overlap_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == OVERLAP_SQLSTATE or OVERLAP_CONSTRAINT in str(orig)


def refusal_of(exc: IntegrityError) -> Refusal | None:
    """The database's own guard (exclusion constraint / trigger) caught an overlap the
    application's check could not see: a 409 all the same."""
    if is_overlap_violation(exc):
        return Conflict(
            "the resource is already booked at that time",
            code="booking_overlap",
            nb="ressursen er allerede booket på det tidspunktet",
        )
    return None


# Selects are immutable: each query builds on this one.
_BOOKING_AND_RESOURCE = select(Booking, Resource).join(Resource, Resource.id == Booking.resource_id)
# What a list of bookings shows, as plain rows: the columns of a booking that its answer
# shows (api/views.py), its resource's name and weekly free hours; nothing else, so that a
# list's version (usecases.Listing) changes only when its answer does. Forty bookings cost
# more to load as ORM objects (and their resources' settings, once per row) than to read.
_LISTED = select(
    *(
        Booking.__table__.c[name]
        for name in (
            "id",
            "resource_id",
            "status",
            "start_at",
            "end_at",
            "booker_type",
            "booker_name",
            "booker_email",
            "booker_phone",
            "booker_language",
            "org_number",
            "title",
            "description",
            "public",
            "signup_capacity",
            "attendees",
            "catering",
            "participants",
            "series_id",
            "free_of_charge",
            "price_nok",
            "reason",
            "cancelled_by",
            "checked_in_at",
            "created_at",
        )
    ),
    Resource.name.label("resource_name"),
    Resource.weekly_free_hours.label("resource_weekly_free_hours"),
).join(Resource, Resource.id == Booking.resource_id)
_VERSIONS = select(ResourceVersion.resource_id, ResourceVersion.version).order_by(
    ResourceVersion.resource_id
)
_WAITING = _LISTED.where(Booking.status == "pending").order_by(Booking.created_at, Booking.id)

# Store.free_time_between's read, built once (the staff's list of requests makes it on every
# page): its values are bound when it runs.
_FREE_TIME = select(
    Booking.id, Booking.org_number, Booking.resource_id, Booking.start_at, Booking.end_at
).where(
    Booking.org_number.in_(bindparam("org_numbers", expanding=True)),
    Booking.resource_id.in_(bindparam("resource_ids", expanding=True)),
    Booking.start_at >= bindparam("start", type_=Booking.start_at.type),
    Booking.start_at < bindparam("end", type_=Booking.start_at.type),
    Booking.status.in_(domain.ACTIVE),
    Booking.free_of_charge.is_(True),
)


def _starts_within_reach(start: datetime) -> ColumnElement[bool]:
    """The lower bound that makes "ends after `start`" an index range on start_at: no
    booking is longer than domain.MAX_LENGTH_CAP, so one that ends after `start` began after
    `start - MAX_LENGTH_CAP`. Without it the query reads every earlier booking."""
    return Booking.start_at > start - domain.MAX_LENGTH_CAP


@dataclass(frozen=True)
class Activity:
    booking: Booking
    resource_name: str
    org_name: str | None


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # ----------------------------------------------------------------------- locks

    async def lock_resource(self, resource_id: str) -> None:
        """Serialise writers of one resource (PostgreSQL): without it, bursts on one slot
        deadlock on the exclusion constraint's index. SQLite's BEGIN IMMEDIATE already does."""
        await advisory_xact_lock(self.session, f"booking:resource:{resource_id}")

    async def lock_activity(self, activity_id: str) -> None:
        # Sign-ups of one activity are serialised, so the capacity is never overshot.
        await advisory_xact_lock(self.session, f"booking:activity:{activity_id}")

    # ----------------------------------------------------------------------- resources

    async def resource(self, resource_id: str) -> Resource | None:
        # A cached SELECT, not session.get: the get's load builds its query on each call,
        # 90 µs of a booking's CPU.
        return (
            await self.session.execute(_RESOURCE, {"resource_id": resource_id})
        ).scalar_one_or_none()

    async def resources(self, hub: str) -> list[Resource]:
        rows = await self.session.scalars(
            select(Resource)
            .where(Resource.hub == hub, Resource.active.is_(True))
            .order_by(Resource.name)
        )
        return list(rows)

    async def resource_ids(self, hub: str) -> list[str]:
        """Every resource of the hub, active or not."""
        return list(await self.session.scalars(select(Resource.id).where(Resource.hub == hub)))

    def add(self, row: Resource | Closure | Series | Registration) -> None:
        self.session.add(row)

    async def calendar_for(self, resource: Resource, start: datetime, end: datetime) -> Calendar:
        """The resource's calendar with the hub's and its own closures around [start, end)."""
        margin = timedelta(days=2)
        values = {
            "hub": resource.hub,
            "resource_id": resource.id,
            "before": end + margin,
            "after": start - margin,
        }
        rows = await on_connection(self.session, _CLOSURES_AROUND, values)
        closures = [CalendarClosure(*row) for row in rows]
        return Calendar(domain.opening_hours(resource.hours), closures)

    async def closure(self, closure_id: str) -> Closure | None:
        return await self.session.get(Closure, closure_id)

    async def add_closure_bookings(self, rows: Sequence[ClosureBooking]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def closure_booking_for_update(
        self, closure_id: str, booking_id: str
    ) -> ClosureBooking | None:
        return await self.session.scalar(
            select(ClosureBooking)
            .where(ClosureBooking.closure_id == closure_id, ClosureBooking.booking_id == booking_id)
            .with_for_update()
        )

    async def closure_bookings(
        self, closure_id: str
    ) -> list[tuple[ClosureBooking, Booking, Resource]]:
        """The bookings a closure fell on, with staff's choice for each, in order."""
        rows = await self.session.execute(
            select(ClosureBooking, Booking, Resource)
            .join(Booking, Booking.id == ClosureBooking.booking_id)
            .join(Resource, Resource.id == Booking.resource_id)
            .where(ClosureBooking.closure_id == closure_id)
            .order_by(Booking.start_at, Booking.id)
        )
        return [(c, b, r) for c, b, r in rows.all()]

    async def closures_ending_after(self, hub: str, at: datetime) -> list[Closure]:
        rows = await self.session.scalars(
            select(Closure)
            .where(Closure.hub == hub, Closure.end_at > at)
            .order_by(Closure.start_at)
        )
        return list(rows)

    # ----------------------------------------------------------------------- bookings

    async def active_overlapping(
        self, resource_id: str, start: datetime, block_end: datetime
    ) -> list[domain.Busy]:
        """Active bookings whose blocked range meets [start, block_end)."""
        values = {"resource_id": resource_id, "block_end": block_end, "start": start}
        rows = await on_connection(self.session, _ACTIVE_OVERLAPPING, values)
        return [domain.Busy(*row) for row in rows]

    async def active_between(
        self, hub: str, start: datetime, end: datetime, resource_id: str | None, limit: int
    ) -> list[tuple[Booking, Resource]]:
        """The hub's (or one resource's) active bookings meeting [start, end), in order."""
        query = _BOOKING_AND_RESOURCE.where(
            Booking.hub == hub,
            Booking.status.in_(domain.ACTIVE),
            Booking.start_at < end,
            Booking.end_at > start,
            _starts_within_reach(start),
        )
        if resource_id is not None:
            query = query.where(Booking.resource_id == resource_id)
        rows = await self.session.execute(query.order_by(Booking.start_at).limit(limit))
        return [(b, r) for b, r in rows.all()]

    async def active_of_resource(
        self, resource_id: str, start: datetime, end: datetime, limit: int
    ) -> list[Booking]:
        """Active bookings of a resource starting in [start, end), in order."""
        rows = await self.session.scalars(
            select(Booking)
            .where(
                Booking.resource_id == resource_id,
                Booking.status.in_(domain.ACTIVE),
                Booking.start_at >= start,
                Booking.start_at < end,
            )
            .order_by(Booking.start_at)
            .limit(limit)
        )
        return list(rows)

    async def free_hours_used(
        self, org_number: str, resource_id: str, weeks: Sequence[tuple[datetime, datetime]]
    ) -> domain.QuotaLedger:
        """Free hours the organisation already holds on the resource in the given weeks."""
        ledger = domain.QuotaLedger(limit_hours=None)
        for week_start, week_end in sorted(set(weeks)):
            rows = await self.session.execute(
                select(Booking.start_at, Booking.end_at).where(
                    Booking.org_number == org_number,
                    Booking.resource_id == resource_id,
                    Booking.status.in_(domain.ACTIVE),
                    Booking.free_of_charge.is_(True),
                    Booking.start_at >= week_start,
                    Booking.start_at < week_end,
                )
            )
            for r in rows:
                ledger.add(r.start_at, r.end_at)
        return ledger

    async def free_time_between(
        self, org_numbers: set[str], resource_ids: set[str], start: datetime, end: datetime
    ) -> list[domain.FreeTime]:
        """Active free bookings of these organisations on these resources starting in
        [start, end): one index range per pair (ix_bookings_org_resource_start). Between the
        weeks asked about it may read others; a resource with a weekly limit keeps those few.
        One OR term per organisation, resource and week instead cost 40 ms of CPU a call
        with 100,000 bookings against 4 ms here (and more to build than to read)."""
        if not org_numbers or not resource_ids:
            return []
        rows = await on_connection(
            self.session,
            _FREE_TIME,
            {
                "org_numbers": sorted(org_numbers),
                "resource_ids": sorted(resource_ids),
                "start": start,
                "end": end,
            },
        )
        return [
            domain.FreeTime(r.id, r.org_number, r.resource_id, r.start_at, r.end_at) for r in rows
        ]

    async def add_booking(self, booking: Booking, actor: str) -> None:
        """A new booking with its first history row, written with the unit of work's flush
        as Core statements (shared.db.insert_at_flush: on PostgreSQL one statement with the
        booking's event): neither is read or changed again in the transaction that makes
        it, and the ORM's flush of the history row cost more than the booking's own insert.
        The database's overlap guard answers at the flush, read as the same 409."""
        history = _history_of(booking, actor, booking.created_at)
        insert_at_flush(self.session, booking, history)

    async def insert_bookings(
        self, bookings: Sequence[Booking], *, actor: str, at: datetime, note: str
    ) -> None:
        """Many new bookings with their first history row, as two multi-row INSERTs (a
        season's series: thousands of rows; the ORM's per-object flush cost seconds). The
        database's overlap guard checks each row as for any booking."""
        if not bookings:
            return
        columns = [c.key for c in Booking.__table__.columns]
        await self.session.execute(
            insert(Booking), [{k: getattr(b, k) for k in columns} for b in bookings]
        )
        await self.session.execute(
            insert(BookingHistory),
            [
                {"booking_id": b.id, "at": at, "status": b.status, "actor": actor, "note": note}
                for b in bookings
            ],
        )

    async def add_series(self, series: Series) -> None:
        self.session.add(series)
        await self.session.flush()

    def record(self, booking: Booking, actor: str, at: datetime, note: str | None = None) -> None:
        self.session.add(_history_of(booking, actor, at, note))

    async def booking_for_update(self, booking_id: str) -> Booking | None:
        return await self.session.scalar(
            select(Booking).where(Booking.id == booking_id).with_for_update()
        )

    async def series_bookings_for_update(self, series_id: str) -> list[Booking]:
        """Every occurrence of a series, first first (at most MAX_SERIES_OCCURRENCES)."""
        rows = await self.session.scalars(
            select(Booking)
            .where(Booking.series_id == series_id)
            .order_by(Booking.start_at, Booking.id)
            .with_for_update()
        )
        return list(rows)

    async def booking(self, booking_id: str) -> Booking | None:
        return await self.session.get(Booking, booking_id)

    async def booking_with_resource(self, booking_id: str) -> tuple[Booking, Resource] | None:
        query = _BOOKING_AND_RESOURCE.where(Booking.id == booking_id)
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def bookings(
        self,
        *,
        resource_id: str | None,
        start: datetime | None,
        end: datetime | None,
        status: str | None,
        limit: int,
    ) -> Sequence[Row[Any]]:
        """Bookings overlapping [start, end), oldest first, as rows (`_LISTED`)."""
        query = _LISTED
        if resource_id:
            query = query.where(Booking.resource_id == resource_id)
        if start:
            query = query.where(Booking.end_at > start, _starts_within_reach(start))
        if end:
            query = query.where(Booking.start_at < end)
        if status:
            query = query.where(Booking.status == status)
        return await self._rows(query.order_by(Booking.start_at).limit(limit))

    async def waiting(self, limit: int) -> Sequence[Row[Any]]:
        """Bookings waiting for approval, in the order they were asked for, as rows."""
        return await self._rows(_WAITING.limit(limit))

    async def resource_versions(self) -> Sequence[Row[Any]]:
        """Every resource's version (models.ResourceVersion), in the order of their ids."""
        return await self._rows(_VERSIONS)

    async def _rows(self, query: Executable) -> Sequence[Row[Any]]:
        # On the session's connection, past the ORM's result handling: rows, not objects.
        return (await on_connection(self.session, query)).all()

    async def count_bookings(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Booking)) or 0)

    # ----------------------------------------------------------------------- reminders

    async def due_for_reminder(self, now: datetime, lead: timedelta, limit: int) -> list[str]:
        rows = await self.session.scalars(
            select(Booking.id)
            .where(
                Booking.status == "confirmed",
                Booking.reminder_sent_at.is_(None),
                Booking.start_at > now,
                Booking.start_at <= now + lead,
            )
            .order_by(Booking.start_at)
            .limit(limit)
        )
        return list(rows)

    async def claim_reminder(self, booking_id: str, now: datetime) -> bool:
        """Mark the reminder settled (about to be sent, or found not needed) unless it is
        (another replica won), or the booking is no longer confirmed; True when this
        transaction claimed it."""
        claimed = await self.session.execute(
            update(Booking)
            .where(
                Booking.id == booking_id,
                Booking.reminder_sent_at.is_(None),
                Booking.status == "confirmed",
            )
            .values(reminder_sent_at=now)
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult

    # ----------------------------------------------------------------------- no-shows

    async def due_for_release(self, now: datetime, limit: int) -> list[str]:
        """Confirmed bookings not checked in whose release time has come, while they last.
        release_due_at lies inside the booking, so it is later than now minus the longest
        booking: the lower bound keeps this an index range."""
        rows = await self.session.scalars(
            select(Booking.id)
            .where(
                Booking.release_due_at <= now,
                Booking.release_due_at > now - domain.MAX_LENGTH_CAP,
                Booking.status == "confirmed",
                Booking.checked_in_at.is_(None),
                Booking.end_at > now,
            )
            .order_by(Booking.release_due_at)
            .limit(limit)
        )
        return list(rows)

    async def claim_release(self, booking_id: str, now: datetime) -> bool:
        """Release the booking unless it was checked in, cancelled or released meanwhile
        (another replica won): True when this transaction released it. The conditional
        UPDATE is the one decision, so two scans release a booking once."""
        claimed = await self.session.execute(
            update(Booking)
            .where(
                Booking.id == booking_id,
                Booking.status == "confirmed",
                Booking.checked_in_at.is_(None),
                Booking.release_due_at <= now,
                Booking.end_at > now,
            )
            .values(status="released", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult

    async def no_shows(self, org_number: str) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                Booking.org_number == org_number, Booking.status == "released"
            )
        )
        return int(count or 0)

    async def confirmed_at(self, booking_id: str) -> datetime | None:
        """When the booking last became confirmed (made so, or approved): its history says."""
        return await self.session.scalar(
            select(func.max(BookingHistory.at)).where(
                BookingHistory.booking_id == booking_id, BookingHistory.status == "confirmed"
            )
        )

    # ----------------------------------------------------------------------- retention

    async def past_retention(self, ended_before: datetime, limit: int) -> list[Booking]:
        """Bookings that ended before `ended_before` and still name their booker, oldest
        first. end_at has no index of its own: start_at's, bounded by the longest booking."""
        rows = await self.session.scalars(
            select(Booking)
            .where(
                Booking.start_at < ended_before,
                Booking.end_at < ended_before,
                Booking.booker_name != ANONYMISED,
            )
            .order_by(Booking.start_at, Booking.id)
            .limit(limit)
        )
        return list(rows)

    async def anonymise_booking(self, booking: Booking, now: datetime) -> bool:
        """Keep what the statistics count (resource, times, status, kind of booker, price,
        organisation) and drop what names or describes a person; False when another replica
        did it first. A public activity's title was published and stays."""
        catering = dict(booking.catering, note=None) if booking.catering else booking.catering
        done = await self.session.execute(
            update(Booking)
            .where(Booking.id == booking.id, Booking.booker_name != ANONYMISED)
            .values(
                booker_name=ANONYMISED,
                booker_email=None,
                booker_phone=None,
                title=booking.title if booking.public else None,
                description=booking.description if booking.public else None,
                participants=[],
                catering=catering,
                reason=None,
                manage_token_hash="",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
            return False
        await self.session.execute(
            update(BookingHistory)
            .where(BookingHistory.booking_id == booking.id)
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        return True

    async def anonymise_registrations(self, ended_before: datetime, limit: int) -> int:
        """Sign-ups of activities that ended before `ended_before`: the participant's name
        and contacts go, the sign-up (its status, its activity) stays for the counts."""
        due = (
            select(Registration.id)
            .join(Booking, Booking.id == Registration.booking_id)
            .where(
                Booking.start_at < ended_before,
                Booking.end_at < ended_before,
                Registration.name != ANONYMISED,
            )
            .order_by(Registration.id)
            .limit(limit)
        )
        ids = list(await self.session.scalars(due))
        if not ids:
            return 0
        done = await self.session.execute(
            update(Registration)
            .where(Registration.id.in_(ids), Registration.name != ANONYMISED)
            .values(name=ANONYMISED, email=None, phone=None, token_hash="")
            .execution_options(synchronize_session=False)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    async def anonymise_season_applications(self, last_day_before: date, limit: int) -> int:
        """Applications to seasons whose last day is before `last_day_before`: the contact
        person's name and contacts go; the application (organisation, target group, wishes)
        and its allocations stay for the season's report."""
        due = (
            select(SeasonApplication.id)
            .join(Season, Season.id == SeasonApplication.season_id)
            .where(
                Season.ends_on < last_day_before,
                SeasonApplication.contact_name != ANONYMISED,
            )
            .order_by(SeasonApplication.id)
            .limit(limit)
        )
        ids = list(await self.session.scalars(due))
        if not ids:
            return 0
        done = await self.session.execute(
            update(SeasonApplication)
            .where(SeasonApplication.id.in_(ids), SeasonApplication.contact_name != ANONYMISED)
            .values(contact_name=ANONYMISED, contact_email=None, contact_phone=None, token_hash="")
            .execution_options(synchronize_session=False)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    # ----------------------------------------------------------------------- one person

    async def bookings_of(self, person: Person) -> list[Booking]:
        """Bookings the person made (as the booker)."""
        found = or_(
            func.lower(Booking.booker_email).in_(sorted(person.emails)),
            Booking.booker_phone.in_(sorted(person.phones)),
        )
        return list(await self.session.scalars(select(Booking).where(found)))

    async def bookings_listing(self, person: Person) -> list[Booking]:
        """Bookings whose participants include the person (the JSON's text narrows the
        read; the contact's own fields decide)."""
        text = func.lower(cast(Booking.participants, String))
        hints = [text.contains(e) for e in person.emails] + [
            text.contains(p) for p in person.phones
        ]
        if not hints:
            return []
        rows = await self.session.scalars(select(Booking).where(or_(*hints)))
        return [b for b in rows if any(person.matches(p) for p in b.participants or [])]

    async def registrations_of(self, person: Person) -> list[Registration]:
        found = or_(
            func.lower(Registration.email).in_(sorted(person.emails)),
            Registration.phone.in_(sorted(person.phones)),
        )
        return list(await self.session.scalars(select(Registration).where(found)))

    async def season_applications_of(self, person: Person) -> list[SeasonApplication]:
        """Season applications naming the person as the club's contact."""
        found = or_(
            func.lower(SeasonApplication.contact_email).in_(sorted(person.emails)),
            SeasonApplication.contact_phone.in_(sorted(person.phones)),
        )
        return list(
            await self.session.scalars(
                select(SeasonApplication).where(found).order_by(SeasonApplication.created_at)
            )
        )

    async def organisations_naming(self, person: Person) -> list[Organisation]:
        found = or_(
            func.lower(Organisation.public_email).in_(sorted(person.emails)),
            Organisation.public_phone.in_(sorted(person.phones)),
        )
        return list(await self.session.scalars(select(Organisation).where(found)))

    # ----------------------------------------------------------------------- organisations

    async def organisation(self, org_number: str) -> Organisation | None:
        return await self.session.get(Organisation, org_number)

    async def upsert_organisation(self, number: str, values: dict[str, Any], now: datetime) -> None:
        """An insert-or-update in one statement: two first bookings of one club may race."""
        values = {**values, "updated_at": now}
        upsert = _organisation_upsert(self._dialect, tuple(values))
        await on_connection(
            self.session, upsert, {**values, "org_number": number, "created_at": now}
        )

    async def organisation_name(self, org_number: str | None) -> str | None:
        if org_number is None:
            return None
        org = await self.session.get(Organisation, org_number)
        return org.name if org else None

    async def listed_organisations(self) -> list[Organisation]:
        rows = await self.session.scalars(
            select(Organisation).where(Organisation.listed.is_(True)).order_by(Organisation.name)
        )
        return list(rows)

    # ----------------------------------------------------------------------- activities

    async def activities(self, start: datetime, end: datetime, limit: int) -> list[Activity]:
        """Public activities (domain.is_public_activity) overlapping [start, end)."""
        rows = await self.session.execute(
            select(Booking, Resource.name, Organisation.name)
            .join(Resource, Resource.id == Booking.resource_id)
            .outerjoin(Organisation, Organisation.org_number == Booking.org_number)
            .where(
                Booking.public.is_(True),
                Booking.status == "confirmed",
                Booking.end_at > start,
                _starts_within_reach(start),
                Booking.start_at < end,
            )
            .order_by(Booking.start_at)
            .limit(limit)
        )
        return [Activity(b, resource_name, org_name) for b, resource_name, org_name in rows]

    async def registration_counts(self, booking_ids: list[str]) -> dict[tuple[str, str], int]:
        if not booking_ids:
            return {}
        rows = await self.session.execute(
            select(Registration.booking_id, Registration.status, func.count())
            .where(Registration.booking_id.in_(booking_ids))
            .group_by(Registration.booking_id, Registration.status)
        )
        return {(b, s): n for b, s, n in rows}

    async def registered_count(self, activity_id: str) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                Registration.booking_id == activity_id, Registration.status == "registered"
            )
        )
        return int(count or 0)

    async def add_registration(self, registration: Registration) -> None:
        self.session.add(registration)
        await self.session.flush()

    async def registration(self, registration_id: str) -> Registration | None:
        return await self.session.get(Registration, registration_id)

    async def waitlist_position(self, reg: Registration) -> int:
        ahead = await self.session.scalar(
            select(func.count()).where(
                Registration.booking_id == reg.booking_id,
                Registration.status == "waitlisted",
                Registration.created_at <= reg.created_at,
                Registration.id != reg.id,
            )
        )
        return int(ahead or 0) + 1

    async def first_waitlisted(self, activity_id: str) -> Registration | None:
        return await self.session.scalar(
            select(Registration)
            .where(Registration.booking_id == activity_id, Registration.status == "waitlisted")
            .order_by(Registration.created_at, Registration.id)
            .limit(1)
        )

    # ----------------------------------------------------------------------- seasons

    def add_season_row(
        self, row: Season | SeasonApplication | SeasonAllocation | SeasonOffer
    ) -> None:
        self.session.add(row)

    async def season(self, season_id: str, *, for_update: bool = False) -> Season | None:
        query = select(Season).where(Season.id == season_id)
        if for_update:
            # Refreshed, not the copy this session may have read before the lock: a second
            # publisher must see the first's `published`.
            query = query.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(query)

    async def seasons(self, hub: str) -> list[Season]:
        rows = await self.session.scalars(
            select(Season).where(Season.hub == hub).order_by(Season.starts_on, Season.id)
        )
        return list(rows)

    async def application(self, application_id: str) -> SeasonApplication | None:
        return await self.session.get(SeasonApplication, application_id)

    async def applications(self, season_id: str) -> list[SeasonApplication]:
        rows = await self.session.scalars(
            select(SeasonApplication)
            .where(SeasonApplication.season_id == season_id)
            .order_by(SeasonApplication.created_at, SeasonApplication.id)
        )
        return list(rows)

    async def allocation(self, allocation_id: str) -> SeasonAllocation | None:
        return await self.session.get(SeasonAllocation, allocation_id)

    async def allocations(
        self, season_id: str, statuses: Sequence[str] = ("granted",)
    ) -> list[SeasonAllocation]:
        rows = await self.session.scalars(
            select(SeasonAllocation)
            .where(SeasonAllocation.season_id == season_id, SeasonAllocation.status.in_(statuses))
            .order_by(SeasonAllocation.weekday, SeasonAllocation.start_time, SeasonAllocation.id)
        )
        return list(rows)

    async def drop_allocations(self, season_id: str) -> None:
        """A new proposal replaces the last one (before publishing only)."""
        await self.session.execute(
            delete(SeasonAllocation).where(SeasonAllocation.season_id == season_id)
        )

    async def allocation_of_series(self, series_id: str | None) -> SeasonAllocation | None:
        if series_id is None:
            return None
        return await self.session.scalar(
            select(SeasonAllocation).where(SeasonAllocation.series_id == series_id)
        )

    async def allocation_of_booking(self, booking_id: str) -> SeasonAllocation | None:
        return await self.session.scalar(
            select(SeasonAllocation)
            .join(Booking, Booking.series_id == SeasonAllocation.series_id)
            .where(Booking.id == booking_id)
        )

    async def offers_of_release(self, release_id: str) -> list[SeasonOffer]:
        rows = await self.session.scalars(
            select(SeasonOffer).where(SeasonOffer.release_id == release_id)
        )
        return list(rows)

    async def due_offers(self, now: datetime, limit: int) -> list[str]:
        rows = await self.session.scalars(
            select(SeasonOffer.id)
            .where(SeasonOffer.status == "offered", SeasonOffer.expires_at <= now)
            .order_by(SeasonOffer.expires_at, SeasonOffer.id)
            .limit(limit)
        )
        return list(rows)

    async def claim_expiry(self, offer_id: str, now: datetime) -> bool:
        """Mark an unanswered offer expired, once (of two replicas, or an answer at the
        same moment, one wins)."""
        claimed = await self.session.execute(
            update(SeasonOffer)
            .where(
                SeasonOffer.id == offer_id,
                SeasonOffer.status == "offered",
                SeasonOffer.expires_at <= now,
            )
            .values(status="expired", updated_at=now)
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult

    async def offer_for_update(self, offer_id: str) -> SeasonOffer | None:
        return await self.session.scalar(
            select(SeasonOffer).where(SeasonOffer.id == offer_id).with_for_update()
        )

    async def season_hours(self, season_id: str) -> list[tuple[str, str, str, float]]:
        """(org number, org name, target group, hours) of each active booking of the
        season's allocations: what the report adds up."""
        rows = await self.session.execute(
            select(
                SeasonApplication.org_number,
                SeasonApplication.org_name,
                SeasonApplication.target_group,
                Booking.start_at,
                Booking.end_at,
            )
            .join(SeasonAllocation, SeasonAllocation.application_id == SeasonApplication.id)
            .join(Booking, Booking.series_id == SeasonAllocation.series_id)
            .where(
                SeasonAllocation.season_id == season_id,
                Booking.status.in_(domain.ACTIVE),
            )
        )
        return [
            (number, name, group, (end - start).total_seconds() / 3600)
            for number, name, group, start, end in rows.all()
        ]


def _history_of(
    booking: Booking, actor: str, at: datetime, note: str | None = None
) -> BookingHistory:
    return BookingHistory(
        booking_id=booking.id, at=at, status=booking.status, actor=actor, note=note
    )


# --- a booking's reads, built once ---------------------------------------------------------
# Building each statement anew (its expression tree and cache key) cost more than the
# database's answer (docs/bench.md, fifth pass); these take their values bound.

_RESOURCE = select(Resource).where(Resource.id == bindparam("resource_id"))

_CLOSURES_AROUND = select(Closure.start_at, Closure.end_at, Closure.reason).where(
    Closure.hub == bindparam("hub"),
    or_(Closure.resource_id.is_(None), Closure.resource_id == bindparam("resource_id")),
    Closure.start_at < bindparam("before"),
    Closure.end_at > bindparam("after"),
)

# The active bookings of a resource never overlap (the schema refuses it), so the only
# one starting before a range that can reach into it is the last one to start before it:
# with those starting inside the range, two short index ranges, however densely the
# resource is booked. (A bound of MAX_SPAN before the range instead read every booking of
# the 8 days before: 1,100 rows for a room booked every 10 minutes.)
_ACTIVE_OF_RESOURCE = (
    Booking.resource_id == bindparam("resource_id"),
    Booking.status.in_(domain.ACTIVE),
)
_BUSY_COLUMNS = (Booking.id, Booking.start_at, Booking.end_at, Booking.blocked_until)
_LAST_BEFORE = (
    select(*_BUSY_COLUMNS)
    .where(*_ACTIVE_OF_RESOURCE, Booking.start_at < bindparam("start"))
    .order_by(Booking.start_at.desc())
    .limit(1)
    .subquery()
)
_ACTIVE_OVERLAPPING = union_all(
    select(*_BUSY_COLUMNS).where(
        *_ACTIVE_OF_RESOURCE,
        Booking.start_at >= bindparam("start"),
        Booking.start_at < bindparam("block_end"),
    ),
    select(_LAST_BEFORE).where(_LAST_BEFORE.c.blocked_until > bindparam("start")),
)


@functools.cache
def _organisation_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """The organisation's insert-or-update of these columns, built once; the values are
    passed with each execution (as loans' `_borrower_upsert`): an organisation's every
    booking sends it, and building it anew with its values (its expression and cache key)
    took 100 µs, more than the write."""
    insert = insert_for(dialect)(Organisation.__table__)
    return insert.on_conflict_do_update(
        index_elements=["org_number"],
        set_={column: insert.excluded[column] for column in columns},
    )
