"""The web front's parts without a browser: its settings (the dev sign-in only on loopback
and only when switched on), Norwegian formats, the services' refusals as the pages see
them, sessions in the real Redis, the CSRF check, and the texts every template uses."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from redis.asyncio import Redis

from services.web import i18n
from services.web.clients import Caller, Refused, ServiceDown, Services, SignedOut
from services.web.links import LinkState, UsedLinks
from services.web.live import PublicCache
from services.web.pages.cafe import ALLERGENS, KINDS, UNITS
from services.web.pages.rooms import closed_text
from services.web.sessions import SessionStore
from services.web.settings import WebSettings
from services.web.signin import OidcSignIn
from services.web.texts import TEXTS
from shared.action_links import PATH, Action, ActionLinks
from tests.support.servers import free_port
from tests.support.waiting import wait_for
from tests.web.hub import Process

# The link pages' keys (pages/links.py): a refusal of the token, or of its use.
LINK_PAGES = ("invalid", "expired", "used", "busy", "answered", "refused")

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "web" / "templates"
PAGES = Path(__file__).resolve().parents[2] / "services" / "web" / "pages"


def test_dev_sign_in_only_on_loopback_and_with_tokens() -> None:
    ok = WebSettings(dev_signin=True, dev_tokens="desk:t1,cafe:t2", HOST="127.0.0.1")
    assert ok.dev_token_map == {"desk": "t1", "cafe": "t2"}
    with pytest.raises(ValueError, match="loopback"):
        WebSettings(dev_signin=True, dev_tokens="desk:t1", HOST="0.0.0.0")
    with pytest.raises(ValueError, match="WEB_DEV_TOKENS"):
        WebSettings(dev_signin=True, dev_tokens="")
    with pytest.raises(ValueError, match="unknown staff role"):
        WebSettings(dev_signin=True, dev_tokens="boss:t1")


def test_production_needs_an_issuer_and_a_session_secret() -> None:
    with pytest.raises(ValueError, match="WEB_OIDC_ISSUER"):
        WebSettings()
    with pytest.raises(ValueError, match="go together"):
        WebSettings(oidc_issuer="https://idp.example.org", session_secret="s")
    with pytest.raises(ValueError, match="WEB_SESSION_SECRET"):
        WebSettings(
            oidc_issuer="https://idp.example.org", oidc_client_id="c", oidc_client_secret="s"
        )
    ready = WebSettings(
        oidc_issuer="https://idp.example.org",
        oidc_client_id="c",
        oidc_client_secret="s",
        session_secret="x" * 32,
        public_url="https://knutepunkt.example.org/",
    )
    assert ready.public_url == "https://knutepunkt.example.org"
    assert not ready.dev_signin
    assert ready.action_link_secret == ""  # no links until ACTION_LINK_SECRET is set
    with pytest.raises(ValueError, match="ACTION_LINK_SECRET"):
        WebSettings(dev_signin=True, dev_tokens="desk:t1", ACTION_LINK_SECRET="short")


def test_norwegian_formats_in_oslo_time() -> None:
    summer = datetime(2026, 5, 5, 8, 0, tzinfo=UTC)  # 10:00 in Oslo (CEST)
    winter = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Oslo (CET)
    assert i18n.when("nb", summer) == "tirsdag 5. mai kl. 10:00"
    assert i18n.when("nb", winter) == "tirsdag 1. desember kl. 10:00"
    assert i18n.when("en", summer) == "Tuesday 5 May 10:00"
    assert i18n.day_name("nb", date(2026, 5, 17), year=True) == "søndag 17. mai 2026"
    assert i18n.short_date("2026-05-05T22:30:00+00:00") == "06.05.2026"  # past midnight there
    assert i18n.kroner(125_000) == "1\u00a0250,00\u00a0kr"
    assert i18n.number(2.0) == "2" and i18n.number(1.5) == "1,5"
    assert i18n.language_of("en") == "en"
    assert i18n.language_of(None) == "nb" and i18n.language_of("de") == "nb"


def test_every_text_a_page_uses_exists_in_both_languages() -> None:
    used: set[str] = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z0-9_.-]+)'\)", template.read_text()))
        used |= set(re.findall(r"\bt\('([a-z0-9_.-]+)',", template.read_text()))
    for page in PAGES.glob("*.py"):
        source = page.read_text()
        used |= set(
            re.findall(r'(?:flash\(request, |text\([^,]+, |title_key=)"([a-z0-9_.-]+)"', source)
        )
    missing = sorted(key for key in used if key not in TEXTS)
    assert not missing
    assert all(entry["nb"] and entry["en"] for entry in TEXTS.values())
    # Keys built from a value: every value they can take.
    for prefix, values in {
        "booking.": ("pending", "confirmed", "rejected", "cancelled", "released"),
        "order.": ("pending_acceptance", "placed", "accepted", "ready", "picked_up", "rejected"),
        "delivery.": ("queued", "sending", "sent", "delivered", "failed", "suppressed"),
        "role.": ("desk", "cafe", "booking", "admin"),
        "service.": ("booking", "loans", "catering", "notify"),
        "condition.": ("ok", "worn", "damaged", "out_of_service"),
        "cafe.done.": ("accept", "reject", "ready", "picked-up"),
        "menu.saved.": ("available", "unavailable"),
        "menu.unit.": UNITS,
        "kind.order.": KINDS,
        "closures.decision.": ("open", "kept", "cancelled"),
        "closures.decided.": ("cancel", "keep"),
        "personvern.erasure.why.": ("down", "flight", "refused"),
        "personvern.log.action.": ("read", "change"),
        "allergen.": ALLERGENS,
        "link.": (
            *(f"{a.value}.{part}" for a in Action for part in ("title", "lead", "button")),
            *(f"{why}.{part}" for why in LINK_PAGES for part in ("title", "body")),
        ),
    }.items():
        assert all(prefix + v in TEXTS for v in values), prefix


def test_the_menu_form_offers_every_allergen_the_cafe_service_knows() -> None:
    """The page lists the allergens by the catering service's codes (it cannot import the
    service): the same fourteen, so an item's allergen is never lost by a save."""
    from typing import get_args

    from services.catering.domain import Allergen

    assert sorted(ALLERGENS) == sorted(get_args(Allergen))


