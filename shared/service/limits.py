"""The services' public writes (a POST without a staff bearer token: a booking, a sign-up,
an order, a cancel with a manage token) under the same limit per client address as the web
front's public forms (shared/ratelimit.py): 429 problem details with Retry-After."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.ratelimit import Limit, Network, RateLimiter, client_address, retry_after
from shared.service.problems import language_of, problem


class PublicWriteLimit:
    def __init__(self, app: ASGIApp, limit: Limit, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.limiter = RateLimiter(limit)
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _has_bearer(scope):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.hit(client_address(scope, self.trusted))
        if not wait:
            await self.app(scope, receive, send)
            return
        nb = language_of(Request(scope)) == "nb"
        detail = (
            "for mange innsendinger fra denne adressen; prøv igjen litt senere"
            if nb
            else "too many posts from this address; try again a little later"
        )
        answer = problem(429, "rate_limited", detail, headers={"Retry-After": retry_after(wait)})
        await answer(scope, receive, send)


def _has_bearer(scope: Scope) -> bool:
    # Staff and service accounts are let through here; their token is checked by the route.
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return bool(value[:7].lower() == b"bearer ")
    return False
