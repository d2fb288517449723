"""What the notify service consumes: every event of booking, loans and catering.

A handler never talks to SMTP or the SMS gateway: it plans the deliveries and inserts
them in the consumer's transaction (with the inbox record), unique per (event id,
recipient, channel), so a redelivered or replayed event adds nothing. The sender loop
does the talking.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.notify.context import WAKE_FLAG, notify_context
from services.notify.fanout import FanoutRules, Planned, Preference, all_addresses, plan
from services.notify.models import DeliveryRow, PreferenceRow
from services.notify.outcomes import failed_event
from shared.events import BOOKING_STREAM, CATALOG, CATERING_STREAM, LOANS_STREAM
from shared.messaging.consumer import Delivery, Handler
from shared.service import Runtime

CONSUMED_STREAMS = (BOOKING_STREAM, LOANS_STREAM, CATERING_STREAM)


def handlers(runtime: Runtime) -> dict[str, Handler]:
    async def on_event(delivery: Delivery) -> None:
        await fan_out(runtime, delivery)

    return {name: on_event for name, cls in CATALOG.items() if cls.stream in CONSUMED_STREAMS}


async def fan_out(runtime: Runtime, delivery: Delivery) -> None:
    ctx = notify_context(runtime)
    rules = ctx.rules
    envelope, data, session = delivery.envelope, delivery.data, delivery.session
    if not rules.routes.for_event(envelope.type):
        return  # silent
    now = runtime.now()
    wanted = all_addresses(envelope, data, rules)
    preferences: dict[str, Preference] = {}
    if wanted:
        rows = await session.execute(
            select(PreferenceRow).where(PreferenceRow.recipient.in_(sorted(wanted)))
        )
        for row in rows.scalars():
            preferences[row.recipient] = Preference(row.email, row.sms, row.reminders)
    planned = plan(envelope, data, rules, preferences, now)
    if not planned:
        return
    values = [
        _row(p, envelope.id, envelope.type, envelope.correlationid, rules, now) for p in planned
    ]
    make = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    stmt = (
        make(DeliveryRow)
        .values(values)
        .on_conflict_do_nothing(index_elements=["event_id", "recipient", "channel"])
        .returning(DeliveryRow.id)
    )
    inserted = set((await session.execute(stmt)).scalars())
    for value in values:
        if value["id"] in inserted and value["status"] == "failed":
            await delivery.emit(failed_event(value, value["last_error"], permanent=True))
    if any(v["status"] == "queued" and v["id"] in inserted for v in values):
        session.info[WAKE_FLAG] = True


def _row(
    p: Planned,
    event_id: str,
    event_type: str,
    correlation: str,
    rules: FanoutRules,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event_id": event_id,
        "event_type": event_type,
        "correlation_id": correlation,
        "routes_version": rules.routes.version,
        "template": p.route.template,
        "channel": p.channel,
        "recipient": p.recipient,
        "recipient_kind": p.target.kind,
        "recipient_role": p.target.role,
        "recipient_name": p.target.name[:200],
        "language": p.target.language,
        "urgent": p.route.urgent,
        "subject": p.subject,
        "body_text": p.text,
        "body_html": p.html,
        "ics": p.ics,
        "ics_method": p.route.ics if p.ics else None,
        "preferences_url": p.preferences_url,
        "status": p.status,
        "attempts": 0,
        "next_attempt_at": p.next_attempt_at,
        "last_error": p.reason,
        "created_at": now,
        "updated_at": now,
        "failed_at": now if p.status == "failed" else None,
    }
