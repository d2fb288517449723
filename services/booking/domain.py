"""Booking rules, pure: no I/O, no clock (every rule takes `now`).

What the use cases ask: may this booker book this resource for this time (opening hours,
holidays, closures, notice, length, horizon, capacity, quota), is it free, what does it
cost, which status does it start in and where may it go from there, who may cancel it,
which dates does a series fall on and which of them can be booked, which slots of a day
are free, what the public calendar shows, and who gets a place at a public activity.

Refusals are shared.errors types, each with a stable code and a Bokmål text.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from shared.calendar import (
    HUB_HOURS,
    Calendar,
    Interval,
    OpeningHours,
    at_local,
    local_date,
    local_midnight,
)
from shared.contacts import e164
from shared.errors import Conflict, NotAllowed, Refused

# A booking in one of these statuses blocks its slot (and its buffer): the one statement of
# that rule for the application; the schema's guard (migration 0002) keeps its own frozen copy.
# So a checked-in booking stays `confirmed` (checked_in_at says so), and a `released` one
# frees its time.
ACTIVE = ("pending", "confirmed")
STATUSES = ("pending", "confirmed", "rejected", "cancelled", "released")
BOOKER_TYPES = ("organisation", "person", "staff")
Action = Literal["approve", "reject", "cancel"]

# Hard caps that keep every overlap search a bounded index range: a booking plus its buffer
# never spans more than MAX_SPAN, so only bookings starting within MAX_SPAN before a new
# one can reach into it.
MAX_LENGTH_CAP = timedelta(days=7)
MAX_BUFFER_CAP = timedelta(days=1)
MAX_SPAN = MAX_LENGTH_CAP + MAX_BUFFER_CAP
MAX_SERIES_OCCURRENCES = 60

# The public iCalendar feed covers this window around now.
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=400)

_STATUS_NB = {
    "pending": "venter på godkjenning",
    "confirmed": "bekreftet",
    "rejected": "avslått",
    "cancelled": "avlyst",
    "released": "frigitt (ingen sjekket inn)",
}

# The booker may check in from this long before the start until the end.
CHECK_IN_OPENS = timedelta(minutes=15)


class BookingRefused(Refused):
    """A request that breaks a rule; the message says which (HTTP 422)."""


@dataclass(frozen=True)
class Policy:
    approval_required: bool = False
    free_for: frozenset[str] = frozenset({"organisation", "staff"})
    min_notice: timedelta = timedelta(hours=2)
    min_length: timedelta = timedelta(minutes=30)
    max_length: timedelta = timedelta(hours=4)
    max_days_ahead: int = 180
    buffer: timedelta = timedelta(0)
    cancel_deadline: timedelta = timedelta(hours=24)
    # Free hours per organisation, per resource and ISO week (Oslo); None means no cap.
    weekly_free_hours: float | None = None
    price_per_hour_nok: int = 0
    # A confirmed booking not checked in this long after its start is released; None: never.
    release_after: timedelta | None = None

    def __post_init__(self) -> None:
        if not timedelta(0) < self.min_length <= self.max_length <= MAX_LENGTH_CAP:
            raise ValueError("need 0 < min_length <= max_length <= 7 days")
        if not timedelta(0) <= self.buffer <= MAX_BUFFER_CAP:
            raise ValueError("buffer must be between 0 and 24 hours")
        if self.min_notice < timedelta(0) or self.cancel_deadline < timedelta(0):
            raise ValueError("min notice and cancel deadline cannot be negative")
        if self.max_days_ahead < 1:
            raise ValueError("max_days_ahead must be at least 1")
        if self.weekly_free_hours is not None and self.weekly_free_hours < 0:
            raise ValueError("weekly_free_hours cannot be negative")
        if self.release_after is not None and self.release_after <= timedelta(0):
            raise ValueError("release_after_minutes must be positive (or null: never)")
        unknown = set(self.free_for) - set(BOOKER_TYPES)
        if unknown:
            raise ValueError(f"free_for has unknown booker types: {sorted(unknown)}")


def opening_hours(spec: Mapping[str, str] | None) -> OpeningHours:
    """A resource's own hours, or the hub's when it has none."""
    if not spec:
        return HUB_HOURS
    try:
        return _parsed_hours(tuple(spec.items()))
    except TypeError:  # a value that cannot be a cache key: parse says what is wrong
        return OpeningHours.parse(spec)


@functools.lru_cache(maxsize=256)
def _parsed_hours(items: tuple[tuple[str, str], ...]) -> OpeningHours:
    # Every booking reads its resource's hours; they are parsed once per distinct spec
    # (OpeningHours is immutable, so one parse can serve every reader).
    return OpeningHours.parse(dict(items))


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Busy:
    """An active booking as far as overlap is concerned: [start, blocked_until)."""

    booking_id: str
    start: datetime
    end: datetime
    blocked_until: datetime


@dataclass(frozen=True)
class Ask:
    """What the resource's rules weigh a requested slot against."""

    policy: Policy
    calendar: Calendar
    capacity: int
    attendees: int | None
    staff_booking: bool


