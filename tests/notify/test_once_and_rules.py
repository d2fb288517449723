"""Once per (event, recipient, channel) through dead letters and a forgetful inbox; quiet
hours on the injected clock; opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from services.notify import routing
from services.notify.timers import sender_of
from shared.events import Contact
from shared.messaging.dlq import list_dead_letters, replay
from tests.notify.conftest import AUTH, Factory
from tests.notify.samples import sample
from tests.notify.test_sending import _consumed
from tests.support.waiting import wait_for

BOOKER = Contact(name="Per Hansen", email="per@example.org", phone="+47 000 00 020")


async def test_replayed_from_the_dead_letter_stream_it_still_goes_out_once(
    hub: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with hub() as h:
        h.service.runtime.consumer.config.max_deliveries = 1  # type: ignore[union-attr]
        real_plan = routing.plan

        def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("templates unavailable")

        monkeypatch.setattr(routing, "plan", broken)
        data = sample("BookingRejected", booker=BOOKER)
        event_id = await h.publish(data)
        names = h.service.runtime.names
        [letter] = await wait_for(
            lambda: list_dead_letters(h.redis, names, ["booking.events"]), timeout=10
        )
        assert "templates unavailable" in letter.error
        assert await h.notifications(event_id=event_id) == []

        monkeypatch.setattr(routing, "plan", real_plan)
        await replay(h.redis, names, letter)
        await wait_for(lambda: h.settled(event_id, 2), timeout=15)
        await h.mail.wait_for(1)
        await h.sms.wait_for(1)

        # Replayed again after the inbox forgot the event: the deliveries' own key holds.
        runtime = h.service.runtime
        async with runtime.db.transaction() as session:
            await session.execute(delete(runtime.tables.inbox))
        await h.republish(data, event_id)
        await h.republish(data, event_id)
        await wait_for(lambda: _consumed(h, "booking.events", 4), timeout=10)
        assert len(await h.notifications(event_id=event_id)) == 2
        assert len(h.mail.messages) == 1 and len(h.sms.messages) == 1


# 22:30 in Oslo on Tuesday 5 May 2026 (UTC+2).
LATE = datetime(2026, 5, 5, 20, 30, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 5, 6, 6, 0, tzinfo=UTC)  # 08:00 in Oslo


async def test_quiet_hours_hold_a_citizens_sms_until_eight_but_not_an_urgent_one(
    hub: Factory,
) -> None:
    async with hub(start=LATE) as h:
        waiting_id = await h.publish(sample("ReservationReady", borrower=BOOKER))
        [row] = await wait_for(lambda: h.notifications(event_id=waiting_id), timeout=10)
        assert row["status"] == "queued"
        assert datetime.fromisoformat(row["next_attempt_at"]) == NEXT_MORNING

        urgent_id = await h.publish(sample("OrderReady", customer=BOOKER))
        [urgent] = await h.sms.wait_for(1, timeout=10)
        assert urgent.text.startswith("Bestillingen din")
        await wait_for(lambda: h.settled(urgent_id, 1), timeout=10)
        [row] = await h.notifications(event_id=waiting_id)
        assert row["status"] == "queued" and len(h.sms.messages) == 1

        h.clock.set(NEXT_MORNING + timedelta(seconds=1))
        sender_of(h.service.runtime).wake()
        await h.sms.wait_for(2, timeout=10)
        [row] = await wait_for(lambda: h.settled(waiting_id, 1), timeout=10)
        assert row["status"] == "sent"


async def test_staff_sms_keep_the_directorys_hours_and_email_goes_at_once(hub: Factory) -> None:
    # 19:00 in Oslo: after the café's SMS hours (07:00-18:00).
    async with hub(start=datetime(2026, 5, 5, 17, 0, tzinfo=UTC)) as h:
        event_id = await h.publish(sample("OrderPlaced", customer=BOOKER))
        await h.mail.wait_for(2, timeout=10)
        rows = await h.notifications(event_id=event_id)
        [sms] = [r for r in rows if r["channel"] == "sms"]
        assert sms["status"] == "queued"
        assert datetime.fromisoformat(sms["next_attempt_at"]) == datetime(
            2026, 5, 6, 5, 0, tzinfo=UTC
        )


async def test_an_opted_out_channel_is_not_used_and_the_choice_is_visible(hub: Factory) -> None:
    async with hub() as h:
        response = await h.client.put("/preferences/+4700000020", json={"sms": False}, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["recipient"] == "+4700000020"
        event_id = await h.publish(sample("BookingRejected", booker=BOOKER))
        rows = await wait_for(lambda: h.settled(event_id, 2), timeout=15)
        statuses = {r["channel"]: r["status"] for r in rows}
        assert statuses == {"email": "sent", "sms": "suppressed"}
        await h.mail.wait_for(1)
        assert h.sms.messages == []


async def test_reminders_can_be_turned_off_from_the_link_in_an_email(hub: Factory) -> None:
    async with hub(public_url="https://hub.example.org/notify") as h:
        event_id = await h.publish(sample("BookingRejected", booker=BOOKER))
        [mail] = await h.mail.wait_for(1, timeout=10)
        assert mail.text
        link = next(
            line.split(": ", 1)[1] for line in mail.text.splitlines() if "/preferences/" in line
        )
        token = link.split("token=")[1]
        assert mail.message["List-Unsubscribe"] == f"<{link}>"
        wrong = await h.client.put(
            "/preferences/per@example.org",
            json={"reminders": False},
            headers={"X-Preference-Token": "0" * 32},
        )
        assert wrong.status_code == 401
        # The token of the email address speaks for the person; their phone follows.
        ok = await h.client.put(
            "/preferences/per@example.org",
            json={"reminders": False},
            headers={"X-Preference-Token": token},
        )
        assert ok.status_code == 200, ok.text
        await wait_for(lambda: h.settled(event_id, 2), timeout=10)
        reminder_id = await h.publish(sample("LoanDueSoon", borrower=BOOKER))
        [row] = await wait_for(lambda: h.settled(reminder_id, 1), timeout=10)
        assert row["status"] == "suppressed" and row["channel"] == "sms"
        assert not [s for s in h.sms.messages if s.text.startswith("Hei Per Hansen! Husk")]
