"""Varsler: the notification log (queued, sent, delivered, failed, suppressed), filtered by
status and by recipient, and a failed message sent again. With a recipient chosen, their
choices of email, SMS and reminders, which staff can set for a caller who asks (someone
who only gets SMS has no link to a page of their own).

The recipient (an email address or a phone number) is personal data, so it never goes in
the page's address: it is posted, kept in the person's own session (in Redis, gone at
sign-out or when the session ends) and applied to every page of the log until it is
cleared. The address carries only the status and the page number."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.pages.common import back, flash, form_of, render
from services.web.pages.preferences import CHOICES, posted_choices
from services.web.staff import Actor, staff

router = APIRouter()
PAGE = "/ansatt/varsler"
STATUSES = ("queued", "sending", "sent", "delivered", "failed", "suppressed")
PER_PAGE = 50
RECIPIENT = "notify_recipient"  # the session's key for the recipient filter


@router.get(PAGE, response_class=HTMLResponse)
async def notifications_page(
    request: Request, status: str | None = None, side: int = 1, actor: Actor = Depends(staff())
) -> HTMLResponse:
    return await _render(request, actor, status, side)


async def _render(
    request: Request,
    actor: Actor,
    status: str | None,
    side: int = 1,
    code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    ticked: dict[str, bool] | None = None,
) -> HTMLResponse:
    """`values`: the recipient form as posted; `ticked`: the choices as posted."""
    chosen = status if status in STATUSES else None
    side = max(side, 1)
    given = (values or {}).get("recipient")
    recipient = request.session.get(RECIPIENT)
    notify = request.app.state.services.notify

    async def choices() -> dict[str, Any] | str | None:
        """The recipient's choices, or notify's reason for keeping none for that text."""
        if not recipient:
            return None
        try:
            return await notify.preferences_of(actor.caller, recipient)
        except Refused as exc:
            return exc.detail

    # Both reads at once: the page is fetched again at every notification event (live.py).
    rows, prefs = await asyncio.gather(
        notify.notifications(
            actor.caller,
            chosen,
            limit=PER_PAGE + 1,
            offset=(side - 1) * PER_PAGE,
            recipient=recipient,
        ),
        choices(),
    )
    if isinstance(prefs, str):  # not an address choices can be kept for: the reason instead
        errors, prefs = {"choices": prefs, **(errors or {})}, None
    return render(
        request,
        "staff/notifications.html",
        code,
        title_key="notifications.title",
        live=("notifications",),
        rows=rows[:PER_PAGE],
        more=len(rows) > PER_PAGE,
        side=side,
        chosen=chosen,
        statuses=STATUSES,
        recipient=recipient,
        typed=recipient if given is None else given,
        prefs=None if prefs is None else {**prefs, **(ticked or {})},
        choices=CHOICES,
        errors=errors or {},
    )


def _back(status: str | None) -> RedirectResponse:
    """To the log, with its status filter kept."""
    return back(PAGE + (f"?status={status}" if status in STATUSES else ""))


@router.post(PAGE + "/{delivery_id}/prov-igjen", response_model=None)
async def retry(
    request: Request, delivery_id: str, actor: Actor = Depends(staff())
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    status = form.get("status") or None
    try:
        await request.app.state.services.notify.retry(actor.caller, delivery_id)
    except Refused as exc:
        return await _render(request, actor, status, 1, 409, {delivery_id: exc.detail})
    flash(request, "notifications.retried")
    return _back(status)


@router.post(PAGE + "/mottaker", response_model=None)
async def filter_by_recipient(
    request: Request, actor: Actor = Depends(staff())
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    status = form.get("status") or None
    recipient = form.get("recipient", "").strip()
    # What notify takes (its NotificationSearch): the filter must never be one it refuses.
    if not recipient or len(recipient) > 254 or "\x00" in recipient:
        wrong = i18n.text(request.state.lang, "notifications.recipient.missing")
        request.session.pop(RECIPIENT, None)
        return await _render(request, actor, status, 1, 422, {"recipient": wrong}, form)
    request.session[RECIPIENT] = recipient
    return _back(status)


@router.post(PAGE + "/mottaker/valg", response_model=None)
async def set_choices(
    request: Request, actor: Actor = Depends(staff())
) -> HTMLResponse | RedirectResponse:
    """The chosen recipient's choices, as staff set them for a caller (an unticked box is
    not sent: no)."""
    form = await form_of(request)
    status = form.get("status") or None
    recipient = request.session.get(RECIPIENT)
    if recipient:
        choices = posted_choices(form)
        try:
            await request.app.state.services.notify.set_preferences_of(
                actor.caller, recipient, choices
            )
        except Refused as exc:
            refused = {"choices": exc.detail}
            return await _render(request, actor, status, 1, 422, refused, ticked=choices)
        flash(request, "notifications.choices.saved")
    return _back(status)


@router.post(PAGE + "/mottaker/fjern", response_model=None)
async def clear_recipient(request: Request, actor: Actor = Depends(staff())) -> RedirectResponse:
    form = await form_of(request)
    status = form.get("status") or None
    request.session.pop(RECIPIENT, None)
    return _back(status)
