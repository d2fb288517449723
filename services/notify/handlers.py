"""What the notify service consumes: every event of booking, loans and catering.

A handler never talks to SMTP or the SMS gateway: it fans the event out to its deliveries
in the consumer's transaction (with the inbox record), unique per (event id, recipient,
channel), so a redelivered or replayed event adds nothing. The sender does the talking;
what is due at once is claimed for this process's sender when it is idle, and handed to
it at commit (timers.Sender.hand_off).
In the same transaction the event updates the staff's daily digest state (digest.py).
"""

from __future__ import annotations

from services.notify import usecases
from services.notify.settings import notify_rules
from services.notify.store import Store
from services.notify.timers import sender_of
from shared.events import BOOKING_STREAM, CATALOG, CATERING_STREAM, LOANS_STREAM
from shared.messaging.consumer import Delivery, Handler, batch_handler
from shared.service import Runtime

CONSUMED_STREAMS = (BOOKING_STREAM, LOANS_STREAM, CATERING_STREAM)


def handlers(runtime: Runtime) -> dict[str, Handler]:
    # One handler for every type, taking the consumer's batch at once: a read of the
    # preferences and an insert of the deliveries per batch, not per event.
    @batch_handler
    async def on_events(deliveries: list[Delivery[Store]]) -> None:
        work = [(d.uow, usecases.FanOut(d.envelope, d.data)) for d in deliveries]
        hand_off = sender_of(runtime).hand_off()
        await usecases.fan_out_together(work, rules=notify_rules(runtime), hand_off=hand_off)
        await usecases.keep_digest_states(work)

    return {name: on_events for name, cls in CATALOG.items() if cls.stream in CONSUMED_STREAMS}
