"""Opening hours, holidays, closures, DST, notice, length, capacity and quotas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.booking.conftest import (
    BOOKING_STAFF,
    OTHER_ORG_NUMBER,
    Clock,
    org_booking,
    person_booking,
)
from tests.support.apps import RunningService


async def _book(svc: RunningService, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    response = await svc.client.post("/bookings", json=body)
    return response.status_code, response.json()


async def test_opening_hours_and_closed_weekdays(sqlite_service: RunningService) -> None:
    before = org_booking("moterom-1", "2027-03-02T09:00:00+01:00", "2027-03-02T10:30:00+01:00")
    status, body = await _book(sqlite_service, before)
    assert (status, body["detail"]) == (422, "outside opening hours 10:00–14:00")
    saturday = org_booking("moterom-1", "2027-03-06T10:00:00+01:00", "2027-03-06T11:00:00+01:00")
    status, body = await _book(sqlite_service, saturday)
    assert (status, body["detail"]) == (422, "closed on Saturdays")
    gym_saturday = org_booking("gymsalen", "2027-03-06T10:00:00+01:00", "2027-03-06T12:00:00+01:00")
    status, body = await _book(sqlite_service, gym_saturday)
    assert status == 201 and body["status"] == "pending"
    gym_weekday_noon = org_booking(
        "gymsalen", "2027-03-03T12:00:00+01:00", "2027-03-03T13:00:00+01:00"
    )
    assert (await _book(sqlite_service, gym_weekday_noon))[0] == 422


async def test_holidays_are_closed(sqlite_service: RunningService) -> None:
    may17 = org_booking("moterom-1", "2027-05-17T10:00:00+02:00", "2027-05-17T11:00:00+02:00")
    status, body = await _book(sqlite_service, may17)
    assert status == 422
    assert body["detail"].startswith("public holiday") and "Grunnlovsdag" in body["detail"]
    day = await sqlite_service.client.get(
        "/resources/moterom-1/availability", params={"date": "2027-05-17"}
    )
    assert day.status_code == 200
    assert day.json()["open"] is False
    assert day.json()["free_slots"] == []
    assert "Grunnlovsdag" in day.json()["closed_reason"]
    for holiday in ("2027-03-25", "2027-03-26", "2027-03-29", "2027-05-06"):
        answer = await sqlite_service.client.get(
            "/resources/moterom-1/availability", params={"date": holiday}
        )
        assert answer.json()["open"] is False, holiday
        assert answer.json()["closed_reason"].startswith("public holiday"), holiday


async def test_availability_never_offers_past_or_booked_slots(
    sqlite_service: RunningService, clock: Clock
) -> None:
    clock.now = datetime(2027, 3, 2, 8, 40, tzinfo=UTC)  # 09:40 in Oslo, notice 60 min
    booked = org_booking("moterom-1", "2027-03-02T12:00:00+01:00", "2027-03-02T13:00:00+01:00")
    assert (await _book(sqlite_service, booked))[0] == 201
    day = (
        await sqlite_service.client.get(
            "/resources/moterom-1/availability", params={"date": "2027-03-02", "slot_minutes": 60}
        )
    ).json()
    starts = [s["start"][11:16] for s in day["free_slots"]]
    # Local 10:00 and 10:30 start too soon; 11:30, 12:00 and 12:30 meet the 12-13 booking.
    assert starts == ["10:00", "12:00"]  # UTC: 11:00 and 13:00 local
    too_soon = org_booking("moterom-1", "2027-03-02T10:30:00+01:00", "2027-03-02T11:00:00+01:00")
    status, body = await _book(sqlite_service, too_soon)
    assert status == 422 and "notice" in body["detail"]
    past = org_booking("moterom-1", "2027-03-01T10:00:00+01:00", "2027-03-01T11:00:00+01:00")
    status, body = await _book(sqlite_service, past)
    assert status == 422 and "past" in body["detail"]


async def test_a_week_of_availability_is_each_day_as_asked_alone(
    sqlite_service: RunningService, clock: Clock
) -> None:
    """The week view's one call answers each day exactly as the one-day call does: past and
    booked slots left out, a closure and a weekend closed with their reasons."""
    clock.now = datetime(2027, 3, 2, 8, 40, tzinfo=UTC)
    booked = org_booking("moterom-1", "2027-03-03T12:00:00+01:00", "2027-03-03T13:00:00+01:00")
    assert (await _book(sqlite_service, booked))[0] == 201
    closure = {
        "resource_id": "moterom-1",
        "start": "2027-03-04T00:00:00+01:00",
        "end": "2027-03-05T00:00:00+01:00",
        "reason": "Maling",
    }
    made = await sqlite_service.client.post("/closures", json=closure, headers=BOOKING_STAFF)
    assert made.status_code == 201, made.text
    week = await sqlite_service.client.get(
        "/resources/moterom-1/availability/days", params={"from": "2027-03-01", "days": 7}
    )
    assert week.status_code == 200, week.text
    days = week.json()
    assert [d["date"] for d in days] == [f"2027-03-0{n}" for n in range(1, 8)]
    for d in days:
        alone = await sqlite_service.client.get(
            "/resources/moterom-1/availability", params={"date": d["date"]}
        )
        assert d == alone.json()
    by_date = {d["date"]: d for d in days}
    assert by_date["2027-03-01"]["free_slots"] == []  # the past
    assert len(by_date["2027-03-03"]["busy"]) == 1
    assert by_date["2027-03-04"]["closed_reason"] == "closed: Maling"
    assert by_date["2027-03-06"]["closed_reason"] == "closed on Saturdays"
    month = await sqlite_service.client.get(
        "/resources/moterom-1/availability/days", params={"from": "2027-03-01", "days": 31}
    )
    assert month.status_code == 200 and len(month.json()) == 31  # a month view's
    too_many = await sqlite_service.client.get(
        "/resources/moterom-1/availability/days", params={"from": "2027-03-01", "days": 43}
    )
    assert too_many.status_code == 422


async def test_dst_weekends(sqlite_service: RunningService, clock: Clock) -> None:
    # A resource open around the clock on Sundays shows the 23- and 25-hour days.
    night = await sqlite_service.client.post(
        "/resources",
        headers=BOOKING_STAFF,
        json={
            "name": "Lager",
            "capacity": 2,
            "hours": {"sun": "00:00-24:00", "sat": "10:00-20:00"},
            "min_notice_minutes": 0,
            "max_length_minutes": 24 * 60,
            "max_days_ahead": 730,
        },
    )
    assert night.status_code == 201, night.text
    rid = night.json()["id"]

    async def opening(day: str) -> list[dict[str, str]]:
        answer = await sqlite_service.client.get(
            f"/resources/{rid}/availability", params={"date": day}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["opening_hours"]  # type: ignore[no-any-return]

    def hours(span: dict[str, str]) -> float:
        start, end = (datetime.fromisoformat(span[k]) for k in ("start", "end"))
        return (end - start) / timedelta(hours=1)

    clock.now = datetime(2027, 10, 1, 8, tzinfo=UTC)
    october = await opening("2027-10-31")
    assert [hours(s) for s in october] == [25.0]
    clock.now = datetime(2028, 3, 1, 8, tzinfo=UTC)
    march = await opening("2028-03-26")
    assert [hours(s) for s in march] == [23.0]
    saturday = await opening("2028-03-25")
    assert saturday[0]["start"].startswith("2028-03-25T09:00")  # 10:00+01:00
    # Gymsalen on the Sunday clocks go forward: 10:00 local is 08:00 UTC that day.
    gym = await sqlite_service.client.get(
        "/resources/gymsalen/availability", params={"date": "2028-03-26"}
    )
    assert gym.json()["free_slots"][0]["start"].startswith("2028-03-26T08:00")
    first = org_booking("gymsalen", "2028-03-26T10:00:00+02:00", "2028-03-26T12:00:00+02:00")
    assert (await _book(sqlite_service, first))[0] == 201
    # The same instant written with the winter offset is the same slot.
    same = org_booking(
        "gymsalen",
        "2028-03-26T09:00:00+01:00",
        "2028-03-26T10:00:00+01:00",
        number=OTHER_ORG_NUMBER,
    )
    assert (await _book(sqlite_service, same))[0] == 409


async def test_length_capacity_horizon_and_naive_times(sqlite_service: RunningService) -> None:
    long = org_booking("gymsalen", "2027-03-06T10:00:00+01:00", "2027-03-06T19:00:00+01:00")
    status, body = await _book(sqlite_service, long)
    assert status == 422 and "too long" in body["detail"]
    short = org_booking("moterom-1", "2027-03-02T10:00:00+01:00", "2027-03-02T10:15:00+01:00")
    status, body = await _book(sqlite_service, short)
    assert status == 422 and "too short" in body["detail"]
    crowd = org_booking(
        "moterom-2", "2027-03-02T10:00:00+01:00", "2027-03-02T11:00:00+01:00", attendees=20
    )
    status, body = await _book(sqlite_service, crowd)
    assert status == 422 and "capacity" in body["detail"]
    far = org_booking("moterom-1", "2027-09-29T10:00:00+02:00", "2027-09-29T11:00:00+02:00")
    status, body = await _book(sqlite_service, far)
    assert status == 422 and "too far ahead" in body["detail"]
    naive = org_booking("moterom-1", "2027-03-02T10:00:00", "2027-03-02T11:00:00")
    status, body = await _book(sqlite_service, naive)
    assert status == 422 and "timezone" in body["detail"]
    backwards = org_booking("moterom-1", "2027-03-02T11:00:00+01:00", "2027-03-02T10:00:00+01:00")
    assert (await _book(sqlite_service, backwards))[0] == 422
    bad_org = org_booking(
        "moterom-1", "2027-03-02T10:00:00+01:00", "2027-03-02T11:00:00+01:00", number="974760674"
    )
    status, body = await _book(sqlite_service, bad_org)
    assert status == 422 and "check digit" in body["detail"]
    bad_phone = person_booking(
        "moterom-1",
        "2027-03-02T10:00:00+01:00",
        "2027-03-02T11:00:00+01:00",
        booker={"name": "X", "phone": "12"},
    )
    assert (await _book(sqlite_service, bad_phone))[0] == 422
    unknown = org_booking("nope", "2027-03-02T10:00:00+01:00", "2027-03-02T11:00:00+01:00")
    assert (await _book(sqlite_service, unknown))[0] == 404


async def test_staff_closures(sqlite_service: RunningService) -> None:
    existing = org_booking("moterom-2", "2027-03-03T12:00:00+01:00", "2027-03-03T13:00:00+01:00")
    _, booked = await _book(sqlite_service, existing)
    room = await sqlite_service.client.post(
        "/closures",
        headers=BOOKING_STAFF,
        json={
            "resource_id": "moterom-1",
            "start": "2027-03-03T00:00:00+01:00",
            "end": "2027-03-04T00:00:00+01:00",
            "reason": "Maling",
        },
    )
    assert room.status_code == 201, room.text
    assert room.json()["affected_bookings"] == []
    closed = org_booking("moterom-1", "2027-03-03T10:00:00+01:00", "2027-03-03T11:00:00+01:00")
    status, body = await _book(sqlite_service, closed)
    assert (status, body["detail"]) == (422, "closed: Maling")
    other_room = org_booking("moterom-2", "2027-03-03T10:00:00+01:00", "2027-03-03T11:00:00+01:00")
    assert (await _book(sqlite_service, other_room))[0] == 201
    hub = await sqlite_service.client.post(
        "/closures",
        headers=BOOKING_STAFF,
        json={
            "start": "2027-03-03T11:30:00+01:00",
            "end": "2027-03-03T14:00:00+01:00",
            "reason": "Strømbrudd",
        },
    )
    assert hub.status_code == 201
    assert hub.json()["affected_bookings"] == [booked["id"]]
    day = await sqlite_service.client.get(
        "/resources/moterom-2/availability", params={"date": "2027-03-03"}
    )
    assert all(s["end"] <= "2027-03-03T10:30" for s in day.json()["free_slots"])
    no_staff = await sqlite_service.client.post(
        "/closures", json={"start": "2027-03-03T11:30:00+01:00", "end": "2027-03-03T14:00:00+01:00"}
    )
    assert no_staff.status_code == 401


async def test_weekly_quota_for_free_hours(sqlite_service: RunningService) -> None:
    four = org_booking("gymsalen", "2027-03-06T10:00:00+01:00", "2027-03-06T14:00:00+01:00")
    assert (await _book(sqlite_service, four))[0] == 201
    three = org_booking("gymsalen", "2027-03-07T10:00:00+01:00", "2027-03-07T13:00:00+01:00")
    status, body = await _book(sqlite_service, three)
    assert status == 422 and "quota" in body["detail"]
    two = org_booking("gymsalen", "2027-03-07T10:00:00+01:00", "2027-03-07T12:00:00+01:00")
    assert (await _book(sqlite_service, two))[0] == 201  # exactly the 6 free hours
    next_week = org_booking("gymsalen", "2027-03-13T10:00:00+01:00", "2027-03-13T14:00:00+01:00")
    assert (await _book(sqlite_service, next_week))[0] == 201
    other_club = org_booking(
        "gymsalen",
        "2027-03-07T14:00:00+01:00",
        "2027-03-07T17:00:00+01:00",
        number=OTHER_ORG_NUMBER,
    )
    assert (await _book(sqlite_service, other_club))[0] == 201
