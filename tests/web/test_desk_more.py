"""The desk's second round (issue 16, on issue 20's APIs) in a real browser against the
whole hub as processes: a closure's bookings cancelled or kept one by one, a booking checked
in from I dag and an organisation's no-shows, the café's answer to a customer's change after
the cut-off, and the loans desk closed for a day. Each page also passes axe-core (WCAG 2.1
A and AA) in the state the test leaves it in, errors included."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.support.waiting import wait_for_sync
from tests.web.conftest import sign_in
from tests.web.hub import WebHub, later_today
from tests.web.test_accessibility import assert_accessible, screenshot

pytestmark = pytest.mark.slow


def _booking(hub: WebHub, booking_id: str) -> dict[str, Any]:
    answer = hub.http.get(
        hub.url("booking", f"/bookings/{booking_id}"), headers=hub.staff("booking")
    )
    return answer.json()  # type: ignore[no-any-return]


def _csrf(page: Any) -> str:
    return page.locator('input[name="csrf"]').first.get_attribute("value") or ""


# -- a closure's bookings -------------------------------------------------------------------


def test_a_closure_over_two_bookings_cancels_one_and_keeps_the_other(
    hub: WebHub, context: Any
) -> None:
    first = hub.request_gymsalen(f"stengt-a-{secrets.token_hex(3)}@example.org", title="Turnkveld")
    second = hub.request_gymsalen(f"stengt-b-{secrets.token_hex(3)}@example.org", title="Korøvelse")
    approved = hub.http.post(
        hub.url("booking", f"/bookings/{second['id']}/approve"), headers=hub.staff("booking")
    )
    assert approved.status_code == 200
    start = min(first["start"], second["start"])
    end = max(first["end"], second["end"])
    closure = hub.http.post(
        hub.url("booking", "/closures"),
        headers=hub.staff("booking"),
        json={"resource_id": "gymsalen", "start": start, "end": end, "reason": "Vannlekkasje"},
    )
    assert closure.status_code == 201, closure.text
    closure_id = closure.json()["id"]
    assert set(closure.json()["affected_bookings"]) >= {first["id"], second["id"]}

    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/stengt")
    row = page.locator(f"#stengt-booking-{first['id']}")
    assert "Ikke avgjort" in row.inner_text()
    row.get_by_role("button", name=re.compile("^Avlys bookingen")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Avlyst: Turnkveld")
    row = page.locator(f"#stengt-booking-{first['id']}")
    assert "Avlyst på grunn av stengingen" in row.inner_text()
    assert row.get_by_role("button").count() == 0  # a cancelled booking stays so
    assert _booking(hub, first["id"])["status"] == "cancelled"

    row = page.locator(f"#stengt-booking-{second['id']}")
    row.get_by_role("button", name=re.compile("^Behold")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Beholdes: Korøvelse")
    row = page.locator(f"#stengt-booking-{second['id']}")
    assert "Beholdes" in row.inner_text()
    assert _booking(hub, second["id"])["status"] == "confirmed"
    # A kept booking may still be cancelled later: only that button is left.
    assert row.get_by_role("button", name=re.compile("^Behold")).count() == 0
    assert row.get_by_role("button", name=re.compile("^Avlys")).count() == 1
    decisions = hub.http.get(
        hub.url("booking", f"/closures/{closure_id}/bookings"), headers=hub.staff("booking")
    ).json()
    chosen = {d["booking"]["id"]: d["decision"] for d in decisions}
    assert (chosen[first["id"]], chosen[second["id"]]) == ("cancelled", "kept")
    assert_accessible(page, "Stengt with a closure's bookings", phone=True)
    screenshot(page, "stengt-bookinger")

    # Refused by the service (the booking was cancelled through the API meanwhile): its
    # reason beside the booking, nothing else changed.
    cancelled = hub.http.post(
        hub.url("booking", f"/bookings/{second['id']}/cancel"),
        headers=hub.staff("booking"),
        json={"reason": "Flyttet"},
    )
    assert cancelled.status_code == 200, cancelled.text
    posted = page.request.post(
        hub.web_url + f"/ansatt/stengt/{closure_id}/bookinger/{second['id']}/avlys",
        form={"csrf": _csrf(page)},
    )
    assert posted.status == 409
    assert f'id="avgjor-{second["id"]}-feil"' in posted.text()


# -- check-in and no-shows ------------------------------------------------------------------


def test_a_booking_is_checked_in_from_i_dag(hub: WebHub, context: Any, browser: Any) -> None:
    # Today, not tomorrow: I dag lists today and tomorrow, and a Friday's tomorrow is closed.
    start = later_today(hub.now())
    made = hub.http.post(
        hub.url("booking", "/bookings"),
        headers=hub.staff("booking"),
        json={
            "resource_id": "moterom-1",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "booker_type": "staff",
            "booker": {"name": "Knutepunkt", "email": "desk@example.org"},
            "title": "Styremøte",
        },
    )
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["status"] == "confirmed"
    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/")
    row = page.locator(f"#booking-{booking['id']}")
    row.get_by_role("button", name=re.compile("^Sjekk inn")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Sjekket inn: Styremøte")
    row = page.locator(f"#booking-{booking['id']}")
    assert "Sjekket inn" in row.inner_text()
    assert row.get_by_role("button").count() == 0
    assert _booking(hub, booking["id"])["checked_in_at"] is not None
    assert_accessible(page, "I dag with a checked-in booking", phone=True)
    screenshot(page, "i-dag-innsjekket")

    # A booking cancelled meanwhile cannot be checked in: the service's reason, 409. In the
    # other room at the same time: the rooms close at 14, with no room for a second hour.
    other = hub.http.post(
        hub.url("booking", "/bookings"),
        headers=hub.staff("booking"),
        json={
            "resource_id": "moterom-2",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "booker_type": "staff",
            "booker": {"name": "Knutepunkt", "email": "desk@example.org"},
            "title": "Avlyst møte",
        },
    )
    assert other.status_code == 201, other.text
    other = other.json()
    # Scripts off: the live update would otherwise take the cancelled row off the page
    # before the stale button is pressed.
    plain = browser.new_context(locale="nb-NO", java_script_enabled=False)
    try:
        stale = plain.new_page()
        sign_in(stale, hub, "kari", start="/ansatt/")
        hub.http.post(
            hub.url("booking", f"/bookings/{other['id']}/cancel"),
            headers=hub.staff("booking"),
            json={"reason": "Avlyst"},
        )
        with stale.expect_navigation() as navigation:
            stale.locator(f"#booking-{other['id']}").get_by_role(
                "button", name=re.compile("^Sjekk inn")
            ).click()
        assert navigation.value is not None and navigation.value.status == 409
        assert "bekreftet booking" in stale.get_by_role("alert").first.inner_text()
        # (axe needs scripts: this alert is the one axe passes on Forespørsler's refusals)
    finally:
        plain.close()
    # An id that is not one (dots, as in a path) never reaches the service's address.
    odd = page.request.post(
        hub.web_url + "/ansatt/bookinger/..x/sjekk-inn", form={"csrf": _csrf(page)}, max_redirects=0
    )
    assert (odd.status, odd.headers["location"]) == (303, "/ansatt/")


def test_an_organisations_no_shows_are_one_click_from_its_request(
    hub: WebHub, context: Any
) -> None:
    booking = hub.request_gymsalen(f"org-{secrets.token_hex(3)}@example.org")
    org = booking["organisation_number"]
    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/foresporsler")
    page.locator(f"#foresporsel-{booking['id']}").get_by_role("link", name=f"org.nr. {org}").click()
    page.wait_for_url(hub.web_url + f"/ansatt/organisasjoner/{org}")
    assert page.get_by_role("heading", level=1).inner_text() == "Strømsø turn"
    assert page.locator("#org-no-shows").inner_text() == "0 bookinger frigitt"
    assert_accessible(page, "an organisation")
    screenshot(page, "organisasjon")
    # Not a number: not a page (and nothing asked of the service).
    assert page.goto(hub.web_url + "/ansatt/organisasjoner/abc").status == 404  # type: ignore[union-attr]
    unknown = page.goto(hub.web_url + "/ansatt/organisasjoner/999999999")
    assert unknown is not None and unknown.status == 404


# -- the café's answer to a change ----------------------------------------------------------


def _changed_after_the_cut_off(hub: WebHub, quantity: int) -> dict[str, Any]:
    order = hub.short_notice_order(f"endring-{secrets.token_hex(3)}@example.org")
    accepted = hub.http.post(
        hub.url("catering", f"/orders/{order['id']}/accept"), headers=hub.staff("cafe")
    )
    assert accepted.status_code == 200, accepted.text
    changed = hub.http.post(
        hub.url("catering", f"/orders/{order['id']}/change"),
        headers={"X-Manage-Token": order["manage_token"]},
        json={
            "pickup_at": order["pickup_at"],
            "people": quantity,
            "lines": [{"item_id": "kaffe-te", "quantity": quantity}],
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["change_applied"] is False
    return order


def test_the_cafe_accepts_one_change_and_rejects_another(hub: WebHub, context: Any) -> None:
    taken = _changed_after_the_cut_off(hub, 12)
    refused = _changed_after_the_cut_off(hub, 14)
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/kafe")
    card = page.locator(f"#endring-{taken['id']}")
    assert "12 × " in card.inner_text() and "10 × " in card.inner_text()  # asked, and now
    assert_accessible(page, "Kafé with changes waiting", phone=True)
    screenshot(page, "kafe-endringer")
    card.get_by_role("button", name=re.compile("^Godta endringen")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Endringen er godtatt")
    assert page.locator(f"#endring-{taken['id']}").count() == 0
    stored = hub.http.get(hub.url("catering", f"/orders/{taken['id']}"), headers=hub.staff("cafe"))
    assert stored.json()["portions"] == 12

    card = page.locator(f"#endring-{refused['id']}")
    card.get_by_label(re.compile("^Grunn til avvisning")).fill("Vi har ikke flere kopper")
    card.get_by_role("button", name=re.compile("^Avvis endringen")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Endringen er avvist")
    stored = hub.http.get(
        hub.url("catering", f"/orders/{refused['id']}"), headers=hub.staff("cafe")
    )
    assert stored.json()["portions"] == 10  # as it was
    waiting = hub.http.get(hub.url("catering", "/order-changes"), headers=hub.staff("cafe"))
    assert refused["id"] not in [c["order"]["id"] for c in waiting.json()]

    # Answered already (another tab): the service's reason, 409, beside the buttons.
    again = _changed_after_the_cut_off(hub, 11)
    hub.http.post(
        hub.url("catering", f"/orders/{again['id']}/change/reject"), headers=hub.staff("cafe")
    )
    posted = page.request.post(
        hub.web_url + f"/ansatt/kafe/endring/{again['id']}/aksepter", form={"csrf": _csrf(page)}
    )
    assert posted.status == 409
    assert "Endringen ble ikke besvart" in posted.text()
    assert "ingen endring som venter" in posted.text()  # the catering service's reason


# -- the loans desk's closures --------------------------------------------------------------


def test_the_desk_closes_the_loans_desk_and_a_past_day_is_refused(
    hub: WebHub, context: Any
) -> None:
    day = hub.now().date() + timedelta(days=45)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/stengt")
    form = page.locator('form[action="/ansatt/stengt/utlan"]')
    yesterday = (hub.now().date() - timedelta(days=1)).isoformat()
    form.get_by_label("Første dag", exact=True).fill(yesterday)
    form.get_by_label("Grunn (vises for låntakerne)").fill("For sent")
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name="Steng utlånet").click()
    assert navigation.value is not None and navigation.value.status == 422
    last = page.locator("#utlan-til")
    assert last.get_attribute("aria-invalid") == "true"
    assert page.locator("#utlan-til-feil").inner_text()  # the loans service's reason
    assert page.locator("#utlan-grunn").input_value() == "For sent"  # kept
    assert_accessible(page, "Stengt with a refused desk closure")

    form = page.locator('form[action="/ansatt/stengt/utlan"]')
    form.get_by_label("Første dag", exact=True).fill(day.isoformat())
    form.get_by_label(re.compile("^Siste dag")).fill(day.isoformat())
    form.get_by_label("Grunn (vises for låntakerne)").fill("Inventartelling")
    form.get_by_role("button", name="Steng utlånet").click()
    assert page.get_by_role("status").first.inner_text().startswith("Utlånet er stengt fra")
    assert "Inventartelling" in page.locator("#utlan-stengt").inner_text()
    stored = hub.http.get(hub.url("loans", "/closures")).json()
    assert any(c["reason"] == "Inventartelling" for c in stored)
    assert_accessible(page, "Stengt with the desk's closures", phone=True)


# -- Varsler by recipient -------------------------------------------------------------------


def test_varsler_filtered_by_recipient_without_it_in_the_address(hub: WebHub, context: Any) -> None:
    email = f"varsel-{secrets.token_hex(3)}@example.org"
    hub.request_gymsalen(email)
    hub.request_gymsalen(f"annen-{secrets.token_hex(3)}@example.org")

    def delivered_to(address: str) -> list[dict[str, Any]]:
        rows = hub.http.post(
            hub.url("notify", "/notifications/search"),
            headers=hub.staff("admin"),
            json={"recipient": address},
        ).json()
        return rows  # type: ignore[no-any-return]

    wait_for_sync(lambda: delivered_to(email), 60, message="a notification to the booker")
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/varsler")
    # Empty: the reason beside the field, 422.
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Vis varsler til mottakeren").click()
    assert navigation.value is not None and navigation.value.status == 422
    field = page.get_by_label(re.compile("^Mottaker"))
    assert field.get_attribute("aria-invalid") == "true"
    assert "Skriv en e-postadresse" in page.locator("#varsel-mottaker-feil").inner_text()
    assert_accessible(page, "Varsler with the recipient missing")

    field.fill(f"  {email} ")
    page.get_by_role("button", name="Vis varsler til mottakeren").click()
    page.wait_for_url(hub.web_url + "/ansatt/varsler")
    assert "@" not in page.url and "varsel-" not in page.url
    assert email in page.locator("#varsel-mottaker-aktiv").inner_text()
    rows = page.locator("[data-live-region='notifications'] tbody tr")
    filtered = rows.count()
    assert filtered == len(delivered_to(email)) >= 1
    for n in range(filtered):
        assert email in rows.nth(n).inner_text()
    assert_accessible(page, "Varsler filtered by recipient", phone=True)
    screenshot(page, "varsler-mottaker")
    # The filter holds for the status filter's pages too, then is cleared.
    page.get_by_label("Vis status").select_option("")
    page.get_by_role("button", name="Vis", exact=True).click()
    assert email in page.locator("#varsel-mottaker-aktiv").inner_text()
    page.get_by_role("button", name="Vis alle mottakere").click()
    assert page.locator("#varsel-mottaker-aktiv").count() == 0
    assert page.locator("[data-live-region='notifications'] tbody tr").count() > filtered


def test_staff_set_a_callers_choices_beside_their_notifications(hub: WebHub, context: Any) -> None:
    """Someone who only gets SMS has no link to a page of their own: the desk sets their
    choices for them, under the same recipient filter, the address never in a URL."""
    phone = f"+47 41 {secrets.randbelow(10**6):06d}"
    e164 = phone.replace(" ", "")

    def choices() -> dict[str, Any]:
        answer = hub.http.post(
            hub.url("notify", "/preferences/lookup"),
            headers=hub.staff("admin"),
            json={"recipient": e164},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert {k: choices()[k] for k in ("email", "sms", "reminders")} == dict.fromkeys(
        ("email", "sms", "reminders"), True
    )
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/varsler")
    assert page.locator("#varsel-valg").count() == 0  # no recipient chosen: no choices
    page.get_by_label(re.compile("^Mottaker")).fill(phone)
    page.get_by_role("button", name="Vis varsler til mottakeren").click()
    page.wait_for_url(hub.web_url + "/ansatt/varsler")
    card = page.locator("#varsel-valg")
    assert e164 in card.inner_text()
    for name in ("E-post", "SMS", "Påminnelser"):
        assert card.get_by_label(name, exact=True).is_checked()
    card.get_by_label("SMS", exact=True).uncheck()
    card.get_by_role("button", name="Lagre valgene").click()
    page.wait_for_url(hub.web_url + "/ansatt/varsler")
    assert "Mottakerens valg er lagret." in page.locator("main").inner_text()
    assert "41" not in page.url.split("/ansatt/")[1]
    saved = choices()
    assert (saved["email"], saved["sms"], saved["reminders"]) == (True, False, True)
    card = page.locator("#varsel-valg")
    assert not card.get_by_label("SMS", exact=True).is_checked()
    assert card.get_by_label("E-post", exact=True).is_checked()
    assert_accessible(page, "Varsler with a recipient's choices", phone=True)
    screenshot(page, "varsler-mottaker-valg")
    # Not an address choices are kept for: notify's reason where the choices would be.
    page.locator("#varsel-mottaker").fill("Kari Nordmann")
    page.get_by_role("button", name="Vis varsler til mottakeren").click()
    page.wait_for_url(hub.web_url + "/ansatt/varsler")
    reason = page.locator("#varsel-valg-feil")
    assert reason.inner_text().strip()
    assert page.locator("#varsel-valg form").count() == 0
    assert_accessible(page, "Varsler with a recipient who has no choices")
    # Saving choices for it anyway (a form from before): notify's reason, 422, nothing kept.
    posted = page.request.post(
        hub.web_url + "/ansatt/varsler/mottaker/valg", form={"csrf": _csrf(page), "email": "1"}
    )
    assert posted.status == 422
    assert 'id="varsel-valg-feil"' in posted.text()
    assert "Mottakerens valg er lagret." not in posted.text()


# -- the menu: add, rename, reprice ---------------------------------------------------------


def test_the_cafe_adds_an_item_then_renames_and_reprices_it(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/kafe/meny")
    form = page.locator('form[action="/ansatt/kafe/meny/ny"]')
    form.get_by_label("Navn (bokmål)").fill("Skolebolle")
    form.get_by_label("Navn på engelsk (valgfritt)").fill("Custard bun")
    form.get_by_label("Kategori").fill("bakst")
    form.get_by_label("Pris i kroner").fill("tretti")
    form.get_by_label("gluten").check()
    form.get_by_label("egg", exact=True).check()
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name="Legg til på menyen").click()
    assert navigation.value is not None and navigation.value.status == 422
    price = page.locator("#ny-pris")
    assert price.get_attribute("aria-invalid") == "true" and price.input_value() == "tretti"
    assert "45,50" in page.locator("#ny-pris-feil").inner_text()
    assert page.locator("#ny-navn").input_value() == "Skolebolle"  # what was typed is kept
    assert page.locator("#ny-allergen-gluten").is_checked()
    assert_accessible(page, "Meny with the new item's price wrong")

    page.locator("#ny-pris").fill("32,50")
    page.locator('form[action="/ansatt/kafe/meny/ny"]').get_by_role(
        "button", name="Legg til på menyen"
    ).click()
    assert page.get_by_role("status").first.inner_text() == "Lagt til på menyen: Skolebolle."
    menu = hub.http.get(hub.url("catering", "/menu")).json()
    added = next(i for i in menu if i["id"] == "skolebolle")
    assert (added["name_en"], added["price_ore"], added["category"]) == (
        "Custard bun",
        3250,
        "bakst",
    )
    assert {a["code"] for a in added["allergens"]} == {"gluten", "eggs"}
    assert set(added["kinds"]) == {"takeaway", "catering"}

    # The same name again: the service's reason beside the name.
    form = page.locator('form[action="/ansatt/kafe/meny/ny"]')
    form.get_by_label("Navn (bokmål)").fill("Skolebolle")
    form.get_by_label("Kategori").fill("bakst")
    form.get_by_label("Pris i kroner").fill("30")
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name="Legg til på menyen").click()
    assert navigation.value is not None and navigation.value.status == 409
    assert page.locator("#ny-navn").get_attribute("aria-invalid") == "true"
    assert page.locator("#ny-navn-feil").inner_text()

    # Renamed and repriced in the item's own form; a wrong price first.
    card = page.locator("#vare-skolebolle")
    card.get_by_label(re.compile(r"^Navn \(bokmål\)")).fill("Skolebolle med kokos")
    card.get_by_label(re.compile("^Pris i kroner")).fill("35,-")
    with page.expect_navigation() as navigation:
        card.get_by_role("button", name=re.compile("^Lagre")).click()
    assert navigation.value is not None and navigation.value.status == 422
    card = page.locator("#vare-skolebolle")
    assert card.get_by_label(re.compile("^Pris i kroner")).input_value() == "35,-"
    assert card.get_by_label(re.compile(r"^Navn \(bokmål\)")).input_value() == (
        "Skolebolle med kokos"
    )
    assert_accessible(page, "Meny with an item's price wrong")
    card.get_by_label(re.compile("^Pris i kroner")).fill("35")
    card.get_by_role("button", name=re.compile("^Lagre")).click()
    status = page.get_by_role("status").first.inner_text()
    assert status == "Lagret: Skolebolle med kokos er i salg."
    menu = hub.http.get(hub.url("catering", "/menu")).json()
    changed = next(i for i in menu if i["id"] == "skolebolle")
    assert (changed["name_nb"], changed["price_ore"]) == ("Skolebolle med kokos", 3500)
    assert "35,00" in page.locator("#vare-skolebolle").inner_text()
    assert_accessible(page, "Meny with an added item", phone=True)
    page.goto(hub.web_url + "/ansatt/kafe/meny")  # the top of the page: the add form
    screenshot(page, "meny-ny-vare")


# -- sign-out at the identity provider ------------------------------------------------------


def test_sign_out_goes_through_the_provider_and_ends_the_session(hub: WebHub, context: Any) -> None:
    """RP-initiated logout: the hub's session is deleted, then the browser goes to the
    provider's end_session_endpoint (the test provider advertises one) and comes back to
    the sign-in page that says so."""
    before = len(hub.http.get(f"{hub.issuer}/stats").json()["logouts"])
    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/stengt")
    cookie = next(c for c in context.cookies() if c["name"] == "kp_okt")
    addresses: list[str] = []
    page.on("request", lambda r: addresses.append(r.url))
    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_url(hub.web_url + "/ansatt/logg-inn?utlogget=1")
    assert page.get_by_role("status").first.inner_text() == "Du er logget ut."
    logouts = hub.http.get(f"{hub.issuer}/stats").json()["logouts"]
    assert len(logouts) == before + 1 and logouts[-1]["client_id"] == "knutepunkt-web"
    to_provider = [a for a in addresses if a.startswith(hub.issuer + "/logout")]
    assert len(to_provider) == 1
    assert "Kari" not in to_provider[0] and "kari" not in to_provider[0]  # no person in it
    replay = httpx.get(
        hub.web_url + "/ansatt/stengt", cookies={"kp_okt": cookie["value"]}, trust_env=False
    )
    assert replay.status_code == 303
    assert_accessible(page, "signed out")
