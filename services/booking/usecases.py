"""The booking use cases: `async def verb_noun(uow, command) -> result`, each run in one
transaction by the caller's unit of work (`runtime.uow.run`). The rules are domain.py's,
rows go through `uow.store`, events are recorded with `uow.record` (written to the outbox at
commit), and the time is `uow.now()`. Refusals are shared.errors types.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, TypeVar

from services.booking import allocation, domain
from services.booking.models import (
    Booking,
    Closure,
    ClosureBooking,
    Organisation,
    Registration,
    Resource,
    Season,
    SeasonAllocation,
    SeasonApplication,
    SeasonOffer,
    Series,
)
from services.booking.store import Activity, Store, policy_of
from shared import events
from shared.anonymise import ANONYMISED
from shared.auth import token_matches
from shared.calendar import Calendar, local_date, local_midnight, require_aware
from shared.errors import Conflict, NotAllowed, NotAuthenticated, NotFound
from shared.hubs import DEFAULT_HUB
from shared.messaging.redact import Person
from shared.person_data import row as exported
from shared.unit_of_work import UnitOfWork

Uow = UnitOfWork[Store]


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Access:
    """Who asks about a booking: staff (with the booking role), or whoever holds a token."""

    token: str | None = None
    staff: bool = False
    actor: events.Actor | None = None  # the staff member, for the events they cause
    # The token was the booking's manage link (shared/manage_links.py), checked at the door.
    link: bool = False


@dataclass(frozen=True)
class OrganisationDetails:
    number: str
    name: str
    listed: bool = False
    description: str | None = None
    website: str | None = None
    public_email: str | None = None
    public_phone: str | None = None


@dataclass(frozen=True)
class BookingDetails:
    """What a single booking and a series share: the resource, the booker, the activity."""

    resource_id: str
    booker_type: str
    booker: domain.Contact
    token_hash: str
    by_staff: bool = False
    actor: events.Actor | None = None  # who on staff booked, for the events it causes
    organisation: OrganisationDetails | None = None
    title: str | None = None
    description: str | None = None
    public: bool = False
    signup_capacity: int | None = None
    attendees: int | None = None
    participants: tuple[domain.Contact, ...] = ()


@dataclass(frozen=True)
class MakeBooking:
    details: BookingDetails
    start: datetime
    end: datetime
    catering: events.CateringRequest | None = None


@dataclass(frozen=True)
class MakeSeries:
    details: BookingDetails
    start_time: time
    end_time: time
    first_date: date | None = None
    interval_weeks: int = 1
    count: int | None = None
    until: date | None = None
    dates: tuple[date, ...] | None = None
    mode: Literal["all_or_nothing", "skip_conflicts"] = "all_or_nothing"

    def rule(self) -> dict[str, Any]:
        """The series' rule as kept with it."""
        return {
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat(),
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "interval_weeks": self.interval_weeks,
            "count": self.count,
            "until": self.until.isoformat() if self.until else None,
            "dates": None if self.dates is None else [d.isoformat() for d in self.dates],
            "mode": self.mode,
        }


@dataclass(frozen=True)
class BookingQuery:
    resource_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None
    limit: int = 200


@dataclass(frozen=True)
class RequestQuery:
    limit: int = 200


@dataclass(frozen=True)
class ReadBooking:
    booking_id: str
    access: Access


@dataclass(frozen=True)
class CancelBooking:
    booking_id: str
    access: Access
    reason: str | None = None


@dataclass(frozen=True)
class CheckIn:
    booking_id: str
    access: Access


@dataclass(frozen=True)
class CancelSeries:
    """Cancel a series in one request: every active occurrence not yet started, or those
    from `from_date` (an Oslo date) on."""

    series_id: str
    access: Access
    from_date: date | None = None
    reason: str | None = None


@dataclass(frozen=True)
class DecideBooking:
    booking_id: str
    approve: bool
    reason: str | None = None
    actor: events.Actor | None = None


@dataclass(frozen=True)
class AddResource:
    rules: Mapping[str, Any]  # the ResourceIn fields, validated at the door


@dataclass(frozen=True)
class EditResource:
    resource_id: str
    changes: Mapping[str, Any]  # only the fields the request set


@dataclass(frozen=True)
class DayQuery:
    resource_id: str
    date: date
    slot_minutes: int = 60


@dataclass(frozen=True)
class DaysQuery:
    resource_id: str
    first: date
    days: int = 7
    slot_minutes: int = 60


@dataclass(frozen=True)
class AddClosure:
    resource_id: str | None
    start: datetime
    end: datetime
    reason: str = ""
    actor: events.Actor | None = None


@dataclass(frozen=True)
class DecideClosureBooking:
    """Staff cancel or keep one booking a closure fell on."""

    closure_id: str
    booking_id: str
    action: domain.ClosureAction
    actor: events.Actor | None = None


@dataclass(frozen=True)
class ActivityQuery:
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100


@dataclass(frozen=True)
class SignUp:
    activity_id: str
    name: str
    email: str | None
    phone: str | None
    token_hash: str
    language: str = "nb"


@dataclass(frozen=True)
class CancelSignUp:
    activity_id: str
    registration_id: str
    token: str | None
    # Who moves up this close to the start is told by SMS too (BOOKING_PROMOTION_SMS_HOURS).
    short_notice: timedelta = timedelta(hours=48)
    # The token was the sign-up's manage link (shared/manage_links.py), checked at the door.
    link: bool = False


@dataclass(frozen=True)
class RegistrationQuery:
    # None: whichever activity it is for (the manage link names the sign-up only).
    activity_id: str | None
    registration_id: str
    token: str | None
    link: bool = False


@dataclass(frozen=True)
class DueReminders:
    lead: timedelta
    limit: int = 200


@dataclass(frozen=True)
class DueReleases:
    limit: int = 200


@dataclass(frozen=True)
class SendReminder:
    booking_id: str
    lead: timedelta  # the reminder goes out this long before the start


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Booked:
    booking: Booking
    resource: Resource


# A row of a list (store._LISTED): a booking's shown columns by their names, with
# `resource_name` and `resource_weekly_free_hours`.
ListedRow = Any


@dataclass(frozen=True)
class Listing:
    """A list of bookings as read: rows of each booking's columns with `resource_name`
    and `resource_weekly_free_hours`; each request's weekly free hours by booking id; and
    `version`, what an answer's ETag is made of, so that an unchanged list need not be read
    or sent again. It changes with the question and with any change to a resource or a
    booking (models.ResourceVersion): never stays while the list changes, and seldom
    changes while it stays."""

    rows: Sequence[ListedRow]
    free_hours: Mapping[str, domain.FreeHours]
    version: str
    unchanged: bool = False  # the version the caller holds: no rows read or given


