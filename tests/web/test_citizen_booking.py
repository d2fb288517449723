"""The citizens' rooms pages in a real browser, against the hub as real processes: booking
Møterom 1 with coffee and cancelling it (the café's order goes with it), a club's request
for Gymsalen that waits and is then approved, closed days with their reasons, the public
writes' rate limit (pages and the services' own endpoints), axe-core on every page and
state, a booking made with the keyboard alone, a sign-up's and a café order's emailed
manage links opening their pages, and the preferences link at the foot of a citizen's emails
(`/mine/varsler/<token>`: the page, its form, RFC 8058's one-click POST). The preferences
link is here, not in a module of its own, for the hub this module already starts (the hub
is the web tests' biggest cost) and for the emailed links' helpers beside it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from tests.support.waiting import wait_for_sync
from tests.web.hub import OSLO, WebHub
from tests.web.test_accessibility import assert_accessible, screenshot
from tests.web.test_citizens import _activity

pytestmark = pytest.mark.slow
LIMIT = 30
MANAGE = re.compile(r"/mine/booking/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHub]:
    # The services take the web front's word (127.0.0.1) for whom it posts for; the tests'
    # own posts for the limit come from other loopback addresses, so the browser's are not
    # counted with them.
    env = {
        "PUBLIC_WRITE_LIMIT": f"{LIMIT}/600",
        "TRUSTED_PROXIES": "127.0.0.1",
        "MANAGE_LINK_SECRET": secrets.token_urlsafe(32),
    }
    started = WebHub(tmp_path_factory.mktemp("citizens"), extra_env=env)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _next_17_may(hub: WebHub) -> date:
    """The next 17 May that is still bookable ahead (not today or tomorrow)."""
    today = hub.now().date()
    may17 = date(today.year, 5, 17)
    return may17 if may17 > today + timedelta(days=1) else date(today.year + 1, 5, 17)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _count(rows: list[dict[str, Any]], address: str, subject_has: str) -> int:
    return sum(1 for m in rows if address in m["to"] and subject_has in (m["subject"] or ""))


def _free_slot(page: Any, day: date) -> Any:
    """The first free time's link on `day` in the week view shown."""
    return page.locator(f"a[href*='bestill?dato={day.isoformat()}']").first


def _catering_day(hub: WebHub) -> date:
    """A weekday far enough ahead for the café's two working days' lead time."""
    day = hub.now().date() + timedelta(days=8)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _book_moterom(page: Any, hub: WebHub, email: str, day: date, coffee: bool) -> str:
    page.goto(f"{hub.web_url}/rom/moterom-1?uke={_monday(day).isoformat()}")
    _free_slot(page, day).click()
    page.get_by_label("Meg som privatperson").check()
    page.get_by_label("Navn", exact=True).fill("Lise Nabo")
    page.get_by_label("E-post").fill(email)
    page.get_by_label("Hva skal rommet brukes til? (valgfritt)").fill("Nabomøte")
    if coffee:
        page.get_by_label(re.compile("^Kaffe og te")).fill("10")
        page.get_by_label("Mat til hvor mange personer?").fill("10")
    page.get_by_role("button", name="Book").click()
    page.wait_for_url(re.compile(r"/mine/booking/"))
    return str(page.url)


