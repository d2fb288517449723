"""The staff desk in a real browser against the whole hub as processes: sign-in by OpenID
Connect, live requests and their approval, lending, the café's day, role checks, and the
services taking the person's own token."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.support.waiting import wait_for_sync
from tests.web.conftest import sign_in
from tests.web.hub import WebHub

pytestmark = pytest.mark.slow
PAGES = (
    "/ansatt/",
    "/ansatt/foresporsler",
    "/ansatt/utlan",
    "/ansatt/kafe",
    "/ansatt/kafe/produksjonsliste",
    "/ansatt/kafe/meny",
    "/ansatt/stengt",
    "/ansatt/varsler",
    "/ansatt/personvern",
    "/ansatt/personvern/tilgangslogg",
)


def _count(rows: list[dict[str, Any]], address: str, subject_has: str = "") -> int:
    return sum(1 for m in rows if address in m["to"] and subject_has in (m["subject"] or ""))


# -- access ---------------------------------------------------------------------------------


def test_no_session_no_page(hub: WebHub) -> None:
    with httpx.Client(base_url=hub.web_url, trust_env=False) as client:
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/ansatt/logg-inn?neste={path}"
        # An action without a session does nothing and sends to the sign-in too.
        answer = client.post("/ansatt/foresporsler/x/godkjenn", data={"csrf": "x"})
        assert answer.status_code == 303
        assert client.get("/ansatt/direkte").status_code == 401


def test_the_dev_sign_in_is_refused_unless_the_launcher_enabled_it(hub: WebHub) -> None:
    with httpx.Client(base_url=hub.web_url, trust_env=False) as client:
        page = client.get("/ansatt/logg-inn")
        assert "utvikling" not in page.text
        # Not there at all (a stale form would be a 400; this is a 404).
        answer = client.post("/ansatt/logg-inn/utvikling", data={"csrf": "x", "role": "admin"})
        assert answer.status_code == 404
        assert client.get("/ansatt/").status_code == 303


def test_security_headers_and_cookie(hub: WebHub) -> None:
    answer = httpx.get(f"{hub.web_url}/ansatt/logg-inn", trust_env=False)
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "<script>" not in answer.text and " style=" not in answer.text


def test_a_person_with_no_hub_role_is_not_let_in(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    page.goto(hub.web_url + "/ansatt/")
    page.get_by_role("link", name="Logg inn med kommunens konto").click()
    page.get_by_label("Per Uten Rolle").check()
    page.get_by_role("button", name="Logg inn").click()
    assert page.get_by_role("alert").inner_text().startswith("Kontoen din har ingen rolle")
    assert httpx.get(hub.web_url + "/ansatt/", trust_env=False).status_code == 303


def test_the_services_take_the_persons_token(hub: WebHub) -> None:
    """The booking service checks a person's JWT against the provider's JWKS itself."""
    kari, jasmin = hub.access_token("kari"), hub.access_token("jasmin")
    pending = hub.url("booking", "/bookings?status=pending")
    assert hub.http.get(pending, headers={"Authorization": f"Bearer {kari}"}).status_code == 200
    answer = hub.http.get(pending, headers={"Authorization": f"Bearer {jasmin}"})
    assert answer.status_code == 403 and answer.json()["code"] == "role_required"
    forged = kari[:-4] + ("AAAA" if not kari.endswith("AAAA") else "BBBB")
    assert hub.http.get(pending, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    orders = hub.url("catering", "/orders")
    assert hub.http.get(orders, headers={"Authorization": f"Bearer {jasmin}"}).status_code == 200


def test_a_cafe_sign_in_cannot_approve_page_or_api(hub: WebHub, context: Any) -> None:
    booking = hub.request_gymsalen(f"cafe-test-{secrets.token_hex(3)}@example.org")
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/kafe")
    nav = page.get_by_role("navigation", name="Hovedmeny")
    assert nav.get_by_role("link", name="Forespørsler").count() == 0
    answer = page.goto(hub.web_url + "/ansatt/foresporsler")
    assert answer is not None and answer.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Du har ikke tilgang"
    # The action itself, posted with a valid form of this session, is refused too.
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    posted = page.request.post(
        hub.web_url + f"/ansatt/foresporsler/{booking['id']}/godkjenn", form={"csrf": csrf or ""}
    )
    assert posted.status == 403
    # And the booking service refuses the café's own token (the web front is not the guard).
    token = hub.access_token("jasmin")
    api = hub.http.post(
        hub.url("booking", f"/bookings/{booking['id']}/approve"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 403
    still = hub.http.get(
        hub.url("booking", f"/bookings/{booking['id']}"), headers=hub.staff("booking")
    )
    assert still.json()["status"] == "pending"


def test_sign_out_ends_the_session_everywhere(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/utlan")
    cookie = next(c for c in context.cookies() if c["name"] == "kp_okt")
    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_url(re.compile(r".*/ansatt/logg-inn"))
    # The old cookie, replayed, opens nothing: the session is gone from the server.
    replay = httpx.get(
        hub.web_url + "/ansatt/utlan", cookies={"kp_okt": cookie["value"]}, trust_env=False
    )
    assert replay.status_code == 303


# -- the work -------------------------------------------------------------------------------


def test_a_request_appears_live_and_is_approved_once(hub: WebHub, context: Any) -> None:
    email = f"turn-{secrets.token_hex(3)}@example.org"
    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/foresporsler")
    # A selector, not a JS string: the page's CSP forbids eval, which string predicates use.
    page.locator("html[data-live='open']").wait_for(state="attached")
    before = page.locator(".request").count()

    booking = hub.request_gymsalen(email, title="Tiårsdag for Strømsø turn")
    card = page.locator(f"#foresporsel-{booking['id']}")
    card.wait_for()  # no reload: the stream said a booking event came, the page fetched itself
    assert "Gymsalen" in card.inner_text()
    # The club's weekly free hours, as the booking service counts them (a new club: only this).
    assert "2 av 6 timer med denne" in card.inner_text()
    assert page.locator(".request").count() == before + 1
    badge = page.locator('[data-live-region="nav-count"]')
    assert str(before + 1) in badge.inner_text()

    card.get_by_role("button", name=re.compile("^Godkjenn")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Godkjent: Tiårsdag")
    assert page.locator(f"#foresporsel-{booking['id']}").count() == 0
    stored = hub.http.get(
        hub.url("booking", f"/bookings/{booking['id']}"), headers=hub.staff("booking")
    )
    assert stored.json()["status"] == "confirmed"

    # Issue 16: the approval's event names who approved it, as her own token said (her
    # `sub` and role), and nothing more of her.
    def approval() -> dict[str, Any] | None:
        return next(
            (
                e["data"]
                for e in hub.events("booking.events")
                if e["type"] == "BookingConfirmed" and e["subject"] == booking["id"]
            ),
            None,
        )

    actor = wait_for_sync(approval, 30, message="BookingConfirmed on the stream")["actor"]
    assert actor == {"kind": "person", "id": "kari", "roles": ["booking"]}

    confirmed = "Bookingen er bekreftet"
    wait_for_sync(lambda: _count(hub.mails(), email, confirmed), 60, message="confirmation email")
    wait_for_sync(hub.notify_drained, 60, message="notify drained")
    assert _count(hub.mails(), email, confirmed) == 1


def test_without_javascript_a_refused_approval_shows_the_services_reason(
    hub: WebHub, browser: Any
) -> None:
    """Plain forms: the page works with scripts off; a stale approval is refused with the
    booking service's own reason beside the button, and nothing else changes."""
    booking = hub.request_gymsalen(f"dobbel-{secrets.token_hex(3)}@example.org")
    context = browser.new_context(locale="nb-NO", java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, hub, "kari", start="/ansatt/foresporsler")
        card = page.locator(f"#foresporsel-{booking['id']}")
        # Another officer approves it meanwhile (through the API).
        approved = hub.http.post(
            hub.url("booking", f"/bookings/{booking['id']}/approve"), headers=hub.staff("booking")
        )
        assert approved.status_code == 200
        with page.expect_navigation() as navigation:
            card.get_by_role("button", name=re.compile("^Godkjenn")).click()
        assert navigation.value.status == 409
        # It no longer waits, so it is gone from the list; the reason says why.
        assert page.locator(f"#foresporsel-{booking['id']}").count() == 0
        alert = page.get_by_role("alert").inner_text()
        assert alert.startswith("Forespørselen ble ikke endret")
        detail = hub.http.post(
            hub.url("booking", f"/bookings/{booking['id']}/approve"),
            headers={**hub.staff("booking"), "Accept-Language": "nb"},
        ).json()["detail"]
        assert detail in alert  # the service's own words
    finally:
        context.close()


