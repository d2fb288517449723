"""The accessibility statement and the privacy notice, linked from every page's footer and
from every form that takes personal data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.pages.common import render

router = APIRouter()
ACCESSIBILITY = "/tilgjengelighet"
PRIVACY = "/personvern"


@router.get(ACCESSIBILITY, response_class=HTMLResponse)
async def accessibility(request: Request) -> HTMLResponse:
    return render(request, "public/accessibility.html", title_key="a11y.title")


@router.get(PRIVACY, response_class=HTMLResponse)
async def privacy(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    kept = {
        "booking": settings.booking_retention_days,
        "registration": settings.registration_retention_days,
        "season": settings.booking_retention_days,
        "loan": settings.loans_retention_days,
        "order": settings.catering_retention_days,
        "message": settings.notify_retention_days,
    }
    return render(
        request,
        "public/privacy.html",
        title_key="privacy.title",
        kept={kind: f"{days:g}" for kind, days in kept.items()},
    )
