"""Stengt: the hub's and the rooms' closures, and for each what it touches, as far as the
services' APIs tell it today: the bookings inside it, the café's orders on its days, and
the loans that fall due in it; the café's own closures (whole days) and the loans desk's.
Booking officers add closures of the hub or a room here and cancel or keep each booking a
closure fell on; the café and the desk add their own."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.common import back, flash, form_of, parse_day, part, render, skipped
from services.web.staff import Actor, staff

router = APIRouter()
PAGE = "/ansatt/stengt"
SHOWN = 10  # closures whose effects are looked up; the rest are listed only
ORDER_DAYS = 14  # the café's days looked at per closure
FINAL_ORDERS = {"picked_up", "rejected", "cancelled"}
SERVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # a booking's or closure's id


@router.get(PAGE, response_class=HTMLResponse)
async def closures_page(request: Request, actor: Actor = Depends(staff())) -> HTMLResponse:
    return await _render(request, actor)


async def _render(
    request: Request,
    actor: Actor,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    services = request.app.state.services
    closures = sorted(await services.booking.closures(), key=lambda c: c["start"])
    resources, cafe_closures, loans = await asyncio.gather(
        part(services.booking.resources(), []),
        part(services.catering.closures(), []),
        part(services.loans.loans(actor.caller, "active"), []) if actor.may("desk") else skipped(),
    )
    desk_closures = await (part(services.loans.closures(), []) if actor.may("desk") else skipped())
    names = {r["id"]: r["name"] for r in resources.value}
    due = None if loans.down else loans.value  # not "none due" when loans is away
    touched = await asyncio.gather(*(_touches(request, actor, c, due) for c in closures[:SHOWN]))
    return render(
        request,
        "staff/closures.html",
        status,
        title_key="closures.title",
        live=("bookings",),
        closures=[
            {
                "closure": c,
                "place": names.get(c["resource_id"] or ""),
                "touches": touched[n] if n < SHOWN else None,
            }
            for n, c in enumerate(closures)
        ],
        cafe_closures=[_cafe_days(c) for c in cafe_closures.value],
        cafe_down=cafe_closures.down,
        resources=resources.value,
        may_add=actor.may("booking"),
        may_add_cafe=actor.may("cafe"),
        may_add_desk=actor.may("desk"),
        desk_closures=None
        if desk_closures.value is None
        else [_cafe_days(c) for c in desk_closures.value],
        desk_down=desk_closures.down,
        errors=errors or {},
        values=values or {},
    )


def _cafe_days(closure: dict[str, Any]) -> dict[str, Any]:
    """A café closure as the days it covers: it runs from midnight to midnight, so its last
    day is the one before its end."""
    first = i18n.local(closure["start_at"]).date()
    last = (i18n.local(closure["end_at"]) - timedelta(microseconds=1)).date()
    return {**closure, "first": first, "last": last}


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    count = min((last - first).days + 1, ORDER_DAYS)
    return [first + timedelta(days=n) for n in range(count)]


async def _touches(
    request: Request, actor: Actor, closure: dict[str, Any], loans: list[Any] | None
) -> dict[str, Any]:
    services = request.app.state.services
    start, end = i18n.local(closure["start"]), i18n.local(closure["end"])
    # The bookings the closure fell on when it was added, each with staff's choice.
    bookings = (
        part(services.booking.closure_bookings(actor.caller, closure["id"]), [])
        if actor.may("booking")
        else skipped()
    )
    orders = (
        part(
            asyncio.gather(*(services.catering.orders(actor.caller, d) for d in _days(start, end))),
            [],
        )
        if actor.may("cafe") and closure["resource_id"] is None
        else skipped()
    )
    found_bookings, found_orders = await asyncio.gather(bookings, orders)
    return {
        "bookings": found_bookings.value,
        "orders": None
        if found_orders.value is None
        else [o for day in found_orders.value for o in day if o["status"] not in FINAL_ORDERS],
        "loans": None
        if loans is None or closure["resource_id"] is not None
        else [loan for loan in loans if start <= i18n.local(loan["due_at"]) < end],
        "down": found_bookings.down or found_orders.down,
    }


def _moment(day: str, clock: str) -> datetime | None:
    try:
        return datetime.fromisoformat(f"{day}T{clock or '00:00'}").replace(tzinfo=i18n.OSLO)
    except ValueError:
        return None


@router.post(PAGE, response_model=None)
async def add_closure(
    request: Request, actor: Actor = Depends(staff("booking"))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    lang = request.state.lang
    start = _moment(form.get("start_date", ""), form.get("start_time", ""))
    end = _moment(form.get("end_date", ""), form.get("end_time", ""))
    errors: dict[str, str] = {}
    if start is None:
        errors["start_date"] = i18n.text(lang, "closures.date.invalid")
    if end is None:
        errors["end_date"] = i18n.text(lang, "closures.date.invalid")
    if not form.get("reason"):
        errors["reason"] = i18n.text(lang, "closures.reason.missing")
    if errors:
        return await _render(request, actor, 422, errors, form)
    body = {
        "resource_id": form.get("resource_id") or None,
        "start": start.isoformat(),  # type: ignore[union-attr]  # no errors: both parsed
        "end": end.isoformat(),  # type: ignore[union-attr]  # no errors: both parsed
        "reason": form["reason"],
    }
    try:
        made = await request.app.state.services.booking.add_closure(actor.caller, body)
    except Refused as exc:
        name = (exc.field or "").split(".")[-1]
        field = {"start": "start_date", "end": "end_date", "reason": "reason"}.get(name, "form")
        return await _render(request, actor, 422, {field: exc.detail}, form)
    flash(request, "closures.added", count=len(made.get("affected_bookings") or []))
    return back(PAGE)


@dataclass(frozen=True)
class _WholeDays:
    first: date
    last: date
    reason: str

    @property
    def body(self) -> dict[str, str]:
        return {
            "first_date": self.first.isoformat(),
            "last_date": self.last.isoformat(),
            "reason": self.reason,
        }


def _whole_days(
    form: dict[str, str], prefix: str, lang: str
) -> tuple[_WholeDays | None, dict[str, str]]:
    """The café's or the loans desk's closure form (fields `<prefix>_first_date`,
    `_last_date`, `_reason`): whole days, one when no last day is given."""
    first = parse_day(form.get(f"{prefix}_first_date"))
    last = parse_day(form.get(f"{prefix}_last_date")) or first
    errors: dict[str, str] = {}
    if first is None:
        errors[f"{prefix}_first_date"] = i18n.text(lang, "closures.date.invalid")
    elif last is not None and last < first:
        errors[f"{prefix}_last_date"] = i18n.text(lang, "closures.cafe.order")
    reason = form.get(f"{prefix}_reason") or ""
    if not reason:
        errors[f"{prefix}_reason"] = i18n.text(lang, "closures.reason.missing")
    if errors or first is None or last is None:
        return None, errors
    return _WholeDays(first, last, reason), errors


def _refused_beside(exc: Refused, prefix: str) -> dict[str, str]:
    """The service's reason beside the field of the form it names."""
    name = (exc.field or "").split(".")[-1]
    known = {"first_date", "last_date", "reason"}
    return {f"{prefix}_{name}" if name in known else f"{prefix}_form": exc.detail}