def blocked_until(end: datetime, policy: Policy) -> datetime:
    return end + policy.buffer


def overlaps(start: datetime, block_end: datetime, other: Busy) -> bool:
    """Both bookings block [start, end + buffer): they clash when those ranges meet."""
    return start < other.blocked_until and other.start < block_end


def check_request(ask: Ask, slot: Slot, now: datetime) -> None:
    """Raise BookingRefused with the first rule the request breaks."""
    policy, start, end = ask.policy, slot.start, slot.end
    if end <= start:
        raise BookingRefused(
            "the booking must end after it starts",
            code="end_before_start",
            nb="bookingen må slutte etter at den starter",
        )
    if start < now:
        raise BookingRefused(
            "the start time is in the past", code="in_the_past", nb="starttiden har passert"
        )
    length = end - start
    if length < policy.min_length:
        minutes = _minutes(policy.min_length)
        raise BookingRefused(
            f"too short: at least {minutes} minutes",
            code="too_short",
            nb=f"for kort: minst {minutes} minutter",
        )
    if length > policy.max_length:
        minutes = _minutes(policy.max_length)
        raise BookingRefused(
            f"too long: at most {minutes} minutes",
            code="too_long",
            nb=f"for lang: høyst {minutes} minutter",
        )
    if not ask.staff_booking:
        if start - now < policy.min_notice:
            minutes = _minutes(policy.min_notice)
            raise BookingRefused(
                f"too short notice: book at least {minutes} minutes ahead",
                code="short_notice",
                nb=f"for kort varsel: book minst {minutes} minutter før",
            )
        if local_date(start) > local_date(now) + timedelta(days=policy.max_days_ahead):
            raise _too_far_ahead(policy)
    if ask.attendees is not None and ask.attendees > ask.capacity:
        raise BookingRefused(
            f"capacity exceeded: {ask.attendees} attendees, room for {ask.capacity}",
            code="over_capacity",
            nb=f"for mange deltakere: {ask.attendees}, plass til {ask.capacity}",
        )
    reason = ask.calendar.closed_reason(start, end)
    if reason is not None:
        raise BookingRefused(reason, code="closed", nb=f"stengt på det tidspunktet ({reason})")


def _too_far_ahead(policy: Policy) -> BookingRefused:
    days = policy.max_days_ahead
    return BookingRefused(
        f"too far ahead: at most {days} days before the date",
        code="too_far_ahead",
        nb=f"for langt fram i tid: høyst {days} dager før datoen",
    )


def slot_refusal(ask: Ask, slot: Slot, now: datetime) -> BookingRefused | None:
    """Why the resource's rules refuse this slot, or None: the one place a single booking
    and each occurrence of a series are asked."""
    try:
        check_request(ask, slot, now)
    except BookingRefused as exc:
        return exc
    return None


def first_conflict(start: datetime, block_end: datetime, busy: Iterable[Busy]) -> Busy | None:
    for other in sorted(busy, key=lambda b: b.start):
        if overlaps(start, block_end, other):
            return other
    return None


class BusyIndex:
    """Active bookings kept sorted by start, for checking many slots against one read of
    the resource (publishing a season): the same overlap rule as `first_conflict`."""

    def __init__(self, busy: Iterable[Busy]) -> None:
        self._busy = sorted(busy, key=lambda b: (b.start, b.booking_id))
        self._starts = [b.start for b in self._busy]

    def first_conflict(self, start: datetime, block_end: datetime) -> Busy | None:
        # Only bookings starting within MAX_SPAN before `start` can reach into it.
        low = bisect.bisect_right(self._starts, start - MAX_SPAN)
        high = bisect.bisect_left(self._starts, block_end)
        return first_conflict(start, block_end, self._busy[low:high])

    def add(self, busy: Busy) -> None:
        at = bisect.bisect_right(self._starts, busy.start)
        self._starts.insert(at, busy.start)
        self._busy.insert(at, busy)


