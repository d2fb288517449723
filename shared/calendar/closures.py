"""Staff closures (blackouts): a span of real time, stored in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.calendar.instants import local_midnight, require_aware


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
