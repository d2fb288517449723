"""I dag: today's and tomorrow's bookings per room and Gymsalen (time, organisation, title,
catering), closures, public activities with sign-ups, and for the café and the desk their
own day at a glance. Printable."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.closures import SERVICE_ID
from services.web.pages.common import (
    back,
    day_bounds,
    flash,
    form_of,
    part,
    render,
    skipped,
    today,
)
from services.web.staff import Actor, staff

router = APIRouter()
# Released: a no-show the booking service let go; shown so the desk knows the room is free.
SHOWN = {"confirmed", "pending", "released"}


@router.get("/ansatt/", response_class=HTMLResponse)
async def today_page(request: Request, actor: Actor = Depends(staff())) -> HTMLResponse:
    return await _render(request, actor)


@router.post("/ansatt/bookinger/{booking_id}/sjekk-inn", response_model=None)
async def check_in(
    request: Request, booking_id: str, actor: Actor = Depends(staff("booking"))
) -> HTMLResponse | RedirectResponse:
    """Staff say a confirmed booking is in use, so it is not released as a no-show."""
    await form_of(request)
    if not SERVICE_ID.match(booking_id):  # it goes into the service's address
        return back("/ansatt/")
    try:
        booking = await request.app.state.services.booking.check_in(actor.caller, booking_id)
    except Refused as exc:
        return await _render(request, actor, exc.status, {booking_id: exc.detail})
    flash(
        request,
        "today.checked_in.done",
        title=booking.get("title") or booking["resource_name"],
        time=i18n.clock(booking["start"]),
    )
    return back(f"/ansatt/#booking-{booking_id}")


async def _render(
    request: Request, actor: Actor, status: int = 200, errors: dict[str, str] | None = None
) -> HTMLResponse:
    services = request.app.state.services
    first = today()
    start, end = day_bounds(first, 2)
    nothing: list[Any] = []
    resources, bookings, activities, closures, orders, due = await asyncio.gather(
        part(services.booking.resources(), nothing),
        part(services.booking.bookings(actor.caller, start=start, end=end), nothing)
        if actor.may("booking")
        else skipped(),
        part(services.booking.activities(start, end), nothing),
        part(services.booking.closures(), nothing),
        part(services.catering.orders(actor.caller, first), nothing)
        if actor.may("cafe")
        else skipped(),
        part(services.loans.loans(actor.caller, "active"), nothing)
        if actor.may("desk")
        else skipped(),
    )
    days = [first, first + timedelta(days=1)]
    shown_days = [_day(d, resources, bookings, activities, closures) for d in days]
    # A refusal about a booking no longer on the page (cancelled meanwhile) goes on top.
    shown = {b["id"] for d in shown_days for r in d["resources"] for b in r["bookings"]}
    gone = [message for key, message in (errors or {}).items() if key not in shown]
    return render(
        request,
        "staff/today.html",
        status,
        title_key="today.title",
        errors=errors or {},
        live=("bookings", "orders", "loans"),
        days=shown_days,
        status_text={s: i18n.text(request.state.lang, f"booking.{s}") for s in SHOWN},
        gone=gone,
        bookings_shown=actor.may("booking"),
        orders=None if orders.down or orders.value is None else _order_counts(orders.value),
        orders_down=orders.down,
        due_today=None if due.down or due.value is None else _due_on(due.value, first),
        loans_down=due.down,
    )


def _on(day: date, moment: str) -> bool:
    return i18n.local(moment).date() == day


def _day(
    day: date, resources: Any, bookings: Any, activities: Any, closures: Any
) -> dict[str, Any]:
    rows = [b for b in bookings.value or [] if b["status"] in SHOWN and _on(day, b["start"])]
    per_resource = [
        {
            "resource": r,
            "bookings": sorted(
                (b for b in rows if b["resource_id"] == r["id"]), key=lambda b: b["start"]
            ),
        }
        for r in resources.value or []
    ]
    start, end = day_bounds(day)
    closed = [
        c
        for c in closures.value or []
        if i18n.local(c["start"]) < end and i18n.local(c["end"]) > start
    ]
    return {
        "date": day,
        "resources": per_resource,
        "bookings_down": bookings.down,
        "resources_down": resources.down,
        "activities": [a for a in activities.value or [] if _on(day, a["start"])],
        "activities_down": activities.down,
        "closures": closed,
        "closures_down": closures.down,
    }


def _order_counts(orders: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in orders:
        counts[order["status"]] = counts.get(order["status"], 0) + 1
    return counts


def _due_on(loans: list[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    return [loan for loan in loans if _on(day, loan["due_at"])]