def test_reject_needs_a_reason_shown_beside_the_field(hub: WebHub, context: Any) -> None:
    booking = hub.request_gymsalen(f"avslag-{secrets.token_hex(3)}@example.org")
    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/foresporsler")
    card = page.locator(f"#foresporsel-{booking['id']}")
    reason = card.get_by_label(re.compile("^Grunn til avslag"))
    reason.evaluate("field => field.removeAttribute('required')")  # as a browser without it
    card.get_by_role("button", name=re.compile("^Avslå")).click()
    card = page.locator(f"#foresporsel-{booking['id']}")
    error = card.locator(".field-error")
    assert "Skriv en grunn" in error.inner_text()
    field = card.get_by_label(re.compile("^Grunn til avslag"))
    assert field.get_attribute("aria-invalid") == "true"
    field.fill("Gymsalen er opptatt av skolen den kvelden.")
    card.get_by_role("button", name=re.compile("^Avslå")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Avslått")
    stored = hub.http.get(
        hub.url("booking", f"/bookings/{booking['id']}"), headers=hub.staff("booking")
    )
    assert stored.json()["status"] == "rejected"
    assert stored.json()["reason"] == "Gymsalen er opptatt av skolen den kvelden."


def test_keyboard_only_approval(hub: WebHub, context: Any) -> None:
    booking = hub.request_gymsalen(f"tast-{secrets.token_hex(3)}@example.org")
    page = context.new_page()
    sign_in(page, hub, "kari", start="/ansatt/")
    page.goto(hub.web_url + "/ansatt/")  # start from a fresh page load, focus at the top
    # The first Tab stop is the skip link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Gå til innholdet"

    def tab_to(test: str, limit: int = 80) -> None:
        for _ in range(limit):
            if page.evaluate(test):
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"never reached by Tab: {test}")

    tab_to("document.activeElement.getAttribute('href') === '/ansatt/foresporsler'")
    page.keyboard.press("Enter")
    page.wait_for_url(hub.web_url + "/ansatt/foresporsler")
    target = f"/ansatt/foresporsler/{booking['id']}/godkjenn"
    tab_to(f"document.activeElement.form?.getAttribute('action') === '{target}'")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus can be seen
    page.keyboard.press("Enter")
    page.wait_for_url(hub.web_url + "/ansatt/foresporsler")
    assert page.get_by_role("status").first.inner_text().startswith("Godkjent")
    stored = hub.http.get(
        hub.url("booking", f"/bookings/{booking['id']}"), headers=hub.staff("booking")
    )
    assert stored.json()["status"] == "confirmed"