def test_a_person_books_moterom_1_with_coffee_and_cancels_it(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    page.goto(hub.web_url + "/rom")
    assert_accessible(page, "the rooms")
    screenshot(page, "rom")
    page.get_by_role("link", name="Se ledige tider i Møterom 1").click()
    assert_accessible(page, "a week, this week", phone=True)

    day = _catering_day(hub)
    email = "lise.nabo@example.org"
    page.goto(f"{hub.web_url}/rom/moterom-1?uke={_monday(day).isoformat()}")
    screenshot(page, "rom-uke")
    _free_slot(page, day).click()
    assert page.get_by_text("Bestill mat sammen med bookingen innen").is_visible()
    assert_accessible(page, "the booking form, empty", phone=True)
    screenshot(page, "bestill")
    url = _book_moterom(page, hub, email, day, coffee=True)
    booking_id = MANAGE.search(url)[1]  # type: ignore[index]
    assert page.get_by_text("Bookingen er bekreftet").is_visible()
    assert page.get_by_text("Til 10 personer").is_visible()
    assert "?ny=1" in url
    assert_accessible(page, "the confirmation", phone=True)
    screenshot(page, "bekreftet")

    confirmed = "Bookingen er bekreftet"
    wait_for_sync(lambda: _count(hub.mails(), email, confirmed), 60, message="the confirmation")
    wait_for_sync(hub.notify_drained, 60, message="notify drained")
    mails = [m for m in hub.mails() if email in m["to"] and confirmed in (m["subject"] or "")]
    assert len(mails) == 1
    assert any(a["filename"].endswith(".ics") for a in mails[0]["attachments"]), mails[0]

    def order_placed() -> dict[str, Any] | None:
        return next(
            (
                e["data"]
                for e in hub.events("catering.events")
                if e["type"] == "OrderPlaced" and e["data"].get("booking_id") == booking_id
            ),
            None,
        )

    order = wait_for_sync(order_placed, 60, message="the café's order")

    # The manage link in the email (not the one the booking was made with, which only the
    # booker's browser saw): the booking, its .ics, and the deadline to cancel.
    text = hub.mail(mails[0]["id"]).get("text") or ""
    link = re.search(r"^Se eller avbestill: (\S+)$", text, re.MULTILINE)
    assert link and link[1].startswith(f"{hub.web_url}/mine/booking/{booking_id}/"), text
    assert link[1] != url.split("?")[0]
    url = link[1]
    page.goto(url)
    assert page.get_by_text("Bekreftet", exact=True).is_visible()
    assert page.get_by_text("Du kan avbestille til").is_visible()
    ics = page.request.get(url.split("?")[0] + "/kalender.ics")
    assert ics.status == 200 and b"BEGIN:VEVENT" in ics.body()
    assert ics.headers["cache-control"] == "no-store"
    page.get_by_role("button", name="Avbestill bookingen").click()
    page.wait_for_load_state()
    assert page.get_by_text("Bookingen er avbestilt.").is_visible()
    assert_accessible(page, "a cancelled booking")

    def order_cancelled() -> bool:
        return any(
            e["type"] == "OrderCancelled" and e["subject"] == order["order_id"]
            for e in hub.events("catering.events")
        )

    wait_for_sync(order_cancelled, 60, message="the café's order cancelled")
    # The café is told by catering's OrderCancelled (email and SMS to its staff).
    told = "Bestilling avbestilt"
    wait_for_sync(lambda: _count(hub.mails(), "kafe@example.org", told), 60, message="café told")


def test_a_club_asks_for_gymsalen_on_a_saturday_and_is_approved(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    saturday = hub.now().date() + timedelta(days=3)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    page.goto(f"{hub.web_url}/rom/gymsalen?uke={_monday(saturday).isoformat()}")
    assert page.get_by_text("Her må en bookingansvarlig godkjenne").is_visible()
    _free_slot(page, saturday).click()
    page.get_by_label("Et lag eller en forening").check()
    page.get_by_label("Organisasjonsnummer").fill("123456789")  # a wrong check digit
    page.get_by_label("Navn på laget eller foreningen").fill("Strømsø turn")
    page.get_by_label("Navn", exact=True).fill("Kari Leder")
    page.get_by_label("E-post").fill("kari.leder@example.org")
    page.get_by_label("Mobilnummer").fill("+47 000 00 031")
    page.get_by_role("button", name="Send forespørsel").click()
    field = page.get_by_label("Organisasjonsnummer")
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby") or ""
    error = page.locator(f"#{described.split()[0]}")
    assert "kontrollsiffer" in error.inner_text()
    assert page.get_by_label("Navn på laget eller foreningen").input_value() == "Strømsø turn"
    assert_accessible(page, "the booking form with errors", phone=True)
    screenshot(page, "bestill-feil")

    field.fill(hub.next_org())
    page.get_by_role("button", name="Send forespørsel").click()
    page.wait_for_url(MANAGE)
    assert page.get_by_text("venter på en bookingansvarlig").is_visible()
    assert page.get_by_text("Venter på godkjenning").is_visible()
    assert_accessible(page, "a waiting request")
    booking_id = MANAGE.search(page.url)[1]  # type: ignore[index]
    answer = hub.http.post(
        hub.url("booking", f"/bookings/{booking_id}/approve"), headers=hub.staff("booking")
    )
    assert answer.status_code == 200, answer.text
    page.goto(page.url.split("?")[0])
    assert page.get_by_text("Bekreftet", exact=True).is_visible()

    # The confirmation's SMS ends with the manage link, which opens the same booking.
    def sms_link() -> str | None:
        for message in hub.sms():
            found = re.search(
                rf"{re.escape(hub.web_url)}/mine/booking/{booking_id}/\S+", message["text"]
            )
            if message["to"].endswith("4700000031") and found:
                return found[0]
        return None

    page.goto(wait_for_sync(sms_link, 60, message="the SMS with the manage link"))
    assert page.get_by_text("Bekreftet", exact=True).is_visible()


def test_closed_days_show_their_reason_and_refuse_a_booking(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    may17 = _next_17_may(hub)
    page.goto(f"{hub.web_url}/rom/moterom-1?uke={_monday(may17).isoformat()}")
    day = page.locator(f"li:has(h2#dag-{may17.isoformat()})")
    assert "Grunnlovsdag" in day.inner_text() and "Stengt" in day.inner_text()
    assert _free_slot(page, may17).count() == 0
    # Asked for anyway (the form's own date): the booking service's reason, beside the time.
    page.goto(f"{hub.web_url}/rom/moterom-1/bestill?dato={may17}&fra=10:00&til=11:00")
    page.get_by_label("Navn", exact=True).fill("Lise Nabo")
    page.get_by_label("E-post").fill("lise.nabo@example.org")
    page.get_by_role("button", name="Book").click()
    assert "Grunnlovsdag" in page.locator("#felt-start-feil").inner_text()
    assert page.get_by_label("Navn", exact=True).input_value() == "Lise Nabo"

    closed = hub.now().date() + timedelta(days=10)
    while closed.weekday() >= 5:
        closed += timedelta(days=1)
    body = {
        "resource_id": "moterom-1",
        "start": datetime.combine(closed, time(0), OSLO).isoformat(),
        "end": datetime.combine(closed + timedelta(days=1), time(0), OSLO).isoformat(),
        "reason": "Vannlekkasje",
    }
    made = hub.http.post(hub.url("booking", "/closures"), json=body, headers=hub.staff("booking"))
    assert made.status_code == 201, made.text
    page.goto(f"{hub.web_url}/rom/moterom-1?uke={_monday(closed).isoformat()}")
    day = page.locator(f"li:has(h2#dag-{closed.isoformat()})")
    assert "Stengt: Vannlekkasje" in day.inner_text()
    assert_accessible(page, "a week with closed days", phone=True)
    page.goto(f"{hub.web_url}/rom/moterom-1/bestill?dato={closed}&fra=10:00&til=11:00")
    page.get_by_label("Navn", exact=True).fill("Lise Nabo")
    page.get_by_label("E-post").fill("lise.nabo@example.org")
    page.get_by_role("button", name="Book").click()
    assert "Vannlekkasje" in page.locator("#felt-start-feil").inner_text()


def test_a_room_month_shows_each_day_and_leads_to_its_week(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    may17 = _next_17_may(hub)
    page.goto(f"{hub.web_url}/rom/moterom-1")
    page.get_by_role("link", name="Se hele måneden").click()
    page.wait_for_url(re.compile(r"/rom/moterom-1/maned\?m=\d{4}-\d{2}$"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Møterom 1: ")
    assert page.get_by_role("link", name="Forrige måned").count() == 0  # no month gone by
    page.goto(f"{hub.web_url}/rom/moterom-1/maned?m={may17:%Y-%m}")

    def cell(day: date) -> str:
        return str(page.locator(f"td#dag-{day.isoformat()}").inner_text())

    assert "Stengt" in cell(may17) and "Grunnlovsdag" in cell(may17)
    saturday = may17 + timedelta(days=5)
    assert "Stengt" in cell(saturday)  # the hub is closed at weekends
    tuesday = may17 + timedelta(days=1)
    free = hub.http.get(
        hub.url("booking", "/resources/moterom-1/availability"), params={"date": tuesday}
    ).json()["free_slots"]
    assert free and f"{len(free)} ledige" in cell(tuesday)  # the service's count of the day
    assert_accessible(page, "a room's month", phone=True)
    screenshot(page, "rom-maned")
    page.locator(f"td#dag-{tuesday.isoformat()} a").click()
    page.wait_for_url(re.compile(f"uke={_monday(tuesday).isoformat()}#dag-{tuesday}$"))
    assert page.locator(f"li:has(h2#dag-{tuesday.isoformat()}) a.button").count() == len(free)
    # The same month in English names the holiday in English.
    page.goto(f"{hub.web_url}/sprak/en?neste=/rom/moterom-1/maned%3Fm%3D{may17:%Y-%m}")
    assert "Constitution Day" in cell(may17), cell(may17)
    page.goto(f"{hub.web_url}/sprak/nb?neste=/rom/moterom-1")
    # Odd months fall back to this one; a room that is not there is the 404 page.
    for odd in ("nonsense", "1999-01", "2027-13"):
        assert page.goto(f"{hub.web_url}/rom/moterom-1/maned?m={odd}").status == 200
    assert page.goto(f"{hub.web_url}/rom/no-such-room/maned").status == 404


def _free_two_days_in_a_week(hub: WebHub, day: date) -> bool:
    if day.weekday() >= 4:  # Monday to Thursday: the next weekday is in the same week
        return False
    answers = hub.http.get(
        hub.url("booking", "/resources/moterom-1/availability/days"),
        params={"from": day.isoformat(), "days": 2},
    ).json()
    return all(len(a["free_slots"]) >= 4 for a in answers)  # 10–14 all free, both days


def test_a_full_day_names_the_next_day_with_a_free_time(hub: WebHub, context: Any) -> None:
    """Møterom 1 is open 10–14 on weekdays: one four-hour booking fills a day. The week says
    so with the next day that has a free time, and a booking asked for anyway is refused
    with the service's reason and that day."""
    full = hub.now().date() + timedelta(days=22)
    while not _free_two_days_in_a_week(hub, full):  # no holiday, no closure, no booking
        full += timedelta(days=1)
    following = full + timedelta(days=1)
    body = {
        "resource_id": "moterom-1",
        "booker_type": "person",
        "booker": {"name": "Hele Dagen", "email": "hele.dagen@example.org"},
        "start": datetime.combine(full, time(10), OSLO).isoformat(),
        "end": datetime.combine(full, time(14), OSLO).isoformat(),
    }
    made = hub.http.post(hub.url("booking", "/bookings"), json=body, headers=hub.staff("booking"))
    assert made.status_code == 201, made.text

    page = context.new_page()
    page.goto(f"{hub.web_url}/rom/moterom-1?uke={_monday(full).isoformat()}")
    day = page.locator(f"li:has(h2#dag-{full.isoformat()})")
    assert "Ingen ledige tider" in day.inner_text()
    onward = day.get_by_role("link", name=re.compile("Neste dag med ledig tid"))
    assert f"#dag-{following.isoformat()}" in (onward.get_attribute("href") or "")
    assert_accessible(page, "a week with a full day")
    onward.click()
    assert _free_slot(page, following).count() > 0

    page.goto(f"{hub.web_url}/rom/moterom-1/bestill?dato={full}&fra=11:00&til=12:00")
    page.get_by_label("Navn", exact=True).fill("Lise Nabo")
    page.get_by_label("E-post").fill("lise.nabo@example.org")
    page.get_by_role("button", name="Book").click()
    refused = page.locator("#felt-start-feil").inner_text()
    assert "Neste dag med ledig tid" in refused, refused


def _tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Tab until the element is focused: the keyboard alone, as a person without a mouse."""
    for _ in range(presses):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus")


def test_a_booking_with_the_keyboard_alone(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    day = _catering_day(hub) + timedelta(days=7)
    page.goto(f"{hub.web_url}/rom/moterom-1?uke={_monday(day).isoformat()}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    _tab_to(page, f"a[href*='bestill?dato={day.isoformat()}']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/bestill"))
    _tab_to(page, "#felt-name")
    page.keyboard.type("Ola Tastatur")
    _tab_to(page, "#felt-email")
    page.keyboard.type("ola.tastatur@example.org")
    _tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(MANAGE)
    assert page.get_by_text("Bookingen er bekreftet").is_visible()


def test_a_cafe_order_from_its_manage_link(hub: WebHub, context: Any) -> None:
    """An order placed with the café (its own pages are the other half of issue 17): its
    manage link shows the status, the lines and until when it can be cancelled; cancelling
    it there cancels it in the café."""
    pickup = datetime.combine(_catering_day(hub) + timedelta(days=1), time(12), OSLO)
    while pickup.weekday() >= 5:
        pickup += timedelta(days=1)
    body = {
        "kind": "catering",
        "pickup_at": pickup.isoformat(),
        "people": 12,
        "lines": [{"item_id": "kaffe-te", "quantity": 12}],
        "customer": {"name": "Lise Kunde", "email": "lise.kunde@example.org"},
    }
    placed = hub.http.post(hub.url("catering", "/orders"), json=body)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    page = context.new_page()
    url = f"{hub.web_url}/mine/bestilling/{order['id']}/{order['manage_token']}"
    answer = page.goto(url)
    assert answer is not None and answer.headers["cache-control"] == "no-store"
    assert page.get_by_role("heading", name="Din bestilling fra Café Jasmin").is_visible()
    assert page.get_by_role("cell", name="Kaffe og te").is_visible()
    assert page.get_by_text("Du kan avbestille til").is_visible()
    assert_accessible(page, "an order", phone=True)
    page.get_by_role("button", name="Avbestill bestillingen").click()
    page.wait_for_load_state()
    assert page.get_by_text("Bestillingen er avbestilt.").is_visible()
    assert_accessible(page, "a cancelled order")
    seen = hub.http.get(
        hub.url("catering", f"/orders/{order['id']}"),
        headers={"X-Manage-Token": order["manage_token"]},
    )
    assert seen.json()["status"] == "cancelled"
    wrong = page.goto(f"{hub.web_url}/mine/bestilling/{order['id']}/{'x' * 32}")
    assert wrong is not None and wrong.status == 404


def test_a_manage_link_that_is_not_valid(hub: WebHub, context: Any) -> None:
    """A changed token, or none of this booking's: the same 404 page, so a guess learns
    nothing of which bookings exist."""
    page = context.new_page()
    for path in ("/mine/booking/nope/not-a-valid-token-at-all", "/mine/booking/x/y"):
        answer = page.goto(hub.web_url + path)
        assert answer is not None and answer.status == 404
        assert page.get_by_role("heading", name="Siden finnes ikke").is_visible()
        assert answer.headers["cache-control"] == "no-store"


def _emailed_link(hub: WebHub, address: str, subject_has: str, path: str) -> str:
    """The 'Se eller avbestill' link in the one email to `address` whose subject has that."""
    wait_for_sync(lambda: _count(hub.mails(), address, subject_has), 60, message=subject_has)
    mail = next(m for m in hub.mails() if address in m["to"] and subject_has in m["subject"])
    text = hub.mail(mail["id"]).get("text") or ""
    link = re.search(r"^Se eller avbestill: (\S+)$", text, re.MULTILINE)
    assert link and link[1].startswith(f"{hub.web_url}{path}"), text
    return link[1]


def test_a_sign_up_from_its_emailed_manage_link(hub: WebHub, context: Any) -> None:
    """A sign-up's confirmation email links to its own page: the activity, the status, the
    place on the waiting list; cancelling there moves the next one up."""
    activity = _activity(hub, "Språkkafé", capacity=1, hour=11)
    url = hub.url("booking", f"/activities/{activity['id']}/registrations")
    first, second = (f"{who}-{secrets.token_hex(3)}@example.org" for who in ("per", "mari"))
    for name, email in (("Per Påmeldt", first), ("Mari Venter", second)):
        made = hub.http.post(url, json={"name": name, "email": email})
        assert made.status_code == 201, made.text
    page = context.new_page()
    waiting = _emailed_link(hub, second, "venteliste", "/mine/pamelding/")
    answer = page.goto(waiting)
    assert answer is not None and answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    assert page.get_by_role("heading", name="Din påmelding").is_visible()
    assert page.get_by_text("Du er nummer 1 på ventelisten").is_visible()
    assert_accessible(page, "a sign-up on the waiting list", phone=True)
    link = _emailed_link(hub, first, "Du er påmeldt", "/mine/pamelding/")
    page.goto(link)
    assert page.get_by_text("Språkkafé").first.is_visible()
    assert page.get_by_text("Du har plass").is_visible()
    assert page.get_by_text("Du kan melde deg av til aktiviteten starter").is_visible()
    assert_accessible(page, "a sign-up with a place")
    page.get_by_role("button", name="Meld meg av").click()
    page.wait_for_load_state()
    assert page.get_by_text("Påmeldingen er avmeldt.").is_visible()
    assert_accessible(page, "a cancelled sign-up")
    page.goto(waiting)
    assert page.get_by_text("Du har plass").is_visible()  # moved up
    wrong = page.goto(link.rsplit("/", 1)[0] + "/" + "x" * 32)
    assert wrong is not None and wrong.status == 404


def _catering_order(hub: WebHub, name: str, email: str) -> dict[str, Any]:
    """A catering order in good time (the café emails the customer that it is received)."""
    pickup = datetime.combine(_catering_day(hub) + timedelta(days=2), time(12), OSLO)
    while pickup.weekday() >= 5:
        pickup += timedelta(days=1)
    body = {
        "kind": "catering",
        "pickup_at": pickup.isoformat(),
        "people": 10,
        "lines": [{"item_id": "kaffe-te", "quantity": 10}],
        "customer": {"name": name, "email": email},
    }
    placed = hub.http.post(hub.url("catering", "/orders"), json=body)
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()
    return order


def test_a_cafe_order_from_its_emailed_manage_link(hub: WebHub, context: Any) -> None:
    """The café's 'order received' email links to the order's own page."""
    email = f"ola-{secrets.token_hex(3)}@example.org"
    order = _catering_order(hub, "Ola Kunde", email)
    link = _emailed_link(hub, email, "Bestillingen er mottatt", "/mine/bestilling/")
    assert order["id"] in link and order["manage_token"] not in link
    page = context.new_page()
    answer = page.goto(link)
    assert answer is not None and answer.status == 200
    assert page.get_by_role("heading", name="Din bestilling fra Café Jasmin").is_visible()
    assert page.get_by_text("Du kan avbestille til").is_visible()


# --------------------------------------------------------------- the preferences link

CHOICES = ("E-post", "SMS", "Påminnelser")
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _preferences_link(hub: WebHub, email: str) -> tuple[str, dict[str, Any]]:
    """The preferences link of the café's email to `email` (an order placed for it), and
    that email: the link at its foot, in `List-Unsubscribe` too."""
    _catering_order(hub, "Siri Kunde", email)
    received = "Bestillingen er mottatt"
    wait_for_sync(lambda: _count(hub.mails(), email, received), 60, message=received)
    summary = next(m for m in hub.mails() if email in m["to"] and received in m["subject"])
    mail = hub.mail(summary["id"])
    links = set(re.findall(rf"{re.escape(hub.web_url)}/mine/varsler/\S*", mail["text"] or ""))
    assert len(links) == 1, mail["text"]
    return links.pop(), mail


def _ticked(page: Any) -> dict[str, bool]:
    return {name: page.get_by_label(name, exact=True).is_checked() for name in CHOICES}


def _choices_at_notify(hub: WebHub, token: str) -> dict[str, Any]:
    """What notify keeps for the link's token (the contract the page is built on)."""
    answer = hub.http.get(
        hub.url("notify", "/preferences/mine"), headers={"X-Preference-Token": token}
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _mail_program(hub: WebHub) -> httpx.Client:
    """A mail provider's one-click POST: no cookie, no CSRF token, from an address of its
    own (127.0.0.4), so that the browser's posts are not counted with its."""
    return httpx.Client(
        base_url=hub.web_url,
        trust_env=False,
        transport=httpx.HTTPTransport(local_address="127.0.0.4"),
    )


def test_the_preferences_link_in_an_email(hub: WebHub, context: Any) -> None:
    """The link at the foot of a citizen's email (and its List-Unsubscribe) names no
    address; it opens Varsler fra Knutepunkt with the address masked and three ticked
    boxes; a box unticked and saved stays so."""
    email = f"siri-{secrets.token_hex(3)}@example.org"
    link, mail = _preferences_link(hub, email)
    token = link.rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", token), link
    assert "@" not in link and "%40" not in link.lower() and email.split("@")[0] not in link
    headers = {name.lower(): value for name, value in mail["headers"]}
    assert headers["list-unsubscribe"] == f"<{link}>"
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    hint = _choices_at_notify(hub, token)["recipient"]
    assert hint and email not in hint

    page = context.new_page()
    answer = page.goto(link)
    assert answer is not None and answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    assert page.get_by_role("heading", name="Varsler fra Knutepunkt").is_visible()
    assert page.get_by_text(hint).is_visible()
    assert email not in page.content()
    assert page.get_by_role("group", name="Dette vil jeg få").is_visible()
    assert _ticked(page) == dict.fromkeys(CHOICES, True)
    assert page.get_by_text("Sist endret").count() == 0  # never changed
    assert_accessible(page, "a recipient's choices", phone=True)
    screenshot(page, "mine-varsler")

    page.get_by_label("Påminnelser", exact=True).uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Lagre").click()
    assert page.url == link
    assert page.get_by_text("Valgene dine er lagret.").is_visible()
    page.reload()
    assert _ticked(page) == {"E-post": True, "SMS": True, "Påminnelser": False}
    assert page.get_by_text("Valgene dine er lagret.").count() == 0  # the message was once
    assert page.get_by_text("Sist endret").is_visible()
    assert_accessible(page, "a recipient's choices, saved")
    saved = _choices_at_notify(hub, token)
    assert (saved["email"], saved["sms"], saved["reminders"]) == (True, True, False)

    # The language switch keeps the page and puts no token in a query.
    switch = page.get_by_role("link", name="English")
    assert token not in (switch.get_attribute("href") or "")
    with page.expect_navigation():
        switch.click()
    assert page.url == link
    assert page.get_by_role("heading", name="Notifications from Knutepunkt").is_visible()
    assert page.get_by_label("Reminders", exact=True).is_checked() is False

    # Nothing in the front's log names the token.
    assert token not in hub.web.log()


def test_a_mail_programs_one_click_turns_email_off(hub: WebHub, context: Any) -> None:
    """RFC 8058: exactly `List-Unsubscribe=One-Click` (urlencoded, or as multipart form
    data), without a cookie, turns email off and keeps the rest; any other body without the
    form's CSRF token is refused, and changes nothing."""
    email = f"tore-{secrets.token_hex(3)}@example.org"
    link, _mail = _preferences_link(hub, email)
    token = link.rsplit("/", 1)[1]
    path = f"/mine/varsler/{token}"
    with _mail_program(hub) as mailer:
        for body in ({"email": "1"}, {**ONE_CLICK, "email": "1"}, {"csrf": "x", **ONE_CLICK}):
            refused = mailer.post(path, data=body)
            assert refused.status_code == 400, body
            assert "Skjemaet kunne ikke brukes" in refused.text
        assert mailer.post(path, json=ONE_CLICK).status_code == 400
        assert _choices_at_notify(hub, token)["email"] is True

        done = mailer.post(path, data=ONE_CLICK)
        assert done.status_code == 200, done.text
        assert done.headers["content-type"].startswith("text/plain")
        assert "Du får ikke flere e-poster" in done.text
        assert "set-cookie" not in done.headers  # no session made for it
        now = _choices_at_notify(hub, token)
        assert (now["email"], now["sms"], now["reminders"]) == (False, True, True)

        # The page shows it; E-post ticked again with the keyboard alone.
        page = context.new_page()
        page.goto(link)
        assert _ticked(page) == {"E-post": False, "SMS": True, "Påminnelser": True}
        page.get_by_label("E-post", exact=True).focus()
        page.keyboard.press("Space")
        for _ in range(3):
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Lagre"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == link
        assert page.get_by_text("Valgene dine er lagret.").is_visible()
        assert _ticked(page) == dict.fromkeys(CHOICES, True)

        # As multipart/form-data, the form RFC 8058 prefers: the same.
        done = mailer.post(path, files={"List-Unsubscribe": (None, "One-Click")})
        assert done.status_code == 200, done.text
        assert _choices_at_notify(hub, token)["email"] is False

        # A token that opens nothing: 404, whatever the body.
        unknown = mailer.post(f"/mine/varsler/{'0' * 32}", data=ONE_CLICK)
        assert unknown.status_code == 404
    assert token not in hub.web.log()


def test_a_preferences_link_that_is_not_valid(hub: WebHub, context: Any) -> None:
    """A token nobody has and a malformed one: the same 404 page, so a guess learns
    nothing; a form posted to one changes nothing and is not there either."""
    page = context.new_page()
    shown = set()
    for token in ("0" * 32, "not-a-token", "ABCDEF0123456789" * 2, "a" * 33):
        answer = page.goto(f"{hub.web_url}/mine/varsler/{token}")
        assert answer is not None and answer.status == 404, token
        assert page.get_by_role("heading", name="Siden finnes ikke").is_visible()
        assert answer.headers["cache-control"] == "no-store"
        shown.add(page.locator("main").inner_text())
    assert len(shown) == 1
    with _mail_program(hub) as mailer:
        assert mailer.post(f"/mine/varsler/{'0' * 32}", data={"email": "1"}).status_code == 404
        assert mailer.post("/mine/varsler/nope", data=ONE_CLICK).status_code == 404


def test_public_posts_over_the_limit_get_429_with_a_page(hub: WebHub) -> None:
    """Near the end of the module: the posts come from addresses of their own (127.0.0.2, .3), so
    the browser's address is not counted with them."""
    web = httpx.Client(
        base_url=hub.web_url,
        trust_env=False,
        transport=httpx.HTTPTransport(local_address="127.0.0.2"),
    )
    with web:
        statuses = [web.post("/rom/moterom-1/bestill", data={"x": "1"}).status_code]
        statuses += [web.post("/rom/moterom-1/bestill", data={}).status_code for _ in range(LIMIT)]
        assert statuses[:LIMIT] == [400] * LIMIT  # no CSRF token: refused, and counted
        over = web.post("/rom/moterom-1/bestill", data={})
        assert statuses[LIMIT] == 429 and over.status_code == 429
        assert int(over.headers["retry-after"]) > 0
        assert "For mange innsendinger" in over.text and "Vent" in over.text
        assert over.headers["content-security-policy"].startswith("default-src 'self'")
        assert web.get("/rom").status_code == 200  # reading is not limited
        # The staff desk's forms are behind a sign-in and not counted here.
        assert web.post("/ansatt/logg-ut", data={}).status_code != 429

    booking = httpx.Client(
        trust_env=False, transport=httpx.HTTPTransport(local_address="127.0.0.3")
    )
    with booking:
        url = hub.url("booking", "/bookings")
        codes = [booking.post(url, json={}).status_code for _ in range(LIMIT)]
        assert codes == [422] * LIMIT
        over = booking.post(url, json={}, headers={"Accept-Language": "nb"})
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
        assert over.json()["code"] == "rate_limited"
        # Saying it is someone else does not help: only a trusted proxy is believed.
        spoofed = booking.post(url, json={}, headers={"X-Forwarded-For": "203.0.113.5"})
        assert spoofed.status_code == 429
        assert hub.http.post(url, json={}).status_code == 422  # another address
        # Staff with a token are not counted as the public.
        staff = booking.post(url, json={}, headers=hub.staff("booking"))
        assert staff.status_code == 422


def test_services_that_are_down(hub: WebHub, context: Any) -> None:
    """Last in the module: it stops services. The café away: the booking form says so and
    books without food; the booking service away: a clear 503 page, never a trace."""
    page = context.new_page()
    hub.services["catering"].stop()
    day = _catering_day(hub) + timedelta(days=14)
    page.goto(f"{hub.web_url}/rom/moterom-1/bestill?dato={day}&fra=10:00&til=11:00")
    assert page.get_by_text("Kafeen svarer ikke akkurat nå").is_visible()
    assert_accessible(page, "the booking form, the café down")
    hub.services["booking"].stop()
    # (The list of rooms may still come from the front's short cache of resources.)
    for path in ("/rom/moterom-1", f"/mine/booking/{'a' * 36}/{'b' * 32}"):
        answer = page.goto(hub.web_url + path)
        assert answer is not None and answer.status == 503, path
        assert "Bookingtjenesten svarer ikke" in page.locator("main").inner_text()
    assert_accessible(page, "a page with the booking service down")
