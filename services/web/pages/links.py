"""One-click links from staff messages (shared/action_links.py): `/ansatt/lenke/<token>`.

Opening a link never acts by itself (mail scanners and link previews open links too): it
shows what will happen, with a button. The person signs in first (and comes back here), needs
the role the action needs, and the action goes to the service with their own token, which
checks the role again. A link is used once: spent when the action was done or refused for
good; a stale, used or foreign link gets a page that says so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.links import LinkState, UsedLinks
from services.web.pages.common import back, flash, form_of, render
from services.web.staff import Actor, staff
from shared.action_links import PATH, Action, ActionLink, ActionLinks, LinkRefused

router = APIRouter()
# What the item's status is while the action still makes sense.
WAITING = {"booking_id": "pending", "order_id": "pending_acceptance"}
# A refusal worth another try with the same link: the form (a field at fault), or who asked.
RETRYABLE = (401, 403, 429)


@router.get(PATH + "{token}", response_class=HTMLResponse)
async def link_page(request: Request, token: str) -> HTMLResponse:
    link = _read(request, token)
    if isinstance(link, HTMLResponse):
        return link
    actor = await staff(link.action.role)(request)
    if await _used(request).state(link) is LinkState.USED:
        return _stale(request, link, "used", 410)
    try:
        item = await _item(request, actor, link)
    except Refused as exc:
        return _stale(request, link, "refused", exc.status, reason=exc.detail)
    if item["status"] != WAITING[link.action.item_field]:
        return _answered(request, link, item)
    return _confirm(request, link, item)


@router.post(PATH + "{token}", response_model=None)
async def use_link(request: Request, token: str) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    link = _read(request, token)
    if isinstance(link, HTMLResponse):
        return link
    actor = await staff(link.action.role)(request)
    used = _used(request)
    if await used.state(link) is LinkState.USED:
        return _stale(request, link, "used", 410)  # before the form: nothing left to fix
    reason = form.get("reason", "") if link.action.needs_reason else None
    if link.action.needs_reason and not reason:
        missing = i18n.text(request.state.lang, "link.reason.missing")
        return await _again(request, actor, link, 422, reason_error=missing)
    seconds = link.seconds_left(_now())
    if not await used.claim(link, seconds):
        if await used.state(link) is LinkState.USED:
            return _stale(request, link, "used", 410)
        return _stale(request, link, "busy", 409)
    try:
        done = await _act(request, actor, link, reason)
    except Refused as exc:
        if exc.field or exc.status in RETRYABLE:
            await used.release(link)
            if exc.field:
                return await _again(request, actor, link, exc.status, exc.detail, reason or "")
            return await _again(request, actor, link, exc.status, refusal=exc.detail)
        await used.spend(link, seconds)  # refused for good: e.g. someone answered first
        return _stale(request, link, "refused", exc.status, reason=exc.detail)
    except BaseException:
        await used.release(link)  # the service down, the person signed out: try again later
        raise
    await used.spend(link, seconds)
    return _done(request, link, done)


# -- reading the link ----------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _used(request: Request) -> UsedLinks:
    used: UsedLinks = request.app.state.used_links
    return used


def _read(request: Request, token: str) -> ActionLink | HTMLResponse:
    links: ActionLinks | None = request.app.state.action_links
    if links is None:
        return _stale(request, None, "invalid", 404)
    try:
        return links.read(token, _now())
    except LinkRefused as exc:
        return _stale(request, None, exc.why, 404 if exc.why == "invalid" else 410)


async def _item(request: Request, actor: Actor, link: ActionLink) -> dict[str, Any]:
    services = request.app.state.services
    if link.action.item_field == "booking_id":
        booking: dict[str, Any] = await services.booking.booking(actor.caller, link.item_id)
        return booking
    order: dict[str, Any] = await services.catering.order(actor.caller, link.item_id)
    return order


async def _act(
    request: Request, actor: Actor, link: ActionLink, reason: str | None
) -> dict[str, Any]:
    services = request.app.state.services
    action, item = link.action, link.item_id
    if action is Action.APPROVE_BOOKING:
        done: dict[str, Any] = await services.booking.approve(actor.caller, item)
    elif action is Action.REJECT_BOOKING:
        done = await services.booking.reject(actor.caller, item, reason or "")
    elif action is Action.ACCEPT_ORDER:
        done = await services.catering.act(actor.caller, item, "accept")
    else:
        done = await services.catering.act(actor.caller, item, "reject", reason)
    return done


# -- the pages -------------------------------------------------------------------------------


def _home(link: ActionLink | None) -> tuple[str, str]:
    """Where the person can go instead: the page the link's work belongs to."""
    if link is None:
        return "/ansatt/", "link.home"
    if link.action.item_field == "booking_id":
        return "/ansatt/foresporsler", "link.requests"
    return "/ansatt/kafe", "link.cafe"


def _confirm(
    request: Request,
    link: ActionLink,
    item: dict[str, Any],
    status: int = 200,
    *,
    refusal: str | None = None,
    reason_error: str | None = None,
    reason: str = "",
) -> HTMLResponse:
    home, home_key = _home(link)
    return render(
        request,
        "staff/link.html",
        status,
        title_key=f"link.{link.action.value}.title",
        action=link.action.value,
        needs_reason=link.action.needs_reason,
        booking=item if link.action.item_field == "booking_id" else None,
        order=item if link.action.item_field == "order_id" else None,
        expires=link.expires_at.isoformat(),
        refusal=refusal,
        reason_error=reason_error,
        reason=reason,
        home=home,
        home_key=home_key,
    )


async def _again(
    request: Request,
    actor: Actor,
    link: ActionLink,
    status: int,
    reason_error: str | None = None,
    reason: str = "",
    refusal: str | None = None,
) -> HTMLResponse:
    """The confirm page once more, with what went wrong (the link is not spent)."""
    try:
        item = await _item(request, actor, link)
    except Refused as exc:
        return _stale(request, link, "refused", exc.status, reason=exc.detail)
    return _confirm(
        request, link, item, status, refusal=refusal, reason_error=reason_error, reason=reason
    )


def _answered(request: Request, link: ActionLink, item: dict[str, Any]) -> HTMLResponse:
    prefix = "booking." if link.action.item_field == "booking_id" else "order."
    now = i18n.text(request.state.lang, prefix + str(item["status"]))
    return _stale(request, link, "answered", 409, state=now)


def _stale(
    request: Request, link: ActionLink | None, key: str, status: int, **values: str
) -> HTMLResponse:
    home, home_key = _home(link)
    return render(
        request,
        "staff/link_stale.html",
        status,
        title_key=f"link.{key}.title",
        key=key,
        values=values,
        home=home,
        home_key=home_key,
    )


def _done(request: Request, link: ActionLink, done: dict[str, Any]) -> RedirectResponse:
    action = link.action
    if action.item_field == "booking_id":
        title = done.get("title") or done.get("resource_name") or ""
        key = "requests.approved" if action is Action.APPROVE_BOOKING else "requests.rejected"
        flash(request, key, title=title)
        return back("/ansatt/foresporsler")
    flash(request, "cafe.done.accept" if action is Action.ACCEPT_ORDER else "cafe.done.reject")
    day = done.get("pickup_date")
    return back(f"/ansatt/kafe?dato={day}" if day else "/ansatt/kafe")