def overlap_refusal(other: Busy, allocation: Mapping[str, Any] | None = None) -> Conflict:
    """The 409 of an overlap, naming the booking in the way (a client may offer the time
    after `blocked_until`), and the season's allocation when the booking is one's."""
    start, end, until = (t.isoformat() for t in (other.start, other.end, other.blocked_until))
    en = nb = ""
    if allocation is not None:
        en = (
            f"; it is {allocation['organisation_name']}'s allocated training time "
            f"in the season {allocation['season_name']}"
        )
        nb = (
            f"; det er treningstid tildelt {allocation['organisation_name']} "
            f"i sesongen {allocation['season_name']}"
        )
    conflict: dict[str, Any] = {
        "booking_id": other.booking_id,
        "start": start,
        "end": end,
        "blocked_until": until,
    }
    if allocation is not None:
        conflict["allocation"] = dict(allocation)
    return Conflict(
        f"the resource is already booked from {start} to {end} (blocked until {until}){en}",
        code="booking_overlap",
        nb=f"ressursen er allerede booket fra {start} til {end} (opptatt til {until}){nb}",
        conflict=conflict,
    )


def is_free_of_charge(policy: Policy, booker_type: str) -> bool:
    return booker_type in policy.free_for


def price_nok(policy: Policy, booker_type: str, start: datetime, end: datetime) -> int:
    if is_free_of_charge(policy, booker_type):
        return 0
    hours = (end - start) / timedelta(hours=1)
    return round(hours * policy.price_per_hour_nok)


def week_of(start: datetime) -> tuple[int, int]:
    """The ISO (year, week) of an instant's Oslo date: the unit of a weekly quota."""
    iso = local_date(start).isocalendar()
    return iso.year, iso.week


def week_bounds(start: datetime) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) in Oslo, as UTC, around an instant."""
    d = local_date(start)
    monday = d - timedelta(days=d.weekday())
    return local_midnight(monday), local_midnight(monday + timedelta(days=7))


def counts_against_quota(policy: Policy, booker: Booker) -> bool:
    return (
        policy.weekly_free_hours is not None
        and booker.org_number is not None
        and is_free_of_charge(policy, booker.type)
    )


@dataclass
class QuotaLedger:
    """Free hours an organisation has used per ISO week, grown as a request adds occurrences."""

    limit_hours: float | None
    used: dict[tuple[int, int], float] = field(default_factory=dict)

    def refusal(self, start: datetime, end: datetime) -> BookingRefused | None:
        if self.limit_hours is None:
            return None
        week = week_of(start)
        hours = (end - start) / timedelta(hours=1)
        already = self.used.get(week, 0.0)
        if already + hours > self.limit_hours + 1e-9:
            return BookingRefused(
                f"weekly quota exceeded: {self.limit_hours:g} free hours per week on this "
                f"resource, {already:g} already booked in week {week[1]}",
                code="weekly_quota_exceeded",
                nb=f"ukekvoten er brukt opp: {self.limit_hours:g} gratis timer per uke på "
                f"denne ressursen, {already:g} er allerede booket i uke {week[1]}",
            )
        return None

    def add(self, start: datetime, end: datetime) -> None:
        week = week_of(start)
        self.used[week] = self.used.get(week, 0.0) + (end - start) / timedelta(hours=1)


@dataclass(frozen=True)
class FreeTime:
    """A booking as far as a weekly quota is concerned: whose, where, when."""

    booking_id: str
    org_number: str
    resource_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class FreeHours:
    """A waiting request against its organisation's weekly free hours on its resource:
    `used` by the organisation's other active free bookings of the request's Oslo week,
    `with_this` when the request is approved too."""

    limit: float
    used: float
    with_this: float
    over: bool


def weekly_free_hours(
    requests: Sequence[FreeTime], held: Iterable[FreeTime], limits: Mapping[str, float | None]
) -> dict[str, FreeHours]:
    """Each request's free hours (by booking id), counted as the quota check at booking time
    counts them (QuotaLedger: ISO weeks of the Oslo date, active free bookings). A resource
    without a limit (None in `limits`) leaves its requests out. The request itself is among
    the active bookings it is weighed against: it is counted once, as `with_this`."""
    hours_of: dict[tuple[str, str, tuple[int, int]], list[tuple[str, float]]] = {}
    for h in held:
        key = (h.org_number, h.resource_id, week_of(h.start))
        hours_of.setdefault(key, []).append((h.booking_id, (h.end - h.start) / timedelta(hours=1)))
    answers: dict[str, FreeHours] = {}
    for r in requests:
        limit = limits.get(r.resource_id)
        if limit is None:
            continue
        others = hours_of.get((r.org_number, r.resource_id, week_of(r.start)), [])
        used = sum(hours for booking_id, hours in others if booking_id != r.booking_id)
        with_this = used + (r.end - r.start) / timedelta(hours=1)
        # The same tolerance as QuotaLedger.refusal: what it lets through is not "over".
        answers[r.booking_id] = FreeHours(limit, used, with_this, with_this > limit + 1e-9)
    return answers


# --------------------------------------------------------------------------- lifecycle


def initial_status(policy: Policy, booker_type: str) -> str:
    """A new booking waits for staff where the resource wants approval, except staff's own."""
    return "pending" if policy.approval_required and booker_type != "staff" else "confirmed"


