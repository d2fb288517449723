"""Recurring series: every occurrence reported, all-or-nothing or skip-conflicts, quotas."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select

from services.booking.models import Booking
from tests.booking.conftest import OTHER_ORG_NUMBER, booking_events, org_booking
from tests.support.apps import RunningService
from tests.support.waiting import wait_for


def _series(**extra: Any) -> dict[str, Any]:
    body = org_booking("moterom-1", "", "", title="Trening")
    body.pop("start")
    body.pop("end")
    body.update(start_time="10:00", end_time="12:00", first_date="2027-03-04", count=8, **extra)
    return body


async def _count(svc: RunningService) -> int:
    async with svc.runtime.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Booking)) or 0)


async def test_series_with_two_conflicts_reports_each_date(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    for day in ("2027-03-11", "2027-04-08"):
        other = org_booking(
            "moterom-1", f"{day}T11:00:00+01:00", f"{day}T12:00:00+01:00", number=OTHER_ORG_NUMBER
        )
        if day == "2027-04-08":
            other["start"], other["end"] = f"{day}T11:00:00+02:00", f"{day}T12:00:00+02:00"
        assert (await service.client.post("/bookings", json=other)).status_code == 201
    before = await _count(service)

    refused = await service.client.post("/bookings/series", json=_series())
    assert refused.status_code == 409, refused.text
    report = {o["date"]: o for o in refused.json()["occurrences"]}
    assert len(report) == 8
    assert report["2027-03-11"]["status"] == "conflict"
    assert report["2027-04-08"]["status"] == "conflict"
    assert report["2027-03-25"]["status"] == "closed"  # Skjærtorsdag
    assert "Skjærtorsdag" in report["2027-03-25"]["reason"]
    assert {
        o["status"]
        for d, o in report.items()
        if d not in ("2027-03-11", "2027-04-08", "2027-03-25")
    } == {"ok"}
    assert await _count(service) == before  # nothing half-done

    created = await service.client.post("/bookings/series", json=_series(mode="skip_conflicts"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert [o["date"] for o in body["booked"]] == [
        "2027-03-04",
        "2027-03-18",
        "2027-04-01",
        "2027-04-15",
        "2027-04-22",
    ]
    assert {o["date"]: o["status"] for o in body["skipped"]} == {
        "2027-03-11": "conflict",
        "2027-03-25": "closed",
        "2027-04-08": "conflict",
    }
    # Wall time kept across the DST change: 10:00 local is 09:00 UTC, then 08:00 UTC.
    assert body["booked"][1]["start"].startswith("2027-03-18T09:00")
    assert body["booked"][2]["start"].startswith("2027-04-01T08:00")
    assert await _count(service) == before + 5

    async def confirmed() -> list[Any] | None:
        found = [
            e
            for e in await booking_events(redis, prefix)
            if e.type == "BookingConfirmed" and e.data["series_id"] == body["series_id"]
        ]
        return found if len(found) >= 5 else None

    events = await wait_for(confirmed, timeout=10)
    assert len(events) == 5
    # The one manage token manages each occurrence.
    one = body["booked"][0]["booking_id"]
    read = await service.client.get(
        f"/bookings/{one}", headers={"X-Manage-Token": body["manage_token"]}
    )
    assert read.status_code == 200 and read.json()["series_id"] == body["series_id"]


async def test_quota_counts_every_occurrence_of_a_series(service: RunningService) -> None:
    # Gymsalen: 6 free hours a week per club. Week 10 already has 3 hours booked.
    existing = org_booking("gymsalen", "2027-03-13T15:00:00+01:00", "2027-03-13T18:00:00+01:00")
    assert (await service.client.post("/bookings", json=existing)).status_code == 201
    body = org_booking("gymsalen", "", "", title="Basistrening")
    body.pop("start")
    body.pop("end")
    body.update(
        start_time="10:00",
        end_time="14:00",
        first_date="2027-03-06",
        count=3,
        mode="skip_conflicts",
    )
    created = await service.client.post("/bookings/series", json=body)
    assert created.status_code == 201, created.text
    assert [o["date"] for o in created.json()["booked"]] == ["2027-03-06", "2027-03-20"]
    assert [(o["date"], o["status"]) for o in created.json()["skipped"]] == [
        ("2027-03-13", "quota")
    ]
    # Two occurrences in one week of the series itself count together.
    body.update(
        first_date=None,
        count=None,
        dates=["2027-04-03", "2027-04-04"],
        start_time="10:00",
        end_time="13:30",
        mode="all_or_nothing",
    )
    refused = await service.client.post("/bookings/series", json=body)
    assert refused.status_code == 422, refused.text
    assert [o["status"] for o in refused.json()["occurrences"]] == ["ok", "quota"]


async def test_naerutvalg_meetings_with_participants(service: RunningService) -> None:
    body = org_booking("moterom-1", "", "", title="Nærutvalgsmøte", public=True)
    body.pop("start")
    body.pop("end")
    body.update(
        start_time="12:00",
        end_time="14:00",
        dates=["2027-03-10", "2027-06-09", "2027-09-08", "2027-12-08"],
        participants=[{"name": f"Medlem {i}", "email": f"m{i}@example.org"} for i in range(12)],
    )
    created = await service.client.post("/bookings/series", json=body)
    # The last two dates are beyond the 180-day horizon of the meeting rooms.
    assert created.status_code == 422, created.text
    staff_body = {**body, "booker_type": "staff", "organisation": None}
    staff_body.pop("organisation")
    created = await service.client.post(
        "/bookings/series", json=staff_body, headers={"Authorization": "Bearer tb"}
    )
    assert created.status_code == 201, created.text
    assert len(created.json()["booked"]) == 4
    activities = (await service.client.get("/activities")).json()
    assert [a["title"] for a in activities] == ["Nærutvalgsmøte"] * 4


async def test_the_rest_of_a_series_is_cancelled_over_http(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    three = {**_series(), "count": 3}
    created = await service.client.post("/bookings/series", json=three)
    assert created.status_code == 201, created.text
    body = created.json()
    ids = [o["booking_id"] for o in body["booked"]]  # 4, 11 and 18 March
    url = f"/bookings/series/{body['series_id']}/cancel"
    rest = {"from_date": "2027-03-11", "reason": "Ferie"}
    assert (await service.client.post(url, json=rest)).status_code == 401
    wrong = await service.client.post(url, json=rest, headers={"X-Manage-Token": "x"})
    assert wrong.status_code == 403

    token = {"X-Manage-Token": body["manage_token"]}
    cancelled = await service.client.post(url, json=rest, headers=token)
    assert cancelled.status_code == 200, cancelled.text
    assert [b["id"] for b in cancelled.json()["cancelled"]] == ids[1:]
    assert {b["status"] for b in cancelled.json()["cancelled"]} == {"cancelled"}
    kept = await service.client.get(f"/bookings/{ids[0]}", headers=token)
    assert kept.json()["status"] == "confirmed"
    again = await service.client.post(url, json=rest, headers=token)
    assert again.status_code == 409 and again.json()["code"] == "series_nothing_to_cancel"

    async def told() -> list[str] | None:
        kinds = [
            e.type
            for e in await booking_events(redis, prefix)
            if e.type in ("BookingCancelled", "SeriesCancelled")
        ]
        return kinds if len(kinds) >= 3 else None

    assert await wait_for(told) == ["BookingCancelled", "BookingCancelled", "SeriesCancelled"]
