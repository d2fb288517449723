"""Personvern (issue 18) in a real browser against the whole hub as processes: an admin
finds a person by email (posted, never in the address), sees what each service holds (a
seeded booking of theirs, a staff read of it), downloads it as JSON, erases the person after
a confirmation and sees every service done; the access log lists the read; staff without
the admin role get 403. Each page passes axe-core (WCAG 2.1 A and AA), errors included, and
the front's log never names the person."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import wait_for_sync
from tests.web.conftest import sign_in
from tests.web.hub import WebHub
from tests.web.test_accessibility import assert_accessible, screenshot

pytestmark = pytest.mark.slow
PAGE = "/ansatt/personvern"


def _held_rows(hub: WebHub, email: str) -> dict[str, Any]:
    answer = hub.http.post(
        hub.url("booking", "/privacy/export"), json={"email": email}, headers=hub.staff("admin")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["held"]  # type: ignore[no-any-return]


def test_an_admin_exports_downloads_and_erases_one_person(
    hub: WebHub, context: Any, tmp_path: Path
) -> None:
    email = f"innsyn-{secrets.token_hex(4)}@example.org"
    booking = hub.request_gymsalen(email, title="Personvernkveld")
    # A staff read of their booking: the access log then names them.
    read = hub.http.get(
        hub.url("booking", f"/bookings/{booking['id']}"), headers=hub.staff("booking")
    )
    assert read.status_code == 200
    # Nothing about them left in flight: the erasure is then done at once everywhere.
    wait_for_sync(hub.notify_drained, 60, interval=0.2, message="notify drained")

    page = context.new_page()
    sign_in(page, hub, "anne", start=PAGE)
    assert (
        page.get_by_role("navigation", name="Hovedmeny")
        .get_by_role("link", name="Personvern")
        .count()
        == 1
    )
    assert_accessible(page, "personvern, empty")

    # Errors beside the fields: nobody given, then a phone that is no phone.
    page.get_by_role("button", name="Vis innsyn").click()
    assert (
        page.locator("#personvern-epost-feil")
        .inner_text()
        .endswith("Skriv en e-postadresse, et telefonnummer eller begge.")
    )
    assert page.get_by_label("E-postadresse").get_attribute("aria-invalid") == "true"
    page.get_by_label("Telefonnummer").fill("12ab")
    page.get_by_role("button", name="Vis innsyn").click()
    assert "ikke et telefonnummer" in page.locator("#personvern-telefon-feil").inner_text()
    assert_accessible(page, "personvern, errors")

    page.get_by_label("Telefonnummer").fill("")
    page.get_by_label("E-postadresse").fill(email)
    page.get_by_role("button", name="Vis innsyn").click()
    page.wait_for_url(hub.web_url + PAGE + "/innsyn")
    assert email not in page.url
    assert page.get_by_role("status").first.inner_text() == "Alle tjenestene har svart."
    held = page.locator("#innsyn-tjeneste-booking").inner_text()
    assert booking["id"] in held and "Personvernkveld" in held
    reads = page.locator("#innsyn-tilgang").inner_text()
    assert "GET /bookings/{booking_id}" in reads
    for service in ("loans", "catering", "notify"):
        assert page.locator(f"#innsyn-tjeneste-{service}").count() == 1
    assert_accessible(page, "personvern, export")
    screenshot(page, "personvern-innsyn")

    with page.expect_download() as download:
        page.get_by_role("button", name="Last ned som JSON").click()
    assert download.value.suggested_filename == "innsyn.json"
    saved = tmp_path / "innsyn.json"
    download.value.save_as(saved)
    export = json.loads(saved.read_text())
    assert export["complete"] is True and export["missing"] == {}
    assert [b["id"] for b in export["services"]["booking"]["bookings"]] == [booking["id"]]
    assert any(e["what"] == "GET /bookings/{booking_id}" for e in export["access_log"])

    page.get_by_role("button", name="Slett personen …").click()
    page.wait_for_url(hub.web_url + PAGE + "/slett")
    assert email in page.get_by_role("alert").inner_text()
    assert_accessible(page, "personvern, confirm the erasure")
    page.get_by_role("button", name="Ja, slett personen").click()
    page.wait_for_url(hub.web_url + PAGE + "/sletting")

    def all_done() -> bool:
        rows = page.locator("#sletting-tjenester tbody tr")
        if rows.count() == 4 and all("Slettet" in t for t in rows.all_inner_texts()):
            return True
        page.get_by_role("link", name="Oppdater").click()  # a round of a service's timer
        return False

    wait_for_sync(all_done, 90, interval=0.5, message="every service done")
    assert page.get_by_role("status").first.inner_text() == "Alle tjenestene har slettet personen."
    assert_accessible(page, "personvern, erasure done")
    screenshot(page, "personvern-sletting")
    assert _held_rows(hub, email) == {k: [] for k in _held_rows(hub, email)}
    kept = hub.http.get(
        hub.url("booking", f"/bookings/{booking['id']}"), headers=hub.staff("booking")
    ).json()
    assert email not in json.dumps(kept)

    page.goto(hub.web_url + PAGE + "/tilgangslogg")
    log_rows = page.locator("#tilgangslogg tbody tr").all_inner_texts()
    assert any("GET /bookings/{booking_id}" in row for row in log_rows)
    assert_accessible(page, "personvern, access log")

    # Nothing about the person in the front's own log.
    assert email not in hub.web.log()


def test_staff_without_the_admin_role_get_403(hub: WebHub, context: Any) -> None:
    page = context.new_page()
    sign_in(page, hub, "kari")
    assert (
        page.get_by_role("navigation", name="Hovedmeny")
        .get_by_role("link", name="Personvern")
        .count()
        == 0
    )
    for path in (PAGE, PAGE + "/tilgangslogg", PAGE + "/sletting"):
        answer = page.goto(hub.web_url + path)
        assert answer is not None and answer.status == 403, path
    assert re.search("Administrator", page.locator("main").inner_text())
    # A post, with the page's own CSRF token, is refused the same.
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value") or ""
    posted = page.request.post(
        hub.web_url + PAGE + "/innsyn", form={"csrf": csrf, "email": "a@example.org"}
    )
    assert posted.status == 403
    assert_accessible(page, "personvern, 403")


def test_a_service_down_is_missing_from_the_export_and_erases_when_it_returns(
    hub: WebHub, context: Any
) -> None:
    email = f"nede-{secrets.token_hex(4)}@example.org"
    hub.request_gymsalen(email, title="Kafé nede")
    wait_for_sync(hub.notify_drained, 60, interval=0.2, message="notify drained")
    catering = hub.services["catering"]
    catering.stop()
    try:
        page = context.new_page()
        sign_in(page, hub, "anne", start=PAGE)
        page.get_by_label("E-postadresse").fill(email)
        page.get_by_role("button", name="Vis innsyn").click()
        missing = page.locator("#innsyn-mangler")
        assert "Kafétjenesten" in missing.inner_text()
        assert "Bookingtjenesten" not in missing.inner_text()
        assert "Kafé nede" in page.locator("#innsyn-tjeneste-booking").inner_text()
        assert_accessible(page, "personvern, export with a service down")

        page.get_by_role("button", name="Slett personen …").click()
        page.get_by_role("button", name="Ja, slett personen").click()
        page.wait_for_url(hub.web_url + PAGE + "/sletting")
        row = page.locator('#sletting-tjenester tr[data-service="catering"]')
        assert "Venter" in row.inner_text() and "svarer ikke" in row.inner_text()
        # (booking may wait too, for catering's group to take its events: not asserted)
        assert_accessible(page, "personvern, erasure pending")
    finally:
        if not catering.alive:
            catering.start(wait=True, timeout=60)

    def catering_done() -> bool:
        page.get_by_role("link", name="Oppdater").click()
        return "Slettet" in row.inner_text()

    # Nobody asks it again: its erasure timer finds the request when it starts.
    wait_for_sync(catering_done, 90, interval=0.5, message="catering erased after restart")
    assert page.get_by_role("status").first.inner_text() == "Alle tjenestene har slettet personen."