def next_status(current: str, action: Action) -> str:
    """Where a booking goes on an action, or the refusal: only an active booking can be
    cancelled, only a pending one approved or rejected."""
    if action == "cancel":
        require_active(current)
        return "cancelled"
    if current != "pending":
        raise Conflict(
            f"only a pending booking can be decided; this one is {current}",
            code="booking_not_pending",
            nb="bare en booking som venter på godkjenning kan godkjennes eller avslås; "
            f"denne er {_STATUS_NB.get(current, current)}",
        )
    return "confirmed" if action == "approve" else "rejected"


def check_owner_cancel(policy: Policy, start: datetime, now: datetime) -> None:
    """The owner may cancel until the resource's deadline; staff are not asked."""
    if now >= start:
        raise BookingRefused(
            "the booking has already started",
            code="booking_started",
            nb="bookingen har allerede startet",
        )
    if start - now < policy.cancel_deadline:
        hours = policy.cancel_deadline / timedelta(hours=1)
        raise BookingRefused(
            f"cancellation deadline passed: cancel at least {hours:g} hours before the "
            "start, or contact the staff",
            code="cancel_deadline_passed",
            nb=f"fristen for avbestilling er ute: avbestill minst {hours:g} timer før "
            "start, eller kontakt de ansatte",
        )


def release_due(policy: Policy, start: datetime) -> datetime | None:
    """When a booking is released unless checked in, or None when the resource never
    releases; fixed when it is booked, like every other rule of the resource."""
    return None if policy.release_after is None else start + policy.release_after


def check_check_in(
    status: str, start: datetime, end: datetime, now: datetime, *, by_staff: bool
) -> None:
    """A confirmed booking may be checked in until its end: by staff at any time before,
    by its booker from CHECK_IN_OPENS before the start."""
    if status == "released":
        raise Conflict(
            "the booking was released: nobody checked in in time",
            code="booking_released",
            nb="bookingen er frigitt fordi ingen sjekket inn i tide",
        )
    if status != "confirmed":
        raise Conflict(
            f"only a confirmed booking can be checked in; this one is {status}",
            code="booking_not_confirmed",
            nb="bare en bekreftet booking kan sjekkes inn; denne er "
            f"{_STATUS_NB.get(status, status)}",
        )
    if now >= end:
        raise BookingRefused("the booking has ended", code="booking_ended", nb="bookingen er over")
    if not by_staff and now < start - CHECK_IN_OPENS:
        minutes = _minutes(CHECK_IN_OPENS)
        raise BookingRefused(
            f"check-in opens {minutes} minutes before the start",
            code="check_in_not_open",
            nb=f"du kan sjekke inn fra {minutes} minutter før start",
        )


