"""BookingReminder, once per booking, a configurable time before the start.

Safe with several replicas: a reminder is claimed by a conditional UPDATE (reminder_sent_at
IS NULL) in the same transaction as its outbox row, so only one replica's claim succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select, update

from services.booking import facts, operations
from services.booking.models import Booking, Resource, messaging
from shared.messaging.outbox import emit
from shared.service import Runtime

log = logging.getLogger("knutepunkt.booking.reminders")


async def send_due_reminders(runtime: Runtime, batch: int = 200) -> int:
    """Emit BookingReminder for confirmed bookings starting within the lead time."""
    now = runtime.now()
    lead = timedelta(minutes=runtime.state["config"].reminder_before_minutes)
    async with runtime.db.read() as session:
        ids = list(
            await session.scalars(
                select(Booking.id)
                .where(
                    Booking.status == "confirmed",
                    Booking.reminder_sent_at.is_(None),
                    Booking.start_at > now,
                    Booking.start_at <= now + lead,
                )
                .order_by(Booking.start_at)
                .limit(batch)
            )
        )
    sent = 0
    for booking_id in ids:
        async with runtime.db.transaction() as session:
            claimed = await session.execute(
                update(Booking)
                .where(
                    Booking.id == booking_id,
                    Booking.reminder_sent_at.is_(None),
                    Booking.status == "confirmed",
                )
                .values(reminder_sent_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another replica sent it, or it was cancelled meanwhile
            booking = await session.get(Booking, booking_id)
            assert booking is not None
            resource = await session.get(Resource, booking.resource_id)
            assert resource is not None
            org = await operations.organisation_name(session, booking)
            await emit(session, messaging, facts.reminder(booking, resource, org))
            sent += 1
    if sent:
        log.info("sent %d booking reminders", sent)
    return sent


async def reminder_loop(runtime: Runtime) -> None:
    while True:
        # Wait first: a replica that just started need not race the running ones.
        await asyncio.sleep(runtime.state["config"].reminder_poll_seconds)
        await send_due_reminders(runtime)
