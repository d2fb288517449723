"""Approval, rejection and cancellation: statuses, history and exactly the expected events."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select

from services.booking.models import BookingHistory
from shared.auth import service_account_id
from tests.booking.conftest import (
    BOOKING_STAFF,
    DESK_STAFF,
    OTHER_ORG_NUMBER,
    Clock,
    booking_events,
    events_of,
    org_booking,
    person_booking,
)
from tests.support.apps import RunningService
from tests.support.waiting import wait_for

GYM = ("2027-03-05T17:00:00+01:00", "2027-03-05T19:00:00+01:00")
ROOM = ("2027-03-02T10:00:00+01:00", "2027-03-02T12:00:00+01:00")


async def _settled(redis: Redis, prefix: str, booking_id: str, count: int) -> list[str]:
    async def enough() -> list[str] | None:
        types = await events_of(redis, prefix, booking_id)
        return types if len(types) >= count else None

    return await wait_for(enough, timeout=10, message=f"{count} events of {booking_id}")


async def test_approval_then_owner_cancel_emits_each_event_once(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    created = await service.client.post("/bookings", json=org_booking("gymsalen", *GYM))
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "pending"
    assert booking["free_of_charge"] is True
    token = booking["manage_token"]

    approved = await service.client.post(
        f"/bookings/{booking['id']}/approve", headers=BOOKING_STAFF
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "confirmed"
    again = await service.client.post(f"/bookings/{booking['id']}/approve", headers=BOOKING_STAFF)
    assert again.status_code == 409

    cancelled = await service.client.post(
        f"/bookings/{booking['id']}/cancel",
        headers={"X-Manage-Token": token},
        json={"reason": "Avlyst"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_by"] == "owner"

    types = await _settled(redis, prefix, booking["id"], 3)
    assert types == ["BookingRequested", "BookingConfirmed", "BookingCancelled"]
    events = {e.type: e for e in await booking_events(redis, prefix) if e.subject == booking["id"]}
    assert events["BookingConfirmed"].data["auto_approved"] is False
    assert events["BookingRequested"].data["booker"]["phone"] == "+4700000000"
    assert events["BookingRequested"].data["organisation_name"] == "Strømsø Sjakklubb"
    assert events["BookingCancelled"].data["cancelled_by"] == "owner"
    assert events["BookingCancelled"].data["reason"] == "Avlyst"

    async with service.runtime.db.read() as session:
        history = list(
            await session.scalars(
                select(BookingHistory.status)
                .where(BookingHistory.booking_id == booking["id"])
                .order_by(BookingHistory.id)
            )
        )
    assert history == ["pending", "confirmed", "cancelled"]
    # Nothing is deleted: the cancelled booking can still be read.
    kept = await service.client.get(f"/bookings/{booking['id']}", headers={"X-Manage-Token": token})
    assert kept.json()["status"] == "cancelled"


async def test_rejection_frees_the_slot_and_emits_rejected(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    first = (await service.client.post("/bookings", json=org_booking("gymsalen", *GYM))).json()
    blocked = await service.client.post("/bookings", json=person_booking("gymsalen", *GYM))
    assert blocked.status_code == 409  # a pending booking holds the slot
    no_reason = await service.client.post(
        f"/bookings/{first['id']}/reject", headers=BOOKING_STAFF, json={}
    )
    assert no_reason.status_code == 422
    rejected = await service.client.post(
        f"/bookings/{first['id']}/reject", headers=BOOKING_STAFF, json={"reason": "Opptatt av kurs"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    cancel = await service.client.post(
        f"/bookings/{first['id']}/cancel", headers={"X-Manage-Token": first["manage_token"]}
    )
    assert cancel.status_code == 409
    second = await service.client.post("/bookings", json=person_booking("gymsalen", *GYM))
    assert second.status_code == 201
    assert second.json()["free_of_charge"] is False
    assert second.json()["price_nok"] == 800

    types = await _settled(redis, prefix, first["id"], 2)
    assert types == ["BookingRequested", "BookingRejected"]
    rejected_event = next(
        e for e in await booking_events(redis, prefix) if e.type == "BookingRejected"
    )
    assert rejected_event.data["reason"] == "Opptatt av kurs"


async def test_instant_booking_carries_catering_and_participants(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    body = org_booking(
        "moterom-1",
        *ROOM,
        title="Styremøte",
        attendees=10,
        participants=[{"name": "Per", "phone": "+47 000 00 001"}],
        catering={
            "lines": [
                {"item_id": "kaffe-te", "quantity": 10},
                {"item_id": "lunsj-baguette", "quantity": 10},
            ],
            "people": 10,
            "serve_at": "2027-03-02T11:00:00+01:00",
        },
    )
    created = await service.client.post("/bookings", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "confirmed"
    types = await _settled(redis, prefix, created.json()["id"], 1)
    assert types == ["BookingConfirmed"]
    event = (await booking_events(redis, prefix))[-1]
    assert event.data["auto_approved"] is True
    assert event.data["catering"]["lines"][0] == {"item_id": "kaffe-te", "quantity": 10}
    assert event.data["participants"][0]["phone"] == "+4700000001"
    assert event.data["start"].startswith("2027-03-02T09:00:00")


async def test_cancellation_deadline_binds_the_owner_not_staff(
    service: RunningService, redis: Redis, prefix: str, clock: Clock
) -> None:
    created = (await service.client.post("/bookings", json=org_booking("moterom-1", *ROOM))).json()
    clock.advance(timedelta(hours=14))  # 23 h before the start; the deadline is 24 h
    late = await service.client.post(
        f"/bookings/{created['id']}/cancel", headers={"X-Manage-Token": created["manage_token"]}
    )
    assert late.status_code == 422
    assert "deadline" in late.json()["detail"]
    by_staff = await service.client.post(
        f"/bookings/{created['id']}/cancel", headers=BOOKING_STAFF, json={"reason": "Vannlekkasje"}
    )
    assert by_staff.status_code == 200
    assert by_staff.json()["cancelled_by"] == "staff"
    types = await _settled(redis, prefix, created["id"], 2)
    assert types == ["BookingConfirmed", "BookingCancelled"]


async def test_access_rules(service: RunningService) -> None:
    created = (await service.client.post("/bookings", json=org_booking("moterom-1", *ROOM))).json()
    url = f"/bookings/{created['id']}"
    assert (await service.client.get(url)).status_code == 401
    assert (await service.client.get(url, headers={"X-Manage-Token": "wrong"})).status_code == 403
    own = await service.client.get(url, headers={"X-Manage-Token": created["manage_token"]})
    assert own.status_code == 200
    assert "manage_token" not in own.json()
    assert (await service.client.get(url, headers=BOOKING_STAFF)).status_code == 200
    assert (await service.client.get(url, headers=DESK_STAFF)).status_code == 401
    assert (
        await service.client.get(url, headers={"Authorization": "Bearer ta"})
    ).status_code == 200

    assert (await service.client.get("/bookings")).status_code == 401
    assert (await service.client.get("/bookings", headers=DESK_STAFF)).status_code == 403
    listed = await service.client.get(
        "/bookings",
        headers=BOOKING_STAFF,
        params={"resource_id": "moterom-1", "status": "confirmed"},
    )
    assert [b["id"] for b in listed.json()] == [created["id"]]
    naive = await service.client.get(
        "/bookings", headers=BOOKING_STAFF, params={"from": "2027-03-01T00:00:00"}
    )
    assert naive.status_code == 422

    for action in ("approve", "reject"):
        denied = await service.client.post(
            f"{url}/{action}", headers=DESK_STAFF, json={"reason": "x"}
        )
        assert denied.status_code == 403
        assert (
            await service.client.post(f"{url}/{action}", json={"reason": "x"})
        ).status_code == 401
    other_token = (
        await service.client.post("/bookings", json=org_booking("moterom-2", *ROOM))
    ).json()["manage_token"]
    stolen = await service.client.post(f"{url}/cancel", headers={"X-Manage-Token": other_token})
    assert stolen.status_code == 403

    as_staff = person_booking("moterom-2", "2027-03-03T10:00:00+01:00", "2027-03-03T11:00:00+01:00")
    as_staff["booker_type"] = "staff"
    assert (await service.client.post("/bookings", json=as_staff)).status_code == 403
    ok = await service.client.post("/bookings", json=as_staff, headers=DESK_STAFF)
    assert ok.status_code == 201, ok.text
    assert ok.json()["free_of_charge"] is True


async def test_staff_actions_name_the_actor_in_their_events(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    """Issue 16: approve, reject and a staff cancel carry who on staff did it (here the
    static token `tb`, named by its digest, never the token); the booker's own acts none."""
    tb = {"kind": "service_account", "id": service_account_id("tb"), "roles": ["booking"]}
    approved = (await service.client.post("/bookings", json=org_booking("gymsalen", *GYM))).json()
    later = [t.replace("2027-03-05", "2027-03-12") for t in GYM]
    rejected = (await service.client.post("/bookings", json=org_booking("gymsalen", *later))).json()
    cancelled = (
        await service.client.post("/bookings", json=org_booking("moterom-1", *ROOM))
    ).json()
    steps = [
        (f"/bookings/{approved['id']}/approve", None),
        (f"/bookings/{rejected['id']}/reject", {"reason": "Opptatt av kurs"}),
        (f"/bookings/{cancelled['id']}/cancel", {"reason": "Vannlekkasje"}),
    ]
    for url, body in steps:
        answer = await service.client.post(url, headers=BOOKING_STAFF, json=body)
        assert answer.status_code == 200, answer.text

    await _settled(redis, prefix, cancelled["id"], 2)
    actors = {(e.type, e.subject): e.data["actor"] for e in await booking_events(redis, prefix)}
    assert actors == {
        ("BookingRequested", approved["id"]): None,
        ("BookingConfirmed", approved["id"]): tb,
        ("BookingRequested", rejected["id"]): None,
        ("BookingRejected", rejected["id"]): tb,
        ("BookingConfirmed", cancelled["id"]): None,
        ("BookingCancelled", cancelled["id"]): tb,
    }


