"""Kafé: the orders of a day by status; accept or reject short-notice orders, mark ready and
picked up; the day's capacity, seen and changed; the prep list for the day, printable; the
menu, where each item is put on or taken off sale and its allergens are set."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.common import back, flash, form_of, parse_day, part, render, today
from services.web.staff import Actor, staff

router = APIRouter()
CAFE = "cafe"
PAGE = "/ansatt/kafe"
# The page's words for the service's actions.
ACTIONS = {"aksepter": "accept", "avvis": "reject", "klar": "ready", "hentet": "picked-up"}
ORDER = ("pending_acceptance", "placed", "accepted", "ready", "picked_up", "rejected", "cancelled")
MENU = PAGE + "/meny"
# The 14 allergens of EU 1169/2011, by the catering service's codes, in the order a
# Norwegian menu lists them; the names are the page's (texts.py: allergen.<code>).
ALLERGENS = (
    "gluten",
    "crustaceans",
    "eggs",
    "fish",
    "peanuts",
    "soybeans",
    "milk",
    "nuts",
    "celery",
    "mustard",
    "sesame",
    "sulphites",
    "lupin",
    "molluscs",
)
ITEM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")  # the catering service's item ids


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
    catering = request.app.state.services.catering
    orders, prep = await asyncio.gather(
        catering.orders(actor.caller, day), part(catering.prep_list(actor.caller, day))
    )
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
        capacity_changeable=day >= today(),  # the service refuses a past day
        groups=[(s, rows) for s, rows in groups if rows],
        count=len(orders),
        capacity=prep.value["capacity"] if prep.value else None,
        capacity_down=prep.down,
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


@router.post(PAGE + "/kapasitet", response_model=None)
async def set_capacity(
    request: Request, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    dato = form.get("dato")
    day = parse_day(dato) or today()
    portions = form.get("portions", "")
    if not (portions.isascii() and portions.isdigit()):  # "²" is a digit to isdigit()
        wrong = i18n.text(request.state.lang, "cafe.capacity.invalid")
        return await _render(request, actor, dato, 422, {"capacity": {"portions": wrong}}, form)
    try:
        await request.app.state.services.catering.set_capacity(actor.caller, day, int(portions))
    except Refused as exc:
        # The form has one field: the day's refusal (in the past) is about it too.
        errors = {"capacity": {"portions": exc.detail}}
        return await _render(request, actor, dato, exc.status, errors, form)
    flash(request, "cafe.capacity.saved", day=i18n.day_name(request.state.lang, day), n=portions)
    return back(f"{PAGE}?dato={day.isoformat()}")


@router.get(MENU, response_class=HTMLResponse)
async def menu_page(request: Request, actor: Actor = Depends(staff(CAFE))) -> HTMLResponse:
    return await _render_menu(request, actor)


async def _render_menu(
    request: Request,
    actor: Actor,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
) -> HTMLResponse:
    items = await request.app.state.services.catering.menu()
    items.sort(key=lambda i: (i["category"], i["name_nb"]))
    return render(
        request,
        "staff/menu.html",
        status,
        title_key="menu.title",
        items=items,
        allergens=ALLERGENS,
        errors=errors or {},
        values=values or {},
    )


@router.post(MENU + "/{item_id}/endre", response_model=None)
async def change_item(
    request: Request, item_id: str, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    if not ITEM_ID.match(item_id):
        return back(MENU)
    # A checkbox that is not ticked is not sent: the form says the whole state of the item.
    changes: dict[str, Any] = {
        "available": form.get("available") == "on",
        "allergens": [code for code in ALLERGENS if form.get(f"allergen_{code}") == "on"],
    }
    try:
        item = await request.app.state.services.catering.update_item(actor.caller, item_id, changes)
    except Refused as exc:
        name = (exc.field or "").split(".")[-1]
        field = name if name in ("available", "allergens") else "form"
        errors = {item_id: {field: exc.detail}}
        return await _render_menu(request, actor, exc.status, errors, {item_id: changes})
    key = "menu.saved.available" if item["available"] else "menu.saved.unavailable"
    flash(request, key, item=_item_name(item, request.state.lang))
    return back(f"{MENU}#vare-{item_id}")


def _item_name(item: dict[str, Any], lang: str) -> str:
    return str(item["name_en"] if lang == "en" and item.get("name_en") else item["name_nb"])


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