@router.post(PAGE + "/kafe", response_model=None)
async def add_cafe_closure(
    request: Request, actor: Actor = Depends(staff("cafe"))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    days, errors = _whole_days(form, "cafe", request.state.lang)
    if days is None:
        return await _render(request, actor, 422, errors, form)
    try:
        await request.app.state.services.catering.add_closure(actor.caller, days.body)
    except Refused as exc:
        return await _render(request, actor, exc.status, _refused_beside(exc, "cafe"), form)
    lang = request.state.lang
    first, last = days.first, days.last
    flash(
        request,
        "closures.cafe.added",
        first=i18n.day_name(lang, first),
        last=i18n.day_name(lang, last),
    )
    return back(PAGE)


# The page's words for the booking service's choices on a booking a closure fell on.
DECISIONS = {"avlys": "cancel", "behold": "keep"}


@router.post(PAGE + "/{closure_id}/bookinger/{booking_id}/{action}", response_model=None)
async def decide_booking(
    request: Request,
    closure_id: str,
    booking_id: str,
    action: str,
    actor: Actor = Depends(staff("booking")),
) -> HTMLResponse | RedirectResponse:
    await form_of(request)
    verb = DECISIONS.get(action)
    # Ids go into the service's address: nothing but an id's characters (no "..").
    if verb is None or not (SERVICE_ID.match(closure_id) and SERVICE_ID.match(booking_id)):
        return back(PAGE)
    services = request.app.state.services
    try:
        decided = await services.booking.decide_closure_booking(
            actor.caller, closure_id, booking_id, verb
        )
    except Refused as exc:
        return await _render(request, actor, exc.status, {f"booking-{booking_id}": exc.detail})
    if services.cache is not None:
        services.cache.drop("booking")  # a cancellation shows at once on I dag
    booking = decided["booking"]
    flash(
        request,
        f"closures.decided.{verb}",
        title=booking.get("title") or booking["resource_name"],
        when=i18n.when(request.state.lang, booking["start"]),
    )
    return back(f"{PAGE}#stengt-{closure_id}")


@router.post(PAGE + "/utlan", response_model=None)
async def add_desk_closure(
    request: Request, actor: Actor = Depends(staff("desk"))
) -> HTMLResponse | RedirectResponse:
    """The loans desk closed for whole days: loans due and offers held then run to the next
    open day (the loans service moves them and says how many)."""
    form = await form_of(request)
    days, errors = _whole_days(form, "desk", request.state.lang)
    if days is None:
        return await _render(request, actor, 422, errors, form)
    try:
        added = await request.app.state.services.loans.add_closure(actor.caller, days.body)
    except Refused as exc:
        return await _render(request, actor, exc.status, _refused_beside(exc, "desk"), form)
    lang = request.state.lang
    first, last = days.first, days.last
    flash(
        request,
        "closures.desk.added",
        first=i18n.day_name(lang, first),
        last=i18n.day_name(lang, last),
        moved=added.get("loans_moved") or 0,
    )
    return back(PAGE)
