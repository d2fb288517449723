"""The public forms' rate limit per client address (shared/ratelimit.py, the same limiter
the services put on their own public writes): over it, a readable 429 page with Retry-After.
Staff pages (/ansatt/) are behind a sign-in and not counted."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.web.pages import common
from shared.ratelimit import Limit, Network, RateLimiter, client_address, retry_after


class PublicPostLimit:
    """Inside the session middleware: the page it answers with is rendered as any other."""

    def __init__(self, app: ASGIApp, limit: Limit, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.limiter = RateLimiter(limit)
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].startswith("/ansatt")
        ):
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted)
        scope.setdefault("state", {})["client_address"] = address
        wait = self.limiter.hit(address)
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = retry_after(wait)
        minutes = max(1, -(-int(seconds) // 60))
        page = common.render(
            Request(scope),
            "errors/page.html",
            429,
            title_key="error.busy.title",
            key="busy",
            minutes=minutes,
        )
        page.headers["Retry-After"] = seconds
        await page(scope, receive, send)


def forwarded(request: Request) -> dict[str, str]:
    """The citizen's address for a service's own public write limit, which believes it from
    this front (TRUSTED_PROXIES there): every citizen is not counted as the front."""
    address = getattr(request.state, "client_address", None)
    return {"X-Forwarded-For": address} if address else {}