def series_to_cancel(
    occurrences: Sequence[tuple[str, str, datetime]], from_date: date | None, now: datetime
) -> list[str]:
    """The occurrences (id, status, start) a cancellation of a series takes: the active ones
    not yet started, from `from_date` (an Oslo date) on when given. What has begun or is
    over is history and stays as it is."""
    taken = [
        booking_id
        for booking_id, status, start in occurrences
        if status in ACTIVE
        and start > now
        and (from_date is None or local_date(start) >= from_date)
    ]
    if not taken:
        raise Conflict(
            "the series has no active occurrence left to cancel"
            + (f" from {from_date.isoformat()}" if from_date else ""),
            code="series_nothing_to_cancel",
            nb="serien har ingen aktive ganger igjen å avlyse"
            + (f" fra {from_date.strftime('%d.%m.%Y')}" if from_date else ""),
        )
    return taken


def reminder_wanted(start: datetime, confirmed_at: datetime | None, lead: timedelta) -> bool:
    """A reminder only for a booking confirmed before its reminder time: one confirmed
    inside the window (booked late, or approved late) was just confirmed, and a reminder
    right after the confirmation would tell the booker nothing new."""
    return confirmed_at is None or start - confirmed_at > lead


# --------------------------------------------------------------------------- bookers


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None
    phone: str | None
    language: str = "nb"


@dataclass(frozen=True)
class Booker:
    type: str
    contact: Contact
    org_number: str | None
    org_name: str | None


def normalise_phone(raw: str | None) -> str | None:
    """A phone number as given, in E.164 (Norway by default); None when none was given."""
    if raw is None or not raw.strip():
        return None
    number = e164(raw)
    if number is None:
        raise BookingRefused(
            "phone is not a valid phone number",
            code="phone_invalid",
            nb="telefonnummeret er ikke gyldig",
        )
    return number


def normalised(contact: Contact) -> Contact:
    return replace(contact, phone=normalise_phone(contact.phone))


def participants_of(contacts: Sequence[Contact]) -> list[Contact]:
    try:
        return [normalised(c) for c in contacts]
    except BookingRefused as exc:
        raise BookingRefused(
            f"participants: {exc.message}",
            code=exc.code,
            nb=f"deltakere: {exc.nb}",
            field="body.participants",
        ) from exc


def booker_of(
    booker_type: str,
    contact: Contact,
    organisation: tuple[str, str] | None,
    *,
    by_staff: bool,
) -> Booker:
    """The booker as given, checked: a way to reach them, an organisation (number, name)
    exactly when one books, and staff bookings only from staff."""
    contact = normalised(contact)
    if not contact.email and not contact.phone:
        raise BookingRefused(
            "booker needs an email or a phone number",
            code="contact_required",
            nb="bestilleren må oppgi e-post eller telefonnummer",
            field="body.booker",
        )
    org_number = None
    if booker_type == "organisation":
        if organisation is None:
            raise BookingRefused(
                "organisation is required for booker_type organisation",
                code="organisation_required",
                nb="organisasjonen må oppgis når en organisasjon booker",
                field="body.organisation",
            )
        org_number = normalise_org_number(organisation[0])
    elif organisation is not None:
        raise BookingRefused(
            "organisation is only for booker_type organisation",
            code="organisation_not_expected",
            nb="organisasjon oppgis bare når en organisasjon booker",
            field="body.organisation",
        )
    if booker_type == "staff" and not by_staff:
        raise NotAllowed(
            "booker_type staff needs a staff bearer token",
            code="staff_booker_needs_staff",
            nb="en booking som ansatt krever innlogging som ansatt",
        )
    return Booker(
        type=booker_type,
        contact=contact,
        org_number=org_number,
        org_name=organisation[1] if organisation else None,
    )


def check_public_fields(*, public: bool, title: str | None, signup_capacity: int | None) -> None:
    if signup_capacity is not None and not public:
        raise BookingRefused(
            "signup_capacity is only for public activities (public: true)",
            code="signup_needs_public",
            nb="påmelding (signup_capacity) gjelder bare offentlige aktiviteter (public: true)",
            field="body.signup_capacity",
        )
    if public and not title:
        raise BookingRefused(
            "a public activity needs a title",
            code="title_required",
            nb="en offentlig aktivitet må ha en tittel",
            field="body.title",
        )


