"""Det du har bestilt: a booking seen from its manage link (`/mine/booking/<id>/<token>`),
with its status (waiting, confirmed, rejected with the reason, cancelled), its .ics, and
cancelling it before the deadline; a sign-up (`/mine/pamelding/<id>/<token>`) and a café
order (`/mine/bestilling/<id>/<token>`) the same way; a borrower's reservations and loans
(`/mine/lan/<token>`, the loans service's manage token): cancel one, extend one. The token
is the owner's only key: it travels in the path (never a query, never a log) and to the
service as X-Manage-Token."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import i18n
from services.web.clients import Refused
from services.web.limits import forwarded
from services.web.pages.common import NoSuchPage, back, flash, form_of, part, render

router = APIRouter()
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{10,200}$")
ACTIVE = ("pending", "confirmed")


async def _owned(request: Request, service: str, path: str, item_id: str, token: str) -> Any:
    """What the manage token opens at `service`'s `path`."""
    if not (_ID.match(item_id) and _TOKEN.match(token)):
        raise NoSuchPage()
    try:
        return await request.app.state.services.call(
            service,
            "GET",
            path,
            None,
            lang=request.state.lang,
            extra_headers={"X-Manage-Token": token},
        )
    except Refused as exc:
        # Not there, or not this token's: the same page, so a guess learns nothing.
        raise NoSuchPage() from exc


async def _cancel_owned(request: Request, service: str, path: str, token: str) -> str | None:
    """Cancel with the manage token; the service's reason when it refuses."""
    try:
        await request.app.state.services.call(
            service,
            "POST",
            path,
            None,
            json={},
            lang=request.state.lang,
            extra_headers={"X-Manage-Token": token, **forwarded(request)},
        )
    except Refused as exc:
        return exc.detail
    return None


def _path(booking_id: str, token: str) -> str:
    return f"/mine/booking/{booking_id}/{token}"


async def _booking(request: Request, booking_id: str, token: str) -> dict[str, Any]:
    found: dict[str, Any] = await _owned(
        request, "booking", f"/bookings/{booking_id}", booking_id, token
    )
    return found


def _deadline(resources: list[dict[str, Any]], booking: dict[str, Any]) -> datetime | None:
    """Until when the booker may cancel: the resource's cancel deadline before the start."""
    resource = next((r for r in resources if r["id"] == booking["resource_id"]), None)
    if resource is None:
        return None
    start = datetime.fromisoformat(booking["start"])
    return start - timedelta(hours=int(resource["cancel_deadline_hours"]))


async def _page(
    request: Request,
    booking: dict[str, Any],
    token: str,
    status: int = 200,
    error: str | None = None,
    fresh: bool = False,
) -> HTMLResponse:
    services = request.app.state.services
    resources = await services.booking.resources()
    deadline = _deadline(resources, booking)
    menu = (
        await part(services.call("catering", "GET", "/menu", None), [])
        if booking.get("catering")
        else None
    )
    lang = request.state.lang
    dishes = {
        m["id"]: (m.get("name_en") if lang == "en" else None) or m["name_nb"]
        for m in (menu.value if menu else [])
    }
    now = datetime.now(i18n.OSLO)
    may_cancel = booking["status"] in ACTIVE and (deadline is None or now < deadline)
    return render(
        request,
        "public/manage.html",
        status,
        title_key="manage.title",
        booking=booking,
        deadline=deadline,
        may_cancel=may_cancel,
        dishes=dishes,
        error=error,
        fresh=fresh,
        here=_path(booking["id"], token),
        manage_url=request.app.state.settings.public_url.rstrip("/") + _path(booking["id"], token),
    )


@router.get("/mine/booking/{booking_id}/{token}", response_class=HTMLResponse)
async def booking_page(request: Request, booking_id: str, token: str, ny: str = "") -> HTMLResponse:
    booking = await _booking(request, booking_id, token)
    return await _page(request, booking, token, fresh=ny == "1")


@router.post("/mine/booking/{booking_id}/{token}/avbestill", response_model=None)
async def cancel(request: Request, booking_id: str, token: str) -> HTMLResponse | RedirectResponse:
    booking = await _booking(request, booking_id, token)
    await form_of(request)
    refused = await _cancel_owned(request, "booking", f"/bookings/{booking_id}/cancel", token)
    if refused is not None:
        return await _page(request, booking, token, 422, error=refused)
    return back(_path(booking_id, token))


