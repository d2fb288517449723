"""The front page: what Knutepunkt Strømsø is, today's and a week's opening hours of the hub
and Café Jasmin from the one calendar (holidays and closures shown closed, with the reason),
the address, how to get in touch, and what people can do here."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web import opening
from services.web.pages.common import parse_day, part, render, today

router = APIRouter()
# How far the week switch reaches: holidays are known for any year, closures only ahead.
WEEKS_AROUND = 104


@router.get("/", response_class=HTMLResponse)
async def front(request: Request, uke: str | None = None) -> HTMLResponse:
    now = today()
    asked = parse_day(uke)
    if asked is None or abs((asked - now).days) > WEEKS_AROUND * 7:
        asked = now
    monday = opening.monday_of(asked)
    services = request.app.state.services
    booking, cafe = await asyncio.gather(
        part(services.booking.closures(), []), part(services.catering.closures(), [])
    )
    lang = request.state.lang  # holidays are named in the page's language
    days = opening.week(monday, now, booking.value, cafe.value, lang)
    this_week = opening.monday_of(now)
    today_hours = (
        next(d for d in days if d.today)
        if monday == this_week
        else opening.week(this_week, now, booking.value, cafe.value, lang)[now.weekday()]
    )
    return render(
        request,
        "public/hub.html",
        title_key="hub.title",
        days=days,
        today_hours=today_hours,
        monday=monday,
        this_week=monday == this_week,
        previous=(monday - timedelta(days=7)).isoformat(),
        following=(monday + timedelta(days=7)).isoformat(),
        down=[p.down for p in (booking, cafe) if p.down],
    )
