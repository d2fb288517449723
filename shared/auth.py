"""Staff bearer tokens with roles, and citizens' manage tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import NotAllowed, NotAuthenticated
from shared.roles import Role

_bearer = HTTPBearer(auto_error=False)
ADMIN = Role.ADMIN


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """Manage tokens are stored hashed: a leaked database does not hand out bookings."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, digest: str | None) -> bool:
    if not token or not digest:
        return False
    return hmac.compare_digest(hash_token(token), digest)


class Staff:
    def __init__(self, token_hint: str, roles: frozenset[str]) -> None:
        self.token_hint = token_hint
        self.roles = roles


def staff_roles(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Staff | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    tokens: dict[str, frozenset[str]] = request.app.state.runtime.settings.tokens
    for token, roles in tokens.items():
        if hmac.compare_digest(token.encode(), credentials.credentials.encode()):
            return Staff(token[:4], roles)
    return None


def require_staff(*roles: str) -> Callable[..., Staff]:
    """A dependency: 401 without a valid staff token, 403 when it lacks every given role."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Staff:
        staff = staff_roles(request, credentials)
        if staff is None:
            raise NotAuthenticated(
                "a staff bearer token is required",
                nb="krever innlogging som ansatt (bearer-token)",
                code="staff_token_required",
            )
        if roles and ADMIN not in staff.roles and not staff.roles & set(roles):
            raise NotAllowed(
                f"this needs one of the roles: {', '.join(roles)}",
                nb=f"dette krever en av rollene: {', '.join(roles)}",
                code="role_required",
                roles=list(roles),
            )
        return staff

    return dependency


def optional_staff(*roles: str) -> Callable[..., Staff | None]:
    """A dependency: the staff member when a valid token with a role is given, else None."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Staff | None:
        staff = staff_roles(request, credentials)
        if staff and (not roles or ADMIN in staff.roles or staff.roles & set(roles)):
            return staff
        return None

    return dependency
