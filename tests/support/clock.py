"""The one test clock for every suite: a service's clock (aware UTC) that a test sets and
moves. Still by default; `moving=True` lets real time pass from the chosen start (for tests
whose services run their own timers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from shared.calendar import at_local


class TestClock:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, start: datetime, *, moving: bool = False) -> None:
        self.moving = moving
        self._at = start
        self._since = datetime.now(UTC)

    def __call__(self) -> datetime:
        if self.moving:
            return self._at + (datetime.now(UTC) - self._since)
        return self._at

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        self._at = at
        self._since = datetime.now(UTC)

    def set_local(self, d: date, t: time) -> None:
        self.set(at_local(d, t))

    def advance(self, delta: timedelta | None = None, **parts: float) -> None:
        self.set(self() + (delta or timedelta()) + timedelta(**parts))

    jump = advance
