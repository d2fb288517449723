"""Universal design: axe-core (WCAG 2.1 A and AA rules) on every staff page in its empty,
full and error states, at desktop width and at a 375 px phone width: no violations.

With KP_SCREENSHOTS set to a folder (docs/web), it also saves a screenshot of each page in
the full state, desktop and phone, for docs/web.md.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.calendar import HUB_HOURS, Calendar
from tests.support.waiting import wait_for_sync
from tests.web.conftest import sign_in
from tests.web.hub import OSLO, WebHub, later_today

pytestmark = pytest.mark.slow
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES = {
    "i-dag": "/ansatt/",
    "foresporsler": "/ansatt/foresporsler",
    "utlan": "/ansatt/utlan",
    "kafe": "/ansatt/kafe",
    "produksjonsliste": "/ansatt/kafe/produksjonsliste",
    "meny": "/ansatt/kafe/meny",
    "stengt": "/ansatt/stengt",
    "varsler": "/ansatt/varsler",
}
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


def assert_accessible(page: Any, what: str, phone: bool = False) -> None:
    """No violations; with `phone`, also at 375 px (the full pages, whose layout changes)."""
    from axe_playwright_python.sync_playwright import Axe

    for size in (DESKTOP, PHONE) if phone else (DESKTOP,):
        page.set_viewport_size(size)
        results = Axe().run(page, options=WCAG_21_AA)
        assert results.violations_count == 0, f"{what} at {size['width']} px:\n" + (
            results.generate_report()
        )
    page.set_viewport_size(DESKTOP)


def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("KP_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("mobil", PHONE)):
        page.set_viewport_size(size)
        # The top of the page, at most this tall: enough to show it, small in the repository.
        height = min(page.evaluate("document.documentElement.scrollHeight"), 1800)
        clip = {"x": 0, "y": 0, "width": size["width"], "height": height}
        page.screenshot(path=str(Path(folder) / f"{name}-{label}.png"), full_page=True, clip=clip)
    page.set_viewport_size(DESKTOP)


@pytest.fixture(scope="module")
def admin(hub: WebHub, browser: Any) -> Any:
    context = browser.new_context(locale="nb-NO", viewport=DESKTOP)
    context.set_default_timeout(60_000)
    page = context.new_page()
    sign_in(page, hub, "anne")
    yield page
    context.close()


def _fill_the_hub(hub: WebHub) -> None:
    """A day's worth: requests, bookings with catering, an activity with sign-ups, orders,
    loans (one overdue, at a reminder level), a waiting list (one offered, one from a later
    date), a closure and a café closure, a menu item off sale, notifications (one failed)."""
    # The next SMS the gateway gets is refused for good: one failed notification to retry.
    hub.http.post(f"{hub.sms_url}/control/faults", json={"responses": [400]})
    hub.request_gymsalen(f"full-{secrets.token_hex(3)}@example.org", title="Vårkonsert")
    hub.request_gymsalen(f"full-{secrets.token_hex(3)}@example.org", title="Innebandy")
    now = hub.now()
    today = now.date()
    # The next day the rooms are open (a Friday's is the Monday after).
    next_day = Calendar(HUB_HOURS).next_open_day(today + timedelta(days=1))
    for start in (later_today(now), datetime.combine(next_day, time(11), OSLO)):
        staff = hub.http.post(
            hub.url("booking", "/bookings"),
            headers=hub.staff("booking"),
            json={
                "resource_id": "moterom-1",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=45)).isoformat(),
                "booker_type": "staff",
                "booker": {"name": "Knutepunkt", "email": "desk@example.org"},
                "title": "Infomøte om bostøtte",
                "public": True,
                "signup_capacity": 20,
                "catering": {
                    "lines": [{"item_id": "kaffe-te", "quantity": 12}],
                    "people": 12,
                    "serve_at": start.isoformat(),
                },
            },
        )
        assert staff.status_code == 201, staff.text
    hub.short_notice_order(f"kunde-{secrets.token_hex(3)}@example.org")
    pcs = hub.http.get(hub.url("loans", "/items"), params={"kind": "pc"}, headers=hub.staff("desk"))
    free = [i for i in pcs.json() if i["available"]]
    for item, days_ago, phone in ((free[0], 0, "+4700000061"), (free[1], 6, "+4700000062")):
        body: dict[str, Any] = {
            "item_id": item["id"],
            "borrower": {"name": f"Låner {phone[-2:]}", "phone": phone},
        }
        if days_ago:
            body["started_at"] = (hub.now() - timedelta(days=days_ago)).isoformat()
            body["due_date"] = (hub.now() - timedelta(days=days_ago - 2)).date().isoformat()
        lent = hub.http.post(hub.url("loans", "/loans"), headers=hub.staff("desk"), json=body)
        assert lent.status_code == 201, lent.text
    # A PC is still free: the first in line is offered it; the second waits from next week.
    for phone, wanted in (("+4700000063", None), ("+4700000064", hub.now() + timedelta(days=7))):
        reservation: dict[str, Any] = {
            "kind": "pc",
            "borrower": {"name": f"Venter {phone[-2:]}", "phone": phone},
        }
        if wanted is not None:
            reservation["wanted_from"] = wanted.isoformat()
        queued = hub.http.post(
            hub.url("loans", "/reservations"), headers=hub.staff("desk"), json=reservation
        )
        assert queued.status_code == 201, queued.text
    cafe_day = today + timedelta(days=20)
    cafe_closed = hub.http.post(
        hub.url("catering", "/closures"),
        headers=hub.staff("cafe"),
        json={
            "first_date": cafe_day.isoformat(),
            "last_date": (cafe_day + timedelta(days=1)).isoformat(),
            "reason": "Kurs for de ansatte",
        },
    )
    assert cafe_closed.status_code == 201, cafe_closed.text
    off_sale = hub.http.patch(
        hub.url("catering", "/menu/items/kanelbolle"),
        headers=hub.staff("cafe"),
        json={"available": False},
    )
    assert off_sale.status_code == 200, off_sale.text
    closure_day = next_day + timedelta(days=2)  # not a day the meetings above are on
    closed = hub.http.post(
        hub.url("booking", "/closures"),
        headers=hub.staff("booking"),
        json={
            "resource_id": None,
            "start": datetime.combine(closure_day, time(0), OSLO).isoformat(),
            "end": datetime.combine(closure_day, time(23, 59), OSLO).isoformat(),
            "reason": "Personalseminar",
        },
    )
    assert closed.status_code == 201, closed.text

    def a_failed_one() -> bool:
        rows = hub.http.get(
            hub.url("notify", "/notifications"),
            headers=hub.staff("admin"),
            params={"status": "failed"},
        ).json()
        return bool(rows)

    wait_for_sync(a_failed_one, 60, message="a failed notification")


# The tests below run in this order on one hub: empty, then full, then errors.


def test_pages_before_sign_in(hub: WebHub, browser: Any) -> None:
    anonymous = browser.new_context(locale="nb-NO", viewport=DESKTOP)
    try:
        visitor = anonymous.new_page()
        for path in ("/", "/ansatt/logg-inn", "/finnes-ikke"):
            visitor.goto(hub.web_url + path)
            assert_accessible(visitor, path, phone=path == "/ansatt/logg-inn")
        visitor.goto(hub.web_url + "/ansatt/logg-inn")
        screenshot(visitor, "logg-inn")
    finally:
        anonymous.close()


def test_every_page_empty(hub: WebHub, admin: Any) -> None:
    """A new hub: nothing booked, ordered, lent or sent yet."""
    page = admin
    for name, path in PAGES.items():
        page.goto(hub.web_url + path)
        # The seeded menu is never empty.
        assert page.locator(".empty").count() > 0 or name in ("i-dag", "meny"), name
        assert_accessible(page, f"{name} (empty)")


@pytest.mark.timeout(300)
def test_every_page_full(hub: WebHub, admin: Any) -> None:
    page = admin
    _fill_the_hub(hub)
    wait_for_sync(hub.notify_drained, 60, message="notify drained")
    for name, path in PAGES.items():
        page.goto(hub.web_url + path)
        assert_accessible(page, f"{name} (full)", phone=True)
        screenshot(page, name)
    page.goto(hub.web_url + "/ansatt/varsler?status=failed")
    retry = page.get_by_role("button", name=re.compile("^Send på nytt"))
    assert retry.count() >= 1
    retry.first.click()
    assert page.get_by_role("status").first.inner_text() == "Varselet sendes på nytt."
    page.goto(hub.web_url + "/ansatt/")
    assert "Infomøte om bostøtte" in page.locator("main").inner_text()
    page.goto(hub.web_url + "/ansatt/foresporsler")
    assert "Vårkonsert" in page.locator("main").inner_text()
    page.goto(hub.web_url + "/ansatt/utlan")
    # Due four days ago, or later when that day was closed: a level, which one depends on it.
    assert re.search(r"purring [1-3]", page.get_by_role("table", name="Forfalt").inner_text())
    assert "Venter 63" in page.get_by_role("table", name="Venteliste: PC").inner_text()


def test_forms_sent_back_with_their_reasons(hub: WebHub, admin: Any) -> None:
    page = admin
    page.goto(hub.web_url + "/ansatt/foresporsler")
    card = page.locator(".request").first
    card.get_by_label(re.compile("^Grunn til avslag")).evaluate(
        "f => f.removeAttribute('required')"
    )
    card.get_by_role("button", name=re.compile("^Avslå")).click()
    assert page.locator(".field-error").count() == 1
    assert_accessible(page, "foresporsler (a reason missing)")
    screenshot(page, "foresporsler-feil")
    page.goto(hub.web_url + "/ansatt/utlan")
    page.get_by_role("button", name="Lån ut", exact=True).click()
    assert page.locator(".field-error").count() >= 2
    assert_accessible(page, "utlan (fields missing)")
    page.goto(hub.web_url + "/ansatt/stengt")
    page.get_by_role("button", name="Steng", exact=True).click()
    assert page.locator(".field-error").count() >= 2
    assert_accessible(page, "stengt (fields missing)")
    page.get_by_role("button", name="Steng kafeen", exact=True).click()
    assert page.locator(".field-error").count() >= 2
    assert_accessible(page, "stengt (the café's closure, fields missing)")
    page.goto(hub.web_url + "/ansatt/kafe")
    page.get_by_label("Porsjoner kafeen kan lage").fill("mange")
    page.get_by_role("button", name="Lagre kapasiteten").click()
    assert page.locator("#kapasitet-porsjoner-feil").count() == 1
    assert_accessible(page, "kafe (capacity not a number)")


def test_one_click_link_pages(hub: WebHub, admin: Any) -> None:
    """A staff message's link: the confirm page (and sent back without a reason), then the
    pages for a link already used, a request already answered and a link not valid."""
    page = admin
    booking = hub.request_gymsalen(f"lenke-{secrets.token_hex(3)}@example.org", title="Lenketest")
    reject = hub.staff_link(booking["id"], "Avslå (med grunn)")
    page.goto(reject)
    assert page.get_by_role("heading", level=1).inner_text() == "Avslå bookingen?"
    assert_accessible(page, "lenke (confirm)", phone=True)
    screenshot(page, "lenke")
    page.get_by_label(re.compile("^Grunn")).evaluate("f => f.removeAttribute('required')")
    page.get_by_role("button", name="Avslå", exact=True).click()
    assert page.locator(".field-error").count() == 1
    assert_accessible(page, "lenke (a reason missing)")
    order = hub.short_notice_order(f"lenke-{secrets.token_hex(3)}@example.org")
    page.goto(hub.staff_link(order["id"], "Aksepter bestillingen"))
    assert page.get_by_role("heading", level=1).inner_text() == "Akseptere bestillingen?"
    assert_accessible(page, "lenke (an order)")

    approve = hub.staff_link(booking["id"], "Godkjenn")
    page.goto(approve)
    page.get_by_role("button", name="Godkjenn", exact=True).click()
    page.wait_for_url(hub.web_url + "/ansatt/foresporsler")
    stale = {
        "used": (approve, 410, "Lenken er allerede brukt"),
        "answered": (reject, 409, "Allerede besvart"),
        "not valid": (approve[:-4] + ("AAAA" if approve[-4:] != "AAAA" else "BBBB"), 404, None),
    }
    for what, (url, status, heading) in stale.items():
        answer = page.goto(url)
        assert answer is not None and answer.status == status, what
        if heading:
            assert page.get_by_role("heading", level=1).inner_text() == heading
        assert_accessible(page, f"lenke ({what})", phone=what == "used")
    page.goto(approve)
    screenshot(page, "lenke-brukt")


def test_a_page_the_role_does_not_allow(hub: WebHub, browser: Any) -> None:
    cafe = browser.new_context(locale="nb-NO", viewport=DESKTOP)
    try:
        jasmin = cafe.new_page()
        sign_in(jasmin, hub, "jasmin", start="/ansatt/kafe")
        jasmin.goto(hub.web_url + "/ansatt/utlan")
        assert jasmin.get_by_role("heading", level=1).inner_text() == "Du har ikke tilgang"
        assert_accessible(jasmin, "403")
    finally:
        cafe.close()


def test_a_service_that_is_down(hub: WebHub, admin: Any) -> None:
    """A clear page (503), never a trace; the other pages still work. (Last: it stops one.)"""
    page = admin
    hub.services["loans"].stop()
    answer = page.goto(hub.web_url + "/ansatt/utlan")
    assert answer is not None and answer.status == 503
    assert page.get_by_role("heading", level=1).inner_text() == "Tjenesten svarer ikke"
    assert "Utlånstjenesten svarer ikke" in page.locator("main").inner_text()
    assert_accessible(page, "utlan (loans down)")
    screenshot(page, "tjeneste-nede")
    answer = page.goto(hub.web_url + "/ansatt/")
    assert answer is not None and answer.status == 200
    assert "Utlånstjenesten svarer ikke akkurat nå" in page.locator("main").inner_text()
    assert_accessible(page, "i-dag (loans down)")
