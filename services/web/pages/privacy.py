"""Personvern: an admin answers one person's request (issue 18, docs/privacy.md): innsyn
(what each service holds about them, as a page and as a JSON download) and erasure (after
a confirmation, each service's state, done or pending), and the hub's access log.

The person (an email address or a phone number) is personal data: it is only ever posted,
never put in an address, a log line or the session. The export is made again for every
post (nothing about the person is kept by the front); an erasure leaves only its request id
in the session, and its page reads, per service, whether that id is still in the service's
list of erasures to do (shared/person_data.py). The asking and assembling is
shared/person_requests.py, as the ops CLI (`knutepunkt person`) does it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from redis.exceptions import RedisError

from services.web import i18n
from services.web.clients import SignedOut
from services.web.pages.common import back, form_of, render
from services.web.staff import ADMIN, Actor, staff
from shared import access_log, person_requests
from shared.contacts import e164
from shared.settings import SERVICES

router = APIRouter()
PAGE = "/ansatt/personvern"
ERASURE = "privacy_erasure"  # the session's key: the last erasure's request id and answers
LOG_PER_PAGE = 100


def _headers(request: Request, actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {actor.caller.token}", "Accept-Language": actor.caller.lang}


def _checked(request: Request, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The person asked for, and the errors beside the fields (as shared/person_data.PersonIn
    would refuse them, in the page's language)."""
    lang = request.state.lang
    email, phone = form.get("email", ""), form.get("phone", "")
    errors: dict[str, str] = {}
    if not (email or phone):
        errors["email"] = i18n.text(lang, "personvern.person.missing")
    if email and ("@" not in email or len(email) > 320):
        errors["email"] = i18n.text(lang, "personvern.email.wrong")
    if phone and (len(phone) > 32 or e164(phone) is None):
        errors["phone"] = i18n.text(lang, "personvern.phone.wrong")
    asked = {k: v for k, v in (("email", email), ("phone", phone)) if v}
    return asked, errors


def _search(
    request: Request,
    code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "staff/privacy.html",
        code,
        title_key="personvern.title",
        errors=errors or {},
        values=values or {},
    )


async def _export(request: Request, actor: Actor, asked: dict[str, str]) -> dict[str, Any]:
    app = request.app
    made = await person_requests.export_all(
        app.state.settings.service_urls(),
        _headers(request, actor),
        app.state.live.redis,
        app.state.live.names,
        asked,
    )
    if any(why.startswith("answered 401") for why in made["missing"].values()):
        raise SignedOut()  # the admin's token expired: sign in again, not a partial export
    return made


@router.get(PAGE, response_class=HTMLResponse)
async def privacy_page(request: Request, actor: Actor = Depends(staff(ADMIN))) -> HTMLResponse:
    return _search(request)


@router.post(PAGE + "/innsyn", response_class=HTMLResponse)
async def export_page(request: Request, actor: Actor = Depends(staff(ADMIN))) -> HTMLResponse:
    form = await form_of(request)
    asked, errors = _checked(request, form)
    if errors:
        return _search(request, 422, errors, form)
    made = await _export(request, actor, asked)
    return render(
        request,
        "staff/privacy_export.html",
        title_key="personvern.export.title",
        asked=asked,
        made=made,
        services=SERVICES,
        shown=person_requests.shown,
    )


@router.post(PAGE + "/innsyn.json", response_model=None)
async def export_download(
    request: Request, actor: Actor = Depends(staff(ADMIN))
) -> Response | HTMLResponse:
    form = await form_of(request)
    asked, errors = _checked(request, form)
    if errors:
        return _search(request, 422, errors, form)
    made = await _export(request, actor, asked)
    return Response(
        json.dumps(made, ensure_ascii=False, indent=2),
        media_type="application/json",
        # No name or contact in the file name: it ends up in download lists and logs.
        headers={"content-disposition": 'attachment; filename="innsyn.json"'},
    )