def test_the_desk_lends_a_pc_and_takes_it_back_damaged(hub: WebHub, context: Any) -> None:
    if hub.desk_closed:
        pytest.skip("the desk is closed now and libfaketime is missing (apt-get install faketime)")
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/utlan")
    label = page.get_by_label("Gjenstand").locator("option").first.inner_text()
    item = label.split(" (")[0]
    page.get_by_label("Lånerens mobilnummer").fill("+47 000 00 051")
    page.get_by_label("Lånerens navn").fill("Nora Låner")
    page.get_by_role("button", name="Lån ut", exact=True).click()
    assert page.get_by_role("status").first.inner_text().startswith(f"Lånt ut: {item}")
    # The phone number never shows up in an address.
    assert "000" not in page.url
    active = page.get_by_role("table", name="Utlånt nå")
    row = active.get_by_role("row").filter(has_text=item)
    assert "Nora Låner" in row.inner_text()
    row.get_by_label(re.compile("^Tilstand")).select_option("damaged")
    row.get_by_label(re.compile("^Merknad")).fill("Knust skjerm")
    row.get_by_role("button", name=re.compile("^Ta imot")).click()
    assert "tatt ut av bruk" in page.get_by_role("status").first.inner_text()
    items = page.get_by_role("table", name="Gjenstander")
    assert "Ute av drift" in items.get_by_role("row").filter(has_text=item).inner_text()
    stock = hub.http.get(hub.url("loans", "/items"), headers=hub.staff("desk")).json()
    stored = next(i for i in stock if i["label"] == item)
    assert stored["condition"] in ("damaged", "out_of_service") and not stored["available"]


