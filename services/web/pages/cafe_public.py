"""Café Jasmin for everyone: the menu with prices in kroner, the 14 allergens and the
dietary tags of every item, and an order: take-away (picked up within the café's hours) or
catering (two working days ahead; a later one is sent as short notice, which the café must
accept)."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n, public_api
from services.web.clients import Refused
from services.web.pages.common import back, form_of, parse_day, part, render, today
from shared.calendar import CAFE_HOURS

router = APIRouter()
PAGE = "/kafe"
KINDS = ("takeaway", "catering")
ALLERGENS = (
    "gluten", "crustaceans", "eggs", "fish", "peanuts", "soybeans", "milk",
    "nuts", "celery", "mustard", "sesame", "sulphites", "lupin", "molluscs",
)  # fmt: skip
CONTACT = ("name", "email", "phone", "note")
DONE = "bestilling"  # the confirmation, kept in the session and not in the address
# Where a refusal of the catering service belongs on the form.
PICKUP_CODES = {"past", "too_far_ahead", "outside_hours", "too_soon", "capacity_full"}
LINE_CODES = {"unknown_item", "unavailable_item", "wrong_kind"}
MAX_QUANTITY = 1000


def _hours() -> list[tuple[int, str]]:
    return [(d, CAFE_HOURS.describe(d)) for d in range(7) if CAFE_HOURS.intervals(d)]


@router.get(PAGE, response_class=HTMLResponse)
async def menu_page(request: Request) -> HTMLResponse:
    items = await public_api.menu(request.app.state.services)
    return render(
        request,
        "public/cafe.html",
        title_key="cafe.public.title",
        categories=_by_category(items),
        allergens=ALLERGENS,
        hours=_hours(),
    )


def _by_category(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item["category"], []).append(item)
    return list(groups.items())


@router.get(PAGE + "/bestill", response_class=HTMLResponse)
async def order_page(request: Request, type: str = "takeaway") -> HTMLResponse:
    kind = type if type in KINDS else "takeaway"
    return await _render(request, values={"kind": kind})


async def _render(
    request: Request,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    services = request.app.state.services
    items, days = await asyncio.gather(
        public_api.menu(services), part(public_api.availability(services, today(), 14), [])
    )
    return render(
        request,
        "public/order.html",
        status,
        title_key="order.title",
        items=items,
        days=[d for d in days.value if d["open"]][:7],
        days_down=days.down,
        hours=_hours(),
        kinds=KINDS,
        errors=errors or {},
        values=values or {},
    )


def _quantities(form: dict[str, str], errors: dict[str, str], lang: str) -> list[dict[str, Any]]:
    lines = []
    for key, raw in form.items():
        if not key.startswith("antall-") or not raw:
            continue
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_QUANTITY:
            errors["lines"] = i18n.text(lang, "order.quantity.invalid")
            continue
        if int(raw) > 0:
            lines.append({"item_id": key.removeprefix("antall-"), "quantity": int(raw)})
    if not lines and "lines" not in errors:
        errors["lines"] = i18n.text(lang, "order.lines.required")
    return lines


def _pickup(form: dict[str, str], errors: dict[str, str], lang: str) -> datetime | None:
    day = parse_day(form.get("date"))
    if day is None:
        errors["date"] = i18n.text(lang, "order.date.required")
    try:
        at = time.fromisoformat(form.get("time", ""))
    except ValueError:
        errors["time"] = i18n.text(lang, "order.time.required")
        return None
    if day is None:
        return None
    return datetime.combine(day, at, i18n.OSLO)


def _field(refusal: Refused) -> str:
    if refusal.code in PICKUP_CODES:
        return "time"
    if refusal.code in LINE_CODES:
        return "lines"
    name = (refusal.field or "").removeprefix("body.")
    if name.startswith("lines"):
        return "lines"
    if name in ("pickup_at",):
        return "time"
    last = name.split(".")[-1]
    return last if last in (*CONTACT, "people") else "form"


def _next_day(refusal: Refused, lang: str) -> str:
    """A full day names the next one with room."""
    found = refusal.body.get("next_available_date")
    if not isinstance(found, str):
        return ""
    try:
        return " " + i18n.text(lang, "order.next_day", day=i18n.day_name(lang, found))
    except ValueError:
        return ""


@router.post(PAGE + "/bestill", response_model=None)
async def place(request: Request) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    lang = request.state.lang
    kind = form["kind"] if form.get("kind") in KINDS else "takeaway"
    values = {**form, "kind": kind}
    errors: dict[str, str] = {}
    lines = _quantities(form, errors, lang)
    pickup = _pickup(form, errors, lang)
    people = form.get("people", "")
    if kind == "catering" and not (people.isascii() and people.isdigit() and int(people) > 0):
        errors["people"] = i18n.text(lang, "order.people.required")
    if not form.get("name"):
        errors["name"] = i18n.text(lang, "form.required.name")
    if not form.get("email") and not form.get("phone"):
        errors["email"] = i18n.text(lang, "form.required.contact")
    if errors or pickup is None:
        return await _render(request, 422, errors, values)
    customer = {"name": form["name"], "language": lang}
    for key in ("email", "phone"):
        if form.get(key):
            customer[key] = form[key]
    body: dict[str, Any] = {
        "kind": kind,
        "pickup_at": pickup.isoformat(),
        "lines": lines,
        "customer": customer,
    }
    if kind == "catering":
        body["people"] = int(people)
    if form.get("note"):
        body["note"] = form["note"]
    try:
        order = await public_api.place_order(request.app.state.services, body)
    except Refused as exc:
        field = _field(exc)
        return await _render(request, 422, {field: exc.detail + _next_day(exc, lang)}, values)
    request.session[DONE] = {
        "kind": order["kind"],
        "status": order["status"],
        "short_notice": order["short_notice"],
        "pickup_at": order["pickup_at"],
        "people": order.get("people"),
        "lines": [[line["name"], line["quantity"]] for line in order["lines"]],
        "total_ore": order["total_ore"],
        "order_by": order.get("order_by"),
    }
    return back(PAGE + "/bestilt")


@router.get(PAGE + "/bestilt", response_model=None)
async def placed(request: Request) -> HTMLResponse | RedirectResponse:
    done = request.session.get(DONE)
    if not done:
        return back(PAGE + "/bestill")
    title = "order.done.short" if done["short_notice"] else "order.done.title"
    return render(request, "public/ordered.html", title_key=title, done=done)
