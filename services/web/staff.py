"""Who is signed in, and what they may do: the session's person, their roles, the token the
web front forwards for them, and the role check each page and action makes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from services.web.clients import Caller, Refused, ServiceDown
from shared.roles import Role

ADMIN = Role.ADMIN.value


class NeedsSignIn(Exception):
    """No session, or it ended: the person is sent to sign in, then back."""


class NotPermitted(Exception):
    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__(", ".join(roles))
        self.roles = roles


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str]
    caller: Caller
    mode: str  # "oidc" or "dev"

    def may(self, *roles: str) -> bool:
        return not roles or ADMIN in self.roles or bool(self.roles & set(roles))


def actor_of(request: Request) -> Actor | None:
    session = request.session
    person = session.get("staff")
    if not person:
        return None
    roles = frozenset(person.get("roles") or ())
    if person.get("mode") == "dev":
        # The dev sign-in acts with the launcher's static token for the chosen role.
        token = request.app.state.settings.dev_token_map.get(next(iter(roles), ""), "")
    else:
        token = session.get("token", "")
    if not token:
        return None
    return Actor(
        str(person.get("name") or ""), roles, Caller(token, request.state.lang), person["mode"]
    )


def staff(*roles: str) -> Callable[[Request], Awaitable[Actor]]:
    """A page's or action's dependency: the signed-in person, when they hold one of `roles`
    (any staff role when none is given)."""

    async def dependency(request: Request) -> Actor:
        actor = actor_of(request)
        if actor is None:
            raise NeedsSignIn()
        request.state.actor = actor  # the refusal page still shows the person's menu
        if not actor.may(*roles):
            raise NotPermitted(roles)
        if actor.may("booking"):
            request.state.nav_count = await _pending_count(request, actor)
        return actor

    return dependency


async def _pending_count(request: Request, actor: Actor) -> int | None:
    services = request.app.state.services

    async def fetch() -> int:
        return len(await services.booking.bookings(actor.caller, status="pending"))

    try:
        count: int = await request.app.state.live.pending_count(fetch)
    except (ServiceDown, Refused):
        return None  # the page still works; only the count is missing
    return count
