"""The week's opening hours as the front page shows them, from the one calendar
(shared.calendar): the hub's hours with the booking service's whole-hub closures, the café's
with its own closures (as the catering service builds its calendar), both closed on
Norwegian public holidays, each closed day with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from services.web.i18n import OSLO, clock
from shared.calendar import CAFE_HOURS, HUB_HOURS, Calendar, Closure


@dataclass(frozen=True)
class Hours:
    """One place's hours on one day: open intervals as text, or closed and why."""

    open: list[str]
    holiday: str | None = None  # the public holiday's Norwegian name
    closures: tuple[str, ...] = ()  # staff closures that day (their reasons; "" for none given)
    weekly_closed: bool = False  # closed that weekday anyway (the weekend)

    @property
    def closed(self) -> bool:
        return not self.open


@dataclass(frozen=True)
class Day:
    day: date
    today: bool
    hub: Hours
    cafe: Hours


def _closures(rows: list[dict[str, Any]], start: str, end: str) -> list[Closure]:
    found = []
    for row in rows:
        try:
            found.append(
                Closure(
                    datetime.fromisoformat(row[start]),
                    datetime.fromisoformat(row[end]),
                    row.get("reason") or "",
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # a row this page cannot read does not take the page down
    return found


def hub_calendar(booking_closures: list[dict[str, Any]]) -> Calendar:
    """The hub's own: closures of one room leave the hub open."""
    whole = [c for c in booking_closures if c.get("resource_id") is None]
    return Calendar(HUB_HOURS, _closures(whole, "start", "end"))


def cafe_calendar(cafe_closures: list[dict[str, Any]]) -> Calendar:
    return Calendar(CAFE_HOURS, _closures(cafe_closures, "start_at", "end_at"))


def hours_of(calendar: Calendar, day: date, lang: str = "nb") -> Hours:
    intervals = calendar.open_intervals(day)
    text = [f"{clock(a)}–{clock(b)}" for a, b in intervals]
    holiday = calendar.holiday_name(day, lang)
    if holiday is not None:
        return Hours([], holiday=holiday)
    regular = calendar.hours.intervals(day.weekday())
    if not regular:
        return Hours([], weekly_closed=True)
    start = datetime.combine(day, time(0), OSLO)
    end = datetime.combine(day + timedelta(days=1), time(0), OSLO)
    reasons = tuple(c.reason for c in calendar.closures if c.overlaps(start, end))
    return Hours(text, closures=reasons)


def week(
    monday: date,
    today: date,
    booking_closures: list[dict[str, Any]],
    cafe_closures: list[dict[str, Any]],
    lang: str = "nb",
) -> list[Day]:
    hub = hub_calendar(booking_closures)
    cafe = cafe_calendar(cafe_closures)
    days = [monday + timedelta(days=n) for n in range(7)]
    return [Day(d, d == today, hours_of(hub, d, lang), hours_of(cafe, d, lang)) for d in days]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
