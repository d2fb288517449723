"""Instants: aware UTC in and out, and Europe/Oslo wall time for the rules (the DST
conventions are the package's, see shared/calendar/__init__.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
MIDNIGHT = time(0, 0)


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
    return wall_to_utc(datetime.combine(d, t))


def local_midnight(d: date) -> datetime:
    """The aware UTC instant at which local date ``d`` begins in Oslo."""
    return wall_to_utc(datetime.combine(d, MIDNIGHT))


def wall_to_utc(wall: datetime) -> datetime:
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


def end_of_day_wall(d: date, t: time) -> datetime:
    """A close time as a naive wall datetime; 00:00 closes at the end of the day (24:00)."""
    if t == MIDNIGHT:
        return datetime.combine(d + timedelta(days=1), MIDNIGHT)
    return datetime.combine(d, t)