def check_serving_time(start: datetime, end: datetime, serve_at: datetime) -> None:
    if not start - timedelta(hours=1) <= serve_at <= end:
        raise BookingRefused(
            "catering serve_at must lie within the booking (or an hour before)",
            code="serving_time_outside_booking",
            nb="serveringstiden må ligge innenfor bookingen (eller en time før)",
            field="body.catering.serve_at",
        )


# --------------------------------------------------------------------------- series


def weekly_dates(
    first: date, *, interval_weeks: int, count: int | None, until: date | None
) -> list[date]:
    if interval_weeks < 1:
        raise BookingRefused(
            "interval_weeks must be at least 1",
            code="series_interval_invalid",
            nb="interval_weeks må være minst 1",
        )
    if count is None and until is None:
        raise BookingRefused(
            "a weekly series needs count or until",
            code="series_end_required",
            nb="en ukentlig serie trenger count eller until",
        )
    dates: list[date] = []
    current = first
    while (count is None or len(dates) < count) and (until is None or current <= until):
        dates.append(current)
        if len(dates) > MAX_SERIES_OCCURRENCES:
            raise _series_too_long()
        current += timedelta(weeks=interval_weeks)
    return dates


def series_dates(
    dates: Sequence[date] | None,
    first_date: date | None,
    *,
    interval_weeks: int,
    count: int | None,
    until: date | None,
) -> list[date]:
    """Explicit dates when given, else the weekly rule's."""
    if dates:
        return list(dates)
    if first_date is None:
        raise BookingRefused(
            "a series needs dates, or first_date with count or until",
            code="series_dates_required",
            nb="en serie trenger datoer, eller first_date med count eller until",
        )
    return weekly_dates(first_date, interval_weeks=interval_weeks, count=count, until=until)


def _series_too_long() -> BookingRefused:
    return BookingRefused(
        f"a series has at most {MAX_SERIES_OCCURRENCES} occurrences",
        code="series_too_long",
        nb=f"en serie har høyst {MAX_SERIES_OCCURRENCES} forekomster",
    )


def occurrences(dates: Sequence[date], start_time: time, end_time: time) -> list[Slot]:
    """Each date's slot in Oslo wall time, so 18:00 stays 18:00 across DST changes."""
    if end_time <= start_time:
        raise BookingRefused(
            "end_time must be after start_time (a series cannot span midnight)",
            code="series_times_invalid",
            nb="end_time må være etter start_time (en serie kan ikke gå over midnatt)",
        )
    unique = sorted(set(dates))
    if not unique:
        raise BookingRefused(
            "a series needs at least one date",
            code="series_dates_required",
            nb="en serie trenger minst én dato",
        )
    if len(unique) > MAX_SERIES_OCCURRENCES:
        raise _series_too_long()
    return [Slot(at_local(d, start_time), at_local(d, end_time)) for d in unique]


OccurrenceStatus = Literal["ok", "booked", "conflict", "closed", "refused", "quota"]


@dataclass
class Occurrence:
    """One date of a series as judged: bookable (`ok`, then `booked`) or why not."""

    slot: Slot
    status: OccurrenceStatus
    reason: str | None = None
    booking_id: str | None = None

    @property
    def date(self) -> date:
        return local_date(self.slot.start)

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "start": self.slot.start.isoformat(),
            "end": self.slot.end.isoformat(),
            "status": self.status,
            "reason": self.reason,
            "booking_id": self.booking_id,
        }


def judge(
    ask: Ask,
    slot: Slot,
    *,
    busy: Iterable[Busy],
    ledger: QuotaLedger | None,
    now: datetime,
) -> Occurrence:
    """One occurrence of a series; a bookable one is added to the ledger, so that the
    series' own occurrences count against the weekly quota together."""
    if slot.end <= slot.start:
        return Occurrence(slot, "closed", "the time does not exist that day (DST change)")
    closed = ask.calendar.closed_reason(slot.start, slot.end)
    if closed is not None:
        return Occurrence(slot, "closed", closed)
    if (refused := slot_refusal(ask, slot, now)) is not None:
        return Occurrence(slot, "refused", refused.message)
    other = first_conflict(slot.start, blocked_until(slot.end, ask.policy), busy)
    if other is not None:
        return Occurrence(
            slot,
            "conflict",
            f"already booked {other.start.isoformat()} to {other.end.isoformat()}",
        )
    if ledger is not None:
        refusal = ledger.refusal(slot.start, slot.end)
        if refusal:
            return Occurrence(slot, "quota", refusal.message)
        ledger.add(slot.start, slot.end)
    return Occurrence(slot, "ok")