@router.post(PAGE + "/slett", response_class=HTMLResponse)
async def erase_confirm(request: Request, actor: Actor = Depends(staff(ADMIN))) -> HTMLResponse:
    form = await form_of(request)
    asked, errors = _checked(request, form)
    if errors:
        return _search(request, 422, errors, form)
    return render(
        request, "staff/privacy_erase.html", title_key="personvern.erase.title", asked=asked
    )


@router.post(PAGE + "/slett/bekreft", response_model=None)
async def erase(
    request: Request, actor: Actor = Depends(staff(ADMIN))
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    asked, errors = _checked(request, form)
    if errors:
        return _search(request, 422, errors, form)
    try:
        made = await person_requests.erase_all(
            request.app.state.settings.service_urls(),
            _headers(request, actor),
            request.app.state.live.redis,
            request.app.state.live.names,
            asked,
        )
    except (RedisError, OSError):
        wrong = i18n.text(request.state.lang, "personvern.erase.redis")
        return _search(request, 503, {"form": wrong}, form)
    request.session[ERASURE] = {
        "request_id": made["request_id"],
        "services": {s: _why(state) for s, state in made["services"].items()},
    }
    return back(PAGE + "/sletting")


def _why(state: str) -> str:
    """A service's first answer as a text key: done, down, refused or in flight."""
    if state == person_requests.DONE:
        return "done"
    if "not answering" in state:
        return "down"
    if "in flight" in state:
        return "flight"
    return "refused"


@router.get(PAGE + "/sletting", response_class=HTMLResponse)
async def erasure_page(request: Request, actor: Actor = Depends(staff(ADMIN))) -> HTMLResponse:
    erasure = request.session.get(ERASURE)
    states: dict[str, str] = {}
    unknown = False
    if erasure:
        first: dict[str, str] = erasure["services"]
        try:
            left = await person_requests.still_pending(
                request.app.state.live.redis, request.app.state.live.names
            )
        except (RedisError, OSError):
            left, unknown = {}, True
        for service in SERVICES:
            if unknown:
                states[service] = first.get(service, "refused")
            elif erasure["request_id"] in left.get(service, []):
                # Still on the service's list: why it was not done at once says why it waits.
                states[service] = first.get(service, "down")
                if states[service] == "done":
                    states[service] = "flight"
            else:
                states[service] = "done"
    return render(
        request,
        "staff/privacy_erasure.html",
        title_key="personvern.erasure.title",
        states=states,
        unknown=unknown,
        all_done=bool(states) and all(v == "done" for v in states.values()),
    )


@router.get(PAGE + "/tilgangslogg", response_class=HTMLResponse)
async def access_log_page(
    request: Request, side: int = 1, actor: Actor = Depends(staff(ADMIN))
) -> HTMLResponse:
    side = max(side, 1)
    try:
        found = await access_log.entries(request.app.state.live.redis, request.app.state.live.names)
        down = False
    except (RedisError, OSError):
        found, down = [], True
    newest_first = list(reversed(found))
    rows = newest_first[(side - 1) * LOG_PER_PAGE : side * LOG_PER_PAGE]
    return render(
        request,
        "staff/privacy_log.html",
        title_key="personvern.log.title",
        rows=rows,
        side=side,
        more=len(newest_first) > side * LOG_PER_PAGE,
        total=len(newest_first),
        down=down,
    )


@router.get(PAGE + "/innsyn", response_class=RedirectResponse)
@router.get(PAGE + "/innsyn.json", response_class=RedirectResponse)
@router.get(PAGE + "/slett", response_class=RedirectResponse)
@router.get(PAGE + "/slett/bekreft", response_class=RedirectResponse)
async def posted_only(actor: Actor = Depends(staff(ADMIN))) -> RedirectResponse:
    """These pages answer a post (the person is never in an address); opened by address,
    as the language switch does, they go back to the search."""
    return back(PAGE)