@router.get("/mine/booking/{booking_id}/{token}/kalender.ics")
async def calendar_file(request: Request, booking_id: str, token: str) -> Response:
    from icalendar import Calendar, Event

    booking = await _booking(request, booking_id, token)
    cal = Calendar()
    cal.add("prodid", "-//Knutepunkt//web//NO")
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", f"{booking['id']}@knutepunkt")
    event.add("dtstamp", datetime.fromisoformat(booking["created_at"]))
    event.add("dtstart", datetime.fromisoformat(booking["start"]))
    event.add("dtend", datetime.fromisoformat(booking["end"]))
    event.add("summary", booking.get("title") or booking["resource_name"])
    event.add("location", f"{booking['resource_name']}, Knutepunkt Strømsø, Telthusgata 8, Drammen")
    event.add("status", "CONFIRMED" if booking["status"] == "confirmed" else "TENTATIVE")
    cal.add_component(event)
    return Response(
        cal.to_ical(),
        media_type="text/calendar; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="booking.ics"',
            "cache-control": "no-store",
        },
    )


# --------------------------------------------------------------------------- café orders

ORDER_ACTIVE = ("pending_acceptance", "placed", "accepted")


def _order_path(order_id: str, token: str) -> str:
    return f"/mine/bestilling/{order_id}/{token}"


async def _order(request: Request, order_id: str, token: str) -> dict[str, Any]:
    found: dict[str, Any] = await _owned(
        request, "catering", f"/orders/{order_id}", order_id, token
    )
    return found


def _order_page(
    request: Request, order: dict[str, Any], token: str, status: int = 200, error: str = ""
) -> HTMLResponse:
    cutoff = datetime.fromisoformat(order["cancel_cutoff_at"])
    may_cancel = order["status"] in ORDER_ACTIVE and datetime.now(i18n.OSLO) < cutoff
    return render(
        request,
        "public/manage_order.html",
        status,
        title_key="manage.order.title",
        order=order,
        cutoff=cutoff,
        may_cancel=may_cancel,
        active=order["status"] in ORDER_ACTIVE,
        error=error,
        here=_order_path(order["id"], token),
    )


