"""Public activities with sign-up and waiting list, the club directory, the iCalendar feed."""

from __future__ import annotations

import pytest
from icalendar import Calendar
from redis.asyncio import Redis

from shared.events import Envelope
from tests.booking.conftest import OTHER_ORG_NUMBER, booking_events, org_booking
from tests.support.apps import RunningService
from tests.support.waiting import wait_for

COURSE = ("2027-03-02T10:00:00+01:00", "2027-03-02T12:00:00+01:00")


@pytest.fixture
def short_promotion_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKING_PROMOTION_SMS_HOURS", "24")


async def test_sign_up_with_waiting_list(service: RunningService) -> None:
    course = await service.client.post(
        "/bookings",
        json=org_booking(
            "moterom-1",
            *COURSE,
            title="Datakurs for nybegynnere",
            description="Ta med PC",
            public=True,
            signup_capacity=2,
        ),
    )
    assert course.status_code == 201, course.text
    activity_id = course.json()["id"]
    url = f"/activities/{activity_id}/registrations"
    answers = []
    for i in range(4):
        r = await service.client.post(
            url, json={"name": f"Deltaker {i}", "phone": "+47 000 00 00" + str(i)}
        )
        assert r.status_code == 201, r.text
        answers.append(r.json())
    assert [a["status"] for a in answers] == [
        "registered",
        "registered",
        "waitlisted",
        "waitlisted",
    ]
    assert [a["waitlist_position"] for a in answers] == [None, None, 1, 2]
    listed = (await service.client.get("/activities")).json()
    assert listed[0]["title"] == "Datakurs for nybegynnere"
    assert (listed[0]["registered"], listed[0]["waitlisted"], listed[0]["places_left"]) == (2, 2, 0)
    assert "booker" not in listed[0]
    cancel_url = f"{url}/{answers[0]['id']}/cancel"
    assert (
        await service.client.post(cancel_url, headers={"X-Manage-Token": "x"})
    ).status_code == 403
    cancelled = await service.client.post(
        cancel_url, headers={"X-Manage-Token": answers[0]["manage_token"]}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    listed = (await service.client.get("/activities")).json()
    assert (listed[0]["registered"], listed[0]["waitlisted"]) == (2, 1)  # first in line moved up
    private = await service.client.post(
        "/bookings", json=org_booking("moterom-2", *COURSE, title="Styremøte")
    )
    assert (
        await service.client.post(
            f"/activities/{private.json()['id']}/registrations",
            json={"name": "X", "email": "x@example.org"},
        )
    ).status_code == 404
    assert (await service.client.post(url, json={"name": "No contact"})).status_code == 422


async def test_directory_lists_only_clubs_that_chose_to_be_listed(service: RunningService) -> None:
    listed = org_booking("moterom-1", *COURSE)
    listed["organisation"].update(
        listed=True, description="Sjakk hver tirsdag", website="https://sjakk.example.org"
    )
    hidden = org_booking("moterom-2", *COURSE, number=OTHER_ORG_NUMBER)
    hidden["organisation"]["name"] = "Hemmelig forening"
    for body in (listed, hidden):
        assert (await service.client.post("/bookings", json=body)).status_code == 201
    directory = (await service.client.get("/organisations")).json()
    assert directory == [
        {
            "org_number": "974760673",
            "name": "Strømsø Sjakklubb",
            "description": "Sjakk hver tirsdag",
            "website": "https://sjakk.example.org",
            "email": None,
            "phone": None,
        }
    ]


async def test_a_clubs_next_booking_updates_what_it_gave(service: RunningService) -> None:
    """The organisation's row is inserted by its first booking and updated by each next
    one (one statement either way), whatever it was given: the directory shows the last."""
    first = org_booking("moterom-1", *COURSE)
    first["organisation"].update(listed=True, description="Sjakk hver tirsdag")
    later = org_booking("moterom-2", *COURSE)
    later["organisation"].update(
        listed=True, description="Sjakk hver onsdag", website="https://sjakk.example.org"
    )
    for body in (first, later):
        assert (await service.client.post("/bookings", json=body)).status_code == 201
    [club] = (await service.client.get("/organisations")).json()
    assert (club["description"], club["website"]) == (
        "Sjakk hver onsdag",
        "https://sjakk.example.org",
    )

    unlisted = org_booking("moterom-1", "2027-03-03T10:00:00+01:00", "2027-03-03T11:00:00+01:00")
    assert (await service.client.post("/bookings", json=unlisted)).status_code == 201
    assert (await service.client.get("/organisations")).json() == []


async def test_calendar_feed_shows_busy_times_without_personal_data(
    service: RunningService,
) -> None:
    await service.client.post(
        "/bookings", json=org_booking("moterom-1", *COURSE, title="Åpent møte", public=True)
    )
    await service.client.post(
        "/bookings",
        json=org_booking(
            "moterom-1", "2027-03-03T10:00:00+01:00", "2027-03-03T11:00:00+01:00", title="Privat"
        ),
    )
    feed = await service.client.get("/resources/moterom-1/calendar.ics")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    text = feed.text
    assert "kari@example.org" not in text and "Kari" not in text and "+47" not in text
    events = [c for c in Calendar.from_ical(feed.content).walk("VEVENT")]
    assert sorted(str(e["summary"]) for e in events) == ["Opptatt", "Åpent møte"]
    assert (await service.client.get("/resources/nope/calendar.ics")).status_code == 404


async def test_the_participant_is_in_the_events_with_the_sms_window_from_settings(
    short_promotion_window: None, service: RunningService, redis: Redis, prefix: str
) -> None:
    course = await service.client.post(
        "/bookings",
        json=org_booking("moterom-1", *COURSE, title="Datakurs", public=True, signup_capacity=1),
    )
    url = f"/activities/{course.json()['id']}/registrations"
    first = await service.client.post(url, json={"name": "Kari", "email": "k@example.org"})
    second = await service.client.post(
        url, json={"name": "Sam", "email": "s@example.org", "language": "en"}
    )
    assert second.json()["status"] == "waitlisted"
    cancel = f"{url}/{first.json()['id']}/cancel"
    done = await service.client.post(
        cancel, headers={"X-Manage-Token": first.json()["manage_token"]}
    )
    assert done.status_code == 200

    async def promoted() -> Envelope | None:
        found = [e for e in await booking_events(redis, prefix) if e.type == "RegistrationPromoted"]
        return found[0] if found else None

    event = await wait_for(promoted)
    assert event.data["participant"]["language"] == "en"
    # 25 hours before the start, with BOOKING_PROMOTION_SMS_HOURS at 24: not short notice.
    assert event.data["short_notice"] is False
