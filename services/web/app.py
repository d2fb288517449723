"""The web front's composition root: settings, the services' client, Redis (sessions and
the streams), the stream follower, sign-in, the pages, and one place that turns what can go
wrong (no session, a missing role, a service that is down, a stale form) into a clear page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web import i18n
from services.web.clients import ServiceDown, Services, SignedOut
from services.web.limits import PublicPostLimit
from services.web.links import UsedLinks
from services.web.live import LiveHub
from services.web.pages import (
    about,
    activities,
    borrowing,
    cafe,
    cafe_public,
    closures,
    clubs,
    common,
    links,
    live,
    loans,
    manage,
    notifications,
    organisations,
    preferences,
    privacy,
    public,
    requests,
    rooms,
    signin,
    today,
)
from services.web.pages import (
    hub as front_page,
)
from services.web.sessions import CLEAR, SessionMiddleware, SessionStore
from services.web.settings import WebSettings
from services.web.signin import OidcSignIn
from services.web.staff import NeedsSignIn, NotPermitted
from shared.action_links import ActionLinks
from shared.calendar import local_date, utcnow
from shared.messaging.redis import StreamNames, connect
from shared.observability import correlation_id
from shared.ratelimit import Limit, parse_networks
from shared.tasks import stop_tasks
from shared.warm_up import warm_up

log = logging.getLogger("knutepunkt.web")
STATIC = Path(__file__).resolve().parent / "static"


def security_headers(issuer: str) -> dict[str, str]:
    form_action = "'self'" + (f" {issuer}" if issuer else "")
    return {
        # No inline script or style anywhere: scripts only enhance, from our own files.
        "content-security-policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'"
        ),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "cross-origin-opener-policy": "same-origin",
    }


class FrontMiddleware:
    """Outermost: the correlation id, the page's language, the security headers, no caching
    of staff pages, and a plain page if even the session store is away."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        lang = i18n.language_of(request.cookies.get(i18n.LANG_COOKIE))
        scope.setdefault("state", {})["lang"] = lang
        cid = str(uuid.uuid4())
        token = correlation_id.set(cid)
        # Staff pages, and a booker's own (personal data behind the manage link).
        private = scope["path"].startswith(("/ansatt", "/mine"))
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                headers["x-correlation-id"] = cid
                if private:
                    headers["cache-control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("request failed")
            if not started:
                # A bug, or even the session store away: a plain page, never a trace.
                page = common.env.get_template("errors/bare.html").render(
                    lang=lang, t=lambda k, **v: i18n.text(lang, k, **v)
                )
                await HTMLResponse(page, status_code=500)(scope, receive, sending)
        finally:
            correlation_id.reset(token)


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    redis = connect(settings.redis_url)
    names = StreamNames(settings.stream_prefix)
    hub = LiveHub(redis, names)
    services = Services(settings.service_urls(), settings.service_timeout_seconds, cache=hub.cache)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        follower = asyncio.create_task(hub.follow(), name="stream-follower")
        warm_up(app, local_date(utcnow()))  # not in the first visitor's page
        log.info("web ready on port %s", settings.port)
        try:
            yield
        finally:
            await stop_tasks([follower])
            await services.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Knutepunkt web", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.services = services
    app.state.live = hub
    app.state.oidc = OidcSignIn(settings) if settings.oidc_issuer else None

    app.state.action_links = (
        ActionLinks(settings.action_link_secret) if settings.action_link_secret else None
    )
    app.state.used_links = UsedLinks(redis, settings.stream_prefix)

    pages = (public, signin, today, requests, loans, cafe, closures, notifications, live, links)
    # The citizens' pages (issue 17): the hub, activities, the café, clubs, borrowing, about.
    citizens = (front_page, activities, cafe_public, clubs, borrowing, about)
    for module in (*pages, *citizens):
        app.include_router(module.router)
    for module in (rooms, manage):  # the citizens' rooms and what they booked (issue 17)
        app.include_router(module.router)
    app.include_router(preferences.router)  # a recipient's choices, from their emails' link
    app.include_router(organisations.router)
    app.include_router(privacy.router)  # an admin's personvern pages (issue 18)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health/live", include_in_schema=False)
    async def alive() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        try:
            await asyncio.wait_for(redis.ping(), 2)
        except Exception as exc:
            return JSONResponse({"status": "not ready", "redis": type(exc).__name__}, 503)
        return JSONResponse(
            {"status": "ready", "service": "web", "following": hub.following.is_set()}
        )

    _add_error_pages(app)
    store = SessionStore(
        redis, settings.stream_prefix, settings.session_secret, settings.session_seconds
    )
    app.state.session_store = store
    post_limit = Limit.parse(settings.public_post_limit)
    if post_limit is not None:
        app.add_middleware(
            PublicPostLimit, limit=post_limit, trusted=parse_networks(settings.trusted_proxies)
        )
    app.add_middleware(SessionMiddleware, store=store, secure=settings.secure_cookies)
    app.add_middleware(FrontMiddleware, headers=security_headers(settings.oidc_issuer))
    return app


def _error_page(request: Request, status: int, key: str, **context: Any) -> HTMLResponse:
    return common.render(
        request, "errors/page.html", status, title_key=f"error.{key}.title", key=key, **context
    )


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(NeedsSignIn)
    async def needs_sign_in(request: Request, _exc: NeedsSignIn) -> RedirectResponse:
        target = request.url.path if request.method == "GET" else "/ansatt/"
        return RedirectResponse(f"/ansatt/logg-inn?neste={target}", status_code=303)

    @app.exception_handler(SignedOut)
    async def signed_out(request: Request, _exc: SignedOut) -> RedirectResponse:
        request.scope[CLEAR] = True
        return RedirectResponse("/ansatt/logg-inn?utlopt=1", status_code=303)

    @app.exception_handler(NotPermitted)
    async def not_permitted(request: Request, exc: NotPermitted) -> HTMLResponse:
        roles = ", ".join(i18n.text(request.state.lang, f"role.{r}") for r in exc.roles)
        return _error_page(request, 403, "forbidden", roles=roles)

    @app.exception_handler(ServiceDown)
    async def service_down(request: Request, exc: ServiceDown) -> HTMLResponse:
        service = i18n.text(request.state.lang, f"service.{exc.service}")
        return _error_page(request, 503, "down", service=service)

    @app.exception_handler(common.BadForm)
    async def bad_form(request: Request, _exc: common.BadForm) -> HTMLResponse:
        return _error_page(request, 400, "form")

    # The router's own "no such route" and "wrong method" too, by status: a page, not JSON.
    @app.exception_handler(common.NoSuchPage)
    @app.exception_handler(404)
    @app.exception_handler(405)
    async def no_such_page(request: Request, _exc: Exception) -> HTMLResponse | PlainTextResponse:
        if request.url.path.startswith("/static"):
            return PlainTextResponse("not found", status_code=404)
        return _error_page(request, 404, "notfound")