@router.get("/mine/bestilling/{order_id}/{token}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str, token: str) -> HTMLResponse:
    return _order_page(request, await _order(request, order_id, token), token)


@router.post("/mine/bestilling/{order_id}/{token}/avbestill", response_model=None)
async def cancel_order(
    request: Request, order_id: str, token: str
) -> HTMLResponse | RedirectResponse:
    order = await _order(request, order_id, token)
    await form_of(request)
    refused = await _cancel_owned(request, "catering", f"/orders/{order_id}/cancel", token)
    if refused is not None:
        return _order_page(request, order, token, 422, error=refused)
    return back(_order_path(order_id, token))


# --------------------------------------------------------------------------- sign-ups

SIGNUP_ACTIVE = ("registered", "waitlisted")


def _signup_path(registration_id: str, token: str) -> str:
    return f"/mine/pamelding/{registration_id}/{token}"


async def _signup(request: Request, registration_id: str, token: str) -> dict[str, Any]:
    found: dict[str, Any] = await _owned(
        request, "booking", f"/registrations/{registration_id}", registration_id, token
    )
    return found


def _signup_page(
    request: Request, signup: dict[str, Any], token: str, status: int = 200, error: str = ""
) -> HTMLResponse:
    start = datetime.fromisoformat(signup["start"])
    active = signup["status"] in SIGNUP_ACTIVE
    return render(
        request,
        "public/manage_signup.html",
        status,
        title_key="manage.signup.title",
        signup=signup,
        start=start,
        active=active,
        # Until the activity starts (the booking service says the same).
        may_cancel=active and datetime.now(i18n.OSLO) < start,
        error=error,
        here=_signup_path(signup["id"], token),
    )


@router.get("/mine/pamelding/{registration_id}/{token}", response_class=HTMLResponse)
async def signup_page(request: Request, registration_id: str, token: str) -> HTMLResponse:
    return _signup_page(request, await _signup(request, registration_id, token), token)


@router.post("/mine/pamelding/{registration_id}/{token}/avmeld", response_model=None)
async def cancel_signup(
    request: Request, registration_id: str, token: str
) -> HTMLResponse | RedirectResponse:
    signup = await _signup(request, registration_id, token)
    await form_of(request)
    path = f"/activities/{signup['activity_id']}/registrations/{registration_id}/cancel"
    refused = await _cancel_owned(request, "booking", path, token)
    if refused is not None:
        return _signup_page(request, signup, token, 422, error=refused)
    return back(_signup_path(registration_id, token))


# --------------------------------------------------------------------- loans and reservations


def loans_path(token: str) -> str:
    return f"/mine/lan/{token}"


async def _borrowed(request: Request, token: str) -> tuple[list[Any], list[Any]]:
    """The borrower's open reservations and the loans not yet returned, by their token."""
    _check_token(token)
    services = request.app.state.services
    headers = {"X-Manage-Token": token}
    lang = request.state.lang
    try:
        reservations, loans = await asyncio.gather(
            services.call("loans", "GET", "/reservations", None, lang=lang, extra_headers=headers),
            services.call("loans", "GET", "/loans", None, lang=lang, extra_headers=headers),
        )
    except Refused as exc:
        raise NoSuchPage() from exc  # nobody's token: the same page as any address not here
    return reservations, [loan for loan in loans if loan["returned_at"] is None]


async def _loans_page(
    request: Request, token: str, status: int = 200, errors: dict[str, str] | None = None
) -> HTMLResponse:
    reservations, loans = await _borrowed(request, token)
    return render(
        request,
        "public/manage_loans.html",
        status,
        title_key="manage.loans.title",
        reservations=reservations,
        loans=loans,
        errors=errors or {},
        here=loans_path(token),
    )


def _check_token(token: str) -> None:
    if not _TOKEN.match(token):
        raise NoSuchPage()


# What the loans service answers a token that opens nothing (401), another borrower's loan
# (403) or an id not there (404): the page that is not there, so a guess learns nothing.
_NOT_YOURS = (401, 403, 404)


async def _as_borrower(request: Request, token: str, method: str, path: str) -> Any:
    """`method path` at the loans service with the borrower's token; its other refusals
    (someone waits, the season) are raised for the page to show."""
    try:
        return await request.app.state.services.call(
            "loans",
            method,
            path,
            None,
            json={} if method == "POST" else None,
            lang=request.state.lang,
            extra_headers={"X-Manage-Token": token, **forwarded(request)},
        )
    except Refused as exc:
        if exc.status in _NOT_YOURS:
            raise NoSuchPage() from exc
        raise


@router.get("/mine/lan/{token}", response_class=HTMLResponse)
async def loans_page(request: Request, token: str) -> HTMLResponse:
    return await _loans_page(request, token)


@router.post("/mine/lan/{token}/reservasjon/{reservation_id}/avbestill", response_model=None)
async def cancel_reservation(
    request: Request, token: str, reservation_id: str
) -> HTMLResponse | RedirectResponse:
    _check_token(token)
    await form_of(request)
    if not reservation_id.isdigit() or len(reservation_id) > 9:
        raise NoSuchPage()
    try:
        await _as_borrower(request, token, "DELETE", f"/reservations/{reservation_id}")
    except Refused as exc:
        return await _loans_page(request, token, 422, {f"r{reservation_id}": exc.detail})
    flash(request, "manage.loans.cancelled")
    return back(loans_path(token))


@router.post("/mine/lan/{token}/lan/{loan_id}/forleng", response_model=None)
async def renew_loan(request: Request, token: str, loan_id: str) -> HTMLResponse | RedirectResponse:
    _check_token(token)
    await form_of(request)
    if not _ID.match(loan_id):
        raise NoSuchPage()
    try:
        renewed = await _as_borrower(request, token, "POST", f"/loans/{loan_id}/renew")
    except Refused as exc:
        return await _loans_page(request, token, 422, {f"l{loan_id}": exc.detail})
    flash(request, "manage.loans.renewed", when=i18n.when(request.state.lang, renewed["due_at"]))
    return back(loans_path(token))
