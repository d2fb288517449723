"""The reminder loop: BookingReminder, once per booking, a configurable time before the start.

Safe with several replicas: a reminder is claimed by a conditional UPDATE (reminder_sent_at
IS NULL) in the same transaction as its outbox row, so only one replica's claim succeeds.
A booking confirmed inside the window gets none (domain.reminder_wanted): the claim settles
it without an event.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial

from services.booking import usecases
from services.booking.settings import booking_settings
from shared.service import Runtime

log = logging.getLogger("knutepunkt.booking.reminders")


async def send_due_reminders(runtime: Runtime, batch: int = 200) -> int:
    """Record BookingReminder for confirmed bookings starting within the lead time."""
    lead = timedelta(minutes=booking_settings(runtime).reminder_before_minutes)
    due = usecases.DueReminders(lead=lead, limit=batch)
    ids = await runtime.uow.run(lambda uow: usecases.due_reminders(uow, due), read_only=True)
    sent = 0
    for booking_id in ids:
        # One transaction per reminder: a claim lost to another replica costs nothing else.
        cmd = usecases.SendReminder(booking_id, lead)
        if await runtime.uow.run(partial(usecases.send_reminder, cmd=cmd)):
            sent += 1
    if sent:
        log.info("sent %d booking reminders", sent)
    return sent


async def reminder_loop(runtime: Runtime) -> None:
    while True:
        # Wait first: a replica that just started need not race the running ones.
        await asyncio.sleep(booking_settings(runtime).reminder_poll_seconds)
        await send_due_reminders(runtime)
