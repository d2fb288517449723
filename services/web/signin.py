"""Staff sign-in with OpenID Connect, through Authlib: discovery, the authorization code
flow with PKCE (S256), and the ID token verified against the issuer's JWKS (signature,
issuer, audience, expiry, nonce). The roles come from a configurable claim."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]  # no stubs
    OAuth,
    OAuthError,
)
from fastapi import Request
from starlette.responses import RedirectResponse

from services.web.settings import WebSettings
from shared.auth import roles_from_claims

CALLBACK = "/ansatt/innlogget"
# Where the provider sends the person back after signing out there (register it as the
# client's post-logout redirect URI).
SIGNED_OUT = "/ansatt/utlogget"
log = logging.getLogger("knutepunkt.web.signin")


class SignInFailed(Exception):
    pass


class OidcSignIn:
    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.oauth = OAuth()
        self.oauth.register(
            "kommune",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256"},
        )

    @property
    def client(self) -> Any:
        return self.oauth.kommune

    async def start(self, request: Request) -> RedirectResponse:
        redirect_uri = self.settings.public_url + CALLBACK
        return await self.client.authorize_redirect(request, redirect_uri)

    async def finish(self, request: Request) -> dict[str, Any]:
        """The signed-in person from the provider's answer: name, roles, access token and
        when it expires."""
        try:
            token = await self.client.authorize_access_token(request)
        except OAuthError as exc:
            raise SignInFailed(exc.error) from exc
        claims = token.get("userinfo") or {}
        access = token.get("access_token")
        if not claims or not access:
            raise SignInFailed("no_id_token")
        expires = float(
            token.get("expires_at") or time.time() + float(token.get("expires_in", 3600))
        )
        return {
            "sub": str(claims["sub"]),
            "name": str(claims.get("name") or claims.get("preferred_username") or ""),
            "roles": sorted(roles_from_claims(claims, self.settings.roles_claim)),
            "token": access,
            "expires": expires,
        }

    async def end_session_url(self, state: str) -> str | None:
        """Where to send the person to sign out at the provider too (OpenID Connect
        RP-Initiated Logout), when its discovery document names an `end_session_endpoint`;
        None: the provider has none (or cannot be reached), and only the hub's session ends.

        No `id_token_hint`: the ID token carries the person's name, and the hint would put it
        in an address (the provider's logs, the browser's history). The client id and the
        registered return address identify the request instead; a provider may then ask the
        person to confirm."""
        try:
            metadata = await self.client.load_server_metadata()
        except Exception as exc:  # the provider away: the hub's own sign-out still holds
            log.warning("no provider metadata for sign-out: %s", type(exc).__name__)
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            return None
        query = urlencode(
            {
                "client_id": self.settings.oidc_client_id,
                "post_logout_redirect_uri": self.settings.public_url + SIGNED_OUT,
                "state": state,
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
