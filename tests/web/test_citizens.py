"""The citizens' pages (issue 17) in Debian's chromium, against the whole hub as real
processes: the front page's week of opening hours (17 May and a staff closure shown closed
with the reason), a sign-up to a full activity landing on the waiting list, a take-away
order for today and a short-notice catering order, the clubs that chose to be listed, a
planter box reservation, the accessibility statement and the privacy notice; axe-core at
WCAG 2.1 AA on every page, empty, filled and with errors, at 1280 px and 375 px."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from shared.calendar import HUB_HOURS, Calendar
from tests.support.waiting import wait_for_sync
from tests.web.hub import OSLO, WebHub
from tests.web.test_accessibility import (
    DESKTOP,
    PHONE,
    WCAG_21_AA,
    assert_accessible,
    screenshot,
)

pytestmark = pytest.mark.slow
SEVENTEENTH = date(2027, 5, 17)  # a Monday (and Whit Monday too, that year)
STAFF_DAY = date(2027, 5, 19)


@pytest.fixture(scope="module")
def visitor(browser: Any) -> Iterator[Any]:
    """One person browsing without signing in. The public pages load no script at all (checked
    on each), so every flow here is one that works without scripts; the browser keeps its
    own on for axe-core."""
    context = browser.new_context(locale="nb-NO", viewport=DESKTOP)
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    context.close()


def fits_a_phone(page: Any, what: str) -> None:
    """At 375 px nothing runs off the side: no sideways scrolling."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(DESKTOP)
    assert width <= PHONE["width"], f"{what}: {width} px wide at 375 px"


def accessible(page: Any, what: str) -> None:
    """axe-core at WCAG 2.1 AA, 1280 px and 375 px: no violations, and no contrast it could
    not decide either (white text on a white link-button came back "incomplete", not a
    violation)."""
    from axe_playwright_python.sync_playwright import Axe

    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        results = Axe().run(page, options=WCAG_21_AA)
        assert results.violations_count == 0, f"{what} at {size['width']} px:\n" + (
            results.generate_report()
        )
        unsure = [
            node["html"]
            for rule in results.response["incomplete"]
            if rule["id"] == "color-contrast"
            for node in rule["nodes"]
        ]
        assert not unsure, f"{what} at {size['width']} px, contrast undecided: {unsure}"
    page.set_viewport_size(DESKTOP)


def check(page: Any, what: str, name: str | None = None) -> None:
    assert page.locator("script").count() == 0, f"{what}: a script on a public page"
    accessible(page, what)
    fits_a_phone(page, what)
    if name:
        screenshot(page, name)


def follow(page: Any, target: Any) -> None:
    """Click a link or a form's button and wait for the page it leads to: reading the page
    before it has come would read the old one."""
    with page.expect_navigation():
        target.click()


def main_text(page: Any) -> str:
    return str(page.locator("main").inner_text())


@pytest.mark.timeout(600)
def test_every_page_empty(hub: WebHub, visitor: Any) -> None:
    """A new hub: no activities, no clubs listed, everything free; each page is usable."""
    for path, heading in (
        ("/", "Knutepunkt Strømsø"),
        ("/aktiviteter", "Kurs og møter"),
        ("/aktiviteter/maned", None),
        ("/kafe", "Café Jasmin"),
        ("/kafe/bestill?type=takeaway", "Bestill take-away"),
        ("/kafe/bestill?type=catering", "Bestill servering"),
        ("/foreninger", "Lag og foreninger"),
        ("/lane", "Låne"),
        ("/tilgjengelighet", "Tilgjengelighetserklæring"),
        ("/personvern", "Personvernerklæring"),
    ):
        answer = visitor.goto(hub.web_url + path)
        assert answer is not None and answer.status == 200, path
        if heading:
            assert visitor.get_by_role("heading", level=1).inner_text() == heading, path
        # Every page's footer links both statements.
        footer = visitor.get_by_role("contentinfo")
        assert footer.get_by_role("link", name="Tilgjengelighetserklæring").count() == 1
        assert footer.get_by_role("link", name="Personvernerklæring").count() == 1
        check(visitor, f"{path} (empty)")
    visitor.goto(hub.web_url + "/aktiviteter")
    assert visitor.locator(".empty").count() == 1
    visitor.goto(hub.web_url + "/foreninger")
    assert visitor.locator(".empty").count() == 1
    visitor.goto(hub.web_url + "/lane")
    assert "6 av 6 ledige nå" in main_text(visitor)
    visitor.goto(hub.web_url + "/tilgjengelighet")
    screenshot(visitor, "tilgjengelighet")
    visitor.goto(hub.web_url + "/personvern")
    screenshot(visitor, "personvern")


