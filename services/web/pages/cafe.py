"""Kafé: the orders of a day by status; accept or reject short-notice orders, mark ready and
picked up; the prep list for the day, printable."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.common import back, flash, form_of, parse_day, render, today
from services.web.staff import Actor, staff

router = APIRouter()
CAFE = "cafe"
PAGE = "/ansatt/kafe"
# The page's words for the service's actions.
ACTIONS = {"aksepter": "accept", "avvis": "reject", "klar": "ready", "hentet": "picked-up"}
ORDER = ("pending_acceptance", "placed", "accepted", "ready", "picked_up", "rejected", "cancelled")


@router.get(PAGE, response_class=HTMLResponse)
async def cafe_page(
    request: Request, dato: str | None = None, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse:
    return await _render(request, actor, dato)


async def _render(
    request: Request,
    actor: Actor,
    dato: str | None,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    day = parse_day(dato) or today()
    orders = await request.app.state.services.catering.orders(actor.caller, day)
    groups = [(s, [o for o in orders if o["status"] == s]) for s in ORDER]
    return render(
        request,
        "staff/cafe.html",
        status,
        title_key="cafe.title",
        live=("orders",),
        day=day,
        previous=day - timedelta(days=1),
        next=day + timedelta(days=1),
        is_today=day == today(),
        groups=[(s, rows) for s, rows in groups if rows],
        count=len(orders),
        errors=errors or {},
        values=values or {},
    )


@router.get(PAGE + "/produksjonsliste", response_class=HTMLResponse)
async def prep_list(
    request: Request, dato: str | None = None, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse:
    day = parse_day(dato) or today()
    prep = await request.app.state.services.catering.prep_list(actor.caller, day)
    return render(
        request, "staff/prep.html", title_key="prep.title", live=("orders",), day=day, prep=prep
    )


@router.post(PAGE + "/{order_id}/{action}", response_model=None)
async def act(
    request: Request, order_id: str, action: str, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    dato = form.get("dato")
    verb = ACTIONS.get(action)
    if verb is None:
        return back(PAGE)
    reason = form.get("reason", "") if verb == "reject" else None
    if verb == "reject" and not reason:
        missing = i18n.text(request.state.lang, "cafe.reason.missing")
        return await _render(request, actor, dato, 422, {order_id: {"reason": missing}})
    try:
        await request.app.state.services.catering.act(actor.caller, order_id, verb, reason)
    except Refused as exc:
        field = "reason" if verb == "reject" and exc.field else "action"
        return await _render(
            request, actor, dato, 409, {order_id: {field: exc.detail}}, {order_id: reason or ""}
        )
    flash(request, f"cafe.done.{verb}")
    return back(f"{PAGE}?dato={dato}" if parse_day(dato) else PAGE)
