"""Signing in and out: OpenID Connect, or (only when the launcher enabled it) the dev
sign-in that lets you choose a role."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web.pages.common import NoSuchPage, back, flash, form_of, render
from services.web.sessions import CLEAR, ROTATE
from services.web.signin import SIGNED_OUT, SignInFailed
from services.web.staff import actor_of
from shared.roles import Role

router = APIRouter()
log = logging.getLogger("knutepunkt.web.signin")
DEV_ROLES = tuple(role.value for role in Role)
SIGNED_OUT_PAGE = "/ansatt/logg-inn?utlogget=1"


def _safe_next(target: str | None) -> str:
    # Only our own staff pages: never an open redirect to another site.
    if target and target.startswith("/ansatt") and "//" not in target and "\\" not in target:
        return target
    return "/ansatt/"


@router.get("/ansatt/logg-inn", response_class=HTMLResponse)
async def sign_in_page(
    request: Request,
    neste: str | None = None,
    utlopt: str | None = None,
    utlogget: str | None = None,
) -> HTMLResponse:
    request.session["after_signin"] = _safe_next(neste)
    return _signin_page(request, 200, expired=bool(utlopt), signed_out=bool(utlogget))


def _signin_page(
    request: Request,
    status: int,
    error: str | None = None,
    expired: bool = False,
    signed_out: bool = False,
) -> HTMLResponse:
    return render(
        request,
        "staff/signin.html",
        status,
        title_key="signin.title",
        oidc=request.app.state.oidc is not None,
        dev=request.app.state.settings.dev_signin,
        dev_roles=DEV_ROLES,
        expired=expired,
        signed_out=signed_out,
        error=error,
    )


@router.get("/ansatt/logg-inn/kommune")
async def sign_in_oidc(request: Request) -> RedirectResponse:
    oidc = request.app.state.oidc
    if oidc is None:
        raise NoSuchPage()
    return await oidc.start(request)


@router.get("/ansatt/innlogget", response_model=None)
async def signed_in(request: Request) -> HTMLResponse | RedirectResponse:
    oidc = request.app.state.oidc
    if oidc is None:
        raise NoSuchPage()
    try:
        person = await oidc.finish(request)
    except SignInFailed as exc:
        log.info("sign-in failed: %s", exc)
        return _signin_page(request, 400, error="signin.failed")
    if not person["roles"]:
        return _signin_page(request, 403, error="signin.noroles")
    return _start_session(
        request,
        {"name": person["name"], "roles": person["roles"], "mode": "oidc"},
        token=person["token"],
        cap=person["expires"],
    )


@router.post("/ansatt/logg-inn/utvikling")
async def sign_in_dev(request: Request) -> RedirectResponse:
    settings = request.app.state.settings
    if not settings.dev_signin:
        raise NoSuchPage()  # only the launcher's embedded hub has it
    form = await form_of(request)
    role = form.get("role", "")
    if role not in settings.dev_token_map:
        flash(request, "signin.choose")
        return back("/ansatt/logg-inn")
    name = f"Test ({role})"
    return _start_session(request, {"name": name, "roles": [role], "mode": "dev"})


def _start_session(
    request: Request, person: dict[str, object], token: str | None = None, cap: float | None = None
) -> RedirectResponse:
    target = _safe_next(request.session.get("after_signin"))
    request.session.clear()
    request.session["staff"] = person
    if token:
        request.session["token"] = token
    if cap:
        request.session["_cap"] = cap
    request.scope[ROTATE] = True  # a new session id at sign-in: no fixation
    log.info("staff signed in (%s)", person["mode"])
    return back(target)


@router.post("/ansatt/logg-ut")
async def sign_out(request: Request) -> RedirectResponse:
    """The hub's session ends at once (deleted in Redis); a person signed in through the
    provider is then sent there to sign out too, when it offers that, and comes back to
    /ansatt/utlogget. Without it, straight to the sign-in page."""
    await form_of(request)
    signed_in_there = (request.session.get("staff") or {}).get("mode") == "oidc"
    actor = actor_of(request)
    if actor is not None:  # what was fetched with their token goes with the session
        request.app.state.services.kept.forget(actor.caller.token)
    request.scope[CLEAR] = True
    oidc = request.app.state.oidc
    if oidc is not None and signed_in_there:
        target = await oidc.end_session_url(secrets.token_urlsafe(16))
        if target:
            return RedirectResponse(target, status_code=303)
    return back(SIGNED_OUT_PAGE)


@router.get(SIGNED_OUT)
async def signed_out(request: Request) -> RedirectResponse:
    """Back from the provider's sign-out: nothing to check (the session is already gone),
    only the sign-in page that says so."""
    return back(SIGNED_OUT_PAGE)
