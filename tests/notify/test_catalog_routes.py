"""Every catalog event has a route (or is silent) and renders in both languages."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from services.notify.domain import is_gsm7, parse_hours, sms_segments
from services.notify.rendering import LANGUAGES, Renderer
from services.notify.routing import FanoutRules, load_routes, plan
from services.notify.settings import DEFAULT_ROUTES, DEFAULT_STAFF
from services.notify.staff import load_staff
from shared.events import CATALOG, new_event
from tests.notify.samples import WHEN, sample


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
        web_url="https://hub.example.org",
        preference_key=b"k",
    )


@pytest.mark.parametrize("event_type", sorted(CATALOG))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_event_routes_and_renders(rules: FanoutRules, event_type: str, language: str) -> None:
    routes = rules.routes.for_event(event_type)  # KeyError: neither routed nor silent
    data = sample(event_type, language)
    # Every route's template must render, whatever its condition says about the sample.
    unconditional = rules.routes.model_copy(
        update={
            "routes": {
                event_type: tuple(r.model_copy(update={"when": None}) for r in routes) or "silent"
            }
        }
    )
    every_route = dataclasses.replace(rules, routes=unconditional)
    planned = plan(new_event(data), data, every_route, {}, WHEN)
    expected = {(route.to, channel) for route in routes for channel in route.channels}
    reached = {(p.route.to, p.channel) for p in planned}
    assert reached == expected
    if not routes:
        assert planned == []
        return
    assert planned, f"{event_type} is routed but reaches nobody with the sample"
    for delivery in planned:
        assert delivery.status == "queued"
        assert "{{" not in delivery.text and "{%" not in delivery.text
        if delivery.channel == "sms":
            assert sms_segments(delivery.text) <= 2, delivery.text
            assert is_gsm7(delivery.text), delivery.text
            assert not delivery.text.endswith("..."), "sample SMS should fit uncut"
        else:
            assert delivery.subject and "\n" not in delivery.subject
            assert delivery.html and "<p>" in delivery.html
            assert delivery.text.startswith(("Hei ", "Hello "))
        if delivery.target.kind == "person":
            greeting = {"nb": "Hei", "en": "Hello"}[language]
            if delivery.channel == "email":
                assert delivery.text.startswith(greeting)


def test_norwegian_dates_and_money(rules: FanoutRules) -> None:
    data = sample("OrderPlaced", total_ore=125_000, pickup_at=WHEN)
    planned = plan(new_event(data), data, rules, {}, WHEN)
    email = next(p for p in planned if p.channel == "email" and p.target.kind == "staff")
    assert "tirsdag 5. mai 2026 kl. 10:00" in email.text
    assert "1 250,00 kr" in email.text
    english = sample("OrderPlaced", "en", total_ore=125_000)
    planned = plan(new_event(english), english, rules, {}, WHEN)
    customer = next(p for p in planned if p.target.kind == "person")
    assert "Tuesday 5 May 2026" in customer.text and "NOK 1,250.00" in customer.text


def test_confirmation_carries_an_invitation(rules: FanoutRules) -> None:
    data = sample("BookingConfirmed")
    planned = plan(new_event(data), data, rules, {}, WHEN)
    email = next(p for p in planned if p.channel == "email" and p.target.kind == "person")
    assert email.ics is not None
    assert b"BEGIN:VEVENT" in email.ics and b"METHOD:PUBLISH" in email.ics
    assert b"DTSTART:20260505T080000Z" in email.ics


def test_long_text_is_cut_to_two_segments(rules: FanoutRules) -> None:
    data = sample("BookingRejected", reason="Fordi " * 200)
    planned = plan(new_event(data), data, rules, {}, WHEN)
    sms = next(p for p in planned if p.channel == "sms")
    assert sms_segments(sms.text) == 2 and sms.text.endswith("...")


def test_a_route_to_nowhere_fails_the_check() -> None:
    routes = load_routes(DEFAULT_ROUTES)
    broken = routes.model_copy(
        update={"routes": {k: v for k, v in routes.routes.items() if k != "OrderPlaced"}}
    )
    with pytest.raises(ValueError, match="OrderPlaced"):
        broken.check(Renderer().names())


@pytest.mark.parametrize(
    ("change", "status", "cafe_told"),
    [
        ("applied", "placed", False),
        ("applied", "pending_acceptance", True),  # the café has not answered the order yet
        ("requested", "accepted", True),
        ("accepted", "accepted", False),
        ("rejected", "placed", False),
    ],
)
def test_an_order_change_tells_the_customer_and_the_cafe_only_when_it_waits(
    rules: FanoutRules, change: str, status: str, cafe_told: bool
) -> None:
    data = sample("OrderChanged", "nb", change=change, status=status)
    planned = plan(new_event(data), data, rules, {}, WHEN)
    staff = {p.channel for p in planned if p.target.kind == "staff"}
    assert staff == ({"sms", "email"} if cafe_told else set())
    if cafe_told:
        (email,) = [p for p in planned if p.target.kind == "staff" and p.channel == "email"]
        waits = (
            "vil endre en bestilling etter fristen" if change == "requested" else "venter på svar"
        )
        assert waits in email.text
    (customer,) = [p for p in planned if p.target.kind == "person"]
    assert customer.channel == "email"
    expected = {
        "applied": "Bestillingen er endret",
        "requested": "Vi har fått ønsket ditt om endring",
        "accepted": "Bestillingen er endret",
        "rejected": "Endringen ble ikke godtatt",
    }[change]
    assert customer.subject and customer.subject.startswith(expected)


def test_a_day_with_orders_affected_is_told_to_the_cafe_by_email(rules: FanoutRules) -> None:
    data = sample("CafeDayAffected", "nb", change="closure", orders=3, portions=14)
    planned = plan(new_event(data), data, rules, {}, WHEN)
    assert {(p.target.kind, p.channel) for p in planned} == {("staff", "email")}
    text = planned[0].text
    assert "Kafeen er nå stengt tirsdag 5. mai 2026" in text
    assert "3 bestillinger med til sammen 14 porsjoner" in text


def test_a_moved_due_date_is_told_to_the_borrower_by_sms(rules: FanoutRules) -> None:
    data = sample(
        "LoanDueMoved",
        "nb",
        previous_due_at=WHEN + timedelta(hours=4),
        due_at=WHEN + timedelta(days=2, hours=4),
        reason="personaldag",
        item_label="PC 3",
    )
    (sms,) = plan(new_event(data), data, rules, {}, WHEN)
    assert (sms.target.kind, sms.channel) == ("person", "sms")
    assert "stengt tir. 5.5. (personaldag)" in sms.text
    assert "Ny frist for å levere PC 3 er tor. 7.5. kl. 14:00" in sms.text
