"""A person's access token (a JWT from the OpenID Connect issuer) as a staff bearer token:
signature checked against the issuer's JWKS, issuer, audience, expiry and the roles claim.
The issuer here is a locally generated key served by an httpx transport; the real provider
process is used in tests/web."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.auth import (
    IssuerKeys,
    Staff,
    TokenVerifier,
    require_staff,
    roles_from_claims,
    service_account_id,
    static_staff,
)
from shared.events import Actor
from shared.settings import Settings, load_settings

ISSUER = "https://idp.example.org/realm"
AUDIENCE = "knutepunkt"


class Issuer:
    """Keys and a discovery document, served in-process; counts the JWKS fetches."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1"})]
        self.jwks_fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path.endswith("/jwks"):
            self.jwks_fetches += 1
            return httpx.Response(200, json=KeySet(self.keys).as_dict(private=False))
        return httpx.Response(404)

    def token(self, key: RSAKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "kari", "iat": now, "exp": now + 300}
        body["roles"] = ["booking"]
        body.update(claims)
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


def verifier(issuer: Issuer, claim: str = "roles") -> TokenVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler))
    return TokenVerifier(ISSUER, AUDIENCE, claim, IssuerKeys(ISSUER, client=client))


async def test_a_valid_token_gives_the_person_and_roles(issuer: Issuer) -> None:
    staff = await verifier(issuer).verify(issuer.token(roles=["booking", "cafe", "other"]))
    assert staff is not None
    assert staff.subject == "kari"
    assert staff.roles == {"booking", "cafe"}
    # What the events of this person's actions carry: the sub and roles, no name.
    assert staff.actor() == Actor(kind="person", id="kari", roles=["booking", "cafe"])


def test_a_service_accounts_actor_names_a_digest_not_the_token() -> None:
    staff = static_staff({"s3cret-token": frozenset({"desk"})}, "s3cret-token")
    assert staff is not None
    actor = staff.actor()
    assert (actor.kind, actor.roles) == ("service_account", ["desk"])
    assert actor.id == service_account_id("s3cret-token")
    assert "s3cret" not in actor.id


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 120},
        {"aud": "another-app"},
        {"iss": "https://evil.example.org"},
        {"roles": []},
        {"roles": ["superuser"]},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-roles", "no-hub-role"],
)
async def test_tokens_that_do_not_make_staff(issuer: Issuer, claims: dict[str, Any]) -> None:
    assert await verifier(issuer).verify(issuer.token(**claims)) is None


async def test_a_token_signed_by_another_key_is_refused(issuer: Issuer) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    assert await verifier(issuer).verify(issuer.token(key=stranger)) is None


async def test_unsigned_and_malformed_tokens_are_refused(issuer: Issuer) -> None:
    good = issuer.token()
    header, payload, _ = good.split(".")
    unsigned = "eyJhbGciOiJub25lIn0." + payload + "."
    check = verifier(issuer)
    assert await check.verify(unsigned) is None
    assert await check.verify(header + "." + payload + ".AAAA") is None
    assert await check.verify("not.a.jwt") is None


async def test_keys_are_cached_and_fetched_again_for_a_new_key(issuer: Issuer) -> None:
    check = verifier(issuer)
    assert await check.verify(issuer.token()) is not None
    assert await check.verify(issuer.token()) is not None
    assert issuer.jwks_fetches == 1
    # The issuer rolls its keys; a token signed with the new one is not refused.
    check.keys_of.min_refresh = 0
    issuer.keys.append(RSAKey.generate_key(2048, parameters={"kid": "k2"}))
    assert await check.verify(issuer.token(key=issuer.keys[1])) is not None
    assert issuer.jwks_fetches == 2


async def test_an_unknown_key_id_does_not_refetch_within_the_minimum(issuer: Issuer) -> None:
    check = verifier(issuer)
    assert await check.verify(issuer.token()) is not None
    stranger = RSAKey.generate_key(2048, parameters={"kid": "made-up"})
    for _ in range(5):
        assert await check.verify(issuer.token(key=stranger)) is None
    assert issuer.jwks_fetches == 1


def test_roles_claim_paths_and_shapes() -> None:
    claims = {"realm_access": {"roles": ["desk", "offline_access"]}, "groups": "cafe, admin"}
    assert roles_from_claims(claims, "realm_access.roles") == {"desk"}
    assert roles_from_claims(claims, "groups") == {"cafe", "admin"}
    assert roles_from_claims(claims, "missing.path") == frozenset()
    assert roles_from_claims({"roles": {"desk": True}}, "roles") == frozenset()


def test_an_issuer_needs_an_audience() -> None:
    with pytest.raises(ValueError, match="OIDC_AUDIENCE"):
        Settings(oidc_issuer=ISSUER)


async def test_services_take_static_tokens_and_person_tokens(issuer: Issuer) -> None:
    """Through a service's dependency: 401 for a bad token, 403 for the wrong role."""
    app = FastAPI()
    settings = load_settings(
        "booking", staff_tokens="svc:desk", oidc_issuer=ISSUER, oidc_audience=AUDIENCE
    )

    class Runtime:
        pass

    runtime = Runtime()
    runtime.settings = settings  # type: ignore[attr-defined]
    app.state.runtime = runtime
    app.state.token_verifier = verifier(issuer)

    @app.get("/approvals")
    async def approvals(staff: Staff = Depends(require_staff("booking"))) -> dict[str, Any]:
        return {"subject": staff.subject, "roles": sorted(staff.roles)}

    from shared.service.problems import add_problem_handlers

    add_problem_handlers(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def get(token: str) -> httpx.Response:
            return await client.get("/approvals", headers={"Authorization": f"Bearer {token}"})

        ok = await get(issuer.token())
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"subject": "kari", "roles": ["booking"]}
        assert (await get(issuer.token(roles=["cafe"]))).status_code == 403
        assert (await get(issuer.token(aud="x"))).status_code == 401
        assert (await get("svc")).status_code == 403  # a static desk token
        assert (await get("nope")).status_code == 401
