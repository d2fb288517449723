"""Rom og Gymsalen: the bookable resources, a week of free and busy times per resource, and
the booking form (as a club or a person, with food from Café Jasmin while the café's lead
time allows), through the booking service's public API. Works without scripts."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.limits import forwarded
from services.web.pages.common import (
    Month,
    NoSuchPage,
    back,
    form_of,
    month_of,
    parse_day,
    part,
    render,
    today,
)
from shared.calendar import norwegian_holidays

router = APIRouter()
SLOT_MINUTES = 60
WEEKS_AHEAD = 52
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
# The booking service's field names (its problem details' `field`) -> the form's.
_FIELDS = {
    "body.organisation.number": "org_number",
    "body.organisation.name": "org_name",
    "body.booker.name": "name",
    "body.booker.email": "email",
    "body.booker.phone": "phone",
    "body.attendees": "attendees",
    "body.title": "title",
    "body.start": "start",
    "body.end": "end",
    "body.catering": "catering",
}
# Refusals about the time asked for, said beside the start time.
_TIME_CODES = {
    "booking_overlap",
    "closed",
    "end_before_start",
    "in_the_past",
    "short_notice",
    "slot_length_invalid",
    "too_far_ahead",
    "too_long",
    "too_short",
    "weekly_quota_exceeded",
}
_FIELD_CODES = {
    "over_capacity": "attendees",
    "contact_required": "email",
    "phone_invalid": "phone",
    "organisation_number_invalid": "org_number",
    "organisation_required": "org_number",
    "serving_time_outside_booking": "catering",
}


def org_number_ok(raw: str) -> bool:
    """A Norwegian organisation number: 9 digits, the last a MOD11 check digit (the booking
    service checks again; checked here too so the form answers at once, beside the field)."""
    digits = re.sub(r"[\s.]", "", raw)
    if not re.fullmatch(r"\d{9}", digits):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:8], _ORG_WEIGHTS, strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[8])


def closed_text(lang: str, reason: str | None, day: date) -> str:
    """The booking service's day reasons are English and short; said in the page's words,
    a holiday by its name in the page's language."""
    if not reason:
        return ""
    if reason.startswith("public holiday: "):
        name = reason.removeprefix("public holiday: ")
        name = norwegian_holidays(day.year, lang).get(day, name)
        return i18n.text(lang, "rooms.closed.holiday", name=name)
    if reason.startswith("closed: "):
        return i18n.text(lang, "rooms.closed.closure", reason=reason.removeprefix("closed: "))
    if reason == "closed by staff":
        return i18n.text(lang, "rooms.closed.staff")
    if reason.startswith("closed on "):
        # "Stengt: hver lørdag", where the reason would only repeat "closed".
        weekday = i18n.weekday_name(lang, day.weekday())
        return i18n.text(lang, "rooms.closed.weekday", weekday=weekday)
    if "ahead" in reason:
        return i18n.text(lang, "rooms.closed.ahead")
    return i18n.text(lang, "rooms.closed.other")


async def _resource(request: Request, resource_id: str) -> dict[str, Any]:
    resources = await request.app.state.services.booking.resources()
    found = next((r for r in resources if r["id"] == resource_id and r.get("active", True)), None)
    if found is None:
        raise NoSuchPage()
    return dict(found)


@router.get("/rom", response_class=HTMLResponse)
async def rooms_page(request: Request) -> HTMLResponse:
    resources = await request.app.state.services.booking.resources()
    shown = [r for r in resources if r.get("active", True)]
    return render(request, "public/rooms.html", title_key="rooms.title", resources=shown)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@router.get("/rom/{resource_id}", response_class=HTMLResponse)
async def week_page(request: Request, resource_id: str, uke: str | None = None) -> HTMLResponse:
    resource = await _resource(request, resource_id)
    this_week = _monday(today())
    week = _monday(parse_day(uke) or this_week)
    week = min(max(week, this_week), this_week + timedelta(weeks=WEEKS_AHEAD))
    services = request.app.state.services
    days = [week + timedelta(days=n) for n in range(7)]
    slot = max(SLOT_MINUTES, int(resource["min_length_minutes"]))
    answers = await services.booking.days(resource_id, week, 7, slot)
    lang = request.state.lang
    shown = []
    for d, a in zip(days, answers, strict=True):
        shown.append(
            {
                "date": d,
                "past": d < today(),
                "closed": closed_text(lang, a["closed_reason"], d) if a["closed_reason"] else "",
                "free": a["free_slots"],
                "busy": a["busy"],
                "next_free": None,
            }
        )
    _point_full_days_onward(shown)
    return render(
        request,
        "public/week.html",
        title_key="rooms.week.title",
        resource=resource,
        days=shown,
        week=week,
        previous=week - timedelta(weeks=1) if week > this_week else None,
        following=week + timedelta(weeks=1),
        week_number=week.isocalendar().week,
    )


