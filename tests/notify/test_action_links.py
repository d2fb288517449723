"""One-click links in staff messages: the booking officers' request email carries Godkjenn
and Avslå, their SMS the first link whole; the café's links only on an order that waits for
its answer; citizens never get one; without the secret nobody does."""

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
from shared.action_links import Action, ActionLinks
from shared.events import new_event
from tests.notify.samples import WHEN, sample

SECRET = "notify-test-secret-long-enough"
WEB = "https://knutepunkt.example.org"
LINK = re.compile(re.escape(WEB) + r"/ansatt/lenke/([A-Za-z0-9_.-]+)")


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
        action_links=ActionLinks(SECRET),
        web_url=WEB,
        link_lifetime=timedelta(hours=48),
    )


def _planned(
    rules: FanoutRules, event_type: str, language: str = "nb", **kw: object
) -> list[Planned]:
    data = sample(event_type, language, **kw)
    return plan(new_event(data), data, rules, {}, WHEN)


def _actions(text: str) -> list[Action]:
    links = ActionLinks(SECRET)
    return [links.read(token, WHEN).action for token in LINK.findall(text)]


def test_a_booking_request_tells_staff_with_both_links(rules: FanoutRules) -> None:
    planned = _planned(rules, "BookingRequested")
    staff_email = next(p for p in planned if p.target.kind == "staff" and p.channel == "email")
    assert _actions(staff_email.text) == [Action.APPROVE_BOOKING, Action.REJECT_BOOKING]
    assert f"Godkjenn: {WEB}/ansatt/lenke/" in staff_email.text
    assert staff_email.html is not None and _actions(staff_email.html) == _actions(staff_email.text)
    link = ActionLinks(SECRET).read(LINK.findall(staff_email.text)[0], WHEN)
    assert link.expires_at == WHEN + timedelta(hours=48)
    assert link.item_id == sample("BookingRequested").booking_id  # type: ignore[attr-defined]
    # The SMS: short, one link (approve), whole, on its own last line.
    sms = next(p for p in planned if p.target.kind == "staff" and p.channel == "sms")
    assert _actions(sms.text) == [Action.APPROVE_BOOKING]
    assert LINK.fullmatch(sms.text.splitlines()[-1].split(": ", 1)[1])
    assert sms_segments(sms.text) <= 2 and is_gsm7(sms.text)
    # The booker gets none.
    assert all(not LINK.search(p.text) for p in planned if p.target.kind == "person")


def test_the_labels_in_english(rules: FanoutRules) -> None:
    links = {"approve_booking": f"{WEB}/ansatt/lenke/a", "reject_booking": f"{WEB}/ansatt/lenke/r"}
    data = sample("BookingRequested", "en")
    email = rules.renderer.render(
        "booking_requested_staff", "email", data, language="en", name="Kari", links=links
    )
    assert email.text.endswith(
        f"Approve: {WEB}/ansatt/lenke/a\nReject (with a reason): {WEB}/ansatt/lenke/r"
    )
    sms = rules.renderer.render(
        "booking_requested_staff", "sms", data, language="en", name="Kari", links=links
    )
    assert sms.text.endswith(f"\nApprove: {WEB}/ansatt/lenke/a")


def test_a_long_sms_is_cut_before_the_link_never_in_it(rules: FanoutRules) -> None:
    planned = _planned(rules, "BookingRequested", resource_name="Gymsalen " + "lang " * 80)
    sms = next(p for p in planned if p.target.kind == "staff" and p.channel == "sms")
    assert sms_segments(sms.text) <= 2
    body, last = sms.text.rsplit("\n", 1)
    assert body.endswith("...") and _actions(last) == [Action.APPROVE_BOOKING]


def test_the_cafe_gets_links_only_for_an_order_that_waits(rules: FanoutRules) -> None:
    waiting = _planned(rules, "OrderPlaced", status="pending_acceptance", short_notice=True)
    email = next(p for p in waiting if p.target.kind == "staff" and p.channel == "email")
    assert _actions(email.text) == [Action.ACCEPT_ORDER, Action.REJECT_ORDER]
    sms = next(p for p in waiting if p.target.kind == "staff" and p.channel == "sms")
    assert _actions(sms.text) == [Action.ACCEPT_ORDER]
    placed = _planned(rules, "OrderPlaced", status="placed", short_notice=False)
    assert all(not LINK.search(p.text) for p in placed)


def test_without_the_secret_no_links(rules: FanoutRules) -> None:
    off = dataclasses.replace(rules, action_links=None)
    assert all("/ansatt/lenke/" not in p.text for p in _planned(off, "BookingRequested"))


def test_a_link_route_for_a_citizen_is_refused_at_start() -> None:
    raw = load_routes(DEFAULT_ROUTES)
    routes = dict(raw.routes)
    booker = routes["BookingRequested"][1]  # type: ignore[index]  # routed, not "silent"
    routes["BookingRequested"] = (booker.model_copy(update={"actions": (Action.APPROVE_BOOKING,)}),)
    with pytest.raises(ValueError, match="staff only"):
        raw.model_copy(update={"routes": routes}).check(Renderer().names())
