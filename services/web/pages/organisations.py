"""An organisation as the booking officers see it: its record in the hub's directory and
its no-shows (bookings the booking service released because nobody checked in), linked
from its bookings on I dag and Forespørsler. An organisation number is the public
registry's id of a club or association, not a person's data, so it may stand in the
address."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.web.clients import Refused
from services.web.pages.common import NoSuchPage, render
from services.web.staff import Actor, staff

router = APIRouter()
ORG_NUMBER = re.compile(r"^[0-9]{9}$")


@router.get("/ansatt/organisasjoner/{org_number}", response_class=HTMLResponse)
async def organisation_page(
    request: Request, org_number: str, actor: Actor = Depends(staff("booking"))
) -> HTMLResponse:
    if not ORG_NUMBER.match(org_number):
        raise NoSuchPage()
    try:
        org = await request.app.state.services.booking.organisation(actor.caller, org_number)
    except Refused as exc:
        if exc.status in (404, 422):
            raise NoSuchPage() from exc
        raise
    return render(request, "staff/organisation.html", title_key="org.title", org=org)
