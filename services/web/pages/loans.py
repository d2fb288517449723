"""Utlån, the citizens' desk: lend a PC or a planter box to a borrower found or created by
phone number, take it back with its condition, renew; the items and their status, what is
due today and overdue (with the reminder level each has reached), each kind's waiting list
in the order items will be offered, and the book swap's count."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.common import back, flash, form_of, part, render, today
from services.web.staff import Actor, staff

router = APIRouter()
DESK = "desk"
PAGE = "/ansatt/utlan"
LENT_KINDS = ("pc", "planter_box", "other")
CONDITIONS = ("ok", "worn", "damaged")
LEND_FIELDS = {
    "item_id": "item_id",
    "name": "name",
    "phone": "phone",
    "email": "email",
    "days": "days",
}


@router.get(PAGE, response_class=HTMLResponse)
async def loans_page(request: Request, actor: Actor = Depends(staff(DESK))) -> HTMLResponse:
    return await _render(request, actor)


async def _render(
    request: Request,
    actor: Actor,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    api = request.app.state.services.loans
    items = await api.items(actor.caller)
    active, overdue, waiting, shelf = await asyncio.gather(
        api.loans(actor.caller, "active"),
        api.loans(actor.caller, "overdue"),
        part(api.waiting_lists(actor.caller), []),
        part(api.shelf(), {}),
    )
    day = today()
    lendable = [i for i in items if i["kind"] in LENT_KINDS and not i["retired"]]
    return render(
        request,
        "staff/loans.html",
        status,
        title_key="loans.title",
        live=("loans",),
        items=lendable,
        free=[i for i in lendable if i["available"]],
        due_today=[loan for loan in active if i18n.local(loan["due_at"]).date() == day],
        overdue=sorted(overdue, key=lambda loan: loan["due_at"]),
        active=sorted(active, key=lambda loan: loan["due_at"]),
        waiting=_lines(waiting.value),
        # Items offered to the first in line: not free, but not lent either.
        held={e["offered_item_id"] for line in waiting.value for e in line["entries"]} - {None},
        waiting_down=waiting.down,
        on_shelf=shelf.value.get("on_shelf"),
        conditions=CONDITIONS,
        errors=errors or {},
        values=values or {},
    )


def _lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The waiting lists, each entry marked when it waits for a later date (not yet in line
    for an item that comes back now)."""
    now = datetime.now(i18n.OSLO)
    return [
        {
            **line,
            "entries": [
                {**e, "later": i18n.local(e["wanted_from"]) > now} for e in line["entries"]
            ],
        }
        for line in lines
    ]


def _field(refusal: Refused) -> str:
    name = (refusal.field or "").split(".")[-1]
    return LEND_FIELDS.get(name, "form")


@router.post(PAGE + "/lan", response_model=None)
async def lend(
    request: Request, actor: Actor = Depends(staff(DESK))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    missing = {f: "loans.required" for f in ("item_id", "name", "phone") if not form.get(f)}
    days = form.get("days", "")
    if days and not (days.isascii() and days.isdigit()):  # "²" is a digit to isdigit()
        missing["days"] = "loans.days.invalid"
    if missing:
        lang = request.state.lang
        errors = {k: i18n.text(lang, v) for k, v in missing.items()}
        return await _render(request, actor, 422, {"lend": errors}, form)
    body: dict[str, Any] = {
        "item_id": form["item_id"],
        "borrower": {"name": form["name"], "phone": form["phone"], "language": request.state.lang},
    }
    if form.get("email"):
        body["borrower"]["email"] = form["email"]
    if days:
        body["days"] = int(days)
    try:
        loan = await request.app.state.services.loans.lend(actor.caller, body)
    except Refused as exc:
        return await _render(request, actor, 422, {"lend": {_field(exc): exc.detail}}, form)
    flash(
        request,
        "loans.lent",
        item=loan["item_label"],
        due=i18n.when(request.state.lang, loan["due_at"]),
    )
    return back(PAGE)


@router.post(PAGE + "/{loan_id}/retur", response_model=None)
async def give_back(
    request: Request, loan_id: str, actor: Actor = Depends(staff(DESK))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    condition = form.get("condition", "ok")
    if condition not in CONDITIONS:
        condition = "ok"
    body: dict[str, Any] = {"condition": condition}
    if form.get("notes"):
        body["notes"] = form["notes"]
    try:
        loan = await request.app.state.services.loans.give_back(actor.caller, loan_id, body)
    except Refused as exc:
        return await _render(request, actor, 422, {loan_id: {"return": exc.detail}})
    key = "loans.returned.damaged" if condition == "damaged" else "loans.returned"
    flash(request, key, item=loan["item_label"])
    return back(PAGE)


@router.post(PAGE + "/{loan_id}/forleng", response_model=None)
async def renew(
    request: Request, loan_id: str, actor: Actor = Depends(staff(DESK))
) -> HTMLResponse | RedirectResponse:
    await form_of(request)
    try:
        loan = await request.app.state.services.loans.renew(actor.caller, loan_id)
    except Refused as exc:
        return await _render(request, actor, 409, {loan_id: {"renew": exc.detail}})
    flash(
        request,
        "loans.renewed",
        item=loan["item_label"],
        due=i18n.when(request.state.lang, loan["due_at"]),
    )
    return back(PAGE)
