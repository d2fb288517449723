"""Clubs and associations: those that chose to be listed (the organisation's `listed`
flag in the booking service, set when it books), with what they chose to show."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web import public_api
from services.web.pages.common import render

router = APIRouter()


@router.get("/foreninger", response_class=HTMLResponse)
async def clubs(request: Request) -> HTMLResponse:
    found = await public_api.organisations(request.app.state.services)
    return render(
        request,
        "public/clubs.html",
        title_key="clubs.title",
        clubs=sorted(found, key=lambda o: o["name"].casefold()),
    )
