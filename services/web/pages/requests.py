"""Forespørsler: bookings that wait for a booking officer, oldest first, with what may
stand in the way (a closure over it, the club's weekly free hours); approve, or reject
with a reason."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.common import back, flash, form_of, part, render
from services.web.staff import Actor, staff

router = APIRouter()
BOOKING = "booking"
PAGE = "/ansatt/foresporsler"


@router.get(PAGE, response_class=HTMLResponse)
async def requests_page(request: Request, actor: Actor = Depends(staff(BOOKING))) -> HTMLResponse:
    return await _render(request, actor)


async def _render(
    request: Request,
    actor: Actor,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    services = request.app.state.services
    pending = await services.booking.bookings(actor.caller, status="pending")
    pending.sort(key=lambda b: b["created_at"])
    resources, closures, quota_rows = await asyncio.gather(
        part(services.booking.resources(), []),
        part(services.booking.closures(), []),
        part(_quota_bookings(services, actor, pending), []),
    )
    by_id = {r["id"]: r for r in resources.value}
    held = _free_hours_held(quota_rows.value)
    rows = [
        {
            "booking": b,
            "closures": _closures_over(b, closures.value),
            "quota": _quota(b, by_id.get(b["resource_id"]), held),
        }
        for b in pending
    ]
    shown = {b["id"] for b in pending}
    return render(
        request,
        "staff/requests.html",
        status,
        title_key="requests.title",
        live=("bookings",),
        rows=rows,
        errors=errors or {},
        values=values or {},
        # A refusal for a request no longer waiting (someone else answered it first).
        gone=[
            e for bid, found in (errors or {}).items() if bid not in shown for e in found.values()
        ],
    )


def _closures_over(booking: dict[str, Any], closures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start, end = i18n.local(booking["start"]), i18n.local(booking["end"])
    return [
        c
        for c in closures
        if c.get("resource_id") in (None, booking["resource_id"])
        and i18n.local(c["start"]) < end
        and i18n.local(c["end"]) > start
    ]


def _week(moment: str) -> tuple[datetime, datetime]:
    local = i18n.local(moment)
    monday = (local - timedelta(days=local.weekday())).date()
    start = datetime.combine(monday, datetime.min.time(), i18n.OSLO)
    return start, datetime.combine(monday + timedelta(days=7), datetime.min.time(), i18n.OSLO)


async def _quota_bookings(services: Any, actor: Actor, pending: list[dict[str, Any]]) -> list[Any]:
    """The active bookings of the weeks the organisations' requests fall in, per resource:
    one call per resource, over the weeks that matter."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for b in pending:
        if not b.get("organisation_number"):
            continue
        start, end = _week(b["start"])
        known = spans.get(b["resource_id"])
        spans[b["resource_id"]] = (
            (min(start, known[0]), max(end, known[1])) if known else (start, end)
        )
    found = await asyncio.gather(
        *(
            services.booking.bookings(actor.caller, start=s, end=e, resource_id=rid)
            for rid, (s, e) in spans.items()
        )
    )
    return [b for rows in found for b in rows if b["status"] in ("confirmed", "pending")]


def _hours(booking: dict[str, Any]) -> float:
    length = datetime.fromisoformat(booking["end"]) - datetime.fromisoformat(booking["start"])
    return length.total_seconds() / 3600


# (organisation, resource, Monday of the week) -> [(booking id, hours)]
Held = dict[tuple[str, str, datetime], list[tuple[str, float]]]


def _free_hours_held(others: list[dict[str, Any]]) -> Held:
    """The free hours each organisation holds per resource and week, read once per page
    (matching each request against every booking of the weeks parsed those bookings' times
    again for every request: quadratic in the requests waiting)."""
    held: Held = {}
    for b in others:
        if b["organisation_number"] and b["free_of_charge"]:
            key = (b["organisation_number"], b["resource_id"], _week(b["start"])[0])
            held.setdefault(key, []).append((b["id"], _hours(b)))
    return held


def _quota(
    booking: dict[str, Any], resource: dict[str, Any] | None, held: Held
) -> dict[str, float] | None:
    org = booking.get("organisation_number")
    limit = (resource or {}).get("weekly_free_hours")
    if not org or limit is None:
        return None
    week = _week(booking["start"])[0]
    used = sum(
        hours
        for booking_id, hours in held.get((org, booking["resource_id"], week), [])
        if booking_id != booking["id"]
    )
    with_this = used + _hours(booking)
    return {"limit": float(limit), "used": used, "with_this": with_this, "over": with_this > limit}


@router.post(PAGE + "/{booking_id}/godkjenn", response_model=None)
async def approve(
    request: Request, booking_id: str, actor: Actor = Depends(staff(BOOKING))
) -> HTMLResponse | RedirectResponse:
    await form_of(request)
    try:
        done = await request.app.state.services.booking.approve(actor.caller, booking_id)
    except Refused as exc:
        return await _render(request, actor, 409, {booking_id: {"approve": exc.detail}})
    flash(request, "requests.approved", title=done.get("title") or done["resource_name"])
    return back(PAGE)


@router.post(PAGE + "/{booking_id}/avslag", response_model=None)
async def reject(
    request: Request, booking_id: str, actor: Actor = Depends(staff(BOOKING))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    reason = form.get("reason", "")
    if not reason:
        missing = i18n.text(request.state.lang, "requests.reason.missing")
        return await _render(
            request, actor, 422, {booking_id: {"reason": missing}}, {booking_id: reason}
        )
    try:
        done = await request.app.state.services.booking.reject(actor.caller, booking_id, reason)
    except Refused as exc:
        field = "reason" if exc.field and "reason" in exc.field else "approve"
        return await _render(
            request, actor, 422, {booking_id: {field: exc.detail}}, {booking_id: reason}
        )
    flash(request, "requests.rejected", title=done.get("title") or done["resource_name"])
    return back(PAGE)
