"""Weekly opening hours in Oslo wall time, and the JSON-friendly spec staff write them in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from types import MappingProxyType
from typing import Any

from shared.calendar.instants import MIDNIGHT

_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{key: i for i, key in enumerate(_DAY_KEYS)},
    # Staff write specs too; accept the Norwegian abbreviations as well.
    **{key: i for i, key in enumerate(("man", "tir", "ons", "tor", "fre", "lør", "søn"))},
}
DAY_PLURALS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_CLOSED_WORDS = frozenset({"closed", "stengt"})
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTES_PER_DAY = 24 * 60


def _minutes(t: time, *, closing: bool) -> int:
    if closing and t == MIDNIGHT:
        return _MINUTES_PER_DAY
    return t.hour * 60 + t.minute


def _hhmm(t: time, *, closing: bool) -> str:
    if closing and t == MIDNIGHT:
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
        return MIDNIGHT
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
        return MIDNIGHT
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


HUB_HOURS = OpeningHours.weekdays(time(10, 0), time(14, 0))
CAFE_HOURS = OpeningHours.weekdays(time(10, 0), time(15, 0))