async def test_waiting_requests_come_with_their_clubs_weekly_free_hours(
    service: RunningService, clock: Clock
) -> None:
    """GET /bookings/requests: what the staff desk's Forespørsler needs in one answer."""

    async def ask(body: dict[str, object]) -> str:
        clock.advance(minutes=1)  # the requests are listed in the order they were made
        made = await service.client.post("/bookings", json=body)
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    saturday = await ask(  # Gymsalen: 6 free hours per club and week, approval required
        org_booking("gymsalen", "2027-03-06T10:00:00+01:00", "2027-03-06T14:00:00+01:00")
    )
    sunday = await ask(
        org_booking("gymsalen", "2027-03-07T10:00:00+01:00", "2027-03-07T12:00:00+01:00")
    )
    next_week = await ask(
        org_booking("gymsalen", "2027-03-13T10:00:00+01:00", "2027-03-13T12:00:00+01:00")
    )
    other_club = await ask(
        org_booking(
            "gymsalen",
            "2027-03-07T14:00:00+01:00",
            "2027-03-07T17:00:00+01:00",
            number=OTHER_ORG_NUMBER,
        )
    )
    person = await ask(
        person_booking("gymsalen", "2027-03-08T17:00:00+01:00", "2027-03-08T19:00:00+01:00")
    )

    async def requests() -> dict[str, dict[str, object] | None]:
        answer = await service.client.get("/bookings/requests", headers=BOOKING_STAFF)
        assert answer.status_code == 200, answer.text
        rows = answer.json()
        assert all(r["status"] == "pending" for r in rows)
        return {r["id"]: r["free_hours"] for r in rows}

    found = await requests()
    assert list(found) == [saturday, sunday, next_week, other_club, person]  # oldest first
    assert found[saturday] == {"limit": 6.0, "used": 2.0, "with_this": 6.0, "over": False}
    assert found[sunday] == {"limit": 6.0, "used": 4.0, "with_this": 6.0, "over": False}
    assert found[next_week] == {"limit": 6.0, "used": 0.0, "with_this": 2.0, "over": False}
    assert found[other_club] == {"limit": 6.0, "used": 0.0, "with_this": 3.0, "over": False}
    assert found[person] is None  # a person pays: no free hours

    # An approved booking leaves the list and still holds its hours; a rejected one not.
    approved = await service.client.post(f"/bookings/{saturday}/approve", headers=BOOKING_STAFF)
    assert approved.status_code == 200, approved.text
    rejected = await service.client.post(
        f"/bookings/{next_week}/reject", headers=BOOKING_STAFF, json={"reason": "Fullt"}
    )
    assert rejected.status_code == 200, rejected.text
    lowered = await service.client.patch(
        "/resources/gymsalen", headers=BOOKING_STAFF, json={"weekly_free_hours": 5}
    )
    assert lowered.status_code == 200, lowered.text
    found = await requests()
    assert list(found) == [sunday, other_club, person]
    assert found[sunday] == {"limit": 5.0, "used": 4.0, "with_this": 6.0, "over": True}
    assert found[other_club] == {"limit": 5.0, "used": 0.0, "with_this": 3.0, "over": False}

    cleared = await service.client.patch(
        "/resources/gymsalen", headers=BOOKING_STAFF, json={"weekly_free_hours": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert set((await requests()).values()) == {None}  # no limit, no quota to show
    refused = await service.client.get("/bookings/requests", headers=DESK_STAFF)
    assert refused.status_code == 403