def _services(handler: Any) -> Services:
    urls = {s: f"http://{s}.test" for s in ("booking", "loans", "catering", "notify")}
    return Services(urls, transport=httpx.MockTransport(handler))


def _recording() -> tuple[list[httpx.Request], Services]:
    """Services whose every call is answered 200 with an empty list, and the calls made."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    return seen, _services(handler)


async def test_the_persons_token_and_language_go_along() -> None:
    seen, services = _recording()
    await services.booking.bookings(Caller("jwt-of-kari", "nb"), status="pending")
    await services.aclose()
    assert seen[0].headers["authorization"] == "Bearer jwt-of-kari"
    assert seen[0].headers["accept-language"] == "nb"
    assert seen[0].url.params["status"] == "pending"


async def test_a_recipient_filter_goes_to_notify_in_a_body_never_in_a_url() -> None:
    seen, services = _recording()
    admin = Caller("jwt-of-ole")
    await services.notify.notifications(admin, "failed", recipient="kari@example.org")
    await services.notify.notifications(admin, "failed")
    await services.aclose()
    by_recipient, every = seen
    assert (by_recipient.method, by_recipient.url.path) == ("POST", "/notifications/search")
    assert "kari" not in str(by_recipient.url)
    assert json.loads(by_recipient.content) == {
        "recipient": "kari@example.org",
        "status": "failed",
        "limit": 100,
        "offset": 0,
    }
    assert (every.method, every.url.path) == ("GET", "/notifications")
    assert dict(every.url.params) == {"status": "failed", "limit": "100", "offset": "0"}


async def test_a_rooms_times_are_kept_briefly_and_dropped_by_this_fronts_own_change() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        return httpx.Response(200 if request.method == "GET" else 201, json=[])

    urls = {s: f"http://{s}.test" for s in ("booking", "loans", "catering", "notify")}
    services = Services(urls, transport=httpx.MockTransport(handler), cache=PublicCache())
    week = date(2027, 3, 1)
    await services.booking.days("moterom-1", week, 7, 60)
    await services.booking.days("moterom-1", week, 7, 60)  # from the cache
    await services.booking.days("moterom-1", week, 7, 30)  # another question
    await services.call("booking", "POST", "/bookings", None, json={})
    await services.booking.days("moterom-1", week, 7, 60)  # the booking dropped it
    await services.loans.lend(Caller("t"), {})
    await services.booking.days("moterom-1", week, 7, 60)  # another service's change
    await services.aclose()
    days = "GET /resources/moterom-1/availability/days"
    assert asked == [days, days, "POST /bookings", days, "POST /loans"]


async def test_a_persons_list_is_asked_for_again_only_if_changed() -> None:
    asked: list[tuple[str, str | None]] = []
    rows = [{"id": "b1", "status": "pending"}]

    def handler(request: httpx.Request) -> httpx.Response:
        tag = request.headers.get("if-none-match")
        asked.append((request.headers["authorization"], tag))
        current = f'"v{len(rows)}"'
        if tag == current:
            return httpx.Response(304, headers={"ETag": current})
        return httpx.Response(200, json=rows, headers={"ETag": current})

    services = _services(handler)
    kari, ola = Caller("jwt-of-kari"), Caller("jwt-of-ola")
    first = await services.booking.requests(kari)
    again = await services.booking.requests(kari)  # 304: the kept answer
    assert first == again == rows
    assert await services.booking.requests(ola) == rows  # Ola's own call, no tag of Kari's
    rows.append({"id": "b2", "status": "pending"})
    assert await services.booking.requests(kari) == rows  # changed: the new body
    services.kept.forget("jwt-of-kari")  # Kari signed out
    await services.booking.requests(kari)
    await services.aclose()
    k, o = "Bearer jwt-of-kari", "Bearer jwt-of-ola"
    assert asked == [(k, None), (k, '"v1"'), (o, None), (k, '"v1"'), (k, None)]


async def test_an_answer_fetched_while_the_service_changed_is_used_once_not_kept() -> None:
    cache, fetched = PublicCache(), 0
    answered = asyncio.Event()

    async def slow() -> int:
        nonlocal fetched
        fetched += 1
        await answered.wait()
        return fetched

    first = asyncio.create_task(cache.get(("booking", "/closures"), 30, slow))
    await wait_for(lambda: fetched == 1, 5, message="fetch started")
    cache.drop("booking")  # a closure was added while the answer was on its way
    answered.set()
    assert await first == 1
    assert await cache.get(("booking", "/closures"), 30, slow) == 2  # asked again
    assert await cache.get(("booking", "/closures"), 30, slow) == 2  # now kept
    cache.drop("catering")
    assert await cache.get(("booking", "/closures"), 30, slow) == 2  # not its service


async def test_refusals_carry_the_services_reason_and_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "type": "urn:knutepunkt:problem:invalid_phone",
            "title": "Refused",
            "status": 422,
            "detail": "ugyldig telefonnummer",
            "code": "invalid_phone",
            "field": "borrower.phone",
        }
        return httpx.Response(422, json=body, headers={"content-type": "application/problem+json"})

    services = _services(handler)
    with pytest.raises(Refused) as refused:
        await services.loans.lend(Caller("t"), {})
    await services.aclose()
    assert refused.value.detail == "ugyldig telefonnummer"
    assert refused.value.field == "borrower.phone"
    assert refused.value.code == "invalid_phone"


async def test_a_validation_error_names_its_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        errors = [{"loc": ["body", "reason"], "msg": "Field required", "type": "missing"}]
        return httpx.Response(
            422,
            json={"status": 422, "code": "invalid", "detail": "reason: required", "errors": errors},
        )

    services = _services(handler)
    with pytest.raises(Refused) as refused:
        await services.booking.reject(Caller("t"), "b1", "")
    await services.aclose()
    assert refused.value.field == "reason"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(503, json={"code": "busy"}), ServiceDown),
        (httpx.Response(500, text="boom"), ServiceDown),
        (httpx.Response(401, json={"code": "staff_token_required"}), SignedOut),
        (httpx.ConnectError("refused"), ServiceDown),
    ],
    ids=["busy", "bug", "token-expired", "down"],
)
async def test_what_a_page_cannot_fix(answer: Any, expected: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    services = _services(handler)
    with pytest.raises(expected):
        await services.catering.orders(Caller("t"))
    await services.aclose()


async def test_sessions_live_in_redis_and_end(redis: Redis, prefix: str) -> None:
    store = SessionStore(redis, prefix, "secret-" * 5, lifetime=60)
    await store.save("sid-1", {"staff": {"name": "Kari"}})
    cookie = store.cookie_value("sid-1")
    assert "Kari" not in cookie  # the cookie carries an id only
    assert store.sid_of(cookie) == "sid-1"
    assert store.sid_of(cookie[:-2] + "xx") is None  # tampered
    assert (await store.load("sid-1"))["staff"]["name"] == "Kari"  # type: ignore[index]
    keys = [k async for k in redis.scan_iter(match=f"{prefix}web:session:*")]
    assert len(keys) == 1 and b"sid-1" not in keys[0]
    assert 0 < await redis.ttl(keys[0]) <= 60
    # A sign-in's own end (the access token's expiry) is never outlived.
    await store.save("sid-2", {"_cap": time.time() - 1})
    assert await store.load("sid-2") is None
    await store.delete("sid-1")
    assert await store.load("sid-1") is None
    other = SessionStore(redis, prefix, "another-secret-" * 3, lifetime=60)
    assert other.sid_of(cookie) is None  # a new secret signs everybody out


async def test_a_page_without_a_form_costs_no_session_and_dev_sign_in_works(
    redis_url: str, prefix: str
) -> None:
    """In-process with the real Redis: the front page sets no cookie; the launcher's dev
    sign-in (switched on here as the launcher does) opens the desk with a new session id."""
    from services.web.app import create_app

    app = create_app(_in_process_settings(redis_url, prefix))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            front = await client.get("/")
            assert front.status_code == 200 and "set-cookie" not in front.headers
            page = await client.get("/ansatt/logg-inn")
            before = client.cookies["kp_okt"]
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            stale = await client.post("/ansatt/logg-inn/utvikling", data={"csrf": "x"})
            assert stale.status_code == 400
            signed = await client.post(
                "/ansatt/logg-inn/utvikling", data={"csrf": csrf[1], "role": "booking"}
            )
            assert signed.status_code == 303 and signed.headers["location"] == "/ansatt/"
            assert client.cookies["kp_okt"] != before  # a new session at sign-in


async def test_a_live_refresh_leaves_the_message_for_the_page_after_the_redirect(
    redis_url: str, prefix: str
) -> None:
    """The race the desk's approval hit: the approval's event wakes the old page's live fetch
    while the form's redirect is still on its way; the message stays for the landing page."""
    from services.web.app import create_app

    app = create_app(_in_process_settings(redis_url, prefix))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            page = await client.get("/ansatt/logg-inn")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            refused = await client.post("/ansatt/logg-inn/utvikling", data={"csrf": csrf[1]})
            assert refused.status_code == 303  # no role chosen: a message for the next page
            live = await client.get("/ansatt/logg-inn", headers={"X-Live": "1"})
            assert live.status_code == 200 and "Velg en rolle." not in live.text
            landed = await client.get("/ansatt/logg-inn")
            assert "Velg en rolle." in landed.text


