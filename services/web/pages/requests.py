"""Forespørsler: bookings that wait for a booking officer, oldest first, with what may
stand in the way (a closure over it, the club's weekly free hours); approve, or reject
with a reason."""

from __future__ import annotations

import asyncio
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
    # One call: the booking service answers the requests, oldest first, with each club's
    # weekly free hours (its own quota rule, counted where the bookings are).
    pending, closures = await asyncio.gather(
        services.booking.requests(actor.caller), part(services.booking.closures(), [])
    )
    rows = [
        {"booking": b, "closures": _closures_over(b, closures.value), "quota": b["free_hours"]}
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
