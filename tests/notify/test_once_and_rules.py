"""Once per (event, recipient, channel) through dead letters and a forgetful inbox; quiet
hours on the injected clock; opt-outs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from services.notify import routing, usecases
from services.notify.timers import sender_of
from shared.events import Contact
from shared.messaging.dlq import list_dead_letters, replay
from shared.messaging.redact import Person
from tests.notify.conftest import AUTH, Factory
from tests.notify.samples import sample
from tests.notify.test_sending import _consumed
from tests.support.waiting import wait_for

BOOKER = Contact(name="Per Hansen", email="per@example.org", phone="+47 000 00 020")
OTHER = Contact(name="Kari Lie", email="kari@example.org", phone="+47 000 00 021")


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
        choice = {"recipient": "+47 000 00 020", "sms": False}
        response = await h.client.put("/preferences", json=choice, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["recipient"] == "+4700000020"
        event_id = await h.publish(sample("BookingRejected", booker=BOOKER))
        rows = await wait_for(lambda: h.settled(event_id, 2), timeout=15)
        statuses = {r["channel"]: r["status"] for r in rows}
        assert statuses == {"email": "sent", "sms": "suppressed"}
        await h.mail.wait_for(1)
        assert h.sms.messages == []


async def test_reminders_can_be_turned_off_from_the_link_in_an_email(hub: Factory) -> None:
    async with hub(web_public_url="https://hub.example.org/") as h:
        event_id = await h.publish(sample("BookingRejected", booker=BOOKER))
        [mail] = await h.mail.wait_for(1, timeout=10)
        assert mail.text
        link = next(
            line.split(": ", 1)[1] for line in mail.text.splitlines() if "/mine/varsler/" in line
        )
        # The link names no address: only a token, on the web front's page.
        token = link.removeprefix("https://hub.example.org/mine/varsler/")
        assert re.fullmatch(r"[0-9a-f]{32}", token), link
        assert "per" not in link.lower() and "%40" not in link
        assert mail.message["List-Unsubscribe"] == f"<{link}>"
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        for wrong in ("0" * 32, "not-a-token", ""):
            refused = await h.client.put(
                "/preferences/mine", json={"reminders": False}, headers=_link(wrong)
            )
            assert refused.status_code == 404, refused.text
            assert refused.json()["code"] == "preference_link_unknown"
        opened = await h.client.get("/preferences/mine", headers=_link(token))
        assert opened.status_code == 200, opened.text
        assert opened.json() == {
            "recipient": "p\u2022\u2022\u2022@example.org",
            "email": True,
            "sms": True,
            "reminders": True,
            "updated_at": None,
        }
        # The token of the email address speaks for the person; their phone follows.
        ok = await h.client.put(
            "/preferences/mine",
            json={"email": True, "sms": True, "reminders": False},
            headers=_link(token),
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["recipient"] == "p\u2022\u2022\u2022@example.org"
        assert ok.json()["reminders"] is False
        # Staff see the same choice under the address.
        per = {"recipient": "per@example.org"}
        by_address = await h.client.post("/preferences/lookup", json=per, headers=AUTH)
        assert by_address.json()["reminders"] is False
        # The link's token speaks for its own address by address too, and for no other.
        own = await h.client.post("/preferences/lookup", json=per, headers=_link(token))
        assert own.status_code == 200 and own.json()["recipient"] == "per@example.org"
        other = {"recipient": "kari@example.org"}
        assert (
            await h.client.post("/preferences/lookup", json=other, headers=_link(token))
        ).status_code == 401
        await wait_for(lambda: h.settled(event_id, 2), timeout=10)
        reminder_id = await h.publish(sample("LoanDueSoon", borrower=BOOKER))
        [row] = await wait_for(lambda: h.settled(reminder_id, 1), timeout=10)
        assert row["status"] == "suppressed" and row["channel"] == "sms"
        assert not [s for s in h.sms.messages if s.text.startswith("Hei Per Hansen! Husk")]


async def test_a_preferences_link_outlives_its_messages_only_through_the_choices_it_set(
    hub: Factory,
) -> None:
    """The retention's anonymisation of the messages that carried a link ends it, unless
    the person set their choices through it (the token is kept with them); erasure ends it."""
    async with hub(web_public_url="https://hub.example.org") as h:
        for who in (BOOKER, OTHER):
            await h.publish(sample("BookingRejected", booker=who))
        mails = await h.mail.wait_for(2, timeout=10)
        tokens = {
            "per" if "per@" in m.message["To"] else "kari": m.message["List-Unsubscribe"]
            for m in mails
        }
        per, kari = (tokens[who].rsplit("/", 1)[1].rstrip(">") for who in ("per", "kari"))
        saved = await h.client.put("/preferences/mine", json={"sms": False}, headers=_link(per))
        assert saved.status_code == 200, saved.text

        async def finished() -> bool:
            rows = await h.notifications()
            return len(rows) == 4 and all(r["status"] == "sent" for r in rows)

        await wait_for(finished, timeout=10)
        h.clock.advance(timedelta(days=1))
        units = h.service.runtime.uow
        expire = usecases.AnonymiseExpired(retention=timedelta(hours=1))
        assert await units.run(lambda uow: usecases.anonymise_expired(uow, expire)) == 4
        opened = await h.client.get("/preferences/mine", headers=_link(per))
        assert opened.status_code == 200, opened.text
        assert opened.json()["sms"] is False
        gone = await h.client.get("/preferences/mine", headers=_link(kari))
        assert gone.status_code == 404

        person = Person.of(emails=["per@example.org"])
        await units.run(lambda uow: usecases.erase_person(uow, person))
        erased = await h.client.get("/preferences/mine", headers=_link(per))
        assert erased.status_code == 404


def _link(token: str) -> dict[str, str]:
    return {"X-Preference-Token": token}
