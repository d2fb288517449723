"""A second SMS gateway (SMS_FALLBACK_URL) sends what the first does not accept, and no
message reaches both; against two real HTTP SMS stubs."""

from __future__ import annotations

from collections import Counter

from knutepunkt.devsinks.testing import running_sms_sink
from shared.events import Contact
from tests.notify.conftest import Factory
from tests.notify.samples import sample
from tests.support.waiting import wait_for


def _borrower(n: int) -> Contact:
    return Contact(name=f"Låner {n}", email=None, phone=f"+47 000 00 0{n:02d}")


async def test_the_first_down_the_fallback_sends_each_message_once(hub: Factory) -> None:
    async with (
        running_sms_sink() as fallback,
        hub(sms_fallback_url=fallback.url, sms_failover_after=2) as h,
    ):
        await h.sms.down()
        events = [
            await h.publish(sample("ReservationReady", borrower=_borrower(n))) for n in range(4)
        ]
        received = await fallback.wait_for(4, timeout=15)
        rows = [(await wait_for(lambda e=e: h.settled(e, 1), timeout=10))[0] for e in events]
        assert {r["status"] for r in rows} == {"sent"}
        assert {r["sms_gateway"] for r in rows} == {"fallback"}
        # Each message reached the fallback once, under its own delivery id.
        assert Counter(s.reference for s in received) == Counter(r["id"] for r in rows)
        await h.sms.up()
        assert h.sms.messages == [] and fallback.repeats == 0


async def test_a_permanent_refusal_by_the_first_goes_to_the_fallback(hub: Factory) -> None:
    async with running_sms_sink() as fallback, hub(sms_fallback_url=fallback.url) as h:
        h.sms.add_faults(401)  # e.g. the first's credentials were revoked
        event_id = await h.publish(sample("ReservationReady", borrower=_borrower(1)))
        [sms] = await fallback.wait_for(1, timeout=15)
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["status"] == "sent" and row["sms_gateway"] == "fallback"
        assert row["attempts"] == 1 and sms.reference == row["id"]
        assert h.sms.messages == [] and h.sms.attempts == 1


async def test_a_message_the_first_may_hold_never_goes_to_the_fallback(hub: Factory) -> None:
    # A 500 may come after the gateway took the message: the retry goes to the first
    # again (which dedupes on the reference), even with its breaker open.
    async with (
        running_sms_sink() as fallback,
        hub(sms_fallback_url=fallback.url, sms_failover_after=1) as h,
    ):
        h.sms.add_faults(500)
        event_id = await h.publish(sample("ReservationReady", borrower=_borrower(1)))
        [sms] = await h.sms.wait_for(1, timeout=15)
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["status"] == "sent" and row["sms_gateway"] == "primary"
        assert row["attempts"] == 2 and sms.reference == row["id"]
        assert fallback.attempts == 0


async def test_without_a_fallback_the_first_is_recorded(hub: Factory) -> None:
    async with hub() as h:
        event_id = await h.publish(sample("ReservationReady", borrower=_borrower(1)))
        await h.sms.wait_for(1, timeout=15)
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["status"] == "sent" and row["sms_gateway"] == "primary"