def series_refusal(
    occurrences: Sequence[Occurrence], *, all_or_nothing: bool
) -> Conflict | BookingRefused | None:
    """None when the series may be booked (every occurrence ok, or some ok when skipping);
    else 409 when a conflict is among the reasons, 422 otherwise, with every occurrence."""
    failed = [o for o in occurrences if o.status != "ok"]
    if not (failed and all_or_nothing) and len(failed) < len(occurrences):
        return None
    message = (
        f"{len(failed)} of {len(occurrences)} occurrences cannot be booked; nothing was booked"
        + ("" if all_or_nothing else " (no occurrence is free)")
    )
    nb = f"{len(failed)} av {len(occurrences)} forekomster kan ikke bookes; ingenting er booket" + (
        "" if all_or_nothing else " (ingen forekomst er ledig)"
    )
    kind = Conflict if any(o.status == "conflict" for o in failed) else BookingRefused
    return kind(
        message,
        code="series_not_bookable",
        nb=nb,
        occurrences=[o.to_json() for o in occurrences],
    )


# --------------------------------------------------------------------------- a day's slots


@dataclass(frozen=True)
class Day:
    """One day of a resource as a booker sees it."""

    day: date
    opening_hours: list[Interval]
    closed_reason: str | None
    free: list[Interval]
    bookable_from: datetime


def check_slot_length(policy: Policy, length: timedelta) -> None:
    if not policy.min_length <= length <= policy.max_length:
        low, high = _minutes(policy.min_length), _minutes(policy.max_length)
        raise BookingRefused(
            f"slot_minutes must be between {low} and {high} for this resource",
            code="slot_length_invalid",
            nb=f"slot_minutes må være mellom {low} og {high} for denne ressursen",
            field="query.slot_minutes",
        )


def _day_closed_reason(calendar: Calendar, d: date) -> str | None:
    if calendar.is_open_day(d):
        return None
    regular = calendar.hours.intervals(d.weekday())
    if not regular:
        return calendar.closed_reason(local_midnight(d), local_midnight(d) + timedelta(hours=1))
    start, end = at_local(d, regular[0][0]), at_local(d, regular[0][1])
    if end <= start:
        end = local_midnight(d + timedelta(days=1))
    return calendar.closed_reason(start, end)


def day_of(
    calendar: Calendar,
    policy: Policy,
    d: date,
    length: timedelta,
    busy: Sequence[Busy],
    now: datetime,
) -> Day:
    """Opening hours minus holidays, closures, bookings (with the buffer) and anything
    before now plus the minimum notice; the grid steps by the length, at most 30 min."""
    reason = _day_closed_reason(calendar, d)
    bookable_from = now + policy.min_notice
    if reason is None and d > local_date(now) + timedelta(days=policy.max_days_ahead):
        reason = _too_far_ahead(policy).message
    free: list[Interval] = []
    if reason is None:
        step = min(length, timedelta(minutes=30))
        for start, end in calendar.slots(d, length, step, not_before=bookable_from):
            if first_conflict(start, end + policy.buffer, busy) is None:
                free.append((start, end))
    return Day(d, calendar.open_intervals(d), reason, free, bookable_from)


# --------------------------------------------------------------------------- the public side


@dataclass(frozen=True)
class FeedEntry:
    uid: str
    stamp: datetime
    start: datetime
    end: datetime
    summary: str
    confirmed: bool


def feed_entry(
    booking_id: str,
    *,
    status: str,
    public: bool,
    title: str | None,
    start: datetime,
    end: datetime,
    updated_at: datetime,
) -> FeedEntry:
    """A busy time as the public calendar shows it: a public title or "Opptatt", never who."""
    summary = title if public and title else "Opptatt"
    if status == "pending":
        summary += " (venter på godkjenning)"
    return FeedEntry(
        f"{booking_id}@knutepunkt", updated_at, start, end, summary, status == "confirmed"
    )


def is_public_activity(*, public: bool, status: str) -> bool:
    """On the hub's public calendar: public, and confirmed (not merely requested)."""
    return public and status == "confirmed"


