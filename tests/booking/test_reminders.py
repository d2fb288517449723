"""BookingReminder: once per booking, also with two replicas sharing the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from redis.asyncio import Redis

from services.booking.app import SPEC
from services.booking.timers import send_due_reminders
from tests.booking.conftest import Clock, booking_events, org_booking
from tests.support.apps import RunningService, staffed_service
from tests.support.waiting import wait_for


async def test_one_reminder_per_booking_with_two_replicas(
    service: RunningService,
    database_url: str,
    redis_url: str,
    prefix: str,
    redis: Redis,
    clock: Clock,
) -> None:
    ids = []
    for day in ("02", "03", "04"):
        body = org_booking(
            "moterom-1",
            f"2027-03-{day}T10:00:00+01:00",
            f"2027-03-{day}T11:00:00+01:00",
            participants=[{"name": "Medlem", "email": "m@example.org"}],
        )
        ids.append((await service.client.post("/bookings", json=body)).json()["id"])
    cancelled = (
        await service.client.post(
            "/bookings",
            json=org_booking("moterom-2", "2027-03-02T10:00:00+01:00", "2027-03-02T11:00:00+01:00"),
        )
    ).json()
    await service.client.post(
        f"/bookings/{cancelled['id']}/cancel", headers={"X-Manage-Token": cancelled["manage_token"]}
    )
    async with staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix, clock=clock
    ) as replica:
        # 24 h before: the 2 March booking is due (starts in 25 h - 1 h later).
        clock.advance(timedelta(hours=1, minutes=30))
        sent = await asyncio.gather(
            send_due_reminders(service.runtime),
            send_due_reminders(replica.runtime),
            send_due_reminders(service.runtime),
            send_due_reminders(replica.runtime),
        )
        assert sum(sent) == 1
        clock.advance(timedelta(days=1))
        sent = await asyncio.gather(
            send_due_reminders(service.runtime), send_due_reminders(replica.runtime)
        )
        assert sum(sent) == 1
        assert await send_due_reminders(replica.runtime) == 0

    async def reminders() -> dict[str, str] | None:
        # Keyed by event id: two replicas' relays sharing one SQLite file may publish an
        # outbox row twice (at-least-once; consumers dedupe by id). What must hold is that
        # one reminder event was made per booking.
        found = {
            e.id: e.subject or ""
            for e in await booking_events(redis, prefix)
            if e.type == "BookingReminder"
        }
        return found if len(found) >= 2 else None

    found = await wait_for(reminders, timeout=10)
    assert sorted(found.values()) == sorted(ids[:2])
    event = next(e for e in await booking_events(redis, prefix) if e.type == "BookingReminder")
    assert event.data["participants"] == [
        {"name": "Medlem", "email": "m@example.org", "phone": None, "language": "nb"}
    ]
