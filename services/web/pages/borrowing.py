"""Borrowing: what can be borrowed (PCs at the citizens' desk, planter boxes in
Strømsøhagen in the season), how many are free now, and a planter box reservation that
joins the waiting list (the loans service offers a box to the first in line and says so by
SMS or email)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n, public_api
from services.web.clients import Refused
from services.web.pages.common import back, form_of, render
from services.web.pages.manage import loans_path

router = APIRouter()
PAGE = "/lane"
KINDS = ("pc", "planter_box")
FIELDS = ("name", "phone", "email")
DONE = "reservasjon"  # the confirmation, in the session and not in the address


def _counts(items: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    counts = {kind: {"total": 0, "free": 0} for kind in KINDS}
    for item in items:
        if item["kind"] in counts and not item["retired"]:
            counts[item["kind"]]["total"] += 1
            counts[item["kind"]]["free"] += bool(item["available"])
    return counts


async def _render(
    request: Request,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    items = await public_api.items(request.app.state.services)
    return render(
        request,
        "public/borrowing.html",
        status,
        title_key="borrow.title",
        counts=_counts(items),
        errors=errors or {},
        values=values or {},
    )


@router.get(PAGE, response_class=HTMLResponse)
async def borrowing(request: Request) -> HTMLResponse:
    return await _render(request)


def _field(refusal: Refused) -> str:
    last = (refusal.field or "").split(".")[-1]
    return last if last in FIELDS else "form"


@router.post(PAGE + "/pallekarm", response_model=None)
async def reserve(request: Request) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    lang = request.state.lang
    values = {k: form.get(k, "") for k in FIELDS}
    errors = {}
    if not values["name"]:
        errors["name"] = i18n.text(lang, "form.required.name")
    if not values["phone"]:
        errors["phone"] = i18n.text(lang, "form.required.phone")
    if errors:
        return await _render(request, 422, errors, values)
    borrower = {"name": values["name"], "phone": values["phone"], "language": lang}
    if values["email"]:
        borrower["email"] = values["email"]
    try:
        made = await public_api.reserve(
            request.app.state.services, {"kind": "planter_box", "borrower": borrower}
        )
    except Refused as exc:
        return await _render(request, exc.status, {_field(exc): exc.detail}, values)
    request.session[DONE] = {
        "status": made["status"],
        "hold_until": made.get("hold_until"),
        # A new borrower's key to their page, given once (a borrower the loans service
        # knew already has theirs, or asks the desk for a new one).
        "token": made.get("manage_token"),
    }
    return back(PAGE + "/reservert")


@router.get(PAGE + "/reservert", response_model=None)
async def reserved(request: Request) -> HTMLResponse | RedirectResponse:
    done = request.session.get(DONE)
    if not done:
        return back(PAGE)
    token = done.get("token")
    if token:  # shown once: the session does not keep the key after this page
        request.session[DONE] = {**done, "token": None}
    manage_url = request.app.state.settings.public_url + loans_path(token) if token else None
    return render(
        request,
        "public/reserved.html",
        title_key="borrow.done.title",
        done=done,
        manage_url=manage_url,
    )