def organiser(org_name: str | None, booker_type: str) -> str | None:
    return org_name or ("Knutepunkt" if booker_type == "staff" else None)


def places_left(capacity: int | None, registered: int) -> int | None:
    return None if capacity is None else max(capacity - registered, 0)


def check_open_for_signup(signup_capacity: int | None, start: datetime, now: datetime) -> int:
    """The activity's sign-up places, or why one cannot sign up."""
    if signup_capacity is None:
        raise Conflict(
            "this activity has no sign-up: just come",
            code="no_signup",
            nb="denne aktiviteten har ingen påmelding: bare kom",
        )
    if start <= now:
        raise Conflict(
            "the activity has already started",
            code="activity_started",
            nb="aktiviteten har allerede startet",
        )
    return signup_capacity


def signup_contact(email: str | None, phone: str | None) -> str | None:
    """The sign-up's phone in E.164; one needs an email or a phone."""
    number = normalise_phone(phone)
    if not email and not number:
        raise BookingRefused(
            "an email or a phone number is required to sign up",
            code="contact_required",
            nb="e-post eller telefonnummer må oppgis for å melde seg på",
        )
    return number


def signup_status(registered: int, capacity: int) -> str:
    """A place while there is one; the waiting list after that."""
    return "registered" if registered < capacity else "waitlisted"


def promotion_is_short_notice(start: datetime, now: datetime, window: timedelta) -> bool:
    """A place that opens up this close to the start is told by SMS too: an email may not
    be read in time."""
    return start - now <= window


def cancel_signup(status: str) -> bool:
    """Cancel a sign-up; True when it held a place, which the first on the waiting list
    then takes."""
    if status == "cancelled":
        raise Conflict(
            "the registration is already cancelled",
            code="registration_cancelled",
            nb="påmeldingen er allerede avmeldt",
        )
    return status == "registered"


def check_signup_cancellable(start: datetime, now: datetime) -> None:
    """A sign-up is cancelled before the activity starts: after, the place is spent."""
    if start <= now:
        raise Conflict(
            "the activity has already started: the sign-up can no longer be cancelled",
            code="activity_started",
            nb="aktiviteten har allerede startet: påmeldingen kan ikke lenger avmeldes",
        )


ClosureAction = Literal["cancel", "keep"]


def require_active(status: str) -> None:
    """Only an active booking can be cancelled, kept or checked in."""
    if status not in ACTIVE:
        raise Conflict(
            f"the booking is already {status}",
            code="booking_not_active",
            nb=f"bookingen er allerede {_STATUS_NB.get(status, status)}",
        )


def closure_decision(current: str, status: str, action: ClosureAction) -> str:
    """Staff's choice for a booking a closure fell on. It stands (`open`) until they
    choose; a kept one may still be cancelled later, a cancelled one is final."""
    if current == "cancelled":
        raise Conflict(
            "the booking was already cancelled because of this closure",
            code="closure_booking_decided",
            nb="bookingen er allerede avlyst på grunn av denne stengingen",
        )
    require_active(status)
    return "cancelled" if action == "cancel" else "kept"


def check_closure(start: datetime, end: datetime) -> None:
    if end <= start:
        raise BookingRefused(
            "a closure must end after it starts",
            code="end_before_start",
            nb="en stengning må slutte etter at den starter",
            field="body.end",
        )


# --------------------------------------------------------------------------- organisations

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def normalise_org_number(raw: str) -> str:
    """A Norwegian organisation number (9 digits, MOD11 check digit), spaces allowed."""
    digits = re.sub(r"[\s.]", "", raw)
    if not re.fullmatch(r"\d{9}", digits):
        raise BookingRefused(
            "organisation number must be 9 digits",
            code="organisation_number_invalid",
            nb="organisasjonsnummeret må ha 9 sifre",
            field="body.organisation.number",
        )
    total = sum(int(d) * w for d, w in zip(digits[:8], _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[8]):
        raise BookingRefused(
            "organisation number has a wrong check digit (MOD11)",
            code="organisation_number_invalid",
            nb="organisasjonsnummeret har feil kontrollsiffer (MOD11)",
            field="body.organisation.number",
        )
    return digits


def _minutes(delta: timedelta) -> int:
    return int(delta / timedelta(minutes=1))