def test_the_front_page_shows_17_may_and_a_staff_closure_closed_with_the_reason(
    hub: WebHub, visitor: Any
) -> None:
    closed = hub.http.post(
        hub.url("booking", "/closures"),
        headers=hub.staff("booking"),
        json={
            "resource_id": None,
            "start": datetime.combine(STAFF_DAY, time(0), OSLO).isoformat(),
            "end": datetime.combine(STAFF_DAY + timedelta(days=1), time(0), OSLO).isoformat(),
            "reason": "Personalseminar",
        },
    )
    assert closed.status_code == 201, closed.text
    url = f"{hub.web_url}/?uke={SEVENTEENTH.isoformat()}"

    def row(day: str) -> str:
        return str(visitor.get_by_role("row", name=re.compile(f"^{day}")).inner_text())

    def closure_shown() -> bool:
        visitor.goto(url)  # the front keeps closures briefly (30 s) when no event says more
        return "Personalseminar" in row("onsdag 19. mai")

    wait_for_sync(closure_shown, 60, interval=1, message="the staff closure on the front page")
    seventeenth = row("mandag 17. mai")
    assert "Stengt" in seventeenth and "Grunnlovsdag" in seventeenth, seventeenth
    staff_day = row("onsdag 19. mai")
    # The hub is closed that day; the café keeps its own calendar and stays open.
    assert "Stengt: Personalseminar" in staff_day and "10:00–15:00" in staff_day, staff_day
    assert "10:00–14:00" in row("tirsdag 18. mai")
    assert "Stengt" in row("lørdag 22. mai")
    check(visitor, "the front page, a week with closures", "forside")
    # The week switch works without scripts, and comes back to this week.
    follow(visitor, visitor.get_by_role("link", name="Neste uke"))
    assert (
        "24. mai"
        in visitor.get_by_role("heading", level=2, name=re.compile("^Åpningstider")).inner_text()
    )
    follow(visitor, visitor.get_by_role("link", name="Denne uken"))
    assert visitor.get_by_role("row", name=re.compile("i dag")).count() == 1