@router.get("/rom/{resource_id}/maned", response_class=HTMLResponse)
async def month_page(request: Request, resource_id: str, m: str | None = None) -> HTMLResponse:
    """A month of a room at a glance: each day to come closed (with why), full, or with its
    number of free times, linked to that day in the week view."""
    resource = await _resource(request, resource_id)
    now = today()
    this_month = now.replace(day=1)
    last_month = (now + timedelta(weeks=WEEKS_AHEAD)).replace(day=1)
    month = Month(min(max(month_of(m) or this_month, this_month), last_month))
    first, last = month.first, month.last
    start = max(first, now)  # days gone by ask the service nothing
    slot = max(SLOT_MINUTES, int(resource["min_length_minutes"]))
    services = request.app.state.services
    answers = await services.booking.days(resource_id, start, (last - start).days + 1, slot)
    lang = request.state.lang
    days = {}
    for n, a in enumerate(answers):
        d = start + timedelta(days=n)
        reason = a["closed_reason"]
        days[d] = {
            "closed": closed_text(lang, reason, d) if reason else "",
            "free": len(a["free_slots"]),
            "week": _monday(d),
        }
    return render(
        request,
        "public/room_month.html",
        title_key="rooms.month.title",
        resource=resource,
        first=first,
        today=now,
        days=days,
        weeks=month.weeks,
        month_name=i18n.month_name(lang, first),
        previous=month.previous if first > this_month else None,
        following=month.following if first < last_month else None,
    )


async def next_free_day(
    request: Request, resource_id: str, after: date, slot_minutes: int
) -> date | None:
    """The first day after `after` with a free time, within the two weeks the booking
    service answers in one call; None when there is none that soon (or it is down)."""
    services = request.app.state.services
    answers = await part(
        services.booking.days(resource_id, after + timedelta(days=1), 14, slot_minutes), []
    )
    first = after + timedelta(days=1)
    return next(
        (first + timedelta(days=n) for n, a in enumerate(answers.value) if a["free_slots"]),
        None,
    )


def _point_full_days_onward(days: list[dict[str, Any]]) -> None:
    """A full day names the next day of the week with a free time, or says there is none
    this week (the week's link goes on): the week stays one call to the booking service."""
    later: date | None = None
    for day in reversed(days):
        if day["past"] or day["closed"] or day["free"]:
            if day["free"] and not day["past"]:
                later = day["date"]
            continue
        day["next_free"] = later


# --------------------------------------------------------------------------- the form


def _slot(values: dict[str, str]) -> tuple[datetime, datetime] | None:
    day = parse_day(values.get("date"))
    start, end = values.get("start", ""), values.get("end", "")
    if day is None or not _TIME.match(start) or not _TIME.match(end):
        return None
    begin = datetime.combine(day, time.fromisoformat(start), i18n.OSLO)
    finish = datetime.combine(day, time.fromisoformat(end), i18n.OSLO)
    return begin, finish


async def _food(request: Request, day: date | None) -> dict[str, Any]:
    """The café's menu for catering and until when it can be ordered for `day`: nothing to
    offer when the café is away, closed that day, or its lead time has passed."""
    if day is None:
        return {"items": [], "order_by": None, "why": "no_day"}
    services = request.app.state.services
    menu, days = await asyncio.gather(
        part(services.call("catering", "GET", "/menu", None), []),
        part(services.call("catering", "GET", "/availability", None, params={"from": day}), []),
    )
    if menu.down or days.down or not days.value:
        return {"items": [], "order_by": None, "why": "down"}
    info = days.value[0]
    order_by = info.get("catering_order_by")
    if not info.get("open") or not order_by:
        return {"items": [], "order_by": None, "why": "closed"}
    if datetime.fromisoformat(order_by) <= datetime.now(i18n.OSLO):
        return {"items": [], "order_by": order_by, "why": "late"}
    items = [m for m in menu.value if m.get("available") and "catering" in m.get("kinds", [])]
    return {"items": items, "order_by": order_by, "why": ""}


