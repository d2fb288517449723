"""A gateway's error text is kept and published without the personal data it echoes."""

from __future__ import annotations

import json

from knutepunkt.devsinks.sms_records import Fault
from services.notify.domain import SendResult
from services.notify.settings import NotifySettings, load_rules
from shared.events import Contact
from tests.notify.conftest import AUTH, Factory
from tests.notify.samples import sample
from tests.notify.test_usecases import (
    NOON,
    claim,
    deliveries,
    fan_out,
    new_sender,
    notify_units,
    outbox,
    record,
)
from tests.support.waiting import wait_for

CUSTOMER = Contact(name="Kari Nordmann", email="kari@example.org", phone="+47 000 00 010")


async def test_an_error_echoing_the_number_stores_and_publishes_no_number(hub: Factory) -> None:
    async with hub() as h:
        h.sms.add_faults(
            Fault(400, message="invalid destination {to} (Kari Nordmann, kari@example.org)")
        )
        event_id = await h.publish(sample("ReservationReady", borrower=CUSTOMER))
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=15)
        assert row["status"] == "failed"
        stored = (await h.client.get(f"/notifications/{row['id']}", headers=AUTH)).json()
        failed = await wait_for(lambda: _failures(h), timeout=10)
        for text in (stored["last_error"], json.dumps(failed)):
            assert "invalid destination" in text  # the gateway's words are kept
            for personal in ("+4700000010", "4700000010", "Kari", "Nordmann", "kari@"):
                assert personal not in text, text
        assert "[phone]" in stored["last_error"] and "[name]" in stored["last_error"]


async def _failures(h) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return [o for o in await h.outcomes() if o["type"] == "NotificationFailed"]


async def test_a_mail_server_echoing_the_address_and_name_leaves_neither(
    database_url: str,
) -> None:
    # The use cases without HTTP: what an SMTP server answered, kept and published clean.
    rules = load_rules(NotifySettings(), None, b"test-key")
    async with notify_units(database_url, NOON) as (units, _clock):
        event_id = await fan_out(units, rules, sample("LoanReturned", borrower=CUSTOMER))
        sender = await new_sender(units, NOON)
        [row] = [r for r in await claim(units, sender, NOON) if r.event_id == event_id]
        answer = "SMTP 550 5.1.1 <kari@example.org> (Kari Nordmann, +47 000 00 010): no such user"
        await record(units, sender, (row, SendResult.permanent(answer)))
        [stored] = await deliveries(units, event_id)
        published = [p for kind, p in await outbox(units) if kind == "NotificationFailed"]
        for text in (stored.last_error or "", json.dumps(published)):
            assert "no such user" in text
            for personal in ("kari@", "Kari", "Nordmann", "000 00 010"):
                assert personal not in text, text
