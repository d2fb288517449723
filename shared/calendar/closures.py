"""Staff closures (blackouts): a span of real time, stored in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.calendar.instants import local_midnight, require_aware
from shared.errors import Refused

# The longest closure of whole days staff may make in one go.
MAX_CLOSURE_DAYS = 366


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


def check_whole_days(first: date, last: date, today: date) -> None:
    """A closure of whole days as staff ask for one (the café's, the loans desk's): not
    wholly in the past, not ending before it starts, at most a year. The refusals name the
    last day, the field a person corrects."""
    if last < today:
        raise Refused(
            "the closure is wholly in the past",
            code="closure_in_past",
            nb="hele stengingen ligger i fortiden",
            field="body.last_date",
        )
    if last < first:
        raise Refused(
            "the closure ends before it starts",
            code="closure_ends_before_start",
            nb="stengingen slutter før den begynner",
            field="body.last_date",
        )
    if (last - first).days > MAX_CLOSURE_DAYS:
        raise Refused(
            "a closure can be at most a year long",
            code="closure_too_long",
            nb="en stenging kan vare høyst ett år",
            field="body.last_date",
        )
