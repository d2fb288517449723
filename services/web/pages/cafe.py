"""Kafé: the orders of a day by status; accept or reject short-notice orders, mark ready and
picked up; answer the customers' changes that came after the cut-off; the day's capacity,
seen and changed; the prep list for the day, printable; the menu, where items are added,
renamed and repriced, put on or taken off sale and their allergens set."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.closures import SERVICE_ID
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
UNITS = ("piece", "per_person", "platter")
KINDS = ("takeaway", "catering")
# Kroner as people write them: 45, 45,50, 45.50, 1 250,00 kr.
PRICE = re.compile(r"^(\d{1,6})(?:[.,](\d{1,2}))?$")
# The service's field names in its refusals, as the add form's fields.
NEW_FIELDS = {
    "name_nb": "name_nb",
    "name_en": "name_en",
    "category": "category",
    "price_ore": "price",
    "unit": "unit",
    "kinds": "kinds",
    "allergens": "allergens",
    "id": "name_nb",
}
EDIT_FIELDS = {
    "name_nb": "name_nb",
    "name_en": "name_en",
    "price_ore": "price",
    "available": "available",
    "allergens": "allergens",
}
CATEGORY = re.compile(r"^[a-zæøå0-9-]{1,40}$")  # as the catering service takes them


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
    orders, prep, changes = await asyncio.gather(
        catering.orders(actor.caller, day),
        part(catering.prep_list(actor.caller, day)),
        part(catering.pending_changes(actor.caller), []),
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
        changes=changes.value,
        changes_down=changes.down,
        # A refused answer to a change no longer waiting (answered meanwhile) goes on top.
        changes_gone=[
            message
            for key, fields in (errors or {}).items()
            if key.startswith("endring-")
            and key.removeprefix("endring-") not in {c["order"]["id"] for c in changes.value}
            for message in fields.values()
        ],
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
        categories=sorted({i["category"] for i in items}),
        units=UNITS,
        kinds=KINDS,
        kroner_text=_kroner_text,
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
    lang = request.state.lang
    typed = {**changes, "name_nb": form.get("name_nb"), "name_en": form.get("name_en")}
    typed["price"] = form.get("price")
    errors: dict[str, str] = {}
    # Renamed and repriced in the same form; a form without the fields (an older page)
    # leaves name and price as they are.
    if "name_nb" in form:
        if form["name_nb"]:
            changes["name_nb"] = form["name_nb"]
        else:
            errors["name_nb"] = i18n.text(lang, "menu.name.missing")
    if "name_en" in form:
        changes["name_en"] = form["name_en"] or None
    if "price" in form:
        price = _ore(form["price"])
        if price is None:
            errors["price"] = i18n.text(lang, "menu.price.invalid")
        else:
            changes["price_ore"] = price
    if errors:
        return await _render_menu(request, actor, 422, {item_id: errors}, {item_id: typed})
    try:
        item = await request.app.state.services.catering.update_item(actor.caller, item_id, changes)
    except Refused as exc:
        name = (exc.field or "").split(".")[-1]
        field = EDIT_FIELDS.get(name, "form")
        errors = {field: exc.detail}
        return await _render_menu(request, actor, exc.status, {item_id: errors}, {item_id: typed})
    key = "menu.saved.available" if item["available"] else "menu.saved.unavailable"
    flash(request, key, item=_item_name(item, request.state.lang))
    return back(f"{MENU}#vare-{item_id}")


@router.post(MENU + "/ny", response_model=None)
async def add_item(
    request: Request, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse | RedirectResponse:
    """A new item on the menu; its id is made from the Bokmål name."""
    form = await form_of(request)
    lang = request.state.lang
    errors: dict[str, str] = {}
    name = form.get("name_nb", "")
    item_id = _slug(name)
    if not name:
        errors["name_nb"] = i18n.text(lang, "menu.name.missing")
    elif not item_id:
        errors["name_nb"] = i18n.text(lang, "menu.name.letters")
    category = re.sub(r"\s+", "-", form.get("category", "").lower())
    if not CATEGORY.match(category):
        errors["category"] = i18n.text(lang, "menu.category.missing")
    price = _ore(form.get("price", ""))
    if price is None:
        errors["price"] = i18n.text(lang, "menu.price.invalid")
    unit = form.get("unit", "")
    if unit not in UNITS:
        errors["unit"] = i18n.text(lang, "menu.unit.missing")
    kinds = [k for k in KINDS if form.get(f"kind_{k}") == "on"]
    if not kinds:
        errors["kinds"] = i18n.text(lang, "menu.kinds.missing")
    values = {**form, "allergens": [c for c in ALLERGENS if form.get(f"allergen_{c}") == "on"]}
    if errors:
        return await _render_menu(request, actor, 422, {"new": errors}, {"new": values})
    body = {
        "id": item_id,
        "name_nb": name,
        "name_en": form.get("name_en") or None,
        "category": category,
        "unit": unit,
        "price_ore": price,
        "allergens": values["allergens"],
        "kinds": kinds,
        "available": form.get("available") == "on",
    }
    try:
        item = await request.app.state.services.catering.add_item(actor.caller, body)
    except Refused as exc:
        field = NEW_FIELDS.get((exc.field or "").split(".")[-1], "name_nb")
        return await _render_menu(
            request, actor, exc.status, {"new": {field: exc.detail}}, {"new": values}
        )
    flash(request, "menu.added", item=_item_name(item, lang))
    return back(f"{MENU}#vare-{item['id']}")


def _ore(text: str | None) -> int | None:
    """Kroner as typed, in øre; None when it is not a price."""
    cleaned = (text or "").lower().removesuffix("kr").replace(" ", "").replace("\u00a0", "")
    match = PRICE.match(cleaned)
    if match is None:
        return None
    return int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))


def _kroner_text(ore: int) -> str:
    """øre as a person types kroner: 45 or 45,50."""
    whole, part = divmod(ore, 100)
    return f"{whole},{part:02d}" if part else str(whole)


_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "é": "e", "ü": "u", "ö": "o", "ä": "a"})


def _slug(text: str) -> str:
    """An id as the catering service takes them: lower-case a–z, digits and hyphens."""
    words = re.findall(r"[a-z0-9]+", text.lower().translate(_LETTERS))
    return "-".join(words)[:60].strip("-")


def _item_name(item: dict[str, Any], lang: str) -> str:
    return str(item["name_en"] if lang == "en" and item.get("name_en") else item["name_nb"])


@router.post(PAGE + "/endring/{order_id}/{action}", response_model=None)
async def decide_change(
    request: Request, order_id: str, action: str, actor: Actor = Depends(staff(CAFE))
) -> HTMLResponse | RedirectResponse:
    """Answer a customer's change that came after the cut-off: accept it (the order becomes
    what they asked, if the day has room) or reject it (the order stays; the reason, if
    any, is sent to the customer)."""
    form = await form_of(request)
    dato = form.get("dato")
    if action not in ("aksepter", "avvis"):
        return back(PAGE)
    if not SERVICE_ID.match(order_id):  # it goes into the service's address
        return back(PAGE)
    accept = action == "aksepter"
    reason = None if accept else (form.get("reason") or None)
    try:
        await request.app.state.services.catering.decide_change(
            actor.caller, order_id, accept, reason
        )
    except Refused as exc:
        field = "reason" if not accept and exc.field else "action"
        errors = {f"endring-{order_id}": {field: exc.detail}}
        return await _render(
            request, actor, dato, exc.status, errors, {f"endring-{order_id}": reason or ""}
        )
    flash(request, "cafe.change.accepted" if accept else "cafe.change.rejected")
    return back(f"{PAGE}?dato={dato}" if parse_day(dato) else PAGE)


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