def test_a_lend_refused_by_the_service_shows_its_reason_beside_the_field(
    hub: WebHub, context: Any
) -> None:
    if hub.desk_closed:
        pytest.skip("the desk is closed now and libfaketime is missing (apt-get install faketime)")
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/utlan")
    page.get_by_label("Lånerens mobilnummer").fill("12")
    page.get_by_label("Lånerens navn").fill("Feil Nummer")
    page.get_by_role("button", name="Lån ut", exact=True).click()
    phone = page.get_by_label("Lånerens mobilnummer")
    assert phone.get_attribute("aria-invalid") == "true"
    assert phone.input_value() == "12"  # what was typed is kept
    assert page.locator("#lan-phone-feil").inner_text()


def test_the_cafe_accepts_a_short_notice_order_and_the_customer_is_told(
    hub: WebHub, context: Any
) -> None:
    email = f"kunde-{secrets.token_hex(3)}@example.org"
    order = hub.short_notice_order(email)
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/kafe")
    page.goto(hub.web_url + f"/ansatt/kafe?dato={order['pickup_date']}")
    card = page.locator(f"#ordre-{order['id']}")
    assert "kort varsel" in card.inner_text()
    card.get_by_role("button", name=re.compile("^Aksepter")).click()
    assert page.get_by_role("status").first.inner_text().startswith("Bestillingen er akseptert")
    page.locator(f"#ordre-{order['id']}").get_by_role("button", name=re.compile("^Klar")).click()
    page.locator(f"#ordre-{order['id']}").get_by_role("button", name=re.compile("^Hentet")).click()
    stored = hub.http.get(hub.url("catering", f"/orders/{order['id']}"), headers=hub.staff("cafe"))
    assert stored.json()["status"] == "picked_up"
    # The customer is told it was accepted and that it is ready.
    wait_for_sync(lambda: _count(hub.mails(), email) >= 2, 60, message="the customer told")
    page.goto(hub.web_url + f"/ansatt/kafe/produksjonsliste?dato={order['pickup_date']}")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Produksjonsliste")


def test_the_cafe_takes_a_menu_item_off_sale_and_sets_its_allergens(
    hub: WebHub, context: Any
) -> None:
    menu = hub.http.get(hub.url("catering", "/menu")).json()
    item = next(i for i in menu if i["id"] != "kaffe-te")  # the other tests order kaffe-te
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/kafe")
    page.get_by_role("link", name=re.compile("^Menyen")).click()
    card = page.locator(f"#vare-{item['id']}")
    card.get_by_label(re.compile(r"^I salg \(kan bestilles\)")).uncheck()
    card.get_by_label("sesamfrø").check()
    card.get_by_role("button", name=re.compile("^Lagre")).click()
    status = page.get_by_role("status").first.inner_text()
    assert status == f"Lagret: {item['name_nb']} er ikke i salg."
    card = page.locator(f"#vare-{item['id']}")
    assert "Ikke i salg" in card.inner_text() and "sesamfrø" in card.inner_text()
    assert not card.get_by_label(re.compile(r"^I salg")).is_checked()
    # The service itself: off the public menu, the allergen kept with the others.
    public = hub.http.get(hub.url("catering", "/menu")).json()
    assert item["id"] not in [i["id"] for i in public]
    everything = hub.http.get(hub.url("catering", "/menu"), params={"include_unavailable": True})
    stored = next(i for i in everything.json() if i["id"] == item["id"])
    codes = {a["code"] for a in stored["allergens"]}
    assert codes == {a["code"] for a in item["allergens"]} | {"sesame"}
    # And back on sale.
    card.get_by_label(re.compile(r"^I salg")).check()
    card.get_by_role("button", name=re.compile("^Lagre")).click()
    assert page.get_by_role("status").first.inner_text().endswith("er i salg.")
    assert item["id"] in [i["id"] for i in hub.http.get(hub.url("catering", "/menu")).json()]


