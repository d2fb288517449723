"""The calendar's questions: is it open, which day is the next open one, N working days on,
which slots fit, and why a span is closed.

Slots and intervals are stepped in real time (UTC), so a one-hour slot always lasts one
hour, also on a 23- or 25-hour day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from shared.calendar.closures import Closure
from shared.calendar.holidays import norwegian_holidays
from shared.calendar.hours import DAY_PLURALS, HUB_HOURS, OpeningHours
from shared.calendar.instants import end_of_day_wall, local_date, require_aware, wall_to_utc

# How far next_open_day / next_open_at / add_working_days look before giving up: a year and
# a bit covers any realistic run of closed days (a long summer closure plus holidays).
MAX_SEARCH_DAYS = 370

Interval = tuple[datetime, datetime]


def _subtract(intervals: list[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    result = intervals
    for cut_start, cut_end in cuts:
        remaining: list[Interval] = []
        for start, end in result:
            if cut_end <= start or end <= cut_start:
                remaining.append((start, end))
                continue
            if start < cut_start:
                remaining.append((start, cut_start))
            if cut_end < end:
                remaining.append((cut_end, end))
        result = remaining
    return result


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if start >= end:
            continue  # a span that vanished in the spring DST gap
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _check_span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = require_aware(start), require_aware(end)
    if end <= start:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    return start, end


class Calendar:
    """Opening hours + Norwegian public holidays + staff closures, answering "when is it open?".

    Immutable: :meth:`with_closures` returns a new calendar.
    """

    def __init__(
        self,
        hours: OpeningHours = HUB_HOURS,
        closures: Iterable[Closure] = (),
        *,
        holidays_closed: bool = True,
    ) -> None:
        self._hours = hours
        self._closures: tuple[Closure, ...] = tuple(
            sorted(closures, key=lambda c: (c.start, c.end))
        )
        self._holidays_closed = holidays_closed

    @property
    def hours(self) -> OpeningHours:
        return self._hours

    @property
    def closures(self) -> tuple[Closure, ...]:
        return self._closures

    @property
    def holidays_closed(self) -> bool:
        return self._holidays_closed

    def __repr__(self) -> str:
        return (
            f"Calendar(hours={self._hours.to_spec()!r}, closures={len(self._closures)}, "
            f"holidays_closed={self._holidays_closed})"
        )

    def with_closures(self, closures: Iterable[Closure]) -> Calendar:
        """A calendar with these closures added to the ones it already has."""
        return Calendar(
            self._hours, (*self._closures, *closures), holidays_closed=self._holidays_closed
        )

    # -- days

    def holiday_name(self, d: date, language: str = "nb") -> str | None:
        """The name of the public holiday on ``d`` (e.g. "Grunnlovsdag", in English
        "Constitution Day"), or None.

        Answers whether or not this calendar closes on holidays.
        """
        return norwegian_holidays(d.year, language).get(d)

    def _closed_for_holiday(self, d: date) -> bool:
        return self._holidays_closed and self.holiday_name(d) is not None

    def _regular_intervals(self, d: date) -> list[Interval]:
        """The day's opening hours in UTC, ignoring holidays and closures."""
        return _merge(
            [
                (
                    wall_to_utc(datetime.combine(d, open_)),
                    wall_to_utc(end_of_day_wall(d, close)),
                )
                for open_, close in self._hours.intervals(d.weekday())
            ]
        )

    def _closures_overlapping(self, start: datetime, end: datetime) -> Iterator[Closure]:
        for closure in self._closures:
            if closure.start >= end:
                break  # sorted by start: nothing later can overlap
            if closure.overlaps(start, end):
                yield closure

    def open_intervals(self, d: date) -> list[Interval]:
        """The aware UTC open intervals of local date ``d``, with closures cut out."""
        if self._closed_for_holiday(d):
            return []
        regular = self._regular_intervals(d)
        if not regular:
            return []
        cuts = [(c.start, c.end) for c in self._closures_overlapping(regular[0][0], regular[-1][1])]
        return _subtract(regular, cuts)

    def is_open_day(self, d: date) -> bool:
        """Open at some time on ``d``: hours that weekday, no holiday, not closed all day."""
        return bool(self.open_intervals(d))

    def next_open_day(self, d: date) -> date:
        """``d`` itself when open, else the next open day."""
        for offset in range(MAX_SEARCH_DAYS + 1):
            candidate = d + timedelta(days=offset)
            if self.is_open_day(candidate):
                return candidate
        raise ValueError(f"no open day within {MAX_SEARCH_DAYS} days from {d}")

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th open day after ``d`` (``d`` itself is not counted).

        ``n == 0`` returns ``d`` unchanged, open or not (use :meth:`next_open_day` for "d or
        the next open day"). For ``n >= 1`` the result is an open day and
        ``working_days_between(d, result) == n``.
        """
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        current, closed_run = d, 0
        while n > 0:
            current += timedelta(days=1)
            if self.is_open_day(current):
                n -= 1
                closed_run = 0
            else:
                closed_run += 1
                if closed_run > MAX_SEARCH_DAYS:
                    raise ValueError(f"no open day within {MAX_SEARCH_DAYS} days after {d}")
        return current

    def working_days_between(self, a: date, b: date) -> int:
        """The number of open days in ``(a, b]``; 0 when ``b <= a``."""
        count = 0
        current = a + timedelta(days=1)
        while current <= b:
            count += self.is_open_day(current)
            current += timedelta(days=1)
        return count

    # -- instants

    def is_open_at(self, t: datetime) -> bool:
        t = require_aware(t)
        return any(start <= t < end for start, end in self.open_intervals(local_date(t)))

    def is_open_between(self, start: datetime, end: datetime) -> bool:
        """True when all of ``[start, end)`` lies inside one open interval."""
        start, end = _check_span(start, end)
        return any(o <= start and end <= c for o, c in self.open_intervals(local_date(start)))

    def closed_reason(self, start: datetime, end: datetime) -> str | None:
        """None when ``[start, end)`` is open; otherwise a short English reason.

        Day-level reasons (holiday, closed weekday, closed all day by staff) are taken from
        the local date of ``start``.
        """
        if self.is_open_between(start, end):
            return None
        start, end = _check_span(start, end)
        d = local_date(start)
        holiday = self.holiday_name(d)
        if self._holidays_closed and holiday is not None:
            return f"public holiday: {holiday}"
        regular = self._regular_intervals(d)
        if not regular:
            return f"closed on {DAY_PLURALS[d.weekday()]}"
        if not self.open_intervals(d):
            # Regular hours that day, all of them closed by staff.
            closure = next(self._closures_overlapping(regular[0][0], regular[-1][1]), None)
            if closure is not None:
                return closure.describe()
        if any(o <= start and end <= c for o, c in regular):
            # Inside regular hours, so a closure is in the way.
            closure = next(self._closures_overlapping(start, end), None)
            if closure is not None:
                return closure.describe()
        return f"outside opening hours {self._hours.describe(d.weekday())}"

    def slots(
        self,
        d: date,
        length: timedelta,
        step: timedelta | None = None,
        *,
        not_before: datetime | None = None,
    ) -> list[Interval]:
        """Candidate ``[start, end)`` slots on local date ``d``, aware UTC.

        The grid starts at each regular opening time and advances by ``step`` (default:
        ``length``) in real time; a slot is kept when it lies wholly inside an open interval
        (closures cut out) and does not start before ``not_before`` (pass now to hide past
        slots).
        """
        if length <= timedelta(0):
            raise ValueError(f"slot length must be positive, got {length}")
        step = length if step is None else step
        if step <= timedelta(0):
            raise ValueError(f"slot step must be positive, got {step}")
        floor = None if not_before is None else require_aware(not_before)
        open_ = self.open_intervals(d)
        if not open_:
            return []
        result: list[Interval] = []
        for grid_start, grid_end in self._regular_intervals(d):
            start = grid_start
            while start + length <= grid_end:
                end = start + length
                if (floor is None or start >= floor) and any(
                    o <= start and end <= c for o, c in open_
                ):
                    result.append((start, end))
                start += step
        return result

    def next_open_at(self, t: datetime) -> datetime:
        """``t`` when open, else the start of the next open interval (aware UTC)."""
        t = require_aware(t)
        first = local_date(t)
        for offset in range(MAX_SEARCH_DAYS + 1):
            for start, end in self.open_intervals(first + timedelta(days=offset)):
                if start <= t < end:
                    return t
                if start > t:
                    return start
        raise ValueError(f"not open within {MAX_SEARCH_DAYS} days after {t.isoformat()}")