@pytest.mark.parametrize("email", ["post@knutepunkt.test", ""])
async def test_the_contact_address_is_the_hubs_own_or_the_desk(
    redis_url: str, prefix: str, email: str
) -> None:
    """WEB_CONTACT_EMAIL on the three pages that give one (the front page, the
    accessibility statement, the privacy notice); without it they send people to the desk,
    never to an address nobody reads."""
    from services.web.app import create_app

    settings = _in_process_settings(redis_url, prefix).model_copy(update={"contact_email": email})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            for path in ("/", "/tilgjengelighet", "/personvern"):
                page = (await client.get(path)).text
                assert "example.org" not in page, path
                if email:
                    assert f'href="mailto:{email}"' in page, path
                else:
                    assert "mailto:" not in page and "skranken" in page, path
    with pytest.raises(ValueError, match="contact_email"):
        WebSettings(contact_email="not an address")


async def test_the_privacy_notice_says_how_long_from_the_services_settings(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retention the services run with, read by the services' own setting names."""
    from services.web.app import create_app

    monkeypatch.setenv("LOANS_RETENTION_DAYS", "45")
    app = create_app(_in_process_settings(redis_url, prefix))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            page = (await client.get("/personvern")).text
            english = (await client.get("/personvern", cookies={i18n.LANG_COOKIE: "en"})).text
    assert "En booking: 90 dager etter at den er over." in page
    assert "En påmelding: 30 dager etter kurset eller møtet." in page
    assert "Lån og reservasjoner: 45 dager etter" in page
    assert "Emails and text messages we sent you: 30 days after they were sent." in english


def test_the_privacy_notices_defaults_are_the_services_own() -> None:
    """The web front keeps copies of the services' retention defaults (it reads their
    settings, not their code): a service that changes its default changes the notice too."""
    from services.booking.settings import BookingSettings
    from services.catering.settings import CateringSettings
    from services.loans.settings import LoansSettings
    from services.notify.settings import NotifySettings

    def default(settings: type[Any], name: str) -> Any:
        return settings.model_fields[name].default

    web = WebSettings.model_fields
    assert web["booking_retention_days"].default == default(BookingSettings, "retention_days")
    assert web["registration_retention_days"].default == default(
        BookingSettings, "registration_retention_days"
    )
    assert web["loans_retention_days"].default == default(LoansSettings, "retention_days")
    assert web["catering_retention_days"].default == default(CateringSettings, "retention_days")
    assert web["notify_retention_days"].default == default(NotifySettings, "retention_days")


def _in_process_settings(redis_url: str, prefix: str) -> WebSettings:
    """The launcher's dev sign-in, on the run's Redis (which need not be on 6379)."""
    return WebSettings(
        dev_signin=True, dev_tokens="booking:x", stream_prefix=prefix, REDIS_URL=redis_url
    )


async def test_a_link_is_claimed_once_spent_for_its_life_or_released(
    redis: Redis, prefix: str
) -> None:
    links = ActionLinks("link-secret-" * 3)
    now = datetime.now(UTC)
    link = links.read(links.token(Action.APPROVE_BOOKING, "b-1", now + timedelta(hours=1)), now)
    used = UsedLinks(redis, prefix)
    assert await used.state(link) is LinkState.FRESH
    assert await used.claim(link, link.seconds_left(now))
    assert not await used.claim(link, link.seconds_left(now))  # a second press meanwhile
    assert await used.state(link) is LinkState.BUSY
    await used.release(link)  # the service was down: the link still works
    assert await used.claim(link, link.seconds_left(now))
    await used.spend(link, link.seconds_left(now))
    assert await used.state(link) is LinkState.USED
    assert not await used.claim(link, link.seconds_left(now))
    keys = [k async for k in redis.scan_iter(match=f"{prefix}web:link:*")]
    assert len(keys) == 1 and b"b-1" not in keys[0]
    assert 3500 < await redis.ttl(keys[0]) <= 3600  # kept until the link expires anyway


async def test_link_pages_in_process(redis: Redis, redis_url: str, prefix: str) -> None:
    """Expired, changed or foreign links get their page before any sign-in; a good one sends
    to the sign-in and back; with the booking service down nothing is spent."""
    from services.web.app import create_app

    secret = "in-process-link-secret"
    links = ActionLinks(secret)
    now = datetime.now(UTC)
    good = PATH + links.token(Action.APPROVE_BOOKING, "b-2", now + timedelta(hours=1))
    expired = PATH + links.token(Action.APPROVE_BOOKING, "b-2", now - timedelta(seconds=1))
    foreign = PATH + ActionLinks(secret + "-other").token(
        Action.APPROVE_BOOKING, "b-2", now + timedelta(hours=1)
    )
    settings = WebSettings(
        dev_signin=True,
        dev_tokens="booking:x",
        stream_prefix=prefix,
        REDIS_URL=redis_url,
        booking_url="http://127.0.0.1:9",  # nothing answers: the service is down
        ACTION_LINK_SECRET=secret,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            answer = await client.get(expired)
            assert answer.status_code == 410 and "Lenken er utløpt" in answer.text
            answer = await client.get(foreign)
            assert answer.status_code == 404 and "Lenken er ikke gyldig" in answer.text
            answer = await client.get(good)
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/ansatt/logg-inn?neste={good}"
            page = await client.get(answer.headers["location"])
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            signed = await client.post(
                "/ansatt/logg-inn/utvikling", data={"csrf": csrf[1], "role": "booking"}
            )
            assert signed.headers["location"] == good  # back to the link
            answer = await client.get(good)
            assert answer.status_code == 503
            stale = await client.post(good, data={"csrf": csrf[1]})
            assert stale.status_code == 400  # a new session at sign-in, a new CSRF token
            csrf = re.search(r'name="csrf" value="([^"]+)"', answer.text)
            assert csrf
            answer = await client.post(good, data={"csrf": csrf[1]})
            assert answer.status_code == 503 and "Bookingtjenesten svarer ikke" in answer.text
    link = links.read(good.removeprefix(PATH), now)
    assert await UsedLinks(redis, prefix).state(link) is LinkState.FRESH  # try again later

    no_secret = create_app(_in_process_settings(redis_url, prefix))
    async with no_secret.router.lifespan_context(no_secret):
        transport = httpx.ASGITransport(app=no_secret)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            assert (await client.get(good)).status_code == 404


def test_the_citizens_texts_take_no_key_of_the_staff_desk() -> None:
    """texts_public.PUBLIC is merged into TEXTS without replacing a key: a key in both would
    show the staff desk's text on a citizens' page."""
    from services.web.texts_public import PUBLIC

    clashes = [k for k, (nb, en) in PUBLIC.items() if TEXTS[k] != {"nb": nb, "en": en}]
    assert not clashes


def test_the_weeks_opening_hours_from_the_one_calendar() -> None:
    """The front page's week: a holiday and a whole-hub closure closed with their reasons; a
    room's closure leaves the hub open; part of a day closed keeps the hours left; the café
    keeps its own calendar."""
    from datetime import date

    from services.web import opening

    booking = [
        {
            "resource_id": None,
            "start": "2027-05-19T00:00:00+02:00",
            "end": "2027-05-20T00:00:00+02:00",
            "reason": "Personalseminar",
        },
        {
            "resource_id": "gymsalen",
            "start": "2027-05-18T00:00:00+02:00",
            "end": "2027-05-19T00:00:00+02:00",
            "reason": "Nytt gulv",
        },
        {
            "resource_id": None,
            "start": "2027-05-20T10:00:00+02:00",
            "end": "2027-05-20T12:00:00+02:00",
            "reason": "",
        },
        {"resource_id": None, "start": "not a time", "end": "", "reason": "unreadable"},
    ]
    cafe = [
        {"start_at": "2027-05-21T00:00:00+02:00", "end_at": "2027-05-22T00:00:00+02:00",
         "reason": "Kurs"},
    ]  # fmt: skip
    days = opening.week(date(2027, 5, 17), date(2027, 5, 18), booking, cafe)
    assert [d.day.day for d in days] == [17, 18, 19, 20, 21, 22, 23]
    assert days[0].hub.closed and "Grunnlovsdag" in (days[0].hub.holiday or "")
    assert days[0].cafe.closed and days[0].cafe.holiday == days[0].hub.holiday
    assert days[1].today and days[1].hub.open == ["10:00–14:00"]  # a room's closure
    assert days[1].cafe.open == ["10:00–15:00"]
    assert days[2].hub.closed and days[2].hub.closures == ("Personalseminar",)
    assert days[2].cafe.open == ["10:00–15:00"]  # the café's own calendar
    assert days[3].hub.open == ["12:00–14:00"] and days[3].hub.closures == ("",)
    assert days[4].cafe.closed and days[4].cafe.closures == ("Kurs",)
    assert days[5].hub.weekly_closed and days[6].cafe.weekly_closed
    assert opening.monday_of(date(2027, 5, 23)) == date(2027, 5, 17)
    english = opening.week(date(2027, 5, 17), date(2027, 5, 18), booking, cafe, "en")
    # 17 May 2027 is Whit Monday too.
    assert english[0].hub.holiday == "Constitution Day; Pentecost Monday"
    assert english[0].cafe.holiday == english[0].hub.holiday
    # The booking service names a closed day's holiday in Norwegian; a room's English week
    # says it in English.
    said = closed_text("en", "public holiday: Grunnlovsdag", date(2028, 5, 17))
    assert said == "public holiday (Constitution Day)"
    assert closed_text("nb", "public holiday: Grunnlovsdag", date(2028, 5, 17)) == (
        "helligdag (Grunnlovsdag)"
    )
    saturday = date(2028, 5, 20)
    assert closed_text("nb", "closed on Saturdays", saturday) == "hver lørdag"
    assert closed_text("en", "closed on Saturdays", saturday) == "every Saturday"
    # Either side of the clocks going back (Sunday 25 October 2026): 10:00–14:00 in Oslo.
    for monday in (date(2026, 10, 19), date(2026, 10, 26)):
        week = opening.week(monday, monday, [], [])
        assert all(d.hub.open == ["10:00–14:00"] for d in week[:5]), monday


@pytest.mark.parametrize("offers_logout", [True, False])
async def test_sign_out_at_the_provider_only_when_it_offers_it(
    tmp_path: Path, offers_logout: bool
) -> None:
    """RP-initiated logout: the provider's end_session_endpoint from its own discovery
    document (a real provider process), with the client and the return address and no
    personal data; a provider without one leaves only the hub's own sign-out."""
    port = free_port()
    web = "https://knutepunkt.example.org"
    argv = [
        *(sys.executable, "-m", "tests.support.oidc_provider", "--port", str(port)),
        *("--client-id", "desk", "--client-secret", "s", "--audience", "knutepunkt"),
        *("--redirect-uri", f"{web}/ansatt/innlogget", "--people", "{}"),
    ]
    if offers_logout:
        argv += ["--post-logout-redirect-uri", f"{web}/ansatt/utlogget"]
    provider = Process("oidc", argv, {}, tmp_path)
    try:
        provider.line("oidc provider ready")
        settings = WebSettings(
            oidc_issuer=f"http://127.0.0.1:{port}",
            oidc_client_id="desk",
            oidc_client_secret="s",
            session_secret="x" * 32,
            public_url=web,
        )
        target = await OidcSignIn(settings).end_session_url("st4te")
        if not offers_logout:
            assert target is None
            return
        assert target is not None
        address = urlparse(target)
        assert f"{address.scheme}://{address.netloc}{address.path}" == (
            f"http://127.0.0.1:{port}/logout"
        )
        assert parse_qs(address.query) == {
            "client_id": ["desk"],
            "post_logout_redirect_uri": [f"{web}/ansatt/utlogget"],
            "state": ["st4te"],
        }
        # The provider takes it and sends the person back.
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(target)
        assert answer.status_code == 302
        assert answer.headers["location"] == f"{web}/ansatt/utlogget?state=st4te"
    finally:
        provider.stop()


@pytest.mark.parametrize(
    ("path", "query", "back"),
    [
        ("/rom/moterom-1", "uke=2026-11-30", "/rom/moterom-1?uke=2026-11-30"),
        ("/aktiviteter/kalender", "m=2026-12", "/aktiviteter/kalender?m=2026-12"),
        ("/kafe/bestill", "type=catering", "/kafe/bestill?type=catering"),
        (
            "/rom/moterom-1/bestill",
            "dato=2026-12-07&fra=10:00",
            "/rom/moterom-1/bestill?dato=2026-12-07&fra=10%3A00",
        ),
        # Personal data or anything else in the query stays behind; odd values too.
        (
            "/rom",
            "name=Kari+Nordmann&email=kari%40example.org&uke=2026-11-30",
            "/rom?uke=2026-11-30",
        ),
        ("/kafe/bestill", "type=%3Cscript%3E&token=abcdef", "/kafe/bestill"),
        ("/", "uke=" + "9" * 41, "/"),
        # Only a local path: not another site.
        ("//evil.example", "uke=2026-11-30", "/"),
        ("/\\evil.example", "", "/"),
        ("https://evil.example/", "", "/"),
    ],
)
def test_the_language_switch_keeps_the_page_and_only_its_week_month_or_day(
    path: str, query: str, back: str
) -> None:
    assert i18n.switch_target(path, query) == back