def test_the_cafe_sets_the_days_capacity_not_below_what_is_ordered(
    hub: WebHub, context: Any
) -> None:
    order = hub.short_notice_order(f"kapasitet-{secrets.token_hex(3)}@example.org")
    day = order["pickup_date"]
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/kafe")
    page.goto(hub.web_url + f"/ansatt/kafe?dato={day}")
    field = page.get_by_label("Porsjoner kafeen kan lage")
    field.fill("²")  # a digit to str.isdigit, not a number to int()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Lagre kapasiteten").click()
    assert navigation.value is not None and navigation.value.status == 422
    assert "helt antall" in page.locator("#kapasitet-porsjoner-feil").inner_text()
    field = page.get_by_label("Porsjoner kafeen kan lage")
    field.fill("5")  # the order took 10
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Lagre kapasiteten").click()
    assert navigation.value is not None and navigation.value.status == 409
    field = page.get_by_label("Porsjoner kafeen kan lage")
    assert field.get_attribute("aria-invalid") == "true" and field.input_value() == "5"
    error = page.locator("#kapasitet-porsjoner-feil").inner_text()
    assert "kan ikke settes lavere" in error  # the service's own reason, beside the field
    field.fill("45")
    page.get_by_role("button", name="Lagre kapasiteten").click()
    assert page.get_by_role("status").first.inner_text().endswith("er 45 porsjoner.")
    assert re.search(r"av 45 porsjoner brukt", page.locator("#kapasitet-status").inner_text())
    prep = hub.http.get(
        hub.url("catering", "/prep-list"), params={"date": day}, headers=hub.staff("cafe")
    )
    assert prep.json()["capacity"]["capacity"] == 45


def test_the_cafe_closes_for_a_day_and_a_past_closure_is_refused(hub: WebHub, context: Any) -> None:
    # Far enough ahead to leave the days the other tests order for alone.
    day = hub.now().date() + timedelta(days=40)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    page = context.new_page()
    sign_in(page, hub, "jasmin", start="/ansatt/stengt")
    yesterday = (hub.now().date() - timedelta(days=1)).isoformat()
    page.get_by_label("Første dag", exact=True).fill(yesterday)
    page.get_by_label("Grunn (vises for kundene)").fill("For sent")
    page.get_by_role("button", name="Steng kafeen").click()
    last = page.get_by_label(re.compile("^Siste dag"))
    assert last.get_attribute("aria-invalid") == "true"
    assert "fortiden" in page.locator("#kafe-til-feil").inner_text()  # the service's reason
    page.get_by_label("Første dag", exact=True).fill(day.isoformat())
    page.get_by_label(re.compile("^Siste dag")).fill(day.isoformat())
    page.get_by_label("Grunn (vises for kundene)").fill("Kurs for de ansatte")
    page.get_by_role("button", name="Steng kafeen").click()
    assert page.get_by_role("status").first.inner_text().startswith("Kafeen er stengt fra")
    assert "Kurs for de ansatte" in page.locator("#kafe-stengt").inner_text()
    open_days = hub.http.get(
        hub.url("catering", "/availability"), params={"from": day.isoformat(), "days": 1}
    ).json()
    assert open_days[0]["open"] is False


def test_an_overdue_loan_shows_the_reminder_level_it_has_reached(hub: WebHub, context: Any) -> None:
    # From paper records: lent twelve days ago, due ten days ago, past the last step (7 days).
    now = hub.now()
    lent = hub.http.post(
        hub.url("loans", "/loans"),
        headers=hub.staff("desk"),
        json={
            "kind": "pc",
            "borrower": {"name": "Purre Låner", "phone": "+4700000071"},
            "started_at": (now - timedelta(days=12)).isoformat(),
            "due_date": (now - timedelta(days=10)).date().isoformat(),
        },
    )
    assert lent.status_code == 201, lent.text
    assert (lent.json()["escalation_level"], lent.json()["escalation_last"]) == (3, True)
    page = context.new_page()
    sign_in(page, hub, "ole", start="/ansatt/utlan")
    overdue = page.get_by_role("table", name="Forfalt")
    row = overdue.get_by_role("row").filter(has_text="Purre Låner")
    text = row.inner_text()
    assert "purring 3" in text and "siste purring" in text


# -- one-click links from staff messages ----------------------------------------------------


