"""A person's request in the booking service (shared/person_data.py): admin only, the person
in the body, bad input a 4xx; export finds their bookings, participations, sign-ups and
season applications; erasure anonymises them, leaves others' data and the season's report,
and twice is harmless."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.booking.models import Booking, SeasonAllocation, SeasonApplication
from shared.anonymise import ANONYMISED
from tests.booking.conftest import BOOKING_STAFF, DESK_STAFF, org_booking, person_booking
from tests.booking.test_seasons import (
    SENIOR_CLUB,
    YOUTH_CLUB,
    application,
    apply,
    close_and_propose,
    open_season,
    publish,
)
from tests.support.apps import RunningService
from tests.support.waiting import wait_for

ADMIN = {"Authorization": "Bearer ta"}
KARI = {"email": "KARI@example.org", "phone": "+47 000 00 000"}
SLOT = ("2027-03-02T10:00:00+01:00", "2027-03-02T12:00:00+01:00")
LATER = ("2027-03-03T10:00:00+01:00", "2027-03-03T12:00:00+01:00")


async def post(svc: RunningService, path: str, body: Any, headers: dict[str, str]) -> Any:
    return await svc.client.post(path, json=body, headers=headers)


async def test_only_an_admin_asks_and_bad_input_is_a_4xx(service: RunningService) -> None:
    assert (await post(service, "/privacy/export", KARI, {})).status_code == 401
    for staff in (BOOKING_STAFF, DESK_STAFF):
        assert (await post(service, "/privacy/erase", KARI, staff)).status_code == 403
    for bad in ({}, {"email": "nobody"}, {"phone": "12"}, {"name": "Kari"}):
        answer = await post(service, "/privacy/export", bad, ADMIN)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_export_then_erase_a_booker_and_a_participant(service: RunningService) -> None:
    kari = await post(service, "/bookings", org_booking("moterom-1", *SLOT), {})
    assert kari.status_code == 201, kari.text
    with_kari = person_booking(
        "moterom-2", *LATER, participants=[{"name": "Kari Nordmann", "phone": "+4700000000"}]
    )
    ola = await post(service, "/bookings", with_kari, {})
    assert ola.status_code == 201, ola.text

    held = (await post(service, "/privacy/export", KARI, ADMIN)).json()
    assert held["service"] == "booking"
    assert [b["id"] for b in held["held"]["bookings"]] == [kari.json()["id"]]
    [listed] = held["held"]["listed_as_participant"]
    assert listed["booking_id"] == ola.json()["id"]

    erased = (await post(service, "/privacy/erase", KARI, ADMIN)).json()
    assert erased["erased"] == {
        "bookings": 1,
        "participations": 1,
        "registrations": 0,
        "organisations": 0,
        "season_applications": 0,
    }
    assert erased["streams"][0]["stream"] == "booking.events"
    async with service.runtime.db.read() as session:
        mine = await session.get(Booking, kari.json()["id"])
        theirs = await session.get(Booking, ola.json()["id"])
    assert mine is not None and theirs is not None
    assert (mine.booker_name, mine.booker_email, mine.booker_phone) == (ANONYMISED, None, None)
    assert theirs.participants == [] and theirs.booker_email == "ola@example.org"
    again = (await post(service, "/privacy/erase", KARI, ADMIN)).json()
    assert again["erased"]["bookings"] == 0 and again["erased"]["participations"] == 0
    assert (await post(service, "/privacy/export", KARI, ADMIN)).json()["held"]["bookings"] == []


async def test_a_club_contact_is_exported_and_erased_and_the_season_report_stays(
    service: RunningService,
) -> None:
    season_id = await open_season(service)
    kari = application(
        YOUTH_CLUB,
        "youth",
        ("mon", "17:00"),
        contact={"name": "Kari Nordmann", "email": "kari@example.org", "phone": "+4700000000"},
    )
    mine = await apply(service, season_id, kari)
    theirs = await apply(service, season_id, application(SENIOR_CLUB, "seniors", ("wed", "19:00")))
    await close_and_propose(service, season_id)
    await publish(service, season_id)
    report_path = f"/seasons/{season_id}/report"
    report = (await service.client.get(report_path, headers=BOOKING_STAFF)).json()
    assert report["total_hours"] > 0

    held = (await post(service, "/privacy/export", KARI, ADMIN)).json()["held"]
    [exported] = held["season_applications"]
    assert (exported["id"], exported["contact_email"]) == (mine["id"], "kari@example.org")
    # Her club's season bookings name her as the booker, and are exported as such.
    assert held["bookings"] and all(b["series_id"] for b in held["bookings"])

    erased = (await post(service, "/privacy/erase", KARI, ADMIN)).json()["erased"]
    assert erased["season_applications"] == 1
    assert erased["bookings"] == len(held["bookings"])
    async with service.runtime.db.read() as session:
        apps = {a.id: a for a in await session.scalars(select(SeasonApplication))}
        allocated = list(await session.scalars(select(SeasonAllocation.application_id)))
    gone, kept = apps[mine["id"]], apps[theirs["id"]]
    assert (gone.contact_name, gone.contact_email, gone.contact_phone, gone.token_hash) == (
        ANONYMISED,
        None,
        None,
        "",
    )
    assert (gone.org_number, gone.org_name, gone.target_group) == (YOUTH_CLUB, "Klubb 606", "youth")
    assert (kept.contact_name, kept.contact_email) == ("Kari Nordmann", "leder622@example.org")
    assert mine["id"] in allocated  # the allocation stays, and with it the report
    assert (await service.client.get(report_path, headers=BOOKING_STAFF)).json() == report
    # Her manage token no longer opens the application.
    token = {"X-Manage-Token": mine["manage_token"]}
    answer = await service.client.get(f"/season-applications/{mine['id']}", headers=token)
    assert answer.status_code == 403

    again = (await post(service, "/privacy/erase", KARI, ADMIN)).json()["erased"]
    assert again["season_applications"] == 0
    export = (await post(service, "/privacy/export", KARI, ADMIN)).json()["held"]
    assert export["season_applications"] == []


async def test_staff_reads_and_changes_are_in_the_access_log(service: RunningService) -> None:
    made = await post(service, "/bookings", org_booking("moterom-1", *SLOT), {})
    assert made.status_code == 201, made.text
    # Not staff: not logged. Staff reading the list of bookings: one read naming Kari.
    assert (await service.client.get("/bookings")).status_code in (200, 401)
    listed = await service.client.get("/bookings", headers=BOOKING_STAFF)
    assert listed.status_code == 200, listed.text
    cancel = await post(
        service, f"/bookings/{made.json()['id']}/cancel", {"reason": "flyttet"}, BOOKING_STAFF
    )
    assert cancel.status_code == 200, cancel.text

    async def logged() -> list[dict[str, Any]]:
        answer = await post(service, "/privacy/access-log", KARI, ADMIN)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    await wait_for(lambda: _two(logged), timeout=10, message="two access-log entries")
    entries = await logged()
    assert [(e["action"], e["what"]) for e in entries] == [
        ("read", "GET /bookings"),
        ("change", "POST /bookings/{booking_id}/cancel"),
    ]
    assert all(e["actor"].startswith("service_account:token-") for e in entries)
    assert all(e["roles"] == "booking" and e["service"] == "booking" for e in entries)
    # The log names nobody in clear: a keyed hash of the email or phone.
    everything = await service.client.get("/privacy/access-log", headers=ADMIN)
    assert "kari" not in everything.text.lower() and "00000000" not in everything.text
    other = await post(service, "/privacy/access-log", {"email": "ola@example.org"}, ADMIN)
    assert other.json() == []


async def _two(logged: Any) -> bool:
    return len(await logged()) >= 2
