"""The .ics invitation a booking email carries (RFC 5545, built with `icalendar`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from icalendar import Calendar, Event

from shared.events import EventData

ADDRESS = "Telthusgata 8, 3044 Drammen"


def booking_invitation(
    data: EventData, method: Literal["publish", "cancel"], hub_name: str, now: datetime
) -> bytes:
    """One VEVENT per booking, its UID stable, so a calendar updates (or, with CANCEL,
    removes) the entry it already has instead of adding a second one."""
    cal = Calendar()
    cal.add("prodid", "-//Knutepunkt//notify//NO")
    cal.add("version", "2.0")
    cal.add("method", method.upper())
    event = Event()
    booking_id = str(getattr(data, "booking_id"))  # noqa: B009
    event.add("uid", f"booking-{booking_id}@knutepunkt")
    event.add("dtstamp", now)
    event.add("dtstart", getattr(data, "start"))  # noqa: B009
    event.add("dtend", getattr(data, "end"))  # noqa: B009
    title = getattr(data, "title", None) or getattr(data, "resource_name", "Booking")
    event.add("summary", title)
    event.add("location", f"{getattr(data, 'resource_name', '')}, {hub_name}, {ADDRESS}")
    # A cancelled booking gets a higher sequence than its confirmation.
    event.add("sequence", 1 if method == "cancel" else 0)
    event.add("status", "CANCELLED" if method == "cancel" else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()