def _activity(hub: WebHub, title: str, capacity: int, hour: int = 12) -> dict[str, Any]:
    """A public activity with sign-up, on an open weekday next week (an hour of its own)."""
    day = Calendar(HUB_HOURS).next_open_day(hub.now().date() + timedelta(days=7))
    start = datetime.combine(day, time(hour), OSLO)
    made = hub.http.post(
        hub.url("booking", "/bookings"),
        headers=hub.staff("booking"),
        json={
            "resource_id": "moterom-2",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "booker_type": "staff",
            "booker": {"name": "Knutepunkt", "email": "desk@example.org"},
            "title": title,
            "description": "Hva er nytt i nabolaget? Alle er velkomne.",
            "public": True,
            "signup_capacity": capacity,
        },
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_sign_up_to_a_full_activity_lands_on_the_waiting_list(hub: WebHub, visitor: Any) -> None:
    activity = _activity(hub, "Nærutvalgets møte", capacity=1)
    taken = hub.http.post(
        hub.url("booking", f"/activities/{activity['id']}/registrations"),
        json={"name": "Først Til Mølla", "email": f"forst-{secrets.token_hex(3)}@example.org"},
    )
    assert taken.status_code == 201 and taken.json()["status"] == "registered", taken.text
    visitor.goto(hub.web_url + "/aktiviteter")
    card = visitor.locator(".activities li", has_text="Nærutvalgets møte")
    assert "Fullt." in card.inner_text()
    check(visitor, "activities (full)", "aktiviteter")
    follow(visitor, visitor.get_by_role("link", name="Vis som kalender"))
    month = visitor.get_by_role("table")
    if "Nærutvalgets møte" not in month.inner_text():  # next week may be next month
        follow(visitor, visitor.get_by_role("link", name="Neste måned"))
    assert "Nærutvalgets møte" in visitor.get_by_role("table").inner_text()
    check(visitor, "the month view", "aktiviteter-kalender")
    follow(visitor, visitor.get_by_role("link", name=re.compile("Nærutvalgets møte")).first)
    assert visitor.get_by_role("heading", level=1).inner_text() == "Nærutvalgets møte"
    # Sent without a name or a way to reach you: both beside their fields, nothing lost.
    visitor.get_by_label("Mobilnummer").fill("")
    follow(visitor, visitor.get_by_role("button", name="Sett meg på venteliste"))
    assert visitor.locator("#pamelding-navn-feil").inner_text().endswith("Skriv navnet ditt.")
    assert visitor.get_by_label("Navn").get_attribute("aria-invalid") == "true"
    check(visitor, "a sign-up with errors", "pamelding-feil")
    # A refusal of the booking service itself comes back beside the field, the values kept.
    visitor.get_by_label("Navn").fill("Vera Venter")
    visitor.get_by_label("E-post").fill("ikke-en-adresse")
    follow(visitor, visitor.get_by_role("button", name="Sett meg på venteliste"))
    assert visitor.locator("#pamelding-epost-feil").count() == 1
    assert visitor.get_by_label("Navn").input_value() == "Vera Venter"
    visitor.get_by_label("E-post").fill(f"vera-{secrets.token_hex(3)}@example.org")
    follow(visitor, visitor.get_by_role("button", name="Sett meg på venteliste"))
    assert visitor.get_by_role("heading", level=1).inner_text() == "Du står på venteliste"
    assert "nummer 1 på ventelisten" in visitor.get_by_role("status").inner_text()
    assert "vera" not in visitor.url and "Vera" not in visitor.url  # nothing personal
    check(visitor, "the waiting list's confirmation", "pamelding-venteliste")


def test_a_sign_up_by_keyboard_alone(hub: WebHub, browser: Any) -> None:
    """The skip link first, then Tab to each field with its focus visible, Enter to send:
    a place, "Du er påmeldt"."""
    activity = _activity(hub, "Kurs i digital post", capacity=5, hour=10)
    context = browser.new_context(locale="nb-NO", viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{hub.web_url}/aktiviteter/{activity['id']}")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Gå til innholdet"
        page.keyboard.press("Enter")

        def tab_to(field_id: str) -> None:
            for _ in range(30):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.id") == field_id:
                    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                    assert outline != "none", f"{field_id}: no visible focus"
                    return
            raise AssertionError(f"Tab never reached {field_id}")

        tab_to("pamelding-navn")
        page.keyboard.type("Kai Tastatur")
        tab_to("pamelding-epost")
        page.keyboard.type(f"kai-{secrets.token_hex(3)}@example.org")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("heading", level=1).inner_text() == "Du er påmeldt"
        assert page.get_by_role("status").inner_text() == "Du har fått plass."
    finally:
        context.close()


def _takeaway_time(hub: WebHub) -> datetime:
    """An hour from now on the hub's clock, on the quarter: inside the café's 10–15."""
    soon = hub.now() + timedelta(hours=1)
    return soon.replace(minute=soon.minute // 15 * 15, second=0, microsecond=0)


def test_a_takeaway_order_for_today_inside_cafe_hours(hub: WebHub, visitor: Any) -> None:
    if hub.desk_closed:
        pytest.skip("the café is closed now and libfaketime is missing to move the hub's clock")
    pickup = _takeaway_time(hub)
    visitor.goto(hub.web_url + "/kafe")
    assert "Allergener:" in main_text(visitor) and "kr" in main_text(visitor)
    check(visitor, "the menu", "kafe-meny")
    follow(visitor, visitor.get_by_role("link", name="Bestill take-away").first)
    visitor.get_by_label(re.compile("^Samosa")).fill("3")
    visitor.get_by_label("Dato").fill(pickup.date().isoformat())
    visitor.get_by_label("Klokkeslett").fill("16:00")  # after the café has closed
    visitor.get_by_label("Navn").fill("Tone Take-away")
    visitor.get_by_label("Mobilnummer").fill("+4700000071")
    follow(visitor, visitor.get_by_role("button", name="Send bestillingen"))
    # The catering service's own reason, beside the time; what was typed is kept.
    assert "kafeen er stengt" in visitor.locator("#bestilling-tid-feil").inner_text()
    assert visitor.get_by_label(re.compile("^Samosa")).input_value() == "3"
    check(visitor, "an order outside café hours", "kafe-bestill-feil")
    visitor.get_by_label("Klokkeslett").fill(pickup.strftime("%H:%M"))
    follow(visitor, visitor.get_by_role("button", name="Send bestillingen"))
    assert visitor.get_by_role("heading", level=1).inner_text() == "Takk for bestillingen"
    done = main_text(visitor)
    assert "3 × Samosa" in done and "Kort varsel" not in done
    check(visitor, "a take-away order's confirmation", "kafe-bestilt")


def test_a_catering_order_for_tomorrow_is_short_notice(hub: WebHub, visitor: Any) -> None:
    """Tomorrow, or the café's next open day when tomorrow it is closed: inside the two
    working days, so the page says the café must accept it."""
    days = hub.http.get(
        hub.url("catering", "/availability"),
        params={"from": (hub.now().date() + timedelta(days=1)).isoformat(), "days": 10},
    ).json()
    day = next(d["date"] for d in days if d["open"])
    visitor.goto(hub.web_url + "/kafe/bestill?type=catering")
    assert visitor.get_by_role("heading", name="Frister for servering").count() == 1
    visitor.get_by_label(re.compile("^Kaffe og te")).fill("12")
    visitor.get_by_label("Dato").fill(day)
    visitor.get_by_label("Klokkeslett").fill("11:30")
    visitor.get_by_label("Navn").fill("Siri Servering")
    visitor.get_by_label("E-post").fill(f"siri-{secrets.token_hex(3)}@example.org")
    follow(visitor, visitor.get_by_role("button", name="Send bestillingen"))
    # Catering needs the number of people: beside its field, the rest kept.
    assert visitor.locator("#bestilling-personer-feil").count() == 1
    assert visitor.get_by_label("Dato").input_value() == day
    check(visitor, "catering without the number of people")
    visitor.get_by_label("Antall personer").fill("12")
    follow(visitor, visitor.get_by_role("button", name="Send bestillingen"))
    assert visitor.get_by_role("heading", level=1).inner_text() == "Bestillingen venter på kafeen"
    status = visitor.get_by_role("status").inner_text()
    assert "Kort varsel." in status and "Kafeen må godta den" in status, status
    assert "Venter på svar fra kafeen" in main_text(visitor)
    check(visitor, "a short-notice order's confirmation", "kafe-kort-varsel")


def test_only_the_clubs_that_chose_to_be_listed(hub: WebHub, visitor: Any) -> None:
    for name, listed in (("Strømsø sjakklubb", True), ("Hemmelig forening", False)):
        day = Calendar(HUB_HOURS).next_open_day(hub.now().date() + timedelta(days=8 + listed))
        start = datetime.combine(day, time(10 + 2 * listed), OSLO)
        made = hub.http.post(
            hub.url("booking", "/bookings"),
            json={
                "resource_id": "moterom-1",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "booker_type": "organisation",
                "organisation": {
                    "number": hub.next_org(),
                    "name": name,
                    "listed": listed,
                    "description": "Sjakk hver torsdag.",
                    "website": "https://example.org/sjakk",
                },
                "booker": {"name": "Leder", "email": f"leder-{secrets.token_hex(3)}@example.org"},
                "title": "Klubbkveld",
            },
        )
        assert made.status_code == 201, made.text
    visitor.goto(hub.web_url + "/foreninger")
    text = main_text(visitor)
    assert "Strømsø sjakklubb" in text and "Hemmelig forening" not in text
    check(visitor, "clubs (one listed)", "foreninger")


def test_a_planter_box_reservation(hub: WebHub, visitor: Any) -> None:
    visitor.goto(hub.web_url + "/lane")
    follow(visitor, visitor.get_by_role("button", name="Reserver"))
    assert visitor.locator(".field-error").count() == 2
    check(visitor, "a reservation with errors", "lane-feil")
    visitor.get_by_label("Navn").fill("Gro Grønnsak")
    visitor.get_by_label("Mobilnummer").fill("12")
    follow(visitor, visitor.get_by_role("button", name="Reserver"))
    # The loans service's reason for a phone number it cannot read, beside the field.
    assert visitor.locator("#reserver-telefon-feil").count() == 1
    assert visitor.get_by_label("Navn").input_value() == "Gro Grønnsak"
    visitor.get_by_label("Mobilnummer").fill("+4700000081")
    follow(visitor, visitor.get_by_role("button", name="Reserver"))
    assert visitor.get_by_role("heading", level=1).inner_text() == "Reservasjonen er mottatt"
    assert "klar til deg" in visitor.get_by_role("status").inner_text()
    check(visitor, "a reservation's confirmation", "lane-reservert")
    # A new borrower's key to her own page, shown this once.
    link = visitor.locator("main a[href*='/mine/lan/']")
    manage_url = link.get_attribute("href")
    assert manage_url and manage_url.startswith(hub.web_url + "/mine/lan/")
    visitor.reload()
    assert visitor.locator("main a[href*='/mine/lan/']").count() == 0
    visitor.goto(hub.web_url + "/lane")
    assert "5 av 6 ledige nå" in main_text(visitor)  # the box is held for her
    screenshot(visitor, "lane")

    visitor.goto(manage_url)
    assert visitor.get_by_role("heading", level=1).inner_text() == "Dine lån og reservasjoner"
    assert "Klar til deg. Hent den innen" in main_text(visitor)
    check(visitor, "a borrower's page with a reservation", "mine-lan")
    follow(visitor, visitor.get_by_role("button", name="Avbestill reservasjonen"))
    assert visitor.get_by_role("status").inner_text() == "Reservasjonen er avbestilt."
    assert "Du har ingen åpne reservasjoner." in main_text(visitor)
    visitor.goto(hub.web_url + "/lane")
    assert "6 av 6 ledige nå" in main_text(visitor)  # the box went back

    # The desk registers a box lent to her on paper; a box cannot be extended (the season
    # ends on a fixed date), and the loans service's reason stands beside the button.
    lent = hub.http.post(
        hub.url("loans", "/loans"),
        json={
            "kind": "planter_box",
            "borrower": {"name": "Gro Grønnsak", "phone": "+4700000081"},
            "started_at": (hub.now() - timedelta(hours=1)).isoformat(),
        },
        headers=hub.staff("desk"),
    )
    assert lent.status_code == 201, lent.text
    visitor.goto(manage_url)
    assert "Du har ingen lån nå." not in main_text(visitor)
    follow(visitor, visitor.get_by_role("button", name=re.compile("^Forleng lånet")))
    loan_id = lent.json()["id"]
    assert visitor.locator(f"#forleng-{loan_id}-feil").count() == 1
    check(visitor, "a borrower's page with a refused extension", "mine-lan-feil")
    # Nobody's key: the page that is not there, as for any address.
    assert visitor.goto(hub.web_url + "/mine/lan/" + "x" * 32).status == 404


def test_the_english_switch_keeps_the_page(hub: WebHub, browser: Any) -> None:
    context = browser.new_context(locale="nb-NO", viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(hub.web_url + "/kafe")
        follow(page, page.get_by_role("link", name="English"))
        page.wait_for_url(hub.web_url + "/kafe")
        assert "Allergens:" in page.locator("main").inner_text()
        assert_accessible(page, "the menu in English")
        # The week shown stays; whatever else the address carries does not ride along.
        week = (hub.now().date() + timedelta(days=14)).isoformat()
        page.goto(f"{hub.web_url}/rom/moterom-1?uke={week}&navn=Kari+Nordmann")
        follow(page, page.get_by_role("link", name="Norsk (bokmål)"))
        page.wait_for_url(f"{hub.web_url}/rom/moterom-1?uke={week}")
        assert page.locator("html").get_attribute("lang") == "nb"
    finally:
        context.close()


def test_bad_input_is_a_clear_page_never_a_500(hub: WebHub) -> None:
    """By HTTP, as a script would send it: odd addresses fall back or are 404 pages; a form
    without the page's CSRF token is refused; impossible values come back as 422."""
    with httpx.Client(base_url=hub.web_url, timeout=30, trust_env=False) as web:
        for path in (
            "/?uke=nonsense",
            "/?uke=1900-01-01",
            "/aktiviteter/maned?m=2027-13",
            "/aktiviteter/maned?m=2025-01",
            "/kafe/bestill?type=evil",
            "/kafe/bestilt",
            "/lane/reservert",
        ):
            answer = web.get(path, follow_redirects=True)
            assert answer.status_code == 200, path
        assert web.get("/aktiviteter/x%3Fy").status_code == 404
        assert web.post("/kafe/bestill", data={"kind": "takeaway"}).status_code == 400
        form = web.get("/kafe/bestill").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        sent = web.post(
            "/kafe/bestill",
            data={"csrf": token[1], "kind": "catering", "date": "2027-13-01", "time": "25:00",
                  "antall-kaffe-te": "999999", "people": "-1", "name": "", "email": ""},
        )  # fmt: skip
        assert sent.status_code == 422
        for field in (
            "bestilling-varer",
            "bestilling-dato",
            "bestilling-tid",
            "bestilling-personer",
            "bestilling-navn",
            "bestilling-epost",
        ):
            assert f'id="{field}-feil"' in sent.text, field
        gone = web.post("/aktiviteter/x%3Fy/pamelding", data={"csrf": token[1], "name": "A"})
        assert gone.status_code == 404


def test_a_service_that_is_down(hub: WebHub, visitor: Any) -> None:
    """A clear page (503), never a trace; the front page still shows the hub's hours. (Last:
    it stops the catering service, then the booking service.)"""
    hub.services["catering"].stop()
    answer = visitor.goto(hub.web_url + "/kafe")
    assert answer is not None and answer.status == 503
    assert visitor.get_by_role("heading", level=1).inner_text() == "Tjenesten svarer ikke"
    check(visitor, "the menu (catering down)")
    answer = visitor.goto(hub.web_url + "/")
    assert answer is not None and answer.status == 200
    assert "Kafétjenesten svarer ikke akkurat nå" in main_text(visitor)
    check(visitor, "the front page (catering down)")
    hub.services["booking"].stop()
    for path in ("/aktiviteter", "/foreninger"):
        answer = visitor.goto(hub.web_url + path)
        assert answer is not None and answer.status == 503, path
        assert "Bookingtjenesten svarer ikke" in main_text(visitor)

    def noticed() -> bool:
        # The closures the front read last are kept 30 s: the notice comes after them.
        answer = visitor.goto(hub.web_url + "/")
        assert answer is not None and answer.status == 200
        return "Bookingtjenesten svarer ikke akkurat nå" in main_text(visitor)

    wait_for_sync(noticed, 90, interval=2, message="the booking service's notice")
    assert "10:00–14:00" in main_text(visitor)  # the hours still, from the calendar
