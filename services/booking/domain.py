"""Booking rules, pure: no I/O, no clock (every rule takes `now`).

What the HTTP layer and the store ask: may this booker book this resource for this time
(opening hours, holidays, closures, notice, length, horizon, capacity, quota), is it free,
what does it cost, who may cancel it, and which dates does a series fall on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from shared.calendar import Calendar, at_local, local_date, local_midnight

ACTIVE = ("pending", "confirmed")
STATUSES = ("pending", "confirmed", "rejected", "cancelled")
BOOKER_TYPES = ("organisation", "person", "staff")

# Hard caps that keep every overlap search a bounded index range: a booking plus its buffer
# never spans more than MAX_SPAN, so only bookings starting within MAX_SPAN before a new
# one can reach into it.
MAX_LENGTH_CAP = timedelta(days=7)
MAX_BUFFER_CAP = timedelta(days=1)
MAX_SPAN = MAX_LENGTH_CAP + MAX_BUFFER_CAP
MAX_SERIES_OCCURRENCES = 60


class BookingRefused(Exception):
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
        unknown = set(self.free_for) - set(BOOKER_TYPES)
        if unknown:
            raise ValueError(f"free_for has unknown booker types: {sorted(unknown)}")


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


def blocked_until(end: datetime, policy: Policy) -> datetime:
    return end + policy.buffer


def overlaps(start: datetime, block_end: datetime, other: Busy) -> bool:
    """Both bookings block [start, end + buffer): they clash when those ranges meet."""
    return start < other.blocked_until and other.start < block_end


def check_request(
    *,
    policy: Policy,
    calendar: Calendar,
    capacity: int,
    start: datetime,
    end: datetime,
    attendees: int | None,
    now: datetime,
    staff_booking: bool = False,
) -> None:
    """Raise BookingRefused with the first rule the request breaks."""
    if end <= start:
        raise BookingRefused("the booking must end after it starts")
    if start < now:
        raise BookingRefused("the start time is in the past")
    length = end - start
    if length < policy.min_length:
        raise BookingRefused(f"too short: at least {_minutes(policy.min_length)} minutes")
    if length > policy.max_length:
        raise BookingRefused(f"too long: at most {_minutes(policy.max_length)} minutes")
    if not staff_booking:
        if start - now < policy.min_notice:
            raise BookingRefused(
                f"too short notice: book at least {_minutes(policy.min_notice)} minutes ahead"
            )
        if local_date(start) > local_date(now) + timedelta(days=policy.max_days_ahead):
            raise BookingRefused(
                f"too far ahead: at most {policy.max_days_ahead} days before the date"
            )
    if attendees is not None and attendees > capacity:
        raise BookingRefused(f"capacity exceeded: {attendees} attendees, room for {capacity}")
    reason = calendar.closed_reason(start, end)
    if reason is not None:
        raise BookingRefused(reason)


def first_conflict(start: datetime, block_end: datetime, busy: Iterable[Busy]) -> Busy | None:
    for other in sorted(busy, key=lambda b: b.start):
        if overlaps(start, block_end, other):
            return other
    return None


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


@dataclass
class QuotaLedger:
    """Free hours an organisation has used per ISO week, grown as a request adds occurrences."""

    limit_hours: float | None
    used: dict[tuple[int, int], float] = field(default_factory=dict)

    def refusal(self, start: datetime, end: datetime) -> str | None:
        if self.limit_hours is None:
            return None
        week = week_of(start)
        hours = (end - start) / timedelta(hours=1)
        already = self.used.get(week, 0.0)
        if already + hours > self.limit_hours + 1e-9:
            return (
                f"weekly quota exceeded: {self.limit_hours:g} free hours per week on this "
                f"resource, {already:g} already booked in week {week[1]}"
            )
        return None

    def add(self, start: datetime, end: datetime) -> None:
        week = week_of(start)
        self.used[week] = self.used.get(week, 0.0) + (end - start) / timedelta(hours=1)


def owner_may_cancel(policy: Policy, start: datetime, now: datetime) -> str | None:
    """None when the owner may still cancel; otherwise why not."""
    if now >= start:
        return "the booking has already started"
    if start - now < policy.cancel_deadline:
        hours = policy.cancel_deadline / timedelta(hours=1)
        return (
            f"cancellation deadline passed: cancel at least {hours:g} hours before the "
            "start, or contact the staff"
        )
    return None


# --------------------------------------------------------------------------- series


def weekly_dates(
    first: date, *, interval_weeks: int, count: int | None, until: date | None
) -> list[date]:
    if interval_weeks < 1:
        raise BookingRefused("interval_weeks must be at least 1")
    if count is None and until is None:
        raise BookingRefused("a weekly series needs count or until")
    dates: list[date] = []
    current = first
    while (count is None or len(dates) < count) and (until is None or current <= until):
        dates.append(current)
        if len(dates) > MAX_SERIES_OCCURRENCES:
            raise BookingRefused(f"a series has at most {MAX_SERIES_OCCURRENCES} occurrences")
        current += timedelta(weeks=interval_weeks)
    return dates


def occurrences(dates: Sequence[date], start_time: time, end_time: time) -> list[Slot]:
    """Each date's slot in Oslo wall time, so 18:00 stays 18:00 across DST changes."""
    if end_time <= start_time:
        raise BookingRefused("end_time must be after start_time (a series cannot span midnight)")
    unique = sorted(set(dates))
    if not unique:
        raise BookingRefused("a series needs at least one date")
    if len(unique) > MAX_SERIES_OCCURRENCES:
        raise BookingRefused(f"a series has at most {MAX_SERIES_OCCURRENCES} occurrences")
    return [Slot(at_local(d, start_time), at_local(d, end_time)) for d in unique]


# --------------------------------------------------------------------------- organisations

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def normalise_org_number(raw: str) -> str:
    """A Norwegian organisation number (9 digits, MOD11 check digit), spaces allowed."""
    digits = re.sub(r"[\s.]", "", raw)
    if not re.fullmatch(r"\d{9}", digits):
        raise BookingRefused("organisation number must be 9 digits")
    total = sum(int(d) * w for d, w in zip(digits[:8], _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[8]):
        raise BookingRefused("organisation number has a wrong check digit (MOD11)")
    return digits


def _minutes(delta: timedelta) -> int:
    return int(delta / timedelta(minutes=1))
