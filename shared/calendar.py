"""One calendar for everything: opening hours, Norwegian public holidays and staff closures.

Every service computes its dates and times from this module: booking slots, loan pick-up and
due dates, café pick-up times and "N working days" lead times. It is pure (no I/O).

Conventions:

* Instants are stored and returned as aware UTC datetimes; a naive datetime is rejected with
  :class:`NaiveDatetimeError` (a client error).
* Rules (opening hours, "which day is it") are applied in Europe/Oslo wall time and
  converted with zoneinfo, so the UTC offsets are right on both sides of a DST change.
* Opening intervals never cross local midnight. A close time of 00:00 means 24:00, the end
  of that local day.
* Wall times that do not exist (the hour skipped when clocks go forward on the last Sunday
  of March) are clamped to the moment the clocks jump, so an interval 02:00–03:00 that day is
  empty and 01:00–04:00 lasts two real hours. Wall times that occur twice (the hour repeated
  on the last Sunday of October) mean their first occurrence.
* Slots and intervals are stepped in real time (UTC), so a one-hour slot always lasts one
  hour, also on a 23- or 25-hour day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

__all__ = [
    "CAFE_HOURS",
    "HUB_HOURS",
    "MAX_SEARCH_DAYS",
    "OSLO",
    "Calendar",
    "Closure",
    "NaiveDatetimeError",
    "OpeningHours",
    "at_local",
    "local",
    "local_date",
    "local_midnight",
    "norwegian_holidays",
    "require_aware",
    "utcnow",
]

OSLO = ZoneInfo("Europe/Oslo")

# How far next_open_day / next_open_at / add_working_days look before giving up: a year and
# a bit covers any realistic run of closed days (a long summer closure plus holidays).
MAX_SEARCH_DAYS = 370

Interval = tuple[datetime, datetime]

_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{key: i for i, key in enumerate(_DAY_KEYS)},
    # Staff write specs too; accept the Norwegian abbreviations as well.
    **{key: i for i, key in enumerate(("man", "tir", "ons", "tor", "fre", "lør", "søn"))},
}
_DAY_PLURALS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_CLOSED_WORDS = frozenset({"closed", "stengt"})
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MIDNIGHT = time(0, 0)
_MINUTES_PER_DAY = 24 * 60


# --------------------------------------------------------------------------- instants


class NaiveDatetimeError(ValueError):
    """A datetime without a UTC offset was given where an instant is required."""

    def __init__(self, dt: datetime) -> None:
        super().__init__(
            f"timestamp {dt.isoformat()} has no time zone: a UTC offset is required "
            "(e.g. 2026-05-04T10:00:00+02:00 or 2026-05-04T08:00:00Z)"
        )


def require_aware(dt: datetime) -> datetime:
    """Return ``dt`` converted to UTC; raise :class:`NaiveDatetimeError` when it is naive."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise NaiveDatetimeError(dt)
    return dt.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant, aware UTC."""
    return datetime.now(UTC)


def local(dt: datetime) -> datetime:
    """The aware instant ``dt`` as Europe/Oslo wall time."""
    return require_aware(dt).astimezone(OSLO)


def local_date(dt: datetime) -> date:
    """The Oslo calendar date of an aware instant."""
    return local(dt).date()


def at_local(d: date, t: time) -> datetime:
    """The aware UTC instant of wall time ``t`` on local date ``d`` in Oslo.

    A wall time skipped by the spring DST change is clamped to the moment of the change; a
    repeated wall time (autumn) means its first occurrence.
    """
    return _wall_to_utc(datetime.combine(d, t))


def local_midnight(d: date) -> datetime:
    """The aware UTC instant at which local date ``d`` begins in Oslo."""
    return _wall_to_utc(datetime.combine(d, _MIDNIGHT))


def _wall_to_utc(wall: datetime) -> datetime:
    utc = wall.replace(tzinfo=OSLO, fold=0).astimezone(UTC)
    if utc.astimezone(OSLO).replace(tzinfo=None) == wall:
        return utc
    # ``wall`` lies in the spring gap. fold=0 reads it with the offset before the change
    # (a later instant), fold=1 with the offset after it (an earlier instant); the change
    # itself lies between the two, so bisect for it.
    before = wall.replace(tzinfo=OSLO, fold=1).astimezone(UTC)
    after = utc
    offset_before = before.astimezone(OSLO).utcoffset()
    while after - before > timedelta(seconds=1):
        mid = before + timedelta(seconds=int((after - before).total_seconds()) // 2)
        if mid.astimezone(OSLO).utcoffset() == offset_before:
            before = mid
        else:
            after = mid
    return after


def _end_of_day_wall(d: date, t: time) -> datetime:
    """A close time as a naive wall datetime; 00:00 closes at the end of the day (24:00)."""
    if t == _MIDNIGHT:
        return datetime.combine(d + timedelta(days=1), _MIDNIGHT)
    return datetime.combine(d, t)


# --------------------------------------------------------------------------- opening hours


def _minutes(t: time, *, closing: bool) -> int:
    if closing and t == _MIDNIGHT:
        return _MINUTES_PER_DAY
    return t.hour * 60 + t.minute


def _hhmm(t: time, *, closing: bool) -> str:
    if closing and t == _MIDNIGHT:
        return "24:00"
    return f"{t.hour:02d}:{t.minute:02d}"


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening hours in Oslo wall time.

    ``weekly`` maps a weekday (0=Monday … 6=Sunday) to sorted, non-overlapping
    ``(open, close)`` intervals; a weekday that is missing (or maps to ``()``) is closed.
    Times are whole minutes; a close time of 00:00 means 24:00. Touching intervals are
    merged. The mapping is stored read-only.
    """

    weekly: Mapping[int, tuple[tuple[time, time], ...]]

    def __post_init__(self) -> None:
        if not isinstance(self.weekly, Mapping):
            raise ValueError("opening hours must map weekdays (0=Monday … 6=Sunday) to intervals")
        normalised: dict[int, tuple[tuple[time, time], ...]] = {}
        for weekday, intervals in self.weekly.items():
            if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
                raise ValueError(
                    f"weekday must be an integer 0 (Monday) to 6 (Sunday), got {weekday!r}"
                )
            merged = _normalise_intervals(weekday, intervals)
            if merged:
                normalised[weekday] = merged
        object.__setattr__(self, "weekly", MappingProxyType(dict(sorted(normalised.items()))))

    def __hash__(self) -> int:
        return hash(tuple(self.weekly.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy cannot be pickled or deep-copied; rebuild from a plain dict.
        return (type(self), (dict(self.weekly),))

    @classmethod
    def weekdays(cls, open_: time, close: time) -> OpeningHours:
        """Open ``open_``–``close`` Monday to Friday, closed at weekends."""
        return cls({weekday: ((open_, close),) for weekday in range(5)})

    @classmethod
    def parse(cls, spec: Mapping[str, str]) -> OpeningHours:
        """Read a JSON-friendly spec such as
        ``{"mon-fri": "10:00-14:00", "sat": "09:00-13:00", "sun": "closed"}``.

        Keys are a weekday (``mon`` … ``sun``, or ``man`` … ``søn``), an ascending range
        (``mon-fri``) or a comma list (``sat,sun``). Values are ``closed`` or one or more
        comma-separated ``HH:MM-HH:MM`` ranges; ``24:00`` closes at midnight. A weekday not
        named is closed; naming a weekday twice is an error.
        """
        if not isinstance(spec, Mapping):
            raise ValueError(
                f"opening hours spec must be a mapping like {{'mon-fri': '10:00-14:00'}}, "
                f"got {type(spec).__name__}"
            )
        weekly: dict[int, tuple[tuple[time, time], ...]] = {}
        seen: set[int] = set()
        for key, value in spec.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(
                    f"opening hours spec keys and values must be strings, got {key!r}: {value!r}"
                )
            for weekday in _parse_days(key):
                if weekday in seen:
                    raise ValueError(
                        f"opening hours spec names {_DAY_KEYS[weekday]!r} more than once"
                    )
                seen.add(weekday)
                weekly[weekday] = _parse_intervals(key, value)
        try:
            return cls(weekly)
        except ValueError as exc:
            raise ValueError(f"opening hours spec {dict(spec)!r}: {exc}") from None

    def to_spec(self) -> dict[str, str]:
        """A JSON-storable spec that :meth:`parse` reads back to an equal value.

        Consecutive weekdays with the same hours are grouped (``"mon-fri"``); closed days are
        written as ``"closed"`` so the stored spec reads on its own.
        """
        spec: dict[str, str] = {}
        weekday = 0
        while weekday < 7:
            intervals = self.intervals(weekday)
            last = weekday
            while last + 1 < 7 and self.intervals(last + 1) == intervals:
                last += 1
            key = (
                _DAY_KEYS[weekday] if last == weekday else f"{_DAY_KEYS[weekday]}-{_DAY_KEYS[last]}"
            )
            spec[key] = (
                ",".join(
                    f"{_hhmm(o, closing=False)}-{_hhmm(c, closing=True)}" for o, c in intervals
                )
                or "closed"
            )
            weekday = last + 1
        return spec

    def intervals(self, weekday: int) -> tuple[tuple[time, time], ...]:
        """The local ``(open, close)`` intervals of a weekday; ``()`` when closed."""
        return self.weekly.get(weekday, ())

    def describe(self, weekday: int) -> str:
        """The hours of a weekday as people write them, e.g. ``10:00–14:00``."""
        intervals = self.intervals(weekday)
        if not intervals:
            return "closed"
        return ", ".join(
            f"{_hhmm(o, closing=False)}–{_hhmm(c, closing=True)}" for o, c in intervals
        )


def _normalise_intervals(weekday: int, intervals: Any) -> tuple[tuple[time, time], ...]:
    day = _DAY_KEYS[weekday]
    try:
        pairs = [tuple(pair) for pair in intervals]
    except TypeError:
        raise ValueError(f"{day}: intervals must be a sequence of (open, close) times") from None
    spans: list[tuple[int, int]] = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(t, time) for t in pair):
            raise ValueError(f"{day}: each interval must be an (open, close) pair of times")
        open_, close = pair
        for t in pair:
            if t.tzinfo is not None:
                raise ValueError(f"{day}: opening times are Oslo wall times, without a tzinfo")
            if t.second or t.microsecond:
                raise ValueError(f"{day}: opening times are whole minutes, got {t.isoformat()}")
        start, end = _minutes(open_, closing=False), _minutes(close, closing=True)
        if start >= end:
            raise ValueError(
                f"{day}: interval {_hhmm(open_, closing=False)}-{_hhmm(close, closing=True)} "
                "must open before it closes (intervals cannot run past midnight)"
            )
        spans.append((start, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            raise ValueError(f"{day}: opening intervals overlap")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple((_time_of(start), _time_of(end)) for start, end in merged)


def _time_of(minutes: int) -> time:
    if minutes == _MINUTES_PER_DAY:
        return _MIDNIGHT
    return time(minutes // 60, minutes % 60)


def _parse_days(key: str) -> list[int]:
    days: list[int] = []
    for part in key.split(","):
        part = part.strip().lower()
        first, sep, last = part.partition("-")
        names = [first.strip(), last.strip()] if sep else [first]
        for name in names:
            if name not in _DAY_ALIASES:
                raise ValueError(
                    f"opening hours spec key {key!r}: {name!r} is not a weekday "
                    "(use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, "
                    "or a list like sat,sun)"
                )
        indices = [_DAY_ALIASES[name] for name in names]
        if len(indices) == 2 and indices[0] > indices[1]:
            raise ValueError(
                f"opening hours spec key {key!r}: the range {part!r} must run forwards "
                "within one week (e.g. mon-fri); list wrapping days instead, e.g. sat,sun,mon"
            )
        days.extend(range(indices[0], indices[-1] + 1))
    return days


def _parse_intervals(key: str, value: str) -> tuple[tuple[time, time], ...]:
    text = value.strip()
    if text.lower() in _CLOSED_WORDS:
        return ()
    intervals: list[tuple[time, time]] = []
    for part in text.split(","):
        open_text, sep, close_text = part.replace("–", "-").partition("-")
        open_ = _parse_time(open_text, allow_24=False) if sep else None
        close = _parse_time(close_text, allow_24=True) if sep else None
        if open_ is None or close is None:
            raise ValueError(
                f"opening hours for {key!r}: {value!r} is not valid; expected 'closed' or "
                "time ranges HH:MM-HH:MM separated by commas, e.g. '10:00-14:00'"
            )
        intervals.append((open_, close))
    return tuple(intervals)


def _parse_time(text: str, *, allow_24: bool) -> time | None:
    match = _TIME_RE.match(text.strip())
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2])
    if allow_24 and (hour, minute) == (24, 0):
        return _MIDNIGHT
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


HUB_HOURS = OpeningHours.weekdays(time(10, 0), time(14, 0))
CAFE_HOURS = OpeningHours.weekdays(time(10, 0), time(15, 0))


# --------------------------------------------------------------------------- closures


@dataclass(frozen=True)
class Closure:
    """A staff-made closure (blackout) over ``[start, end)``, stored in UTC.

    A whole-day closure is local midnight to the next local midnight: see
    :meth:`whole_days`.
    """

    start: datetime
    end: datetime
    reason: str

    def __post_init__(self) -> None:
        start, end = require_aware(self.start), require_aware(self.end)
        if end <= start:
            raise ValueError(
                f"closure must end after it starts ({start.isoformat()} to {end.isoformat()})"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def whole_days(cls, first: date, last: date | None = None, reason: str = "") -> Closure:
        """Closed from local midnight of ``first`` to the end of ``last`` (inclusive)."""
        last = first if last is None else last
        if last < first:
            raise ValueError(f"closure ends ({last}) before it starts ({first})")
        return cls(local_midnight(first), local_midnight(last + timedelta(days=1)), reason)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    def describe(self) -> str:
        return f"closed: {self.reason}" if self.reason.strip() else "closed by staff"


# --------------------------------------------------------------------------- holidays


@lru_cache(maxsize=256)
def _holidays_of_year(year: int) -> Mapping[date, str]:
    # include_sundays=False: the library can count every Sunday as a Norwegian "helligdag";
    # weekly closing days come from the opening hours instead.
    table = holidays_lib.country_holidays("NO", years=year, language="no", include_sundays=False)
    return MappingProxyType(dict(table.items()))


def norwegian_holidays(year: int) -> Mapping[date, str]:
    """Norwegian public holidays of a year, with their Norwegian names (Sundays not included)."""
    return _holidays_of_year(year)


# --------------------------------------------------------------------------- calendar


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

    def holiday_name(self, d: date) -> str | None:
        """The Norwegian name of the public holiday on ``d`` (e.g. "Grunnlovsdag"), or None.

        Answers whether or not this calendar closes on holidays.
        """
        return _holidays_of_year(d.year).get(d)

    def _closed_for_holiday(self, d: date) -> bool:
        return self._holidays_closed and self.holiday_name(d) is not None

    def _regular_intervals(self, d: date) -> list[Interval]:
        """The day's opening hours in UTC, ignoring holidays and closures."""
        return _merge(
            [
                (
                    _wall_to_utc(datetime.combine(d, open_)),
                    _wall_to_utc(_end_of_day_wall(d, close)),
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
            return f"closed on {_DAY_PLURALS[d.weekday()]}"
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
