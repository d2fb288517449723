"""One calendar for everything: opening hours, Norwegian public holidays and staff closures.

Every service computes its dates and times from this package: booking slots, loan pick-up and
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

One concept per module: `instants` (UTC and Oslo wall time), `hours` (weekly opening hours),
`closures` (staff closures), `holidays` (Norwegian public holidays) and `calendar` (the
questions asked of all of them together). Import from `shared.calendar`.
"""

from shared.calendar.calendar import MAX_SEARCH_DAYS, Calendar, Interval
from shared.calendar.closures import Closure, check_whole_days
from shared.calendar.holidays import load_holidays, norwegian_holidays
from shared.calendar.hours import CAFE_HOURS, HUB_HOURS, OpeningHours
from shared.calendar.instants import (
    OSLO,
    NaiveDatetimeError,
    at_local,
    local,
    local_date,
    local_midnight,
    require_aware,
    utcnow,
)

__all__ = [
    "CAFE_HOURS",
    "HUB_HOURS",
    "MAX_SEARCH_DAYS",
    "OSLO",
    "Calendar",
    "Closure",
    "Interval",
    "NaiveDatetimeError",
    "OpeningHours",
    "at_local",
    "check_whole_days",
    "load_holidays",
    "local",
    "local_date",
    "local_midnight",
    "norwegian_holidays",
    "require_aware",
    "utcnow",
]
