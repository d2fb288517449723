"""Manage links (shared/manage_links.py): the booker's email and SMS about one booking end
with the link to its page, a participant's about a sign-up and a café customer's about an
order with theirs; staff, a booking's participants and series messages get none; without the
secret nobody does; a token opens its own booking, sign-up or order only."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from services.notify.domain import is_gsm7, parse_hours, sms_segments
from services.notify.rendering import Renderer
from services.notify.routing import FanoutRules, Planned, load_routes, plan
from services.notify.settings import DEFAULT_ROUTES, DEFAULT_STAFF
from services.notify.staff import load_staff
from shared.events import new_event
from shared.manage_links import ManageLinks
from tests.notify.samples import WHEN, sample

SECRET = "manage-test-secret-long-enough"
WEB = "https://knutepunkt.example.org"
LINK = re.compile(re.escape(WEB) + r"/mine/booking/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def rules() -> FanoutRules:
    renderer = Renderer()
    routes = load_routes(DEFAULT_ROUTES)
    routes.check(renderer.names())
    return FanoutRules(
        routes=routes,
        staff=load_staff(DEFAULT_STAFF),
        renderer=renderer,
        quiet_hours=parse_hours("21:00-08:00"),
        preference_key=b"k",
        web_url=WEB,
        link_lifetime=timedelta(hours=48),
        manage_links=ManageLinks(SECRET),
    )


def _planned(rules: FanoutRules, event_type: str, language: str = "nb") -> list[Planned]:
    data = sample(event_type, language)
    return plan(new_event(data), data, rules, {}, WHEN)


def test_the_booker_gets_the_link_to_the_booking_in_email_and_sms(rules: FanoutRules) -> None:
    booking_id = sample("BookingConfirmed").booking_id  # type: ignore[attr-defined]
    planned = _planned(rules, "BookingConfirmed")
    booker = [p for p in planned if p.route.to == "booker"]
    assert {p.channel for p in booker} == {"email", "sms"}
    for message in booker:
        found = LINK.findall(message.text)
        assert len(found) == 1 and found[0][0] == booking_id
        assert ManageLinks(SECRET).valid(found[0][1], "booking", booking_id)
    email = next(p for p in booker if p.channel == "email")
    assert f"Se eller avbestill: {WEB}/mine/booking/{booking_id}/" in email.text
    assert email.html is not None and LINK.search(email.html)
    sms = next(p for p in booker if p.channel == "sms")
    assert LINK.fullmatch(sms.text.splitlines()[-1].split(": ", 1)[1])
    assert sms_segments(sms.text) <= 3 and is_gsm7(sms.text)
    # Staff and the booking's participants: no manage link (it is the booker's key).
    assert all(not LINK.search(p.text) for p in planned if p.route.to != "booker")


def test_in_english_and_on_a_rejection(rules: FanoutRules) -> None:
    email = next(p for p in _planned(rules, "BookingRejected", "en") if p.channel == "email")
    assert f"See or cancel: {WEB}/mine/booking/" in email.text


def test_without_the_secret_no_link(rules: FanoutRules) -> None:
    off = dataclasses.replace(rules, manage_links=None)
    assert all(not LINK.search(p.text) for p in _planned(off, "BookingConfirmed"))


def test_a_token_opens_its_own_booking_only() -> None:
    links = ManageLinks(SECRET)
    token = links.token("booking", "b-1")
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", token)
    assert links.valid(token, "booking", "b-1")
    assert not links.valid(token, "booking", "b-2")
    assert not links.valid(token, "order", "b-1")
    assert not ManageLinks(SECRET + "x").valid(token, "booking", "b-1")
    assert links.url(WEB + "/", "booking", "b-1") == f"{WEB}/mine/booking/b-1/{token}"
    with pytest.raises(ValueError):
        ManageLinks("short")


@pytest.mark.parametrize(
    ("event_type", "to", "field", "kind", "path"),
    [
        ("RegistrationWaitlisted", "participant", "registration_id", "registration", "pamelding"),
        ("RegistrationPromoted", "participant", "registration_id", "registration", "pamelding"),
        ("OrderPlaced", "customer", "order_id", "order", "bestilling"),
        ("OrderReady", "customer", "order_id", "order", "bestilling"),
    ],
)
def test_a_sign_up_and_a_cafe_order_link_to_their_own_page(
    rules: FanoutRules, event_type: str, to: str, field: str, kind: str, path: str
) -> None:
    data = sample(event_type)
    item_id = getattr(data, field)
    link = re.compile(re.escape(WEB) + rf"/mine/{path}/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)")
    planned = _planned(rules, event_type)
    theirs = [p for p in planned if p.route.to == to]
    assert theirs
    for message in theirs:
        found = link.findall(message.text)
        assert len(found) == 1 and found[0][0] == item_id
        assert ManageLinks(SECRET).valid(found[0][1], kind, item_id)
        assert not ManageLinks(SECRET).valid(found[0][1], "booking", item_id)
        if message.channel == "sms":
            assert sms_segments(message.text) <= 3 and is_gsm7(message.text)
    # The café's staff get their one-click links, never the customer's key.
    assert all(not link.search(p.text) for p in planned if p.route.to != to)