def test_a_one_click_approval_link_from_a_staff_email_works_once(hub: WebHub, context: Any) -> None:
    """The booking officers' email carries a signed link: it goes through the sign-in, shows
    what will happen, approves on the button, and a second use is refused."""
    booking = hub.request_gymsalen(f"lenke-{secrets.token_hex(3)}@example.org", title="Lenkefest")
    link = hub.staff_link(booking["id"], "Godkjenn")
    assert link.startswith(hub.web_url + "/ansatt/lenke/")
    # The officers' SMS carries the same link, whole, on its last line.
    sms = [m["text"] for m in hub.sms() if booking["id"] in m["text"] or link in m["text"]]
    assert any(text.splitlines()[-1] == f"Godkjenn: {link}" for text in sms), sms

    page = context.new_page()
    # Not signed in yet: the sign-in, then back to the link's page.
    sign_in(page, hub, "kari", start=link.removeprefix(hub.web_url))
    assert page.get_by_role("heading", level=1).inner_text() == "Godkjenne bookingen?"
    assert "Lenkefest" in page.locator("main").inner_text()
    assert _booking_status(hub, booking["id"]) == "pending"  # opening it did nothing

    page.get_by_role("button", name="Godkjenn", exact=True).click()
    page.wait_for_url(hub.web_url + "/ansatt/foresporsler")
    assert page.get_by_role("status").first.inner_text().startswith("Godkjent: Lenkefest")
    assert _booking_status(hub, booking["id"]) == "confirmed"

    # The second use: a clear page, and nothing happens.
    again = page.goto(link)
    assert again is not None and again.status == 410
    assert page.get_by_role("heading", level=1).inner_text() == "Lenken er allerede brukt"
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value") or ""
    posted = page.request.post(link, form={"csrf": csrf})
    assert posted.status == 410

    # The reject link of the same request is not used, but the request is answered.
    reject = hub.staff_link(booking["id"], "Avslå (med grunn)")
    answered = page.goto(reject)
    assert answered is not None and answered.status == 409
    assert "Bekreftet" in page.locator("main").inner_text()
    # A link changed by hand is not valid.
    forged = page.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert forged is not None and forged.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Lenken er ikke gyldig"


def test_a_reject_link_needs_a_reason_and_a_cafe_link_needs_the_cafe(
    hub: WebHub, browser: Any
) -> None:
    """Without JavaScript: the reason is required (422 beside the field, the link not spent),
    then the rejection goes through; a café person cannot use a booking link (403)."""
    booking = hub.request_gymsalen(f"lenke-avslag-{secrets.token_hex(3)}@example.org")
    reject = hub.staff_link(booking["id"], "Avslå (med grunn)")
    cafe = browser.new_context(locale="nb-NO", java_script_enabled=False)
    officer = browser.new_context(locale="nb-NO", java_script_enabled=False)
    try:
        jasmin = cafe.new_page()
        sign_in(jasmin, hub, "jasmin", start="/ansatt/kafe")
        refused = jasmin.goto(reject)
        assert refused is not None and refused.status == 403

        page = officer.new_page()
        sign_in(page, hub, "kari", start=reject.removeprefix(hub.web_url))
        assert page.get_by_role("heading", level=1).inner_text() == "Avslå bookingen?"
        reason = page.get_by_label(re.compile("^Grunn"))
        reason.evaluate("field => field.removeAttribute('required')")  # as a browser without it
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Avslå", exact=True).click()
        assert navigation.value.status == 422
        assert page.get_by_label(re.compile("^Grunn")).get_attribute("aria-invalid") == "true"
        page.get_by_label(re.compile("^Grunn")).fill("Gymsalen pusses opp den uka.")
        page.get_by_role("button", name="Avslå", exact=True).click()
        page.wait_for_url(hub.web_url + "/ansatt/foresporsler")
        assert page.get_by_role("status").first.inner_text().startswith("Avslått")
        assert _booking_status(hub, booking["id"]) == "rejected"
    finally:
        cafe.close()
        officer.close()


def test_the_cafe_accepts_a_short_notice_order_from_its_link(hub: WebHub, context: Any) -> None:
    order = hub.short_notice_order(f"lenke-kunde-{secrets.token_hex(3)}@example.org")
    link = hub.staff_link(order["id"], "Aksepter bestillingen")
    page = context.new_page()
    sign_in(page, hub, "jasmin", start=link.removeprefix(hub.web_url))
    assert page.get_by_role("heading", level=1).inner_text() == "Akseptere bestillingen?"
    page.get_by_role("button", name="Aksepter", exact=True).click()
    assert page.get_by_role("status").first.inner_text().startswith("Bestillingen er akseptert")
    stored = hub.http.get(hub.url("catering", f"/orders/{order['id']}"), headers=hub.staff("cafe"))
    assert stored.json()["status"] == "accepted"
    again = page.goto(link)
    assert again is not None and again.status == 410


def _booking_status(hub: WebHub, booking_id: str) -> str:
    stored = hub.http.get(
        hub.url("booking", f"/bookings/{booking_id}"), headers=hub.staff("booking")
    )
    return str(stored.json()["status"])
