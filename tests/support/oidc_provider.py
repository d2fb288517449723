"""A small OpenID Connect provider for tests, as its own process, built from Authlib's
server parts: discovery, JWKS, authorization code with PKCE (S256, required), an ID token
and a JWT access token (RFC 9068) for the hub's audience, with the person's roles in a claim;
with --post-logout-redirect-uri, RP-initiated logout (end_session_endpoint).

Who signs in is chosen on its sign-in form (a list of the configured people), as a person
would at a real identity provider. Run:

    python -m tests.support.oidc_provider --port 9400 --client-id web --client-secret s \\
        --redirect-uri http://127.0.0.1:8005/ansatt/innlogget --audience knutepunkt \\
        --people '{"kari": {"name": "Kari Bookingansvarlig", "roles": ["booking"]}}'

It prints `oidc provider ready <issuer>` when it listens.
"""

from __future__ import annotations

import argparse
import html
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oidc.core import OpenIDCode, UserInfo
from flask import Flask, jsonify, redirect, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

TOKEN_SECONDS = 3600


@dataclass
class Person:
    sub: str
    name: str
    roles: list[str]

    def get_user_id(self) -> str:
        return self.sub


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in {"openid", "profile", "email"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    def __init__(
        self,
        issuer: str,
        client: Client,
        people: dict[str, Person],
        audience: str,
        roles_claim: str,
    ) -> None:
        self.issuer = issuer
        self.client = client
        self.people = people
        self.audience = audience
        self.roles_claim = roles_claim
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4)})
        self.codes: dict[str, Code] = {}
        self.tokens_issued = 0
        # RP-Initiated Logout: where a client may send people back after signing out here
        # (none: the provider advertises no end_session_endpoint), and what it was asked.
        self.post_logout_uris: list[str] = []
        self.logouts: list[dict[str, str]] = []


def build_app(provider: Provider) -> Flask:
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(16)

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            provider.codes[code] = Code(
                code=code,
                client_id=req.client.get_client_id(),
                redirect_uri=data.get("redirect_uri") or "",
                scope=req.payload.scope or "",
                sub=req.user.sub,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge") or "",
                code_challenge_method=data.get("code_challenge_method") or "",
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.get_client_id() else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> Person | None:
            return provider.people.get(authorization_code.sub)

    class IdToken(OpenIDCode):
        def resolve_client_private_key(self, client: Client) -> dict[str, Any]:
            return provider.key.as_dict(private=True)

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": provider.key.kid or ""}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {
                "iss": provider.issuer,
                "aud": [client.get_client_id()],
                "exp": int(time.time()) + TOKEN_SECONDS,
            }

        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return False

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return UserInfo(sub=user.sub, name=user.name, **{provider.roles_claim: user.roles})

    class AccessTokens(JWTBearerTokenGenerator):
        def get_jwks(self) -> dict[str, Any]:
            return KeySet([provider.key]).as_dict(private=True)

        def get_audiences(self, client: Client, user: Person, scope: str) -> list[str]:
            return [provider.audience]

        def get_extra_claims(
            self, client: Client, grant_type: str, user: Person, scope: str
        ) -> dict[str, Any]:
            provider.tokens_issued += 1
            return {provider.roles_claim: user.roles, "name": user.name}

    def save_token(token: dict[str, Any], req: Any) -> None:
        return None  # the access token is self-contained: nothing to look up later

    server = AuthorizationServer(
        app,
        query_client=lambda cid: provider.client if cid == provider.client.client_id else None,
        save_token=save_token,
    )
    server.register_grant(CodeGrant, [IdToken(require_nonce=False), CodeChallenge(required=True)])
    server.register_token_generator(
        "default", AccessTokens(issuer=provider.issuer, expires_generator=lambda *_: 3600)
    )

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        logout = {"end_session_endpoint": f"{provider.issuer}/logout"}
        return jsonify(
            **(logout if provider.post_logout_uris else {}),
            issuer=provider.issuer,
            authorization_endpoint=f"{provider.issuer}/authorize",
            token_endpoint=f"{provider.issuer}/token",
            jwks_uri=f"{provider.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=["openid", "profile", "email"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(KeySet([provider.key]).as_dict(private=False))

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        # PKCE with S256 on every request, confidential client or not: the hub's front
        # must use it, and a test against this provider proves that it does.
        if request.values.get("code_challenge_method") != "S256":
            error = InvalidRequestError("PKCE with S256 is required")
            return server.handle_error_response(request, error)
        if request.method == "GET":
            try:
                server.get_consent_grant(end_user=None)
            except Exception as exc:  # shown as the provider's error page, as IdPs do
                return f"<p>{html.escape(str(exc))}</p>", 400
            return _sign_in_form(provider)
        person = provider.people.get(request.form.get("person", ""))
        if person is None:
            return _sign_in_form(provider, error="Velg en person."), 400
        return server.create_authorization_response(grant_user=person)

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    @app.get("/logout")
    def logout() -> Any:
        """RP-Initiated Logout 1.0: the client and a registered return address, or an error
        page; this provider keeps no session of its own, so it only records the request."""
        if not provider.post_logout_uris:
            return "<p>not found</p>", 404
        client_id = request.args.get("client_id", "")
        back = request.args.get("post_logout_redirect_uri", "")
        if client_id != provider.client.client_id or back not in provider.post_logout_uris:
            return "<p>Ukjent klient eller returadresse.</p>", 400
        state = request.args.get("state", "")
        provider.logouts.append({"client_id": client_id, "state": state})
        return redirect(f"{back}?{urlencode({'state': state})}" if state else back)

    @app.get("/stats")
    def stats() -> Any:
        return jsonify(tokens_issued=provider.tokens_issued, logouts=provider.logouts)

    return app


def _sign_in_form(provider: Provider, error: str = "") -> str:
    query = html.escape(request.query_string.decode())
    options = "".join(
        f'<li><label><input type="radio" name="person" value="{html.escape(p.sub)}"> '
        f"{html.escape(p.name)}</label></li>"
        for p in provider.people.values()
    )
    note = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return (
        '<!doctype html><html lang="nb"><head><meta charset="utf-8">'
        "<title>Testinnlogging</title></head><body><main><h1>Testinnlogging</h1>"
        f'{note}<form method="post" action="/authorize?{query}"><fieldset>'
        f"<legend>Hvem er du?</legend><ul>{options}</ul></fieldset>"
        '<button type="submit">Logg inn</button></form></main></body></html>'
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        help="offer RP-initiated logout, sending people back here",
    )
    parser.add_argument("--roles-claim", default="roles")
    parser.add_argument("--people", required=True, help="JSON: {sub: {name, roles}}")
    args = parser.parse_args()
    issuer = f"http://{args.host}:{args.port}"
    people = {
        sub: Person(sub, str(p["name"]), list(p["roles"]))
        for sub, p in json.loads(args.people).items()
    }
    provider = Provider(
        issuer,
        Client(args.client_id, args.client_secret, args.redirect_uri),
        people,
        args.audience,
        args.roles_claim,
    )
    provider.post_logout_uris = list(args.post_logout_redirect_uri)
    server = make_server(args.host, args.port, build_app(provider), threaded=True)
    print(f"oidc provider ready {issuer}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