async def _version(uow: Uow, question: object) -> str:
    # Read before the list: a list read after it is as new as the version or newer (on
    # PostgreSQL each statement sees what was committed when it began), so a tag never
    # stands for an older list than the one it came with.
    versions = [tuple(row) for row in await uow.store.resource_versions()]
    return hashlib.blake2b(repr((versions, question)).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class SeriesBooked:
    series_id: str
    occurrences: list[domain.Occurrence]


@dataclass(frozen=True)
class SeriesCancelled:
    series_id: str
    cancelled: list[Booked]


@dataclass(frozen=True)
class Availability:
    resource: Resource
    busy: list[domain.Busy]
    day: domain.Day


@dataclass(frozen=True)
class Feed:
    resource_name: str
    entries: list[domain.FeedEntry]


@dataclass(frozen=True)
class ClosureAdded:
    closure: Closure
    affected_bookings: list[str]


@dataclass(frozen=True)
class AffectedBooking:
    """A booking a closure fell on, and staff's choice for it (domain.closure_decision)."""

    decision: str
    decided_at: datetime | None
    booked: Booked


@dataclass(frozen=True)
class ActivityView:
    booking: Booking
    resource_name: str
    organiser: str | None
    registered: int
    waitlisted: int
    places_left: int | None


@dataclass(frozen=True)
class OrganisationRecord:
    """An organisation as staff see it: what it gave, and how often it did not show up."""

    organisation: Organisation
    no_shows: int


@dataclass(frozen=True)
class SignedUp:
    registration: Registration
    waitlist_position: int | None


@dataclass(frozen=True)
class RegistrationView:
    """A sign-up as its owner sees it from the manage link: the activity and where it stands."""

    registration: Registration
    waitlist_position: int | None
    title: str
    resource_name: str
    start: datetime
    end: datetime


# --------------------------------------------------------------------------- bookings


async def make_booking(uow: Uow, cmd: MakeBooking) -> Booked:
    """Book one slot: the booker, the resource's rules, the weekly quota, then overlap."""
    now = uow.now()
    details = cmd.details
    booker = _booker(details)
    if cmd.catering is not None:
        domain.check_serving_time(cmd.start, cmd.end, cmd.catering.serve_at)
    slot = domain.Slot(require_aware(cmd.start), require_aware(cmd.end))  # stored as UTC
    resource = await _bookable(uow, details.resource_id)
    policy = policy_of(resource)
    calendar = await uow.store.calendar_for(resource, slot.start, slot.end)
    if refused := domain.slot_refusal(_ask(resource, policy, calendar, details, booker), slot, now):
        raise refused
    # Only what other bookings of the resource change is read after its lock (the week's
    # quota, the overlap): the lock is held for as few round trips as it can be, since
    # every writer of the resource waits for it.
    await uow.store.lock_resource(resource.id)
    ledger = await _quota_ledger(uow, resource, policy, booker, [slot])
    if ledger is not None and (refused := ledger.refusal(slot.start, slot.end)):
        raise refused
    block_end = domain.blocked_until(slot.end, policy)
    busy = await uow.store.active_overlapping(resource.id, slot.start, block_end)
    if (other := domain.first_conflict(slot.start, block_end, busy)) is not None:
        raise domain.overlap_refusal(other, await _allocation_named(uow, other.booking_id))
    await _keep_organisation(uow, booker, details, now)
    booking = _new_booking(
        details,
        resource,
        policy,
        booker,
        slot,
        now=now,
        catering=cmd.catering.model_dump(mode="json") if cmd.catering else None,
    )
    await _insert(uow, booking, resource, booker, details.actor)
    return Booked(booking, resource)


async def make_series(uow: Uow, cmd: MakeSeries) -> SeriesBooked:
    """Book a recurring series: every occurrence judged and reported; all of them or
    nothing, or the free ones (`skip_conflicts`)."""
    now = uow.now()
    details = cmd.details
    booker = _booker(details)
    dates = domain.series_dates(
        cmd.dates,
        cmd.first_date,
        interval_weeks=cmd.interval_weeks,
        count=cmd.count,
        until=cmd.until,
    )
    slots = domain.occurrences(dates, cmd.start_time, cmd.end_time)
    resource = await _bookable(uow, details.resource_id)
    policy = policy_of(resource)
    calendar = await uow.store.calendar_for(resource, slots[0].start, slots[-1].end)
    ask = _ask(resource, policy, calendar, details, booker)
    await uow.store.lock_resource(resource.id)  # as make_booking: after what it does not guard
    ledger = await _quota_ledger(uow, resource, policy, booker, slots)
    judged = []
    for slot in slots:
        block_end = domain.blocked_until(slot.end, policy)
        busy = await uow.store.active_overlapping(resource.id, slot.start, block_end)
        judged.append(domain.judge(ask, slot, busy=busy, ledger=ledger, now=now))
    refused = domain.series_refusal(judged, all_or_nothing=cmd.mode == "all_or_nothing")
    if refused is not None:
        raise refused
    await _keep_organisation(uow, booker, details, now)
    series = Series(id=str(uuid.uuid4()), resource_id=resource.id, rule=cmd.rule(), created_at=now)
    await uow.store.add_series(series)
    for occurrence in judged:
        if occurrence.status != "ok":
            continue
        booking = _new_booking(
            details, resource, policy, booker, occurrence.slot, now=now, series_id=series.id
        )
        await _insert(uow, booking, resource, booker, details.actor)
        occurrence.status = "booked"
        occurrence.booking_id = booking.id
    return SeriesBooked(series.id, judged)


async def list_bookings(uow: Uow, query: BookingQuery, held: str | None = None) -> Listing:
    """`held`: the version of the list the caller has; when it still is, no rows."""
    version = await _version(uow, query)
    if version == held:
        return Listing((), {}, version, unchanged=True)
    rows = await uow.store.bookings(
        resource_id=query.resource_id,
        start=query.start,
        end=query.end,
        status=query.status,
        limit=query.limit,
    )
    return Listing(rows, {}, version)


async def list_requests(uow: Uow, query: RequestQuery, held: str | None = None) -> Listing:
    """The requests waiting for approval, oldest first, each with what it does to its
    organisation's weekly free hours: what staff weigh before approving, in one read.
    `held`: as for list_bookings."""
    version = await _version(uow, query)
    if version == held:
        return Listing((), {}, version, unchanged=True)
    waiting = await uow.store.waiting(query.limit)
    counted = [
        domain.FreeTime(b.id, b.org_number, b.resource_id, b.start_at, b.end_at)
        for b in waiting
        if b.org_number and b.free_of_charge and b.resource_weekly_free_hours is not None
    ]
    counted_against: list[domain.FreeTime] = []
    if counted:
        weeks = [domain.week_bounds(f.start) for f in counted]
        counted_against = await uow.store.free_time_between(
            {f.org_number for f in counted},
            {f.resource_id for f in counted},
            min(start for start, _ in weeks),
            max(end for _, end in weeks),
        )
    limits = {b.resource_id: b.resource_weekly_free_hours for b in waiting}
    free_hours = domain.weekly_free_hours(counted, counted_against, limits)
    return Listing(waiting, free_hours, version)


async def read_booking(uow: Uow, cmd: ReadBooking) -> Booked:
    """The booker (with the manage token) or staff."""
    found = await uow.store.booking_with_resource(cmd.booking_id)
    if found is None:
        raise _no_booking(cmd.booking_id)
    booking, resource = found
    _actor(booking.manage_token_hash, cmd.access)
    return Booked(booking, resource)


async def cancel_booking(uow: Uow, cmd: CancelBooking) -> Booked:
    """The booker cancels before the resource's deadline; staff at any time. The booking
    is kept, with status `cancelled`."""
    now = uow.now()
    booking = await _for_update(uow, cmd.booking_id)
    actor = _actor(booking.manage_token_hash, cmd.access)
    status = domain.next_status(booking.status, "cancel")
    resource = await _resource_of(uow, booking)
    if actor == "owner":
        await _not_season_time(uow, booking.series_id)
        domain.check_owner_cancel(policy_of(resource), booking.start_at, now)
    booking.status = status
    booking.cancelled_by = actor
    booking.reason = cmd.reason
    booking.updated_at = now
    uow.store.record(booking, actor, now, cmd.reason)
    org = await uow.store.organisation_name(booking.org_number)
    uow.record(
        events.BookingCancelled(
            **_about(booking, resource, org),
            cancelled_by=actor,
            reason=booking.reason,
            had_catering=bool(booking.catering),
            participants=_participants(booking),
            actor=cmd.access.actor if actor == "staff" else None,
        )
    )
    return Booked(booking, resource)


async def cancel_series(uow: Uow, cmd: CancelSeries) -> SeriesCancelled:
    """Cancel a series, whole or from a date on, with the series' manage token (or staff):
    each occurrence gets its BookingCancelled as a single cancellation would (catering
    cancels its orders), marked `series_cancellation`, and the people are told once, by one
    SeriesCancelled. All of it or nothing: an owner past the deadline of any occurrence it
    takes is refused, and cancels from a later date or asks the staff."""
    now = uow.now()
    occurrences = await uow.store.series_bookings_for_update(cmd.series_id)
    if not occurrences:
        raise NotFound(
            f"no series {cmd.series_id!r}",
            code="series_not_found",
            nb=f"fant ingen serie {cmd.series_id!r}",
        )
    # One manage token was given for the whole series; every occurrence holds its hash.
    actor = _actor(occurrences[0].manage_token_hash, cmd.access)
    taken = set(
        domain.series_to_cancel(
            [(b.id, b.status, b.start_at) for b in occurrences], cmd.from_date, now
        )
    )
    chosen = [b for b in occurrences if b.id in taken]
    resource = await _resource_of(uow, chosen[0])
    if actor == "owner":
        await _not_season_time(uow, cmd.series_id)
        domain.check_owner_cancel(policy_of(resource), chosen[0].start_at, now)
    org = await uow.store.organisation_name(chosen[0].org_number)
    staff_actor = cmd.access.actor if actor == "staff" else None
    for booking in chosen:
        booking.status = domain.next_status(booking.status, "cancel")
        booking.cancelled_by = actor
        booking.reason = cmd.reason
        booking.updated_at = now
        uow.store.record(booking, actor, now, cmd.reason)
        uow.record(
            events.BookingCancelled(
                **_about(booking, resource, org),
                cancelled_by=actor,
                reason=booking.reason,
                had_catering=bool(booking.catering),
                participants=_participants(booking),
                actor=staff_actor,
                series_cancellation=True,
            )
        )
    first = chosen[0]
    about = _about(first, resource, org)
    uow.record(
        events.SeriesCancelled(
            series_id=cmd.series_id,
            hub=first.hub,
            resource_id=resource.id,
            resource_name=resource.name,
            booker_type=about["booker_type"],
            booker=about["booker"],
            organisation_name=org,
            title=first.title,
            cancelled_by=actor,
            reason=cmd.reason,
            occurrences=[
                events.CancelledOccurrence(
                    booking_id=b.id, start=b.start_at, end=b.end_at, had_catering=bool(b.catering)
                )
                for b in chosen
            ],
            participants=_participants(first),
            actor=staff_actor,
        )
    )
    return SeriesCancelled(cmd.series_id, [Booked(b, resource) for b in chosen])


async def decide_booking(uow: Uow, cmd: DecideBooking) -> Booked:
    """Staff approve or reject a pending booking."""
    now = uow.now()
    booking = await _for_update(uow, cmd.booking_id)
    booking.status = domain.next_status(booking.status, "approve" if cmd.approve else "reject")
    resource = await _resource_of(uow, booking)
    org = await uow.store.organisation_name(booking.org_number)
    booking.updated_at = now
    if not cmd.approve:
        booking.reason = cmd.reason
    uow.store.record(booking, "staff", now, cmd.reason)
    if cmd.approve:
        uow.record(_confirmed(booking, resource, org, auto_approved=False, actor=cmd.actor))
    else:
        uow.record(
            events.BookingRejected(
                **_about(booking, resource, org), reason=booking.reason or "", actor=cmd.actor
            )
        )
    return Booked(booking, resource)


async def check_in(uow: Uow, cmd: CheckIn) -> Booked:
    """Staff, or the booker with the manage token from 15 minutes before the start, say
    the booking is in use: it is then never released. Checking in twice changes nothing."""
    now = uow.now()
    booking = await _for_update(uow, cmd.booking_id)
    actor = _actor(booking.manage_token_hash, cmd.access)
    domain.check_check_in(
        booking.status, booking.start_at, booking.end_at, now, by_staff=actor == "staff"
    )
    if booking.checked_in_at is None:
        booking.checked_in_at = now
        booking.updated_at = now
    return Booked(booking, await _resource_of(uow, booking))


# --------------------------------------------------------------------------- no-shows


@dataclass(frozen=True)
class AnonymiseExpired:
    """Bookings ended more than `bookings` ago, sign-ups of activities ended more than
    `registrations` ago, and season applications of seasons ended more than `bookings` ago
    (the season's bookings follow the booking rule, so its applications do too) lose their
    personal data; at most `limit` of each per call."""

    bookings: timedelta
    registrations: timedelta
    limit: int = 200


@dataclass(frozen=True)
class Anonymised:
    bookings: int
    registrations: int
    applications: int = 0

    @property
    def total(self) -> int:
        return self.bookings + self.registrations + self.applications


async def anonymise_expired(uow: Uow, cmd: AnonymiseExpired) -> Anonymised:
    """One batch of retention's work, in this unit of work's transaction. Each row's UPDATE
    is conditioned on it not being anonymised yet, so two replicas count each row once."""
    now = uow.now()
    bookings = 0
    for booking in await uow.store.past_retention(now - cmd.bookings, cmd.limit):
        if await uow.store.anonymise_booking(booking, now):
            bookings += 1
    registrations = await uow.store.anonymise_registrations(now - cmd.registrations, cmd.limit)
    applications = await uow.store.anonymise_season_applications(
        _days_ended_before(now - cmd.bookings), cmd.limit
    )
    return Anonymised(bookings, registrations, applications)


def _days_ended_before(cutoff: datetime) -> date:
    """The first Oslo day not wholly before `cutoff`: a season whose last day is earlier
    ended (at the next local midnight) before it."""
    day = local_date(cutoff)
    return day - timedelta(days=1) if local_midnight(day) == cutoff else day


async def export_person(uow: Uow, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Access (docs/privacy.md): every booking, participation, sign-up, organisation
    listing and season application that names the person."""
    listed = await uow.store.bookings_listing(person)
    return {
        "bookings": [exported(b) for b in await uow.store.bookings_of(person)],
        "listed_as_participant": [
            {
                "booking_id": b.id,
                "resource_id": b.resource_id,
                "start_at": b.start_at.isoformat(),
                "end_at": b.end_at.isoformat(),
                "status": b.status,
                "you": [p for p in b.participants if person.matches(p)],
            }
            for b in listed
        ],
        "registrations": [exported(r) for r in await uow.store.registrations_of(person)],
        "organisations": [exported(o) for o in await uow.store.organisations_naming(person)],
        "season_applications": [
            exported(a) for a in await uow.store.season_applications_of(person)
        ],
    }


async def erase_person(uow: Uow, person: Person) -> dict[str, int]:
    """Erasure (docs/privacy.md): the person's bookings are anonymised as retention does
    (the booking itself stays: the resource's use, a paid hire's price and organisation,
    which the accounting rules keep, carry no contact); they leave others' participant
    lists; their sign-ups and an organisation's public contact naming them go; a season
    application naming them as the club's contact keeps its row and allocations (the
    season's report counts them) without the contact."""
    now = uow.now()
    bookings = 0
    own = await uow.store.bookings_of(person)
    for booking in own:
        if await uow.store.anonymise_booking(booking, now):
            bookings += 1
    participations = 0
    own_ids = {b.id for b in own}  # their participant lists went with them
    for booking in await uow.store.bookings_listing(person):
        if booking.id in own_ids:
            continue
        kept = [p for p in booking.participants if not person.matches(p)]
        participations += len(booking.participants) - len(kept)
        booking.participants = kept
        booking.updated_at = now
    registrations = 0
    for reg in await uow.store.registrations_of(person):
        reg.name, reg.email, reg.phone, reg.token_hash = ANONYMISED, None, None, ""
        reg.updated_at = now
        registrations += 1
    organisations = 0
    for org in await uow.store.organisations_naming(person):
        if org.public_email and org.public_email.lower() in person.emails:
            org.public_email = None
        if org.public_phone in person.phones:
            org.public_phone = None
        org.updated_at = now
        organisations += 1
    applications = 0
    for app in await uow.store.season_applications_of(person):
        app.contact_name, app.contact_email, app.contact_phone = ANONYMISED, None, None
        app.token_hash = ""
        app.updated_at = now
        applications += 1
    return {
        "bookings": bookings,
        "participations": participations,
        "registrations": registrations,
        "organisations": organisations,
        "season_applications": applications,
    }


async def due_releases(uow: Uow, cmd: DueReleases) -> list[str]:
    """Confirmed bookings not checked in whose release time has come."""
    return await uow.store.due_for_release(uow.now(), cmd.limit)


async def release_booking(uow: Uow, booking_id: str) -> bool:
    """Release a no-show, once: the conditional UPDATE and BookingReleased commit together,
    so of two replicas (or a check-in at the same moment) one wins. False when it was
    checked in, cancelled or released meanwhile."""
    now = uow.now()
    if not await uow.store.claim_release(booking_id, now):
        return False
    booking = await uow.store.booking(booking_id)
    assert booking is not None and booking.release_due_at is not None
    uow.store.record(booking, "system", now, "not checked in")
    resource = await _resource_of(uow, booking)
    org = await uow.store.organisation_name(booking.org_number)
    after = booking.release_due_at - booking.start_at
    uow.record(
        events.BookingReleased(
            **_about(booking, resource, org),
            release_after_minutes=int(after / timedelta(minutes=1)),
            released_at=now,
        )
    )
    return True


# --------------------------------------------------------------------------- reminders


async def due_reminders(uow: Uow, cmd: DueReminders) -> list[str]:
    """Confirmed bookings starting within the lead time whose reminder has not gone out."""
    return await uow.store.due_for_reminder(uow.now(), cmd.lead, cmd.limit)


async def send_reminder(uow: Uow, cmd: SendReminder) -> bool:
    """BookingReminder, once: claimed in the same transaction as its outbox row, so only
    one replica's claim succeeds. False when another replica sent it, it was cancelled
    meanwhile, or it needs none: confirmed inside the reminder window, it was confirmed
    moments ago (the claim then settles it, so the scan does not find it again)."""
    if not await uow.store.claim_reminder(cmd.booking_id, uow.now()):
        return False
    booking = await uow.store.booking(cmd.booking_id)
    assert booking is not None
    confirmed_at = await uow.store.confirmed_at(cmd.booking_id)
    if not domain.reminder_wanted(booking.start_at, confirmed_at, cmd.lead):
        return False
    resource = await _resource_of(uow, booking)
    org = await uow.store.organisation_name(booking.org_number)
    uow.record(
        events.BookingReminder(
            **_about(booking, resource, org), participants=_participants(booking)
        )
    )
    return True


# --------------------------------------------------------------------------- resources


async def list_resources(uow: Uow, hub: str) -> list[Resource]:
    return await uow.store.resources(hub)


async def get_resource(uow: Uow, resource_id: str) -> Resource:
    resource = await uow.store.resource(resource_id)
    if resource is None:
        raise _no_resource(resource_id)
    return resource


async def add_resource(uow: Uow, cmd: AddResource) -> Resource:
    now = uow.now()
    resource = Resource(
        id=uuid.uuid4().hex[:12], hub=DEFAULT_HUB, created_at=now, updated_at=now, **cmd.rules
    )
    _check_rules(resource)
    uow.store.add(resource)
    return resource


# These may be set to null (back to the hub's hours, no quota, no text, no release); for every
# other field null in a patch means "leave as it is".
_CLEARABLE = frozenset({"hours", "weekly_free_hours", "description", "release_after_minutes"})


async def edit_resource(uow: Uow, cmd: EditResource) -> Resource:
    """Staff edit a resource. New rules apply to new bookings; existing ones are kept."""
    resource = await get_resource(uow, cmd.resource_id)
    for key, value in cmd.changes.items():
        if value is None and key not in _CLEARABLE:
            continue
        setattr(resource, key, value)
    resource.updated_at = uow.now()
    _check_rules(resource)
    return resource


async def availability(uow: Uow, query: DayQuery) -> Availability:
    """Free slots of one day (domain.day_of). Never offers a past slot."""
    resource = await _bookable(uow, query.resource_id)
    policy = policy_of(resource)
    length = timedelta(minutes=query.slot_minutes)
    domain.check_slot_length(policy, length)
    day_start = local_midnight(query.date)
    day_end = local_midnight(query.date + timedelta(days=1))
    calendar = await uow.store.calendar_for(resource, day_start, day_end)
    busy = await uow.store.active_overlapping(resource.id, day_start, day_end)
    day = domain.day_of(calendar, policy, query.date, length, busy, uow.now())
    return Availability(resource, busy, day)


async def availability_days(uow: Uow, query: DaysQuery) -> list[Availability]:
    """`availability` of several days in a row (the citizens' week view) from one read of
    the closures and one of the bookings, each day as `availability` gives it."""
    resource = await _bookable(uow, query.resource_id)
    policy = policy_of(resource)
    length = timedelta(minutes=query.slot_minutes)
    domain.check_slot_length(policy, length)
    start = local_midnight(query.first)
    end = local_midnight(query.first + timedelta(days=query.days))
    calendar = await uow.store.calendar_for(resource, start, end)
    busy = await uow.store.active_overlapping(resource.id, start, end)
    now = uow.now()
    found = []
    for n in range(query.days):
        d = query.first + timedelta(days=n)
        day_start, day_end = local_midnight(d), local_midnight(d + timedelta(days=1))
        # As active_overlapping reads them for one day: the blocked range meets the day.
        todays = [b for b in busy if b.start < day_end and b.blocked_until > day_start]
        day = domain.day_of(calendar, policy, d, length, todays, now)
        found.append(Availability(resource, todays, day))
    return found


async def calendar_feed(uow: Uow, resource_id: str) -> Feed:
    """The resource's busy times around now, as the public may see them."""
    resource = await get_resource(uow, resource_id)
    now = uow.now()
    rows = await uow.store.active_of_resource(
        resource_id, now - domain.FEED_PAST, now + domain.FEED_AHEAD, limit=5000
    )
    entries = [
        domain.feed_entry(
            b.id,
            status=b.status,
            public=b.public,
            title=b.title,
            start=b.start_at,
            end=b.end_at,
            updated_at=b.updated_at,
        )
        for b in rows
    ]
    return Feed(resource.name, entries)


# A closure tells at most this many bookers (and lists them); a closure over more active
# bookings than a hub has in months is a mistake better split than sent.
CLOSURE_AFFECTED_LIMIT = 500


async def add_closure(uow: Uow, cmd: AddClosure) -> ClosureAdded:
    """Staff close the hub (no resource) or one resource. The active bookings inside are
    kept until staff cancel or keep each (decide_closure_booking); every booker is told
    at once (BookingAffectedByClosure), with the closure's reason."""
    domain.check_closure(cmd.start, cmd.end)
    if cmd.resource_id is not None and await uow.store.resource(cmd.resource_id) is None:
        raise _no_resource(cmd.resource_id)
    # Bookings of the closed resources wait until the closure commits (PostgreSQL; SQLite's
    # BEGIN IMMEDIATE already serialises): one made meanwhile is then either refused by the
    # closure or among the bookings it tells, never neither. In id order, so two closures
    # never deadlock.
    closed = [cmd.resource_id] if cmd.resource_id else await uow.store.resource_ids(DEFAULT_HUB)
    for resource_id in sorted(closed):
        await uow.store.lock_resource(resource_id)
    closure = Closure(
        id=uuid.uuid4().hex[:12],
        hub=DEFAULT_HUB,
        resource_id=cmd.resource_id,
        start_at=cmd.start,
        end_at=cmd.end,
        reason=cmd.reason,
        created_at=uow.now(),
    )
    uow.store.add(closure)
    affected = await uow.store.active_between(
        closure.hub, cmd.start, cmd.end, cmd.resource_id, limit=CLOSURE_AFFECTED_LIMIT
    )
    await uow.store.add_closure_bookings(
        [
            ClosureBooking(closure_id=closure.id, booking_id=b.id, decision="open")
            for b, _ in affected
        ]
    )
    for booking, resource in affected:
        org = await uow.store.organisation_name(booking.org_number)
        uow.record(
            events.BookingAffectedByClosure(
                **_about(booking, resource, org),
                closure_id=closure.id,
                closure_resource_id=closure.resource_id,
                closure_start=closure.start_at,
                closure_end=closure.end_at,
                closure_reason=closure.reason,
                actor=cmd.actor,
            )
        )
    return ClosureAdded(closure, [b.id for b, _ in affected])


async def closure_bookings(uow: Uow, closure_id: str) -> list[AffectedBooking]:
    """The bookings a closure fell on, each with staff's choice and its current status."""
    if await uow.store.closure(closure_id) is None:
        raise _no_closure(closure_id)
    rows = await uow.store.closure_bookings(closure_id)
    return [AffectedBooking(c.decision, c.decided_at, Booked(b, r)) for c, b, r in rows]


async def decide_closure_booking(uow: Uow, cmd: DecideClosureBooking) -> AffectedBooking:
    """Staff cancel a booking a closure fell on (the normal staff cancellation, with the
    closure's reason: BookingCancelled, and its catering order goes with it) or keep it
    (no event: the booker was told it stands unless they hear otherwise)."""
    closure = await uow.store.closure(cmd.closure_id)
    if closure is None:
        raise _no_closure(cmd.closure_id)
    row = await uow.store.closure_booking_for_update(cmd.closure_id, cmd.booking_id)
    if row is None:
        raise NotFound(
            f"booking {cmd.booking_id!r} is not one this closure fell on",
            code="closure_booking_not_found",
            nb=f"bookingen {cmd.booking_id!r} er ikke berørt av denne stengingen",
        )
    booking = await _for_update(uow, cmd.booking_id)
    row.decision = domain.closure_decision(row.decision, booking.status, cmd.action)
    row.decided_at = uow.now()
    if cmd.action == "cancel":
        access = Access(staff=True, actor=cmd.actor)
        reason = closure.reason or None
        booked = await cancel_booking(uow, CancelBooking(cmd.booking_id, access, reason))
    else:
        booked = Booked(booking, await _resource_of(uow, booking))
    return AffectedBooking(row.decision, row.decided_at, booked)


async def list_closures(uow: Uow, hub: str) -> list[Closure]:
    return await uow.store.closures_ending_after(hub, uow.now())


# --------------------------------------------------------------------------- the public side


async def list_activities(uow: Uow, query: ActivityQuery) -> list[ActivityView]:
    """The hub's public activities from now (or `start`) on, a year ahead by default."""
    start = query.start or uow.now()
    end = query.end or start + timedelta(days=365)
    found = await uow.store.activities(start, end, query.limit)
    counts = await uow.store.registration_counts([a.booking.id for a in found])
    return [_activity_view(a, counts) for a in found]


def _activity_view(a: Activity, counts: Mapping[tuple[str, str], int]) -> ActivityView:
    registered = counts.get((a.booking.id, "registered"), 0)
    return ActivityView(
        booking=a.booking,
        resource_name=a.resource_name,
        organiser=domain.organiser(a.org_name, a.booking.booker_type),
        registered=registered,
        waitlisted=counts.get((a.booking.id, "waitlisted"), 0),
        places_left=domain.places_left(a.booking.signup_capacity, registered),
    )


async def sign_up(uow: Uow, cmd: SignUp) -> SignedUp:
    """Sign up without an account; when the activity is full, on the waiting list."""
    phone = domain.signup_contact(cmd.email, cmd.phone)
    await uow.store.lock_activity(cmd.activity_id)
    booking = await uow.store.booking(cmd.activity_id)
    if booking is None or not domain.is_public_activity(
        public=booking.public, status=booking.status
    ):
        raise NotFound(
            f"no public activity {cmd.activity_id!r}",
            code="activity_not_found",
            nb=f"fant ingen offentlig aktivitet {cmd.activity_id!r}",
        )
    now = uow.now()
    capacity = domain.check_open_for_signup(booking.signup_capacity, booking.start_at, now)
    status = domain.signup_status(await uow.store.registered_count(cmd.activity_id), capacity)
    registration = Registration(
        id=str(uuid.uuid4()),
        booking_id=cmd.activity_id,
        status=status,
        name=cmd.name,
        email=cmd.email,
        phone=phone,
        language=cmd.language,
        token_hash=cmd.token_hash,
        created_at=now,
        updated_at=now,
    )
    await uow.store.add_registration(registration)
    facts = await _registration_facts(uow, booking, registration)
    if status == "waitlisted":
        position = await uow.store.waitlist_position(registration)
        uow.record(events.RegistrationWaitlisted(**facts, waitlist_position=position))
        return SignedUp(registration, position)
    uow.record(events.RegistrationConfirmed(**facts))
    return SignedUp(registration, None)


async def _own_registration(
    uow: Uow, activity_id: str | None, registration_id: str, token: str | None, link: bool
) -> Registration:
    registration = await uow.store.registration(registration_id)
    if registration is None or activity_id not in (None, registration.booking_id):
        raise NotFound(
            f"no registration {registration_id!r} for this activity",
            code="registration_not_found",
            nb=f"fant ingen påmelding {registration_id!r} til denne aktiviteten",
        )
    # An erased or expired sign-up (docs/privacy.md) opens to no link either.
    if not (link and registration.name != ANONYMISED):
        _require_owner(token, registration.token_hash)
    return registration


async def registration_for_owner(uow: Uow, query: RegistrationQuery) -> RegistrationView:
    """One sign-up, for whoever holds its manage token or link: the activity, the status,
    and the place on the waiting list."""
    registration = await _own_registration(
        uow, query.activity_id, query.registration_id, query.token, query.link
    )
    booking = await uow.store.booking(registration.booking_id)
    assert booking is not None  # a foreign key
    resource = await _resource_of(uow, booking)
    position = (
        await uow.store.waitlist_position(registration)
        if registration.status == "waitlisted"
        else None
    )
    return RegistrationView(
        registration=registration,
        waitlist_position=position,
        title=booking.title or resource.name,
        resource_name=resource.name,
        start=booking.start_at,
        end=booking.end_at,
    )


async def cancel_sign_up(uow: Uow, cmd: CancelSignUp) -> Registration:
    """Cancel a sign-up with its manage token, until the activity starts; the first on the
    waiting list moves up."""
    await uow.store.lock_activity(cmd.activity_id)
    registration = await _own_registration(
        uow, cmd.activity_id, cmd.registration_id, cmd.token, cmd.link
    )
    was_waitlisted = registration.status == "waitlisted"
    frees_a_place = domain.cancel_signup(registration.status)
    now = uow.now()
    booking = await uow.store.booking(cmd.activity_id)
    assert booking is not None  # a foreign key
    domain.check_signup_cancellable(booking.start_at, now)
    registration.status = "cancelled"
    registration.updated_at = now
    uow.record(
        events.RegistrationCancelled(
            **await _registration_facts(uow, booking, registration),
            was_waitlisted=was_waitlisted,
        )
    )
    if frees_a_place:
        first = await uow.store.first_waitlisted(cmd.activity_id)
        if first is not None:
            first.status = "registered"
            first.updated_at = now
            uow.record(
                events.RegistrationPromoted(
                    **await _registration_facts(uow, booking, first),
                    short_notice=domain.promotion_is_short_notice(
                        booking.start_at, now, cmd.short_notice
                    ),
                )
            )
    return registration


async def list_organisations(uow: Uow) -> list[Organisation]:
    return await uow.store.listed_organisations()


async def organisation_record(uow: Uow, org_number: str) -> OrganisationRecord:
    """Staff: an organisation, listed or not, with its no-shows (released bookings)."""
    org = await uow.store.organisation(org_number)
    if org is None:
        raise NotFound(
            f"no organisation {org_number!r}",
            code="organisation_not_found",
            nb=f"fant ingen organisasjon {org_number!r}",
        )
    return OrganisationRecord(org, await uow.store.no_shows(org_number))


# --------------------------------------------------------------------------- helpers


def _booker(details: BookingDetails) -> domain.Booker:
    org = details.organisation
    return domain.booker_of(
        details.booker_type,
        details.booker,
        (org.number, org.name) if org else None,
        by_staff=details.by_staff,
    )


def _ask(
    resource: Resource,
    policy: domain.Policy,
    calendar: Calendar,
    details: BookingDetails,
    booker: domain.Booker,
) -> domain.Ask:
    return domain.Ask(
        policy=policy,
        calendar=calendar,
        capacity=resource.capacity,
        attendees=details.attendees,
        staff_booking=booker.type == "staff",
    )


async def _bookable(uow: Uow, resource_id: str) -> Resource:
    resource = await uow.store.resource(resource_id)
    if resource is None or not resource.active:
        raise NotFound(
            f"no bookable resource {resource_id!r}",
            code="resource_not_found",
            nb=f"fant ingen ressurs {resource_id!r} som kan bookes",
        )
    return resource


def _no_resource(resource_id: str) -> NotFound:
    return NotFound(
        f"no resource {resource_id!r}",
        code="resource_not_found",
        nb=f"fant ingen ressurs {resource_id!r}",
    )


def _no_closure(closure_id: str) -> NotFound:
    return NotFound(
        f"no closure {closure_id!r}",
        code="closure_not_found",
        nb=f"fant ingen stenging {closure_id!r}",
    )


def _no_booking(booking_id: str) -> NotFound:
    return NotFound(
        f"no booking {booking_id!r}",
        code="booking_not_found",
        nb=f"fant ingen booking {booking_id!r}",
    )


async def _for_update(uow: Uow, booking_id: str) -> Booking:
    booking = await uow.store.booking_for_update(booking_id)
    if booking is None:
        raise _no_booking(booking_id)
    return booking


async def _resource_of(uow: Uow, booking: Booking) -> Resource:
    resource = await uow.store.resource(booking.resource_id)
    assert resource is not None  # a foreign key
    return resource


def _check_rules(resource: Resource) -> None:
    """Refuse a resource whose hours or policy would not make sense, with the reason."""
    try:
        domain.opening_hours(resource.hours)
        policy_of(resource)
    except ValueError as exc:
        raise domain.BookingRefused(
            str(exc), code="resource_rules_invalid", nb=f"ressursens regler er ugyldige: {exc}"
        ) from exc


def _actor(digest: str, access: Access) -> Literal["owner", "staff"]:
    if access.staff:
        return "staff"
    if access.link:
        return "owner"
    _require_owner(access.token, digest)
    return "owner"


def _require_owner(token: str | None, digest: str) -> None:
    if not token:
        raise NotAuthenticated(
            "an X-Manage-Token header (or a staff bearer token) is required",
            code="manage_token_required",
            nb="krever X-Manage-Token-headeren (eller bearer-token for ansatte)",
        )
    if not token_matches(token, digest):
        raise NotAllowed(
            "the manage token does not match this booking",
            code="manage_token_mismatch",
            nb="administrasjonsnøkkelen passer ikke til denne bookingen",
        )


async def _quota_ledger(
    uow: Uow,
    resource: Resource,
    policy: domain.Policy,
    booker: domain.Booker,
    slots: Sequence[domain.Slot],
) -> domain.QuotaLedger | None:
    if not domain.counts_against_quota(policy, booker):
        return None
    assert booker.org_number is not None
    ledger = await uow.store.free_hours_used(
        booker.org_number, resource.id, [domain.week_bounds(s.start) for s in slots]
    )
    ledger.limit_hours = policy.weekly_free_hours
    return ledger


async def _keep_organisation(
    uow: Uow, booker: domain.Booker, details: BookingDetails, now: datetime
) -> None:
    org = details.organisation
    if booker.org_number and org:
        values = asdict(org)
        del values["number"]
        await uow.store.upsert_organisation(booker.org_number, values, now)


def _new_booking(
    details: BookingDetails,
    resource: Resource,
    policy: domain.Policy,
    booker: domain.Booker,
    slot: domain.Slot,
    *,
    now: datetime,
    series_id: str | None = None,
    catering: dict[str, Any] | None = None,
) -> Booking:
    domain.check_public_fields(
        public=details.public, title=details.title, signup_capacity=details.signup_capacity
    )
    return Booking(
        id=str(uuid.uuid4()),
        hub=resource.hub,
        resource_id=resource.id,
        series_id=series_id,
        status=domain.initial_status(policy, booker.type),
        start_at=slot.start,
        end_at=slot.end,
        blocked_until=domain.blocked_until(slot.end, policy),
        booker_type=booker.type,
        booker_name=booker.contact.name,
        booker_email=booker.contact.email,
        booker_phone=booker.contact.phone,
        booker_language=booker.contact.language,
        org_number=booker.org_number,
        title=details.title,
        description=details.description,
        public=details.public,
        signup_capacity=details.signup_capacity,
        attendees=details.attendees,
        catering=catering,
        participants=[asdict(c) for c in domain.participants_of(details.participants)],
        free_of_charge=domain.is_free_of_charge(policy, booker.type),
        price_nok=domain.price_nok(policy, booker.type, slot.start, slot.end),
        release_due_at=domain.release_due(policy, slot.start),
        manage_token_hash=details.token_hash,
        created_at=now,
        updated_at=now,
    )


async def _insert(
    uow: Uow,
    booking: Booking,
    resource: Resource,
    booker: domain.Booker,
    actor: events.Actor | None,
) -> None:
    """Write a new booking with its history and its event. The database's own overlap
    guard may still refuse it here (store.refusal_of makes that the same 409)."""
    await uow.store.add_booking(booking, "owner")
    if booking.status == "pending":
        uow.record(
            events.BookingRequested(
                **_about(booking, resource, booker.org_name),
                attendees=booking.attendees,
                catering=_catering(booking),
                actor=actor,
            )
        )
    else:
        uow.record(_confirmed(booking, resource, booker.org_name, auto_approved=True, actor=actor))


# --------------------------------------------------------------------------- events


def _about(booking: Booking, resource: Resource, org_name: str | None) -> dict[str, Any]:
    """What every booking event carries: what notify and catering need to act."""
    return {
        "booking_id": booking.id,
        "hub": booking.hub,
        "resource_id": resource.id,
        "resource_name": resource.name,
        "start": booking.start_at,
        "end": booking.end_at,
        "booker_type": booking.booker_type,
        "booker": events.Contact(
            name=booking.booker_name,
            email=booking.booker_email,
            phone=booking.booker_phone,
            language=booking.booker_language,
        ),
        "organisation_name": org_name,
        "title": booking.title,
        "series_id": booking.series_id,
    }


async def _registration_facts(
    uow: Uow, booking: Booking, registration: Registration
) -> dict[str, Any]:
    """What every registration event carries: the activity, and the participant to tell."""
    resource = await _resource_of(uow, booking)
    return {
        "registration_id": registration.id,
        "activity_id": booking.id,
        "hub": booking.hub,
        "resource_name": resource.name,
        "title": booking.title or resource.name,
        "start": booking.start_at,
        "end": booking.end_at,
        "participant": events.Contact(
            name=registration.name,
            email=registration.email,
            phone=registration.phone,
            language=registration.language,
        ),
    }


def _participants(booking: Booking) -> list[events.Contact]:
    return [events.Contact.model_validate(p) for p in booking.participants or []]


def _catering(booking: Booking) -> events.CateringRequest | None:
    return events.CateringRequest.model_validate(booking.catering) if booking.catering else None


def _confirmed(
    booking: Booking,
    resource: Resource,
    org_name: str | None,
    *,
    auto_approved: bool,
    actor: events.Actor | None,
) -> events.BookingConfirmed:
    return events.BookingConfirmed(
        **_about(booking, resource, org_name),
        attendees=booking.attendees,
        catering=_catering(booking),
        auto_approved=auto_approved,
        participants=_participants(booking),
        actor=actor,
    )


# --------------------------------------------------------------------------- seasons
#
# A season's allocation round (allocation.py has its rules). Publishing books each granted
# weekly slot as one series, through the same overlap guard as any booking; the bookings
# are told to the club once, by AllocationGranted, not one BookingConfirmed each.


@dataclass(frozen=True)
class CreateSeason:
    resource_id: str
    name: str
    starts_on: date
    ends_on: date
    opens_at: datetime
    closes_at: datetime
    frame: Mapping[str, str]
    slot_minutes: int
    rules: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SeasonAction:
    season_id: str
    action: allocation.Transition


@dataclass(frozen=True)
class ApplicationDetails:
    organisation: OrganisationDetails
    contact: domain.Contact
    target_group: str
    activity: str
    participants: int
    local: bool
    wishes: tuple[tuple[int, time], ...]
    minimum: int = 1
    wanted: int | None = None


@dataclass(frozen=True)
class Apply:
    season_id: str
    details: ApplicationDetails
    token_hash: str


@dataclass(frozen=True)
class ChangeApplication:
    application_id: str
    access: Access
    details: ApplicationDetails


@dataclass(frozen=True)
class WithdrawApplication:
    application_id: str
    access: Access


@dataclass(frozen=True)
class GrantSlot:
    season_id: str
    application_id: str
    weekday: int
    start: time


@dataclass(frozen=True)
class MoveAllocation:
    allocation_id: str
    weekday: int
    start: time
    access: Access = Access(staff=True)
    offer_window: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class ReleaseAllocation:
    """Give back one occurrence (`on`) or the rest of the season (`on` None)."""

    allocation_id: str
    access: Access
    on: date | None = None
    reason: str | None = None
    # How long an offer of the given-back time to the waiting list stands (BOOKING_OFFER_HOURS).
    offer_window: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class AnswerOffer:
    offer_id: str
    access: Access
    accept: bool
    offer_window: timedelta = timedelta(hours=48)


@dataclass
class SeasonView:
    season: Season
    resource: Resource
    status: str  # with `running` derived


@dataclass
class SeasonOverview:
    view: SeasonView
    applications: list[SeasonApplication]
    allocations: list[SeasonAllocation]
    conflicts: list[dict[str, Any]]
    hours: dict[str, float]


@dataclass
class ProposalMade:
    view: SeasonView
    decisions: list[allocation.Decision]
    allocations: list[SeasonAllocation]


@dataclass
class Published:
    view: SeasonView
    allocations: list[dict[str, Any]]
    again: bool


@dataclass
class Released:
    allocation: SeasonAllocation
    occurrences: list[Booking]
    offer: SeasonOffer | None


async def create_season(uow: Uow, cmd: CreateSeason) -> SeasonView:
    now = uow.now()
    resource = await _bookable(uow, cmd.resource_id)
    opens_at, closes_at = require_aware(cmd.opens_at), require_aware(cmd.closes_at)
    allocation.check_season(
        starts_on=cmd.starts_on, ends_on=cmd.ends_on, opens_at=opens_at, closes_at=closes_at
    )
    frame = allocation.frame_of(cmd.frame, cmd.slot_minutes)
    rules = allocation.Rules.from_json(cmd.rules)
    season = Season(
        id=str(uuid.uuid4()),
        hub=resource.hub,
        resource_id=resource.id,
        name=cmd.name,
        starts_on=cmd.starts_on,
        ends_on=cmd.ends_on,
        applications_open_at=opens_at,
        applications_close_at=closes_at,
        frame=frame.hours.to_spec(),
        slot_minutes=cmd.slot_minutes,
        rules=rules.to_json(),
        status="drafted",
        created_at=now,
        updated_at=now,
    )
    uow.store.add_season_row(season)
    return SeasonView(season, resource, season.status)


async def list_seasons(uow: Uow, hub: str) -> list[SeasonView]:
    return [await _view(uow, s) for s in await uow.store.seasons(hub)]


async def get_season(uow: Uow, season_id: str) -> SeasonView:
    return await _view(uow, await _season(uow, season_id))


async def change_season_status(uow: Uow, cmd: SeasonAction) -> SeasonView:
    """Open for applications, or close them (publishing is publish_season)."""
    season = await _season(uow, cmd.season_id, for_update=True)
    season.status = allocation.next_season_status(season.status, cmd.action)
    season.updated_at = uow.now()
    return await _view(uow, season)


async def apply_for_season(uow: Uow, cmd: Apply) -> SeasonApplication:
    now = uow.now()
    season = await _season(uow, cmd.season_id)
    allocation.check_accepting(
        season.status, season.applications_open_at, season.applications_close_at, now
    )
    app = SeasonApplication(
        id=str(uuid.uuid4()),
        season_id=season.id,
        status="received",
        token_hash=cmd.token_hash,
        created_at=now,
    )
    await _fill_application(uow, season, app, cmd.details, now)
    uow.store.add_season_row(app)
    await _received(uow, season, app, changed=False)
    return app


async def _changeable_application(
    uow: Uow, application_id: str, access: Access
) -> tuple[SeasonApplication, Season]:
    """The application and its season, while the window is open and it is not withdrawn."""
    app = await _application(uow, application_id, access)
    season = await _season(uow, app.season_id)
    allocation.check_accepting(
        season.status, season.applications_open_at, season.applications_close_at, uow.now()
    )
    _require_received(app)
    return app, season


async def change_application(uow: Uow, cmd: ChangeApplication) -> SeasonApplication:
    now = uow.now()
    app, season = await _changeable_application(uow, cmd.application_id, cmd.access)
    await _fill_application(uow, season, app, cmd.details, now)
    await _received(uow, season, app, changed=True)
    return app


async def withdraw_application(uow: Uow, cmd: WithdrawApplication) -> SeasonApplication:
    app, _ = await _changeable_application(uow, cmd.application_id, cmd.access)
    app.status = "withdrawn"
    app.updated_at = uow.now()
    return app


async def read_application(uow: Uow, application_id: str, access: Access) -> SeasonApplication:
    return await _application(uow, application_id, access)


async def propose_allocation(uow: Uow, season_id: str) -> ProposalMade:
    """Compute the proposal by the season's rules and make it the allocations to adjust;
    it replaces the previous proposal and any adjustment made to it."""
    now = uow.now()
    season = await _season(uow, season_id, for_update=True)
    allocation.check_allocating(season.status)
    apps = [a for a in await uow.store.applications(season.id) if a.status == "received"]
    proposal = allocation.propose(
        season.id, allocation.Rules.from_json(season.rules), [_applicant(a) for a in apps]
    )
    await uow.store.drop_allocations(season.id)
    made = []
    for d in proposal.granted():
        row = _allocation_row(season, d.application_id, d.slot, d.rule, d.reason, now)
        uow.store.add_season_row(row)
        made.append(row)
    season.proposal = {
        "decisions": [d.to_json() for d in proposal.decisions],
        "order": proposal.order,
        "computed_at": now.isoformat(),
    }
    season.updated_at = now
    return ProposalMade(await _view(uow, season), proposal.decisions, made)


async def season_overview(uow: Uow, season_id: str) -> SeasonOverview:
    """The officer's grid: applications, allocations, contested slots, hours per club."""
    season = await _season(uow, season_id)
    apps = await uow.store.applications(season.id)
    rows = await uow.store.allocations(season.id)
    held = await _held(uow, rows)
    live = [_applicant(a) for a in apps if a.status == "received"]
    return SeasonOverview(
        await _view(uow, season),
        apps,
        rows,
        allocation.conflicts(live, held),
        allocation.hours_per_org(held),
    )


async def grant_slot(uow: Uow, cmd: GrantSlot) -> SeasonAllocation:
    """The officer grants a slot by hand (before publishing): 409 when it is held."""
    now = uow.now()
    season = await _season(uow, cmd.season_id, for_update=True)
    allocation.check_allocating(season.status)
    app = await uow.store.application(cmd.application_id)
    if app is None or app.season_id != season.id or app.status != "received":
        raise _no_application(cmd.application_id)
    slot = _frame(season).slot_at(cmd.weekday, cmd.start)
    allocation.check_free(slot, await _held(uow, await uow.store.allocations(season.id)))
    row = _allocation_row(season, app.id, slot, "manual", "granted by the booking officer", now)
    uow.store.add_season_row(row)
    return row


async def move_allocation(uow: Uow, cmd: MoveAllocation) -> SeasonAllocation:
    """The officer moves a slot. Before publishing the allocation just changes; in a
    published season the rest of its bookings are given back (AllocationReleased, the old
    time offered to its waiting list) and the new time is booked for the rest of the season
    as a new allocation (AllocationGranted), which is the answer."""
    now = uow.now()
    row = await _allocation(uow, cmd.allocation_id)
    season = await _season(uow, row.season_id, for_update=True)
    if row.status != "granted":
        raise Conflict(
            f"a {row.status} allocation cannot be moved",
            code="allocation_not_granted",
            nb="bare en tildelt tid kan flyttes",
        )
    slot = _frame(season).slot_at(cmd.weekday, cmd.start)
    held = await _held(uow, await uow.store.allocations(season.id))
    allocation.check_free(slot, held, moving=row.id)
    if season.status != "published":
        allocation.check_allocating(season.status)
        row.weekday, row.start_time = slot.weekday, _hhmm(slot.start)
        row.end_time = _hhmm(slot.end)
        row.rule, row.reason, row.updated_at = "manual", "moved by the booking officer", now
        return row
    reason = f"moved to {slot.label()}"
    await release_allocation(
        uow, ReleaseAllocation(row.id, cmd.access, reason=reason, offer_window=cmd.offer_window)
    )
    app = await uow.store.application(row.application_id)
    resource = await _bookable(uow, season.resource_id)
    assert app is not None  # a foreign key
    moved = _allocation_row(
        season, app.id, slot, "manual", f"moved from {_slot_of(row).label()}", now
    )
    uow.store.add_season_row(moved)
    dates = [
        d
        for d in allocation.season_dates(season.starts_on, season.ends_on, slot.weekday)
        if d > local_date(now)
    ]
    first, last = (dates[0], dates[-1]) if dates else (season.starts_on, season.ends_on)
    calendar = await uow.store.calendar_for(
        resource, local_midnight(first), local_midnight(last + timedelta(1))
    )
    busy = await _busy_index(
        uow, resource, local_midnight(first), local_midnight(last + timedelta(1))
    )
    summary = await _book_allocation(uow, resource, calendar, busy, app, moved, dates)
    uow.record(
        events.AllocationGranted(
            **_season_facts(season, resource, app),
            starts_on=first,
            ends_on=last,
            slots=[_event_slot(events.GrantedSlot, summary)],
        )
    )
    return moved


async def withdraw_allocation(
    uow: Uow, allocation_id: str, access: Access, offer_window: timedelta = timedelta(hours=48)
) -> SeasonAllocation:
    """Before publishing the slot is simply not granted; in a published season the rest of
    its bookings are cancelled (release_allocation, by staff)."""
    row = await _allocation(uow, allocation_id)
    season = await _season(uow, row.season_id, for_update=True)
    if season.status in ("published",):
        released = await release_allocation(
            uow,
            ReleaseAllocation(
                allocation_id, access, reason="withdrawn by the officer", offer_window=offer_window
            ),
        )
        return released.allocation
    allocation.check_allocating(season.status)
    row.status = "withdrawn"
    row.updated_at = uow.now()
    return row


async def publish_season(uow: Uow, season_id: str) -> Published:
    """Book every granted slot as one series over the season, skipping holidays, closures
    and times already booked (each listed), and tell each club what it got and what not.
    Publishing again answers what was published, and books nothing."""
    now = uow.now()
    first = await _season(uow, season_id)
    # Serialise with every other writer of the resource (a second officer publishing, a
    # single booking): PostgreSQL's advisory lock; SQLite's BEGIN IMMEDIATE already does.
    await uow.store.lock_resource(first.resource_id)
    season = await _season(uow, season_id, for_update=True)
    if season.status == "published" and season.published is not None:
        return Published(await _view(uow, season), season.published["allocations"], True)
    season.status = allocation.next_season_status(season.status, "publish")
    resource = await _bookable(uow, season.resource_id)
    apps = {a.id: a for a in await uow.store.applications(season.id)}
    rows = [
        r
        for r in await uow.store.allocations(season.id)
        if apps[r.application_id].status == "received"
    ]
    calendar = await uow.store.calendar_for(
        resource, local_midnight(season.starts_on), local_midnight(season.ends_on + timedelta(1))
    )
    busy = await _busy_index(
        uow,
        resource,
        local_midnight(season.starts_on),
        local_midnight(season.ends_on + timedelta(1)),
    )
    summaries = []
    for row in rows:
        dates = allocation.season_dates(season.starts_on, season.ends_on, row.weekday)
        summaries.append(
            await _book_allocation(
                uow, resource, calendar, busy, apps[row.application_id], row, dates
            )
        )
    season.published = {"allocations": summaries}
    season.published_at = now
    season.updated_at = now
    decisions = (season.proposal or {}).get("decisions", [])
    for app in apps.values():
        if app.status != "received":
            continue
        mine = [s for s in summaries if s["application_id"] == app.id]
        declined = _declined_wishes(app, mine, decisions)
        facts = _season_facts(season, resource, app)
        if mine:
            uow.record(
                events.AllocationGranted(
                    **facts,
                    starts_on=season.starts_on,
                    ends_on=season.ends_on,
                    slots=[_event_slot(events.GrantedSlot, s) for s in mine],
                    declined=declined,
                )
            )
        else:
            uow.record(events.AllocationDeclined(**facts, declined=declined))
    return Published(await _view(uow, season), summaries, False)


async def release_allocation(uow: Uow, cmd: ReleaseAllocation) -> Released:
    """A club gives back one occurrence or the rest of its slot (or the officer withdraws
    it): the bookings are cancelled, and the time is offered to the first on the season's
    waiting list for that slot."""
    now = uow.now()
    row = await _allocation(uow, cmd.allocation_id)
    app = await _application(uow, row.application_id, cmd.access)
    actor: Literal["owner", "staff"] = "staff" if cmd.access.staff else "owner"
    season = await _season(uow, row.season_id)
    await uow.store.lock_resource(season.resource_id)
    if season.status != "published" or row.series_id is None or row.status != "granted":
        raise domain.BookingRefused(
            "only a granted slot of a published season can be given back",
            code="allocation_not_published",
            nb="bare en tildelt tid i en publisert sesong kan gis tilbake",
        )
    bookings = [
        b
        for b in await uow.store.series_bookings_for_update(row.series_id)
        if b.status in domain.ACTIVE
        and b.start_at > now
        and (cmd.on is None or local_date(b.start_at) == cmd.on)
    ]
    if not bookings:
        raise NotFound(
            "no coming occurrence of this allocation to give back"
            + (f" on {cmd.on.isoformat()}" if cmd.on else ""),
            code="occurrence_not_found",
            nb="fant ingen kommende gang av denne tildelingen å gi tilbake",
        )
    for booking in bookings:
        booking.status = domain.next_status(booking.status, "cancel")
        booking.cancelled_by = actor
        booking.reason = cmd.reason or "given back from the season's allocation"
        booking.updated_at = now
        uow.store.record(booking, actor, now, booking.reason)
    if cmd.on is None:
        row.status = "withdrawn" if actor == "staff" else "released"
        row.updated_at = now
    resource = await _resource_of(uow, bookings[0])
    occurrences = [
        events.ReleasedOccurrence(booking_id=b.id, start=b.start_at, end=b.end_at) for b in bookings
    ]
    uow.record(
        events.AllocationReleased(
            **_season_facts(season, resource, app),
            allocation_id=row.id,
            released_by=actor,
            whole=cmd.on is None,
            occurrences=occurrences,
            reason=cmd.reason,
            actor=cmd.access.actor if actor == "staff" else None,
        )
    )
    offer = await _offer_next(
        uow, season, resource, row, str(uuid.uuid4()), occurrences, cmd.offer_window
    )
    return Released(row, bookings, offer)


async def answer_offer(uow: Uow, cmd: AnswerOffer) -> SeasonOffer:
    """The club offered given-back time takes it (booked as its own allocation, the
    occurrences still free) or says no (the next on the waiting list is offered it)."""
    now = uow.now()
    offer = await uow.store.offer_for_update(cmd.offer_id)
    if offer is None:
        raise NotFound(
            f"no offer {cmd.offer_id!r}", code="offer_not_found", nb="fant ikke tilbudet"
        )
    app = await _application(uow, offer.application_id, cmd.access)
    if offer.status != "offered":
        raise Conflict(
            f"the offer was already {offer.status}",
            code="offer_answered",
            nb="tilbudet er allerede besvart eller utløpt",
        )
    if now >= offer.expires_at:
        raise Conflict(
            "the offer has expired; the time goes to the next on the waiting list",
            code="offer_expired",
            nb="tilbudet er utløpt; tiden går til nestemann på ventelisten",
        )
    season = await _season(uow, offer.season_id)
    await uow.store.lock_resource(season.resource_id)
    released = await _allocation(uow, offer.allocation_id)
    resource = await _bookable(uow, season.resource_id)
    offer.updated_at = now
    occurrences = [events.ReleasedOccurrence.model_validate(o) for o in offer.occurrences]
    if not cmd.accept:
        offer.status = "declined"
        await _offer_next(
            uow, season, resource, released, offer.release_id, occurrences, cmd.offer_window
        )
        return offer
    offer.status = "accepted"
    slot = _slot_of(released)
    row = _allocation_row(
        season, app.id, slot, "waiting_list", "offered from the waiting list", now
    )
    uow.store.add_season_row(row)
    calendar = await uow.store.calendar_for(resource, occurrences[0].start, occurrences[-1].end)
    dates = [local_date(o.start) for o in occurrences]
    busy = await _busy_index(uow, resource, occurrences[0].start, occurrences[-1].end)
    summary = await _book_allocation(uow, resource, calendar, busy, app, row, dates)
    uow.record(
        events.AllocationGranted(
            **_season_facts(season, resource, app),
            starts_on=dates[0],
            ends_on=dates[-1],
            slots=[_event_slot(events.GrantedSlot, summary)],
        )
    )
    return offer


@dataclass(frozen=True)
class DueOffers:
    limit: int = 200


async def due_offers(uow: Uow, cmd: DueOffers) -> list[str]:
    """Waiting-list offers nobody answered in time."""
    return await uow.store.due_offers(uow.now(), cmd.limit)


async def expire_offer(uow: Uow, offer_id: str, window: timedelta) -> bool:
    """An unanswered offer expires, once, and the time goes to the next on the waiting
    list (with a new offer of its own); False when it was answered or expired meanwhile."""
    if not await uow.store.claim_expiry(offer_id, uow.now()):
        return False
    offer = await uow.store.offer_for_update(offer_id)
    assert offer is not None
    season = await _season(uow, offer.season_id)
    released = await _allocation(uow, offer.allocation_id)
    resource = await _bookable(uow, season.resource_id)
    occurrences = [events.ReleasedOccurrence.model_validate(o) for o in offer.occurrences]
    await _offer_next(uow, season, resource, released, offer.release_id, occurrences, window)
    return True


async def season_report(uow: Uow, season_id: str) -> dict[str, Any]:
    """Hours booked per organisation and per target group (active bookings only)."""
    season = await _season(uow, season_id)
    body = allocation.report(await uow.store.season_hours(season.id))
    return {"season_id": season.id, "name": season.name, **body}


# --------------------------------------------------------------------------- season helpers


async def _season(uow: Uow, season_id: str, *, for_update: bool = False) -> Season:
    season = await uow.store.season(season_id, for_update=for_update)
    if season is None:
        raise NotFound(
            f"no season {season_id!r}",
            code="season_not_found",
            nb=f"fant ingen sesong {season_id!r}",
        )
    return season


async def _view(uow: Uow, season: Season) -> SeasonView:
    resource = await uow.store.resource(season.resource_id)
    assert resource is not None  # a foreign key
    today = local_date(uow.now())
    return SeasonView(
        season, resource, allocation.season_status(season.status, season.starts_on, today)
    )


async def _not_season_time(uow: Uow, series_id: str | None) -> None:
    """A club gives season time back through its allocation, so that the waiting list is
    offered it: cancelling those bookings as plain bookings is refused (staff still may)."""
    row = await uow.store.allocation_of_series(series_id)
    if row is not None:
        raise Conflict(
            "this is season time: give it back with POST "
            f"/season-allocations/{row.id}/release, so that the waiting list is offered it",
            code="season_time",
            nb="dette er tildelt sesongtid: gi den tilbake med POST "
            f"/season-allocations/{row.id}/release, så får ventelisten tilbud om den",
            allocation_id=row.id,
        )


async def _allocation_named(uow: Uow, booking_id: str) -> dict[str, Any] | None:
    """The season's allocation a booking belongs to, as a 409 names it; None: none."""
    row = await uow.store.allocation_of_booking(booking_id)
    if row is None:
        return None
    app = await uow.store.application(row.application_id)
    season = await uow.store.season(row.season_id)
    assert app is not None and season is not None  # foreign keys
    return {
        "allocation_id": row.id,
        "season_id": season.id,
        "season_name": season.name,
        "organisation_name": app.org_name,
        "activity": app.activity,
    }


def _no_application(application_id: str) -> NotFound:
    return NotFound(
        f"no application {application_id!r}",
        code="application_not_found",
        nb=f"fant ingen søknad {application_id!r}",
    )


async def _application(uow: Uow, application_id: str, access: Access) -> SeasonApplication:
    app = await uow.store.application(application_id)
    if app is None:
        raise _no_application(application_id)
    if not access.staff:
        _require_owner(access.token, app.token_hash)
    return app


async def _allocation(uow: Uow, allocation_id: str) -> SeasonAllocation:
    row = await uow.store.allocation(allocation_id)
    if row is None:
        raise NotFound(
            f"no allocation {allocation_id!r}",
            code="allocation_not_found",
            nb=f"fant ingen tildeling {allocation_id!r}",
        )
    return row


def _require_received(app: SeasonApplication) -> None:
    if app.status != "received":
        raise Conflict(
            "the application was withdrawn", code="application_withdrawn", nb="søknaden er trukket"
        )


def _frame(season: Season) -> allocation.Frame:
    return allocation.frame_of(season.frame, season.slot_minutes)


async def _fill_application(
    uow: Uow,
    season: Season,
    app: SeasonApplication,
    details: ApplicationDetails,
    now: datetime,
) -> None:
    booker = domain.booker_of(
        "organisation",
        details.contact,
        (details.organisation.number, details.organisation.name),
        by_staff=False,
    )
    assert booker.org_number is not None
    wishes, minimum, wanted = allocation.wishes_of(
        _frame(season), details.wishes, details.minimum, details.wanted
    )
    values = asdict(details.organisation)
    del values["number"]
    await uow.store.upsert_organisation(booker.org_number, values, now)
    app.org_number = booker.org_number
    app.org_name = details.organisation.name
    app.contact_name = booker.contact.name
    app.contact_email = booker.contact.email
    app.contact_phone = booker.contact.phone
    app.language = booker.contact.language
    app.target_group = details.target_group
    app.activity = details.activity
    app.participants = details.participants
    app.local = details.local
    app.wishes = [w.to_json() for w in wishes]
    app.minimum = minimum
    app.wanted = wanted
    app.updated_at = now


def _contact(app: SeasonApplication) -> events.Contact:
    return events.Contact(
        name=app.contact_name,
        email=app.contact_email,
        phone=app.contact_phone,
        language=app.language,
    )


def _season_facts(season: Season, resource: Resource, app: SeasonApplication) -> dict[str, Any]:
    return {
        "season_id": season.id,
        "season_name": season.name,
        "hub": season.hub,
        "resource_id": resource.id,
        "resource_name": resource.name,
        "application_id": app.id,
        "organisation_name": app.org_name,
        "activity": app.activity,
        "booker": _contact(app),
    }


async def _received(uow: Uow, season: Season, app: SeasonApplication, *, changed: bool) -> None:
    resource = await uow.store.resource(season.resource_id)
    assert resource is not None
    uow.record(
        events.ApplicationReceived(
            **_season_facts(season, resource, app),
            target_group=app.target_group,
            wishes=[_event_slot(events.WeeklySlot, w) for w in app.wishes],
            minimum=app.minimum,
            applications_close_at=season.applications_close_at,
            changed=changed,
        )
    )


def _applicant(app: SeasonApplication) -> allocation.Applicant:
    return allocation.Applicant(
        id=app.id,
        org_number=app.org_number,
        org_name=app.org_name,
        target_group=app.target_group,
        local=app.local,
        wishes=tuple(allocation.WeeklySlot.from_json(w) for w in app.wishes),
        minimum=app.minimum,
        wanted=app.wanted,
    )


SlotEvent = TypeVar("SlotEvent", bound=events.WeeklySlot)


def _event_slot(kind: type[SlotEvent], slot: Mapping[str, Any]) -> SlotEvent:
    """A stored slot ({weekday, start, end, …}) as the events name its times."""
    values = dict(slot)
    values["start_time"], values["end_time"] = values.pop("start"), values.pop("end")
    return kind.model_validate(values)


def _hhmm(t: time) -> str:
    return f"{t:%H:%M}"


def _slot_of(row: SeasonAllocation) -> allocation.WeeklySlot:
    return allocation.WeeklySlot(
        row.weekday, time.fromisoformat(row.start_time), time.fromisoformat(row.end_time)
    )


def _allocation_row(
    season: Season,
    application_id: str,
    slot: allocation.WeeklySlot,
    rule: str,
    reason: str,
    now: datetime,
) -> SeasonAllocation:
    return SeasonAllocation(
        id=str(uuid.uuid4()),
        season_id=season.id,
        application_id=application_id,
        weekday=slot.weekday,
        start_time=_hhmm(slot.start),
        end_time=_hhmm(slot.end),
        status="granted",
        rule=rule,
        reason=reason[:500],
        skipped=[],
        created_at=now,
        updated_at=now,
    )


async def _held(uow: Uow, rows: Sequence[SeasonAllocation]) -> list[allocation.Held]:
    held = []
    for row in rows:
        app = await uow.store.application(row.application_id)
        assert app is not None
        held.append(allocation.Held(row.id, app.id, app.org_number, _slot_of(row)))
    return held


async def _busy_index(
    uow: Uow, resource: Resource, start: datetime, end: datetime
) -> domain.BusyIndex:
    """The resource's active bookings over a season, read once: publishing holds the
    resource's lock, so nobody else adds one meanwhile (the database's guard stays)."""
    rows = await uow.store.active_of_resource(
        resource.id, start - domain.MAX_SPAN, end, limit=1_000_000
    )
    return domain.BusyIndex(
        [domain.Busy(b.id, b.start_at, b.end_at, b.blocked_until) for b in rows]
    )


async def _book_allocation(
    uow: Uow,
    resource: Resource,
    calendar: Calendar,
    busy: domain.BusyIndex,
    app: SeasonApplication,
    row: SeasonAllocation,
    dates: Sequence[date],
) -> dict[str, Any]:
    """One granted weekly slot as a series of bookings on `dates`: a date the calendar
    closes (holiday, closure), one already past, or one already booked is skipped and
    listed. The slot is the blocked time (the season's slot length includes changing), so
    consecutive slots do not collide on the resource's buffer."""
    now = uow.now()
    slot = _slot_of(row)
    if not dates:  # a season shorter than a week may not have the weekday at all
        return {
            **slot.to_json(),
            "allocation_id": row.id,
            "application_id": app.id,
            "series_id": None,
            "occurrences": 0,
            "first": None,
            "last": None,
            "skipped": [],
        }
    series = Series(
        id=str(uuid.uuid4()),
        resource_id=resource.id,
        rule={
            "season_id": row.season_id,
            "allocation_id": row.id,
            "start_time": row.start_time,
            "end_time": row.end_time,
            "dates": [d.isoformat() for d in dates],
        },
        created_at=now,
    )
    await uow.store.add_series(series)
    details = BookingDetails(
        resource_id=resource.id,
        booker_type="organisation",
        booker=domain.Contact(app.contact_name, app.contact_email, app.contact_phone, app.language),
        token_hash=app.token_hash,
        by_staff=True,
        organisation=OrganisationDetails(app.org_number, app.org_name),
        title=app.activity,
    )
    booker = domain.Booker(
        type="organisation",
        contact=details.booker,
        org_number=app.org_number,
        org_name=app.org_name,
    )
    policy = policy_of(resource)
    skipped: list[dict[str, Any]] = []
    booked: list[Booking] = []
    for occurrence in domain.occurrences(dates, slot.start, slot.end):
        day = local_date(occurrence.start).isoformat()
        reason = calendar.closed_reason(occurrence.start, occurrence.end)
        if reason is None and occurrence.start <= now:
            reason = "already past"
        if reason is None:
            other = busy.first_conflict(occurrence.start, occurrence.end)
            if other is not None:
                reason = f"already booked {other.start.isoformat()} to {other.end.isoformat()}"
        if reason is not None:
            skipped.append({"date": day, "reason": reason})
            continue
        booking = _new_booking(
            details, resource, policy, booker, occurrence, now=now, series_id=series.id
        )
        # Granted by the officer: confirmed, and blocking the slot itself (see above).
        booking.status = "confirmed"
        booking.blocked_until = occurrence.end
        busy.add(domain.Busy(booking.id, booking.start_at, booking.end_at, booking.blocked_until))
        booked.append(booking)
    await uow.store.insert_bookings(
        booked, actor="staff", at=now, note=f"season allocation {row.id}"
    )
    row.series_id = series.id
    row.skipped = skipped
    row.updated_at = now
    return {
        **slot.to_json(),
        "allocation_id": row.id,
        "application_id": app.id,
        "series_id": series.id,
        "occurrences": len(booked),
        "first": booked[0].start_at.isoformat() if booked else None,
        "last": booked[-1].start_at.isoformat() if booked else None,
        "skipped": skipped,
    }


def _declined_wishes(
    app: SeasonApplication,
    granted: Sequence[Mapping[str, Any]],
    decisions: Sequence[Mapping[str, Any]],
) -> list[events.DeclinedWish]:
    """The application's wishes it did not get, each with the proposal's reason (in its
    language), or the officer's hand when the proposal had granted it."""
    got = {(g["weekday"], g["start"]) for g in granted}
    said = {
        (d["slot"]["weekday"], d["slot"]["start"]): d
        for d in decisions
        if d["application_id"] == app.id and d["outcome"] == "declined"
    }
    out = []
    for wish in app.wishes:
        key = (wish["weekday"], wish["start"])
        if key in got:
            continue
        d = said.get(key)
        if d is not None:
            reason = d["reason_nb"] if app.language == "nb" else d["reason"]
        else:
            en, nb = allocation.RULE_TEXT["manual"]
            reason = nb if app.language == "nb" else en
        out.append(_event_slot(events.DeclinedWish, {**wish, "reason": reason}))
    return out


async def _offer_next(
    uow: Uow,
    season: Season,
    resource: Resource,
    released: SeasonAllocation,
    release_id: str,
    occurrences: Sequence[events.ReleasedOccurrence],
    window: timedelta,
) -> SeasonOffer | None:
    """Offer given-back time to the first on the waiting list not yet offered it in this
    release (so each is offered it once); nobody waiting: the time is simply free."""
    proposal = season.proposal or {}
    waiting = allocation.waiting_list(
        proposal.get("decisions", []), proposal.get("order", []), _slot_of(released)
    )
    now = uow.now()
    first = min(o.start for o in occurrences)
    if first <= now:
        return None  # nothing left to offer
    offered = {o.application_id for o in await uow.store.offers_of_release(release_id)}
    for application_id in waiting:
        app = await uow.store.application(application_id)
        if application_id in offered or app is None or app.status != "received":
            continue
        if application_id == released.application_id:
            continue
        offer = SeasonOffer(
            id=str(uuid.uuid4()),
            season_id=season.id,
            release_id=release_id,
            allocation_id=released.id,
            application_id=application_id,
            occurrences=[o.model_dump(mode="json") for o in occurrences],
            status="offered",
            expires_at=min(now + window, first),
            created_at=now,
            updated_at=now,
        )
        uow.store.add_season_row(offer)
        uow.record(
            events.AllocationOffered(
                **_season_facts(season, resource, app),
                offer_id=offer.id,
                occurrences=list(occurrences),
            )
        )
        return offer
    return None
