"""The booking use cases: `async def verb_noun(uow, command) -> result`, each run in one
transaction by the caller's unit of work (`runtime.uow.run`). The rules are domain.py's,
rows go through `uow.store`, events are recorded with `uow.record` (written to the outbox at
commit), and the time is `uow.now()`. Refusals are shared.errors types.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from services.booking import domain
from services.booking.models import (
    Booking,
    Closure,
    ClosureBooking,
    Organisation,
    Registration,
    Resource,
    Series,
)
from services.booking.store import Activity, Store, policy_of
from shared import events
from shared.auth import token_matches
from shared.calendar import Calendar, local_midnight, require_aware
from shared.errors import NotAllowed, NotAuthenticated, NotFound
from shared.hubs import DEFAULT_HUB
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


@dataclass(frozen=True)
class WaitingRequest(Booked):
    """A booking waiting for approval, with its organisation's weekly free hours (None when
    no quota applies: not an organisation's, not free, or the resource has no limit)."""

    free_hours: domain.FreeHours | None = None


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


# --------------------------------------------------------------------------- bookings


async def make_booking(uow: Uow, cmd: MakeBooking) -> Booked:
    """Book one slot: the booker, the resource's rules, the weekly quota, then overlap."""
    now = uow.now()
    details = cmd.details
    booker = _booker(details)
    if cmd.catering is not None:
        domain.check_serving_time(cmd.start, cmd.end, cmd.catering.serve_at)
    slot = domain.Slot(require_aware(cmd.start), require_aware(cmd.end))  # stored as UTC
    await uow.store.lock_resource(details.resource_id)
    resource = await _bookable(uow, details.resource_id)
    policy = policy_of(resource)
    calendar = await uow.store.calendar_for(resource, slot.start, slot.end)
    if refused := domain.slot_refusal(_ask(resource, policy, calendar, details, booker), slot, now):
        raise refused
    ledger = await _quota_ledger(uow, resource, policy, booker, [slot])
    if ledger is not None and (refused := ledger.refusal(slot.start, slot.end)):
        raise refused
    block_end = domain.blocked_until(slot.end, policy)
    busy = await uow.store.active_overlapping(resource.id, slot.start, block_end)
    if (other := domain.first_conflict(slot.start, block_end, busy)) is not None:
        raise domain.overlap_refusal(other)
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
    await uow.store.lock_resource(details.resource_id)
    resource = await _bookable(uow, details.resource_id)
    policy = policy_of(resource)
    calendar = await uow.store.calendar_for(resource, slots[0].start, slots[-1].end)
    ask = _ask(resource, policy, calendar, details, booker)
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


async def list_bookings(uow: Uow, query: BookingQuery) -> list[Booked]:
    rows = await uow.store.bookings(
        resource_id=query.resource_id,
        start=query.start,
        end=query.end,
        status=query.status,
        limit=query.limit,
    )
    return [Booked(b, r) for b, r in rows]


async def list_requests(uow: Uow, query: RequestQuery) -> list[WaitingRequest]:
    """The requests waiting for approval, oldest first, each with what it does to its
    organisation's weekly free hours: what staff weigh before approving, in one read."""
    waiting = await uow.store.waiting(query.limit)
    counted = [
        domain.FreeTime(b.id, b.org_number, b.resource_id, b.start_at, b.end_at)
        for b, r in waiting
        if b.org_number and b.free_of_charge and r.weekly_free_hours is not None
    ]
    held: list[domain.FreeTime] = []
    if counted:
        weeks = [domain.week_bounds(f.start) for f in counted]
        held = await uow.store.free_time_between(
            {f.org_number for f in counted},
            {f.resource_id for f in counted},
            min(start for start, _ in weeks),
            max(end for _, end in weeks),
        )
    limits = {r.id: r.weekly_free_hours for _, r in waiting}
    free_hours = domain.weekly_free_hours(counted, held, limits)
    return [WaitingRequest(b, r, free_hours.get(b.id)) for b, r in waiting]


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


async def cancel_sign_up(uow: Uow, cmd: CancelSignUp) -> Registration:
    """Cancel a sign-up with its manage token; the first on the waiting list moves up."""
    await uow.store.lock_activity(cmd.activity_id)
    registration = await uow.store.registration(cmd.registration_id)
    if registration is None or registration.booking_id != cmd.activity_id:
        raise NotFound(
            f"no registration {cmd.registration_id!r} for this activity",
            code="registration_not_found",
            nb=f"fant ingen påmelding {cmd.registration_id!r} til denne aktiviteten",
        )
    _require_owner(cmd.token, registration.token_hash)
    was_waitlisted = registration.status == "waitlisted"
    frees_a_place = domain.cancel_signup(registration.status)
    now = uow.now()
    registration.status = "cancelled"
    registration.updated_at = now
    booking = await uow.store.booking(cmd.activity_id)
    assert booking is not None  # a foreign key
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
    await uow.store.add_booking(booking)
    uow.store.record(booking, "owner", booking.created_at)
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
