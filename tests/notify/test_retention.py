"""Retention (docs/privacy.md): a message NOTIFY_RETENTION_DAYS after it was sent loses its
address, name and texts once (staff's copies too: they name the citizen); one not sent yet,
or sent inside the retention, is untouched; what statistics count survives; two replicas
anonymise each message once (SQLite and PostgreSQL, on the injected clock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from services.notify import usecases
from services.notify.app import SPEC
from services.notify.domain import SendResult
from services.notify.models import DeliveryRow
from services.notify.routing import FanoutRules
from services.notify.store import ANONYMISED_ADDRESS
from shared.anonymise import ANONYMISED
from tests.notify.samples import sample
from tests.notify.test_usecases import (
    CUSTOMER,
    NOON,
    Units,
    claim,
    fan_out,
    new_sender,
    notify_units,
    record,
    rules,
)
from tests.support.units import service_units

__all__ = ["rules"]  # the fixture

RETENTION = usecases.AnonymiseExpired(retention=timedelta(days=30), limit=2)


async def rows(units: Units) -> list[DeliveryRow]:
    async with units.db.read() as session:
        return list(await session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def statistics(found: list[DeliveryRow]) -> Counter[tuple[str, str, str, str]]:
    return Counter((r.event_type, r.channel, r.recipient_kind, r.status) for r in found)


async def anonymise(units: Units) -> int:
    return await units.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))


async def send_all(units: Units) -> None:
    sender = await new_sender(units, NOON)
    claimed = await claim(units, sender, NOON)
    await record(units, sender, *((row, SendResult.sent(f"ref-{row.id}")) for row in claimed))


async def test_a_message_past_retention_is_anonymised_once(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, clock):
        await fan_out(units, rules, sample("OrderPlaced", customer=CUSTOMER))
        await send_all(units)
        sent = await rows(units)
        assert len(sent) == 3 and all(r.status == "sent" for r in sent)
        clock.now = NOON + timedelta(days=1)
        queued = await fan_out(units, rules, sample("OrderPlaced", customer=CUSTOMER))
        counts = statistics(await rows(units))

        clock.now = NOON + timedelta(days=30) - timedelta(seconds=1)
        assert await anonymise(units) == 0
        clock.now = NOON + timedelta(days=30, seconds=1)
        assert await anonymise(units) == 2
        assert await anonymise(units) == 1
        assert await anonymise(units) == 0

        after = await rows(units)
        gone = [r for r in after if r.event_id != queued]
        for row in gone:
            assert row.recipient == ANONYMISED_ADDRESS + row.id
            assert (row.recipient_name, row.subject, row.body_text, row.body_html) == (
                ANONYMISED,
                None,
                "",
                None,
            )
            assert (row.ics, row.preferences_url) == (None, None)
            assert row.provider_ref == f"ref-{row.id}"
        # Not sent yet (queued a day later): kept whatever its age.
        waiting = [r for r in after if r.event_id == queued]
        assert "kari@example.org" in {r.recipient for r in waiting}
        assert all("Kari" in r.body_text or r.recipient_kind == "staff" for r in waiting)
        assert statistics(after) == counts
        text = " ".join(f"{r.recipient} {r.recipient_name} {r.body_text}" for r in gone)
        assert "kari" not in text.lower() and "Nordmann" not in text


async def test_two_replicas_anonymise_each_message_once(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, clock):
        for _ in range(2):
            await fan_out(units, rules, sample("OrderPlaced", customer=CUSTOMER))
        await send_all(units)
        clock.now = NOON + timedelta(days=31)
        async with service_units(SPEC, database_url, clock) as replica:

            async def run_all(on: Units) -> int:
                total = 0
                while True:
                    done = await on.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))
                    total += done
                    if done < RETENTION.limit:
                        return total

            first, second = await asyncio.gather(run_all(units), run_all(replica))
            rest = await run_all(units)
        assert first + second + rest == 6
        assert all(r.recipient_name == ANONYMISED for r in await rows(units))
