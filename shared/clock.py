"""Which clock a service runs on: the real one, or in the embedded mode a demo clock.

`knutepunkt up --at 2027-03-15T10:30` starts every service's clock at that instant, and it
runs on from there, so that a demo (or a person trying the hub) can lend at the desk and
order take-away at any hour. The launcher passes two settings to each service:

* ``DEMO_CLOCK_AT``: the instant the demo clock read at ``DEMO_CLOCK_SINCE`` (aware ISO 8601);
* ``DEMO_CLOCK_SINCE``: the real instant of that reading (default: when the service started),
  so that services started a few seconds apart still agree on the time.

The demo clock must never reach production: a service refuses to start with
``DEMO_CLOCK_AT`` set unless it runs in the embedded mode, which is the launcher's mark
(``KNUTEPUNKT_EMBEDDED=1``) *and* a SQLite database; no deployment has both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from shared.calendar import OSLO, at_local, utcnow

if TYPE_CHECKING:
    from shared.settings import Settings

__all__ = [
    "AT_FORMS",
    "DemoClockRefused",
    "clock_from_settings",
    "demo_clock_refusal",
    "parse_at",
]

AT_FORMS = (
    "a local Europe/Oslo time (2027-03-15T10:30), an ISO 8601 instant with an offset "
    "(2027-03-15T09:30Z, 2027-03-15T10:30+01:00) or an offset from now (+2h, -1d, +1d3h30m)"
)
_RELATIVE = re.compile(r"^([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


class DemoClockRefused(RuntimeError):
    """DEMO_CLOCK_AT outside the embedded mode: the service must not start."""


def demo_clock_refusal(embedded: bool, database_url: str) -> str | None:
    """Why a demo clock may not be used here (None: it may). An empty URL is the
    services' SQLite default."""
    sqlite = not database_url or database_url.startswith("sqlite")
    if embedded and sqlite:
        return None
    where = "without KNUTEPUNKT_EMBEDDED=1" if not embedded else "on a database that is not SQLite"
    return (
        f"DEMO_CLOCK_AT is set, but this service runs {where}: the demo clock exists only in "
        "the embedded mode (`knutepunkt up --at ...`) and must never reach production. "
        "Unset DEMO_CLOCK_AT (and DEMO_CLOCK_SINCE) to start on the real clock."
    )


def clock_from_settings(
    settings: Settings, real: Callable[[], datetime] = utcnow
) -> Callable[[], datetime]:
    """The service's clock (aware UTC): `real`, or the demo clock running on from
    DEMO_CLOCK_AT. Raises DemoClockRefused outside the embedded mode."""
    at = settings.demo_clock_at
    if at is None:
        return real
    refusal = demo_clock_refusal(settings.knutepunkt_embedded, settings.database_url)
    if refusal:
        raise DemoClockRefused(refusal)
    since = settings.demo_clock_since or real()
    offset = at - since

    def demo_clock() -> datetime:
        return real() + offset

    return demo_clock


def parse_at(text: str, now: datetime) -> datetime:
    """`knutepunkt up --at`: an instant (aware UTC) from one of AT_FORMS."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative and any(relative.groups()[1:]):
        sign, days, hours, minutes = relative.groups()
        delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
        return now + delta if sign == "+" else now - delta
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a time: give {AT_FORMS}") from None
    if parsed.tzinfo is None:
        # Wall time in Oslo; an hour skipped in spring is clamped as the calendar does.
        wall = time(parsed.hour, parsed.minute, parsed.second, parsed.microsecond)
        return at_local(parsed.date(), wall)
    return parsed.astimezone(OSLO).astimezone(utcnow().tzinfo)
