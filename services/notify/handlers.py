"""What the notify service consumes: every event of booking, loans and catering.

A handler never talks to SMTP or the SMS gateway: it fans the event out to its deliveries
in the consumer's transaction (with the inbox record), unique per (event id, recipient,
channel), so a redelivered or replayed event adds nothing. The sender does the talking.
In the same transaction the event updates the staff's daily digest state (digest.py).
"""

from __future__ import annotations

from services.notify import usecases
from services.notify.settings import notify_rules
from services.notify.store import Store
from shared.events import BOOKING_STREAM, CATALOG, CATERING_STREAM, LOANS_STREAM
from shared.messaging.consumer import Delivery, Handler
from shared.service import Runtime

CONSUMED_STREAMS = (BOOKING_STREAM, LOANS_STREAM, CATERING_STREAM)


def handlers(runtime: Runtime) -> dict[str, Handler]:
    async def on_event(delivery: Delivery[Store]) -> None:
        command = usecases.FanOut(delivery.envelope, delivery.data)
        await usecases.fan_out(delivery.uow, command, rules=notify_rules(runtime))
        await usecases.keep_digest_state(delivery.uow, command)

    return {name: on_event for name, cls in CATALOG.items() if cls.stream in CONSUMED_STREAMS}
