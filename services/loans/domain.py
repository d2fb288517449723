"""The lending rules, pure: no I/O, no clock (every function takes `now` when it needs one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.calendar import Calendar, at_local, local, local_date
from shared.contacts import e164

KINDS = ("pc", "planter_box", "book", "other")
CONDITIONS = ("ok", "worn", "damaged", "out_of_service")
# An item in one of these conditions is not lent, and not offered to a reservation.
UNLENDABLE = frozenset({"damaged", "out_of_service"})
DUE_SOON = "due_soon"
OVERDUE = "overdue"


class Refusal(Exception):
    """A rule says no; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    kind: str
    lendable: bool = True
    default_days: int = 1
    min_days: int = 1
    max_days: int = 1
    season_end: str | None = None  # "MM-DD"
    max_renewals: int = 0
    max_items_per_borrower: int = 1
    buffer_minutes: int = 0
    hold_hours: int = 48


# --- borrowers ---------------------------------------------------------------------------


def normalise_phone(raw: str, region: str = "NO") -> str:
    """E.164; Norwegian numbers by default (8 digits without +47)."""
    number = e164(raw, region)
    if number is None:
        raise Refusal(422, "phone: not a phone number")
    return number


# --- due dates ---------------------------------------------------------------------------


def closing_time(calendar: Calendar, d: date) -> datetime:
    """When a loan due on local date `d` is due: the desk's closing time on `d`, or on the
    next open day when `d` is closed (a loan may span closed days, but is returned on an
    open one)."""
    day = calendar.next_open_day(d)
    return calendar.open_intervals(day)[-1][1]


def season_end_date(season_end: str, start: date) -> date:
    month, day = (int(p) for p in season_end.split("-"))
    end = date(start.year, month, day)
    return end if end >= start else date(start.year + 1, month, day)


def due_date(policy: Policy, start: date, days: int | None, wanted: date | None) -> date:
    """The local due date asked for (or the policy's default), checked against the policy."""
    if not policy.lendable:
        raise Refusal(422, f"{policy.kind} items are not lent (the book swap has no loans)")
    if days is not None and wanted is not None:
        raise Refusal(422, "give either days or due_date, not both")
    if policy.season_end:
        latest = season_end_date(policy.season_end, start)
        if wanted is None and days is None:
            return latest
        target = wanted if wanted is not None else start + timedelta(days=days or 0)
        if target <= start:
            raise Refusal(422, "the due date must be after the start")
        if target > latest:
            raise Refusal(422, f"{policy.kind} loans run at most to {latest.isoformat()}")
        return target
    if wanted is not None:
        days = (wanted - start).days
    if days is None:
        days = policy.default_days
    if days < policy.min_days:
        raise Refusal(422, f"a {policy.kind} loan lasts at least {policy.min_days} day(s)")
    if days > policy.max_days:
        raise Refusal(422, f"a {policy.kind} loan lasts at most {policy.max_days} day(s)")
    return start + timedelta(days=days)


def renewed_due_date(policy: Policy, started: date, due: date, renewals: int) -> date:
    if renewals >= policy.max_renewals:
        raise Refusal(409, f"no more renewals: {policy.max_renewals} allowed for {policy.kind}")
    if policy.season_end:
        raise Refusal(409, f"{policy.kind} loans run to the end of the season")
    new_due = due + timedelta(days=policy.default_days)
    if (new_due - started).days > policy.max_days:
        raise Refusal(409, f"a {policy.kind} loan lasts at most {policy.max_days} day(s) in all")
    return new_due


# --- reminders and escalation ------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    kind: str  # due_soon | overdue
    level: int  # 0 for due_soon, 1.. for the overdue steps
    at: datetime


def plus_local_days(t: datetime, days: int) -> datetime:
    """The same Oslo wall time `days` calendar days later (DST-safe)."""
    wall = local(t)
    return at_local(wall.date() + timedelta(days=days), wall.time().replace(tzinfo=None))


def notice_schedule(
    started_at: datetime, due_at: datetime, due_soon: timedelta, steps_days: tuple[int, ...]
) -> list[Notice]:
    notices: list[Notice] = []
    soon = due_at - due_soon
    if soon > started_at:
        notices.append(Notice(DUE_SOON, 0, soon))
    for level, days in enumerate(steps_days, start=1):
        notices.append(Notice(OVERDUE, level, plus_local_days(due_at, days)))
    return notices


def notice_now(schedule: list[Notice], now: datetime) -> tuple[Notice | None, datetime | None]:
    """The notice to send at `now` (the latest one reached: a loan found late, e.g. one
    backfilled, gets the level it has reached, not every level on the way) and when the
    next one falls due (None when none is left)."""
    reached = [n for n in schedule if n.at <= now]
    upcoming = [n for n in schedule if n.at > now]
    return (reached[-1] if reached else None), (upcoming[0].at if upcoming else None)


def next_notice_at(schedule: list[Notice], now: datetime) -> datetime | None:
    """For a new or renewed loan: the first notice still ahead (or one already due)."""
    current, upcoming = notice_now(schedule, now)
    return current.at if current else upcoming


def days_overdue(due_at: datetime, now: datetime) -> int:
    if now <= due_at:
        return 0
    return max(0, (local_date(now) - local_date(due_at)).days)


def blocked_since(due_at: datetime, steps_days: tuple[int, ...]) -> datetime:
    """A borrower is blocked once a loan passes the last escalation step."""
    return plus_local_days(due_at, steps_days[-1] if steps_days else 0)
