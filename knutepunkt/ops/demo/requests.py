"""Every HTTP request the demo makes, in one place: the services are young, and their
request bodies are easiest to follow here. Placeholder contacts only (+47 000 00 0xx,
example.org)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from shared.calendar import at_local
from shared.hubs import DEFAULT_HUB as HUB


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    staff_role: str | None = None  # send a staff token with this role
    headers: dict[str, str] = field(default_factory=dict)


def _at(day: date, hhmm: str) -> str:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return at_local(day, time(hour, minute)).isoformat()


def _contact(name: str, n: int, email_user: str) -> dict[str, Any]:
    return {"name": name, "email": f"{email_user}@example.org", "phone": f"+47 000 00 {n:03d}"}


def club_booking(
    day: date,
    resource_id: str,
    start: str,
    end: str,
    org: tuple[str, str],
    title: str,
    contact: dict[str, Any],
    attendees: int,
    catering: dict[str, Any] | None = None,
) -> Call:
    number, name = org
    body: dict[str, Any] = {
        "resource_id": resource_id,
        "start": _at(day, start),
        "end": _at(day, end),
        "booker_type": "organisation",
        "booker": contact,
        "organisation": {"number": number, "name": name},
        "title": title,
        "attendees": attendees,
    }
    if catering is not None:
        body["catering"] = catering
    return Call("booking", "POST", "/bookings", body)


def chess_club(day: date) -> Call:
    return club_booking(
        day,
        "moterom-1",
        "10:00",
        "11:30",
        ("998877660", "Strømsø Sjakklubb"),
        "Styremøte",
        _contact("Kari Nordmann", 11, "sjakk"),
        attendees=6,
    )


def hiking_club(day: date) -> Call:
    return club_booking(
        day,
        "moterom-2",
        "12:00",
        "13:00",
        ("987654325", "Drammen Turlag, Strømsø"),
        "Turplanlegging",
        _contact("Per Hansen", 12, "turlag"),
        attendees=5,
    )


def volunteers_with_lunch(day: date) -> Call:
    return club_booking(
        day,
        "moterom-1",
        "12:00",
        "14:00",
        ("923456783", "Frivilligsentralen Strømsø"),
        "Frivilligmøte med lunsj",
        _contact("Aisha Rahimi", 13, "frivillig"),
        attendees=10,
        catering={
            "lines": [
                {"item_id": "kaffe-te", "quantity": 10},
                {"item_id": "lunsj-baguette", "quantity": 10},
            ],
            "people": 10,
            "serve_at": _at(day, "12:00"),
            "note": "To vegetar",
        },
    )


def birthday_party(day: date) -> Call:
    return Call(
        "booking",
        "POST",
        "/bookings",
        {
            "resource_id": "gymsalen",
            "start": _at(day, "17:00"),
            "end": _at(day, "19:00"),
            "booker_type": "person",
            "booker": _contact("Lise Berg", 14, "bursdag"),
            "title": "Bursdagsfeiring, 8 år",
            "attendees": 25,
        },
    )


def approve(booking_id: str) -> Call:
    return Call("booking", "POST", f"/bookings/{booking_id}/approve", staff_role="booking")


def cancel_by_owner(booking_id: str, manage_token: str) -> Call:
    return Call(
        "booking",
        "POST",
        f"/bookings/{booking_id}/cancel",
        {"reason": "Møtet er flyttet"},
        headers={"X-Manage-Token": manage_token},
    )


def lend(kind: str, name: str, n: int, started_at: datetime | None = None) -> Call:
    body: dict[str, Any] = {
        "hub": HUB,
        "kind": kind,
        "borrower": {
            "name": name,
            "phone": f"+47 000 00 {n:03d}",
            "email": f"laaner{n}@example.org",
        },
    }
    if started_at is not None:  # the desk is closed: registered from the paper log
        body["started_at"] = started_at.isoformat()
    return Call("loans", "POST", "/loans", body, staff_role="desk")


def give_back(loan_id: str) -> Call:
    return Call("loans", "POST", f"/loans/{loan_id}/return", {"condition": "ok"}, staff_role="desk")


def takeaway(day: date) -> Call:
    return takeaway_at(at_local(day, time(11, 30)))


def takeaway_at(pickup_at: datetime) -> Call:
    return Call(
        "catering",
        "POST",
        "/orders",
        {
            "hub": HUB,
            "kind": "takeaway",
            "pickup_at": pickup_at.isoformat(),
            "lines": [
                {"item_id": "linsesuppe", "quantity": 2},
                {"item_id": "kanelbolle", "quantity": 3},
            ],
            "customer": _contact("Jonas Lie", 21, "takeaway"),
        },
    )


def catering_order(day: date) -> Call:
    return Call(
        "catering",
        "POST",
        "/orders",
        {
            "hub": HUB,
            "kind": "catering",
            "pickup_at": _at(day, "13:00"),
            "people": 20,
            "lines": [
                {"item_id": "kaffe-te", "quantity": 20},
                {"item_id": "fruktfat", "quantity": 2},
            ],
            "customer": _contact("Nærmiljøgruppa Strømsø", 22, "naermiljo"),
            "note": "Hentes i resepsjonen",
        },
    )


def accept_order(order_id: str) -> Call:
    return Call("catering", "POST", f"/orders/{order_id}/accept", staff_role="cafe")


def notifications(limit: int = 500) -> Call:
    return Call("notify", "GET", f"/notifications?limit={limit}", staff_role="admin")
