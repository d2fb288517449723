"""Courses and information meetings: the hub's public activities (the Nærutvalg's meetings
among them) as a list and a month view, and a sign-up with a place or, when full, the
waiting list, then a confirmation page."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n, public_api
from services.web.clients import Refused
from services.web.pages.common import Month, back, form_of, month_of, render, today

router = APIRouter()
PAGE = "/aktiviteter"
FIELDS = ("name", "email", "phone")
# The confirmation page reads what the sign-up answered from the session, never the
# address: no personal data and no manage token in URLs.
DONE = "pamelding"
# An id goes into the booking service's path: nothing that could reach past it ("?", "/").
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _month_of(text: str | None) -> date:
    first = month_of(text)
    if first is not None and abs((first - today()).days) <= 3 * 366:
        return first
    return today().replace(day=1)


async def _upcoming(request: Request) -> list[dict[str, Any]]:
    start = datetime.now(i18n.OSLO)
    return await request.app.state.services.booking.activities(start, start + timedelta(days=366))


@router.get(PAGE, response_class=HTMLResponse)
async def activity_list(request: Request) -> HTMLResponse:
    found = await _upcoming(request)
    return render(
        request,
        "public/activities.html",
        title_key="activities.title",
        activities=found,
        month=today().strftime("%Y-%m"),
    )


@router.get(PAGE + "/maned", response_class=HTMLResponse)
async def activity_month(request: Request, m: str | None = None) -> HTMLResponse:
    month = Month(_month_of(m))
    first = month.first
    start = datetime.combine(first, time(0), i18n.OSLO)
    end = datetime.combine(month.following, time(0), i18n.OSLO)
    now = datetime.now(i18n.OSLO)
    # Only what is still to come: a month gone by asks nothing.
    found = (
        await request.app.state.services.booking.activities(max(start, now), end)
        if end > now
        else []
    )
    by_day: dict[date, list[dict[str, Any]]] = {}
    for activity in found:
        by_day.setdefault(i18n.local(activity["start"]).date(), []).append(activity)
    return render(
        request,
        "public/activities_month.html",
        title_key="activities.month.title",
        first=first,
        month_name=i18n.month_name(request.state.lang, first),
        weeks=month.weeks,
        by_day=by_day,
        today=today(),
        previous=month.previous.strftime("%Y-%m"),
        following=month.following.strftime("%Y-%m"),
        count=len(found),
    )


async def _activity(request: Request, activity_id: str) -> dict[str, Any] | None:
    if not ID.match(activity_id):
        return None
    return next((a for a in await _upcoming(request) if a["id"] == activity_id), None)


@router.get(PAGE + "/{activity_id}", response_class=HTMLResponse)
async def activity_page(request: Request, activity_id: str) -> HTMLResponse:
    return await _render(request, activity_id)


async def _render(
    request: Request,
    activity_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    activity = await _activity(request, activity_id)
    if activity is None:
        return render(request, "public/gone.html", 404, title_key="activities.gone.title")
    return render(
        request,
        "public/activity.html",
        status,
        title_key="activities.one.title",
        activity=activity,
        errors=errors or {},
        values=values or {},
    )


def _field(refusal: Refused) -> str:
    name = (refusal.field or "").split(".")[-1]
    if refusal.code == "contact_required":
        return "email"
    return name if name in FIELDS else "form"


@router.post(PAGE + "/{activity_id}/pamelding", response_model=None)
async def sign_up(request: Request, activity_id: str) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    if not ID.match(activity_id):
        return render(request, "public/gone.html", 404, title_key="activities.gone.title")
    lang = request.state.lang
    values = {k: form.get(k, "") for k in FIELDS}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = i18n.text(lang, "form.required.name")
    if not values["email"] and not values["phone"]:
        errors["email"] = i18n.text(lang, "form.required.contact")
    if errors:
        return await _render(request, activity_id, 422, errors, values)
    body: dict[str, Any] = {"name": values["name"], "language": lang}
    if values["email"]:
        body["email"] = values["email"]
    if values["phone"]:
        body["phone"] = values["phone"]
    services = request.app.state.services
    try:
        made = await public_api.sign_up(services, activity_id, body)
    except Refused as exc:
        if exc.status == 404:
            return render(request, "public/gone.html", 404, title_key="activities.gone.title")
        return await _render(request, activity_id, 422, {_field(exc): exc.detail}, values)
    request.session[DONE] = {
        "activity_id": activity_id,
        "status": made["status"],
        "position": made.get("waitlist_position"),
    }
    return back(f"{PAGE}/{activity_id}/pameldt")


@router.get(PAGE + "/{activity_id}/pameldt", response_model=None)
async def signed_up(request: Request, activity_id: str) -> HTMLResponse | RedirectResponse:
    done = request.session.get(DONE)
    if not done or done.get("activity_id") != activity_id:
        return back(f"{PAGE}/{activity_id}")
    activity = await _activity(request, activity_id)
    return render(
        request,
        "public/signed_up.html",
        title_key="signup.done.title" if done["status"] == "registered" else "signup.wait.title",
        activity=activity,
        done=done,
    )
