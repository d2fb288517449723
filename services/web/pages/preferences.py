"""Varsler fra Knutepunkt: a recipient's own choices of email, SMS and reminders, from the
link at the foot of their emails (`/mine/varsler/<token>`, notify's HMAC of their address:
it names nobody). As the manage links (manage.py): the token travels in the path (never a
query, never a log) and to notify as X-Preference-Token, and a token that opens nothing
gives the same page as an address that is not here.

The same address is the emails' `List-Unsubscribe`, with `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` (RFC 8058): a mail program's one-click POST of exactly that
body, without a cookie and so without the form's CSRF token, turns email off and is
answered in plain text. Any other POST is the page's form, CSRF checked as every form."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from services.web import i18n
from services.web.clients import Refused
from services.web.limits import forwarded
from services.web.pages.common import (
    MAX_FORM_BYTES,
    NoSuchPage,
    back,
    flash,
    form_of,
    render,
)
from shared.manage_links import PREFERENCE_TOKEN, PREFERENCES_PATH

router = APIRouter()
CHOICES = ("email", "sms", "reminders")
ONE_CLICK = b"List-Unsubscribe=One-Click"


def posted_choices(form: dict[str, str]) -> dict[str, bool]:
    """The choices a form posted: an unticked box is not sent, so it is a no. Also the
    desk's form for a caller (pages/notifications.py)."""
    return {name: form.get(name) == "1" for name in CHOICES}


def path_of(token: str) -> str:
    return f"{PREFERENCES_PATH}{token}"


def _check(token: str) -> None:
    if not PREFERENCE_TOKEN.match(token):
        raise NoSuchPage()


async def _choices(request: Request, token: str) -> dict[str, Any]:
    """The recipient's choices and the hint of their address; nobody's token: no page."""
    try:
        return await request.app.state.services.notify.my_preferences(token, request.state.lang)
    except Refused as exc:
        raise NoSuchPage() from exc


async def _save(request: Request, token: str, choices: dict[str, bool]) -> dict[str, Any]:
    """All three choices to notify; a token that opens nothing: no page."""
    try:
        return await request.app.state.services.notify.set_my_preferences(
            token, choices, request.state.lang, forwarded(request)
        )
    except Refused as exc:
        if exc.status == 404:
            raise NoSuchPage() from exc
        raise


def _page(
    request: Request,
    prefs: dict[str, Any],
    token: str,
    status: int = 200,
    error: str = "",
) -> HTMLResponse:
    return render(
        request,
        "public/preferences.html",
        status,
        title_key="prefs.title",
        prefs=prefs,
        choices=CHOICES,
        error=error,
        here=path_of(token),
    )


def is_one_click(content_type: str, body: bytes) -> bool:
    """RFC 8058's one-click POST: its one field `List-Unsubscribe=One-Click`, urlencoded
    (what the big mail providers send) or as multipart/form-data (what the RFC prefers)."""
    kind = content_type.split(";")[0].strip().lower()
    if len(body) > MAX_FORM_BYTES:
        return False
    if kind == "application/x-www-form-urlencoded":
        return body.rstrip(b"\r\n") == ONE_CLICK
    if kind != "multipart/form-data":
        return False
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return False
    parts = list(message.iter_parts())
    if len(parts) != 1:
        return False
    part = parts[0]
    name = part.get_param("name", header="content-disposition")
    if part.get_content_disposition() != "form-data" or part.get_filename() is not None:
        return False
    value = part.get_payload(decode=True)
    name_field, value_field = ONE_CLICK.split(b"=")
    return name == name_field.decode() and isinstance(value, bytes) and value.strip() == value_field


@router.get(PREFERENCES_PATH + "{token}", response_class=HTMLResponse)
async def preferences_page(request: Request, token: str) -> HTMLResponse:
    _check(token)
    return _page(request, await _choices(request, token), token)


@router.post(PREFERENCES_PATH + "{token}", response_model=None)
async def save_preferences(
    request: Request, token: str
) -> HTMLResponse | PlainTextResponse | RedirectResponse:
    _check(token)
    # Read first, as the manage pages do: nobody's token is no page, whatever was posted.
    now = await _choices(request, token)
    if is_one_click(request.headers.get("content-type", ""), await request.body()):
        # No session is touched: the mail program's POST carries no cookie, and gets none.
        kept = {"email": False, "sms": now["sms"], "reminders": now["reminders"]}
        try:
            await _save(request, token, kept)
        except Refused as exc:  # not a page: the mail program reads the status
            return PlainTextResponse(exc.detail, status_code=exc.status)
        return PlainTextResponse(i18n.text(request.state.lang, "prefs.one_click"))
    form = await form_of(request)
    choices = posted_choices(form)
    try:
        await _save(request, token, choices)
    except Refused as exc:
        return _page(request, {**now, **choices}, token, 422, error=exc.detail)
    flash(request, "prefs.saved")
    return back(path_of(token))