async def _form(
    request: Request,
    resource: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    slot = _slot(values)
    food = await _food(request, slot[0].date() if slot else None)
    return render(
        request,
        "public/book.html",
        status,
        title_key="book.title",
        resource=resource,
        values=values,
        errors=errors or {},
        food=food,
        slot=slot,
    )


@router.get("/rom/{resource_id}/bestill", response_class=HTMLResponse)
async def book_form(
    request: Request,
    resource_id: str,
    dato: str = "",
    fra: str = "",
    til: str = "",
) -> HTMLResponse:
    resource = await _resource(request, resource_id)
    values = {"date": dato, "start": fra, "end": til, "booker_type": "person"}
    return await _form(request, resource, values)


def _check(values: dict[str, str], lang: str) -> dict[str, str]:
    """What the form can say before asking the service: missing and malformed fields."""

    def t(key: str) -> str:
        return i18n.text(lang, key)

    errors: dict[str, str] = {}
    if parse_day(values.get("date")) is None:
        errors["date"] = t("book.error.date")
    for name in ("start", "end"):
        if not _TIME.match(values.get(name, "")):
            errors[name] = t("book.error.time")
    if values.get("booker_type") not in ("organisation", "person"):
        errors["booker_type"] = t("book.error.booker_type")
    if values.get("booker_type") == "organisation":
        if not org_number_ok(values.get("org_number", "")):
            errors["org_number"] = t("book.error.org_number")
        if not values.get("org_name"):
            errors["org_name"] = t("book.error.org_name")
    if not values.get("name"):
        errors["name"] = t("book.error.name")
    email, phone = values.get("email", ""), values.get("phone", "")
    if email and not _EMAIL.match(email):
        errors["email"] = t("book.error.email")
    if not email and not phone:
        errors["email"] = t("book.error.contact")
    attendees = values.get("attendees", "")
    if attendees and (not attendees.isdigit() or int(attendees) < 1):
        errors["attendees"] = t("book.error.number")
    return errors


def _catering(
    values: dict[str, str], food: dict[str, Any], start: datetime, lang: str
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    lines = []
    errors: dict[str, str] = {}
    for item in food["items"]:
        raw = values.get(f"item_{item['id']}", "")
        if not raw or raw == "0":
            continue
        if not raw.isdigit() or not 0 < int(raw) <= 500:
            errors[f"item_{item['id']}"] = i18n.text(lang, "book.error.quantity")
            continue
        lines.append({"item_id": item["id"], "quantity": int(raw)})
    if not lines:
        return None, errors
    people = values.get("people", "")
    if not people.isdigit() or int(people) < 1:
        errors["people"] = i18n.text(lang, "book.error.people")
        return None, errors
    body = {"lines": lines, "people": int(people), "serve_at": start.isoformat()}
    if values.get("food_note"):
        body["note"] = values["food_note"][:500]
    return body, errors


@router.post("/rom/{resource_id}/bestill", response_model=None)
async def book(request: Request, resource_id: str) -> HTMLResponse | RedirectResponse:
    resource = await _resource(request, resource_id)
    values = await form_of(request)
    lang = request.state.lang
    errors = _check(values, lang)
    slot = _slot(values)
    catering = None
    if slot is not None:
        food = await _food(request, slot[0].date())
        catering, food_errors = _catering(values, food, slot[0], lang)
        errors.update(food_errors)
    if errors or slot is None:
        return await _form(request, resource, values, errors, 422)
    organisation = values["booker_type"] == "organisation"
    body: dict[str, Any] = {
        "resource_id": resource_id,
        "booker_type": values["booker_type"],
        "booker": {
            "name": values["name"],
            "email": values.get("email") or None,
            "phone": values.get("phone") or None,
            "language": lang,
        },
        "start": slot[0].isoformat(),
        "end": slot[1].isoformat(),
        "title": values.get("title") or None,
        "attendees": int(values["attendees"]) if values.get("attendees") else None,
    }
    if organisation:
        body["organisation"] = {"number": values["org_number"], "name": values["org_name"]}
    if catering:
        body["catering"] = catering
    services = request.app.state.services
    try:
        made = await services.call(
            "booking",
            "POST",
            "/bookings",
            None,
            json=body,
            lang=lang,
            extra_headers=forwarded(request),
        )
    except Refused as exc:
        field = _FIELDS.get(exc.field or "", "") or _FIELD_CODES.get(exc.code, "")
        reason = exc.detail
        if exc.status == 409 or exc.code in _TIME_CODES:
            field = "start"
            reason = await _with_next_free_day(request, resource, slot[0].date(), reason)
        return await _form(request, resource, values, {field or "form": reason}, 422)
    # The token goes in the path of the manage page only: never in a log or a query.
    return back(f"/mine/booking/{made['id']}/{made['manage_token']}?ny=1")


async def _with_next_free_day(
    request: Request, resource: dict[str, Any], day: date, reason: str
) -> str:
    """A refused time also says the next day with a free time (a full or closed day)."""
    slot = max(SLOT_MINUTES, int(resource["min_length_minutes"]))
    following = await next_free_day(request, resource["id"], day, slot)
    if following is None:
        return reason
    lang = request.state.lang
    return f"{reason} {i18n.text(lang, 'rooms.next_free', day=i18n.day_name(lang, following))}"
