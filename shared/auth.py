"""Staff bearer tokens with roles, and citizens' manage tokens.

A staff bearer token is either one of the static service-account tokens (`STAFF_TOKENS`) or
a signed-in person's access token: a JWT from the OpenID Connect issuer (`OIDC_ISSUER`),
verified against the issuer's published keys (JWKS, fetched and cached), for our audience
(`OIDC_AUDIENCE`), with the staff roles in `OIDC_ROLES_CLAIM`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.errors import NotAllowed, NotAuthenticated
from shared.events import Actor
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
    def __init__(
        self,
        token_hint: str,
        roles: frozenset[str],
        subject: str | None = None,
        account: str | None = None,
    ) -> None:
        self.token_hint = token_hint
        self.roles = roles
        # The signed-in person (the token's `sub`); None for a service account's token.
        self.subject = subject
        # A service account's name in events (service_account_id); None for a person.
        self.account = account

    def actor(self) -> Actor:
        """Who did it, as the events of staff actions record it (pseudonymous)."""
        if self.subject is not None:
            return Actor(kind="person", id=self.subject, roles=sorted(self.roles))
        return Actor(kind="service_account", id=self.account or "token", roles=sorted(self.roles))


def service_account_id(token: str) -> str:
    """A static token's name in events: STAFF_TOKENS gives tokens no names, and the token
    is a secret, so a short digest of it stands in (ops find the entry by hashing theirs)."""
    return "token-" + hash_token(token)[:12]


log = logging.getLogger("knutepunkt.auth")
ALGORITHMS = ("RS256", "PS256", "ES256")
_KNOWN_ROLES = {role.value for role in Role}


def roles_from_claims(claims: Mapping[str, Any], claim: str) -> frozenset[str]:
    """The staff roles named in `claim` (a dotted path into the claims; a list, or one string
    of roles separated by spaces or commas). Names that are not hub roles are ignored, so an
    issuer's other roles give no access here."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, Iterable) or isinstance(value, bytes | Mapping):
        return frozenset()
    return frozenset(str(v).strip().lower() for v in value) & _KNOWN_ROLES


class IssuerKeys:
    """The issuer's signing keys, from its discovery document's `jwks_uri`, kept for
    `max_age` seconds. A token signed with a key we do not hold yet (the issuer rolled its
    keys) fetches them again, at most once per `min_refresh` seconds, so that tokens with
    made-up key ids cannot make us hammer the issuer."""

    def __init__(
        self,
        issuer: str,
        max_age: float = 600,
        min_refresh: float = 30,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.max_age = max_age
        self.min_refresh = min_refresh
        self._client = client
        self._keys: KeySet | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self) -> KeySet:
        client = self._client or httpx.AsyncClient(timeout=5, trust_env=False)
        try:
            discovery = await client.get(f"{self.issuer}/.well-known/openid-configuration")
            discovery.raise_for_status()
            jwks = await client.get(discovery.json()["jwks_uri"])
            jwks.raise_for_status()
            return KeySet.import_key_set(jwks.json())
        finally:
            if self._client is None:
                await client.aclose()

    async def keys(self, kid: str | None) -> KeySet | None:
        async with self._lock:
            age = time.monotonic() - self._fetched
            known = self._keys is not None and (kid is None or _has_kid(self._keys, kid))
            stale = self._keys is None or age > self.max_age
            if stale or (not known and age > self.min_refresh):
                try:
                    self._keys = await self._fetch()
                    self._fetched = time.monotonic()
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    # Keep the keys we have: an issuer that is briefly away must not sign
                    # everybody out. Without any, no person's token can be checked.
                    log.warning("could not fetch the issuer's keys: %s", type(exc).__name__)
            return self._keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


class TokenVerifier:
    """Checks a person's access token: signature (issuer's JWKS), issuer, audience, expiry."""

    def __init__(self, issuer: str, audience: str, roles_claim: str, keys: IssuerKeys) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.roles_claim = roles_claim
        self.keys_of = keys
        self.claims = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "values": [self.issuer, self.issuer + "/"]},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    async def verify(self, token: str) -> Staff | None:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError):
            return None
        if header.get("alg") not in ALGORITHMS:
            return None
        keys = await self.keys_of.keys(header.get("kid"))
        if keys is None:
            return None
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
            self.claims.validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        roles = roles_from_claims(decoded.claims, self.roles_claim)
        if not roles:
            return None  # signed in, but not hub staff: no more than a citizen may do
        return Staff("jwt", roles, subject=str(decoded.claims["sub"]))


def verifier_of(request: Request) -> TokenVerifier | None:
    """The app's verifier, made on first use from the service's settings (None without an
    issuer: then only the static tokens are staff)."""
    state = request.app.state
    verifier = getattr(state, "token_verifier", None)
    if verifier is None:
        settings = state.runtime.settings
        if not settings.oidc_issuer:
            return None
        keys = IssuerKeys(settings.oidc_issuer, max_age=settings.oidc_jwks_cache_seconds)
        verifier = TokenVerifier(
            settings.oidc_issuer, settings.oidc_audience, settings.oidc_roles_claim, keys
        )
        state.token_verifier = verifier
    return verifier


def static_staff(tokens: Mapping[str, frozenset[str]], presented: str) -> Staff | None:
    for token, roles in tokens.items():
        if hmac.compare_digest(token.encode(), presented.encode()):
            return Staff(token[:4], roles, account=service_account_id(token))
    return None


async def staff_roles(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Staff | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    presented = credentials.credentials
    # Once per request and token: the route's dependency and the access log (which reads
    # the same request's scope after the answer) both ask, and a JWT costs a verification.
    known: dict[str, Staff | None] = request.scope.setdefault("knutepunkt.staff", {})
    if presented in known:
        return known[presented]
    staff = static_staff(request.app.state.runtime.settings.tokens, presented)
    if staff is None and presented.count(".") == 2:
        verifier = verifier_of(request)
        if verifier is not None:
            staff = await verifier.verify(presented)
    known[presented] = staff
    return staff


def require_staff(*roles: str) -> Callable[..., Awaitable[Staff]]:
    """A dependency: 401 without a valid staff token, 403 when it lacks every given role."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Staff:
        staff = await staff_roles(request, credentials)
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


def optional_staff(*roles: str) -> Callable[..., Awaitable[Staff | None]]:
    """A dependency: the staff member when a valid token with a role is given, else None."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Staff | None:
        staff = await staff_roles(request, credentials)
        if staff and (not roles or ADMIN in staff.roles or staff.roles & set(roles)):
            return staff
        return None

    return dependency
