"""The booking timers, each safe with several replicas because what it does is claimed by a
conditional UPDATE in the same transaction as its outbox row, so only one replica's claim
succeeds:

- reminders: BookingReminder, once per booking, a configurable time before the start
  (claimed on reminder_sent_at IS NULL); a booking confirmed inside that window gets none
  (domain.reminder_wanted): the claim settles it without an event;
- no-shows: a confirmed booking of a resource that releases (release_after_minutes) not
  checked in by its release time is released, BookingReleased (claimed on status
  'confirmed' and checked_in_at IS NULL);
- retention: bookings and sign-ups past BOOKING_RETENTION_DAYS /
  BOOKING_REGISTRATION_RETENTION_DAYS, and season applications BOOKING_RETENTION_DAYS after
  their season's last day, lose their personal data (claimed on the booker's, participant's
  or contact person's name not being anonymised yet: shared/anonymise.py);
- season offers: given-back time offered to the waiting list and not answered by its
  expiry goes to the next (claimed on status 'offered').
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

from services.booking import usecases
from services.booking.settings import booking_settings
from shared.anonymise import days, retention_loop
from shared.service import Runtime
from shared.unit_of_work import UnitOfWork

log = logging.getLogger("knutepunkt.booking.reminders")
release_log = logging.getLogger("knutepunkt.booking.releases")
offer_log = logging.getLogger("knutepunkt.booking.offers")


async def send_due_reminders(runtime: Runtime, batch: int = 200) -> int:
    """Record BookingReminder for confirmed bookings starting within the lead time."""
    lead = timedelta(minutes=booking_settings(runtime).reminder_before_minutes)
    due = usecases.DueReminders(lead=lead, limit=batch)
    ids = await runtime.uow.run(lambda uow: usecases.due_reminders(uow, due), read_only=True)
    sent = await _claim_each(
        runtime,
        ids,
        lambda booking_id: partial(
            usecases.send_reminder, cmd=usecases.SendReminder(booking_id, lead)
        ),
    )
    if sent:
        log.info("sent %d booking reminders", sent)
    return sent


async def reminder_loop(runtime: Runtime) -> None:
    while True:
        # Wait first: a replica that just started need not race the running ones.
        await asyncio.sleep(booking_settings(runtime).reminder_poll_seconds)
        await send_due_reminders(runtime)


async def release_no_shows(runtime: Runtime, batch: int = 200) -> int:
    """Release the confirmed bookings nobody checked in by their release time."""
    due = usecases.DueReleases(limit=batch)
    ids = await runtime.uow.run(lambda uow: usecases.due_releases(uow, due), read_only=True)
    released = await _claim_each(
        runtime, ids, lambda booking_id: partial(usecases.release_booking, booking_id=booking_id)
    )
    if released:
        release_log.info("released %d bookings nobody checked in", released)
    return released


async def release_loop(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(booking_settings(runtime).release_poll_seconds)
        await release_no_shows(runtime)


async def anonymise_expired(runtime: Runtime, batch: int = 200) -> int:
    """Anonymise every booking, sign-up and season application past its retention, a
    batch per transaction; how many rows this replica anonymised."""
    config = booking_settings(runtime)
    cmd = usecases.AnonymiseExpired(
        bookings=days(config.retention_days),
        registrations=days(config.registration_retention_days),
        limit=batch,
    )
    total = 0
    while True:
        done = await runtime.uow.run(lambda uow: usecases.anonymise_expired(uow, cmd))
        total += done.total
        # Fewer than a batch: nothing more is due now (or another replica has it).
        if max(done.bookings, done.registrations, done.applications) < batch:
            return total


async def anonymise_loop(runtime: Runtime) -> None:
    await retention_loop(
        runtime, booking_settings(runtime).retention_poll_seconds, anonymise_expired
    )


async def expire_offers(runtime: Runtime, batch: int = 200) -> int:
    """Pass unanswered waiting-list offers on to the next on the list."""
    window = timedelta(hours=booking_settings(runtime).offer_hours)
    due = usecases.DueOffers(limit=batch)
    ids = await runtime.uow.run(lambda uow: usecases.due_offers(uow, due), read_only=True)
    expired = await _claim_each(
        runtime,
        ids,
        lambda offer_id: partial(usecases.expire_offer, offer_id=offer_id, window=window),
    )
    if expired:
        offer_log.info("passed on %d unanswered season offers", expired)
    return expired


async def offer_loop(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(booking_settings(runtime).offer_poll_seconds)
        await expire_offers(runtime)


async def _claim_each(
    runtime: Runtime,
    ids: list[str],
    claim: Callable[[str], Callable[[UnitOfWork], Awaitable[bool]]],
) -> int:
    """Run each booking's claim in a transaction of its own, so that a claim another replica
    won costs nothing else; how many this replica won."""
    won = 0
    for booking_id in ids:
        if await runtime.uow.run(claim(booking_id)):
            won += 1
    return won
