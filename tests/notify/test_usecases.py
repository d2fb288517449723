"""Notify's rules without HTTP, on a real SQLite and PostgreSQL: fan-out to recipients ×
channels, quiet hours and staff hours kept with each delivery, retry and backoff, sender
instances taking over a dead one's claims, and the delivery-report transitions."""

from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.notify import usecases
from services.notify.app import SPEC
from services.notify.domain import (
    CHANNELS,
    Channel,
    HandOff,
    Preference,
    RetryPolicy,
    SendResult,
)
from services.notify.models import DeliveryRow
from services.notify.routing import FanoutRules
from services.notify.settings import NotifySettings, load_rules
from services.notify.store import DELIVERIES_HANDED, Store
from shared.errors import Conflict, NotAuthenticated, NotFound, Refused
from shared.events import Contact, EventData, new_event
from shared.unit_of_work import UnitsOfWork, flush_together
from tests.notify.samples import sample
from tests.support.clock import TestClock
from tests.support.databases import sql_texts
from tests.support.units import service_units

# Tuesday 5 May 2026, 12:00 in Oslo; 22:30 the same evening; 08:00 the next morning.
NOON = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
LATE = datetime(2026, 5, 5, 20, 30, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 5, 6, 6, 0, tzinfo=UTC)
CUSTOMER = Contact(name="Kari Nordmann", email="kari@example.org", phone="+47 000 00 010")
POLICY = RetryPolicy(max_attempts=3, base_seconds=60, max_seconds=600)
LEASE = timedelta(seconds=120)

Units = UnitsOfWork[Store]


@pytest.fixture(scope="module")
def rules() -> FanoutRules:
    return load_rules(NotifySettings(), None, b"test-key")


@contextlib.asynccontextmanager
async def notify_units(
    database_url: str, start: datetime
) -> AsyncIterator[tuple[Units, TestClock]]:
    clock = TestClock(start)
    async with service_units(SPEC, database_url, clock) as units:
        yield units, clock


async def fan_out(units: Units, rules: FanoutRules, data: EventData, **kw: Any) -> str:
    envelope = new_event(data, **kw)
    command = usecases.FanOut(envelope, data)
    await units.run(lambda uow: usecases.fan_out(uow, command, rules=rules))
    return envelope.id


async def returns(units: Units, rules: FanoutRules, count: int) -> None:
    """`count` returned loans, each an email to its own borrower."""
    for n in range(count):
        borrower = Contact(name="Kari", email=f"k{n}@example.org")
        await fan_out(units, rules, sample("LoanReturned", borrower=borrower))


async def deliveries(units: Units, event_id: str) -> list[DeliveryRow]:
    query = usecases.NotificationQuery(event_id=event_id)
    return await units.run(lambda uow: usecases.list_notifications(uow, query))


async def outbox(units: Units) -> list[tuple[str, dict[str, Any]]]:
    async with units.db.read() as session:
        rows = await session.execute(
            select(units.tables.outbox.c.type, units.tables.outbox.c.payload).order_by(
                units.tables.outbox.c.id
            )
        )
        return [(kind, json.loads(payload)) for kind, payload in rows]


async def new_sender(units: Units, at: datetime) -> str:
    sender = str(uuid.uuid4())
    command = usecases.RegisterSender(sender, "test-host", 1, at)
    await units.run(lambda uow: usecases.register_sender(uow, command))
    return sender


async def claim(units: Units, sender: str, at: datetime, limit: int = 100) -> list[DeliveryRow]:
    command = usecases.ClaimDue(sender, at, at + LEASE, limit)
    claimed = await units.run(lambda uow: usecases.claim_due(uow, command))
    assert claimed is not None
    return claimed


async def record(
    units: Units, sender: str, *outcomes: tuple[DeliveryRow, SendResult | None]
) -> Any:
    command = usecases.RecordOutcomes(
        sender, tuple(usecases.SendOutcome(row, result) for row, result in outcomes)
    )
    return await units.run(lambda uow: usecases.record_outcomes(uow, command, policy=POLICY))


# --- fan-out ----------------------------------------------------------------------------------


async def test_an_order_fans_out_to_the_cafe_on_both_channels_and_the_customer_once(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        data = sample("OrderPlaced", customer=CUSTOMER)
        event_id = await fan_out(units, rules, data)
        rows = await deliveries(units, event_id)
        assert sorted((r.recipient_kind, r.channel, r.recipient) for r in rows) == [
            ("person", "email", "kari@example.org"),
            ("staff", "email", "kafe@example.org"),
            ("staff", "sms", "+4700000003"),
        ]
        assert all(r.status == "queued" and r.next_attempt_at == NOON for r in rows)
        # The café's SMS hours from the staff directory travel with the delivery.
        assert {r.channel: r.send_hours for r in rows if r.recipient_kind == "staff"} == {
            "sms": "07:00-18:00",
            "email": None,
        }
        # The same event again (redelivered, replayed): nothing new.
        await fan_out(units, rules, data, event_id=event_id)
        assert len(await deliveries(units, event_id)) == 3
        assert await outbox(units) == []


async def test_an_invalid_address_fails_at_once_and_an_opt_out_is_kept(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        who = usecases.Manager(staff=True)
        command = usecases.SetPreferences("+47 000 00 010", who, Preference(sms=False))
        await units.run(lambda uow: usecases.set_preferences(uow, command, key=b"k"))
        broken = Contact(name="Kari Nordmann", email="not-an-address", phone="+47 000 00 010")
        event_id = await fan_out(units, rules, sample("BookingRejected", booker=broken))
        rows = {r.channel: r for r in await deliveries(units, event_id)}
        assert rows["email"].status == "failed" and rows["email"].recipient.startswith("invalid:")
        assert rows["email"].last_error == "invalid email address"
        assert rows["sms"].status == "suppressed"
        [(kind, event)] = await outbox(units)
        assert kind == "NotificationFailed"
        assert event["data"]["delivery_id"] == rows["email"].id
        assert event["data"]["permanent"] is True
        assert event["correlationid"] == event_id


async def test_events_fanned_out_together_get_what_each_would_get_alone(
    database_url: str, rules: FanoutRules
) -> None:
    """A consumer's batch in one transaction (its units of work sharing one store): each
    event's deliveries, failures and events as if it came alone, and a replay of one of
    them in the same batch adds nothing."""
    broken = Contact(name="Kari Nordmann", email="not-an-address", phone="+47 000 00 010")
    datas = [
        sample("OrderPlaced", customer=CUSTOMER),
        sample("BookingRejected", booker=broken),
        sample("LoanReturned", borrower=CUSTOMER),
        sample("OrderPickedUp", customer=CUSTOMER),  # silent: no delivery
    ]
    envelopes = [new_event(data) for data in datas]
    async with notify_units(database_url, NOON) as (units, _clock):
        async with units.db.transaction() as session:
            store = units.store(session)
            work = [
                (units.bound(session, correlation=e.correlationid, store=store),
                 usecases.FanOut(e, d))
                for e, d in zip(envelopes, datas, strict=True)
            ]  # fmt: skip
            added = await usecases.fan_out_together(work, rules=rules)
            again = await usecases.fan_out_together(work[:1], rules=rules)
            await flush_together([uow for uow, _ in work])
        assert again == set()
        rows = {e.type: await deliveries(units, e.id) for e in envelopes}
        assert added == {r.id for found in rows.values() for r in found}
        assert sorted((r.recipient_kind, r.channel) for r in rows["OrderPlaced"]) == [
            ("person", "email"), ("staff", "email"), ("staff", "sms"),
        ]  # fmt: skip
        assert sorted((r.channel, r.status) for r in rows["BookingRejected"]) == [
            ("email", "failed"), ("sms", "queued"),
        ]  # fmt: skip
        assert [(r.channel, r.status) for r in rows["LoanReturned"]] == [("email", "queued")]
        assert rows["OrderPickedUp"] == []
        # The failure's event carries its own event's correlation, not the batch's first.
        [(kind, event)] = await outbox(units)
        assert kind == "NotificationFailed"
        assert event["correlationid"] == envelopes[1].correlationid


# Each statement whose SQL text had one shape per count of rows or ids.
SHAPED = {
    "insert": "INSERT INTO deliveries",
    "preferences": "FROM preferences",
    "claim": "attempts=(deliveries.attempts +",
    "held": "SELECT deliveries.id \nFROM deliveries",
}


async def test_batches_of_every_size_are_a_few_statements(
    database_url: str, rules: FanoutRules
) -> None:
    """Consumer batches of 1 to 20 events, each sent in one claim and one group of
    outcomes: each statement of a count's shape is at most six SQL texts (1, 2, 4 … 32),
    where each count was a text of its own, a statement the driver prepares and keeps."""
    async with notify_units(database_url, NOON) as (units, _clock):
        sender = await new_sender(units, datetime.now(UTC))
        with sql_texts(units.db, SHAPED) as texts:
            for size in range(1, 21):
                datas = [
                    sample("LoanReturned", borrower=Contact(
                        name="Kari", email=f"k{size}-{n}@example.org"))
                    for n in range(size)
                ]  # fmt: skip
                async with units.db.transaction() as session:
                    store = units.store(session)
                    work = [(units.bound(session, store=store),
                             usecases.FanOut(new_event(d), d)) for d in datas]  # fmt: skip
                    assert len(await usecases.fan_out_together(work, rules=rules)) == size
                    await flush_together([uow for uow, _ in work])
                rows = await claim(units, sender, datetime.now(UTC))
                assert len(rows) == size
                sent = await record(units, sender, *((r, SendResult.sent("<r>")) for r in rows))
                assert sent == [("email", "sent")] * size
    assert all(0 < len(found) <= 6 for found in texts.values()), {
        kind: len(found) for kind, found in texts.items()
    }


async def test_deliveries_inserted_together_must_give_the_same_columns(
    database_url: str,
) -> None:
    """The rows go as one insert of the first row's columns: a column only a later row
    gives would go unwritten without a word, so the insert is refused and nothing kept.
    No rows is no insert."""

    def row(n: int, **more: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()), "event_id": f"e{n}", "event_type": "LoanReturned",
            "correlation_id": f"e{n}", "routes_version": 1, "template": "loan_returned",
            "channel": "email", "recipient": f"k{n}@example.org", "recipient_kind": "person",
            "recipient_role": None, "recipient_name": "Kari", "language": "nb",
            "urgent": False, "send_hours": None, "subject": "Levert", "body_text": "Takk",
            "body_html": None, "ics": None, "ics_method": None, "preferences_url": None,
            "preference_token": None, "status": "queued", "attempts": 0,
            "next_attempt_at": NOON, "last_error": None, "created_at": NOON,
            "updated_at": NOON, "failed_at": None, **more,
        }  # fmt: skip

    async with notify_units(database_url, NOON) as (units, _clock):
        with pytest.raises(ValueError, match="same columns"):
            async with units.db.transaction() as session:
                await units.store(session).add_deliveries([row(1), row(2, provider_ref="p")])
        async with units.db.transaction() as session:
            assert await units.store(session).add_deliveries([]) == set()
            kept = await units.store(session).add_deliveries([row(3), row(4)])
        async with units.db.read() as session:
            stored = (await session.execute(select(DeliveryRow.event_id))).scalars().all()
        assert len(kept) == 2 and sorted(stored) == ["e3", "e4"]


async def test_quiet_hours_hold_a_citizens_sms_and_the_hours_stay_with_it(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, LATE) as (units, _clock):
        waiting = await fan_out(units, rules, sample("ReservationReady", borrower=CUSTOMER))
        urgent = await fan_out(units, rules, sample("OrderReady", customer=CUSTOMER))
        [held] = await deliveries(units, waiting)
        [ready] = await deliveries(units, urgent)
        assert (held.next_attempt_at, held.send_hours) == (NEXT_MORNING, "08:00-21:00")
        assert (ready.next_attempt_at, ready.send_hours) == (LATE, None)

        # Only the urgent one is due now.
        sender = await new_sender(units, datetime.now(UTC))
        claimed = await claim(units, sender, datetime.now(UTC))
        assert [r.id for r in claimed] == [ready.id]


# --- sending, retries and backoff -----------------------------------------------------------


async def test_a_sent_message_is_recorded_with_its_event(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        event_id = await fan_out(units, rules, sample("LoanReturned", borrower=CUSTOMER))
        real = datetime.now(UTC)
        sender = await new_sender(units, real)
        [row] = await claim(units, sender, real)
        assert row.attempts == 1 and row.claim_id == sender
        [stored] = await deliveries(units, event_id)
        assert stored.status == "sending"
        written = await record(units, sender, (row, SendResult.sent("<ref>")))
        assert written == [("email", "sent")]
        [stored] = await deliveries(units, event_id)
        assert (stored.status, stored.sent_at, stored.provider_ref) == ("sent", NOON, "<ref>")
        assert stored.claim_id is None
        [(kind, event)] = await outbox(units)
        assert kind == "NotificationSent" and event["data"]["attempts"] == 1
        assert event["correlationid"] == event_id


async def test_a_group_of_outcomes_is_written_as_each_would_be_alone(
    database_url: str, rules: FanoutRules
) -> None:
    """A sender's group in one commit: each outcome of its own kind (sent, to retry,
    failed, put back unsent), and one whose claim is no longer held left as it is."""
    async with notify_units(database_url, NOON) as (units, _clock):
        await returns(units, rules, 5)
        real = datetime.now(UTC)
        sender = await new_sender(units, real)
        rows = sorted(await claim(units, sender, real), key=lambda r: r.recipient)
        assert len(rows) == 5
        # The last is put back first, on its own: no longer held when the group comes.
        assert await record(units, sender, (rows[4], None)) == [("email", "queued")]
        written = await record(
            units,
            sender,
            (rows[0], SendResult.sent("<ref>")),
            (rows[1], SendResult.transient("SMTP 451 later")),
            (rows[2], SendResult.permanent("SMTP 550 no such user")),
            (rows[3], None),
            (rows[4], SendResult.sent("<late>")),
        )
        assert written == [
            ("email", "sent"), ("email", "queued"), ("email", "failed"), ("email", "queued"),
        ]  # fmt: skip
        stored = {r.id: r for r in await units.run(lambda uow: uow.store.deliveries(
            event_id=None, recipient=None, status=None, limit=10, offset=0))}  # fmt: skip
        sent, retry, failed, unsent, late = (stored[r.id] for r in rows)
        assert (sent.status, sent.provider_ref, sent.sent_at) == ("sent", "<ref>", NOON)
        assert (retry.status, retry.attempts, retry.last_error) == ("queued", 1, "SMTP 451 later")
        assert retry.next_attempt_at is not None and retry.next_attempt_at > NOON
        assert (failed.status, failed.failed_at) == ("failed", NOON)
        assert (unsent.status, unsent.attempts, unsent.next_attempt_at) == ("queued", 0, NOON)
        assert (late.status, late.provider_ref, late.attempts) == ("queued", None, 0)
        assert all(r.claim_id is None for r in stored.values())
        events = [(kind, event["data"]["delivery_id"]) for kind, event in await outbox(units)]
        assert events == [("NotificationSent", sent.id), ("NotificationFailed", failed.id)]


async def test_transient_failures_back_off_then_give_up_and_permanent_ones_fail_at_once(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, clock):
        event_id = await fan_out(units, rules, sample("LoanReturned", borrower=CUSTOMER))
        real = datetime.now(UTC)
        sender = await new_sender(units, real)
        for attempt in (1, 2):
            [row] = await claim(units, sender, real)
            assert row.attempts == attempt
            await record(units, sender, (row, SendResult.transient("SMTP 451 later")))
            [stored] = await deliveries(units, event_id)
            assert stored.status == "queued" and stored.last_error == "SMTP 451 later"
            # Doubling from 60 s, half of it jitter.
            ceiling = 60 * 2 ** (attempt - 1)
            delay = (stored.next_attempt_at - clock()).total_seconds()
            assert ceiling / 2 <= delay <= ceiling
            assert await claim(units, sender, real) == []  # not due yet
            clock.set(stored.next_attempt_at)
        [row] = await claim(units, sender, real)
        await record(units, sender, (row, SendResult.transient("SMTP 451 later")))
        [stored] = await deliveries(units, event_id)
        assert stored.status == "failed" and stored.attempts == 3
        assert stored.last_error == "gave up after 3 attempts: SMTP 451 later"
        [(kind, failed)] = await outbox(units)
        assert kind == "NotificationFailed" and failed["data"]["permanent"] is False

        # Staff send it again: a fresh round, and a permanent refusal ends it at once.
        retried = await units.run(lambda uow: usecases.retry_notification(uow, stored.id))
        assert (retried.status, retried.attempts) == ("queued", 0)
        [row] = await claim(units, sender, real)
        await record(units, sender, (row, SendResult.permanent("SMTP 550 no such user")))
        [stored] = await deliveries(units, event_id)
        assert (stored.status, stored.attempts) == ("failed", 1)
        kinds = [(k, e["data"]["permanent"]) for k, e in await outbox(units)]
        assert kinds == [("NotificationFailed", False), ("NotificationFailed", True)]


async def test_a_retry_keeps_the_hours_decided_at_fan_out(
    database_url: str, rules: FanoutRules
) -> None:
    # 17:59 in Oslo: inside the café's SMS hours (07:00-18:00) for one more minute.
    start = datetime(2026, 5, 5, 15, 59, tzinfo=UTC)
    async with notify_units(database_url, start) as (units, _clock):
        event_id = await fan_out(units, rules, sample("OrderPlaced", customer=CUSTOMER))
        real = datetime.now(UTC)
        sender = await new_sender(units, real)
        rows = await claim(units, sender, real)
        [sms] = [r for r in rows if r.channel == "sms"]
        await record(units, sender, *((r, SendResult.sent()) for r in rows if r is not sms))
        # The provider asks for two minutes: past 18:00, so the retry waits for 07:00.
        await record(units, sender, (sms, SendResult.transient("SMS gateway 429", 120)))
        [stored] = [r for r in await deliveries(units, event_id) if r.channel == "sms"]
        assert stored.status == "queued"
        assert stored.next_attempt_at == datetime(2026, 5, 6, 5, 0, tzinfo=UTC)


async def test_the_retry_rule_refuses_what_is_not_failed_or_cannot_be_reached(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        broken = Contact(name="Kari", email="nope", phone="+47 000 00 010")
        event_id = await fan_out(units, rules, sample("BookingRejected", booker=broken))
        rows = {r.channel: r for r in await deliveries(units, event_id)}
        with pytest.raises(Conflict) as queued:
            await units.run(lambda uow: usecases.retry_notification(uow, rows["sms"].id))
        assert queued.value.code == "retry_not_failed"
        with pytest.raises(Conflict) as invalid:
            await units.run(lambda uow: usecases.retry_notification(uow, rows["email"].id))
        assert invalid.value.code == "retry_invalid_address"
        with pytest.raises(NotFound):
            await units.run(lambda uow: usecases.retry_notification(uow, str(uuid.uuid4())))


# --- sender instances ------------------------------------------------------------------------


async def test_a_dead_senders_claims_are_taken_over_and_its_late_answers_ignored(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        await returns(units, rules, 3)
        real = datetime.now(UTC)
        dead = await new_sender(units, real)
        taken = await claim(units, dead, real)
        assert len(taken) == 3
        alive = await new_sender(units, real)
        assert await claim(units, alive, real) == []  # all held by the other

        # The first sender falls silent; a beat 5 s stale later, the other takes over.
        later = real + timedelta(seconds=6)
        beat = usecases.Heartbeat(alive, later, later - timedelta(seconds=5))
        beaten = await units.run(lambda uow: usecases.beat(uow, beat))
        assert beaten == usecases.Beaten(alive=True, dead=(dead,), released=3)
        again = await claim(units, alive, later)
        assert sorted(r.id for r in again) == sorted(r.id for r in taken)
        assert all(r.attempts == 2 for r in again)  # the lost attempt counts

        # The dead one's answer comes too late to count, and it learns it is dead.
        assert await record(units, dead, (taken[0], SendResult.sent())) == []
        late = usecases.Heartbeat(dead, later, later - timedelta(seconds=5))
        assert (await units.run(lambda uow: usecases.beat(uow, late))).alive is False
        command = usecases.ClaimDue(dead, later, later + LEASE, 10)
        assert await units.run(lambda uow: usecases.claim_due(uow, command)) is None
        # An answer never asked for puts the delivery back without counting the attempt.
        assert await record(units, alive, (again[0], None)) == [("email", "queued")]
        row = await units.run(lambda uow: uow.store.delivery(again[0].id))
        assert row is not None and (row.status, row.attempts) == ("queued", 1)


def handed_at_commit(units: Units) -> list[tuple[HandOff, list[DeliveryRow]]]:
    """What each commit of `units` hands to a sender (timers.Sender takes it from there)."""
    handed: list[tuple[HandOff, list[DeliveryRow]]] = []
    units.db.after_commit(lambda session: handed.extend(session.info.pop(DELIVERIES_HANDED, ())))
    return handed


def hand_off_to(sender: str, at: datetime, *channels: Channel) -> HandOff:
    return HandOff(sender, at, at + LEASE, frozenset(channels or CHANNELS), 1, 0.0)


async def fan_out_handing(
    units: Units, rules: FanoutRules, data: EventData, hand_off: HandOff, **kw: Any
) -> str:
    envelope = new_event(data, **kw)
    command = usecases.FanOut(envelope, data)
    await units.run(
        lambda uow: usecases.fan_out_together([(uow, command)], rules=rules, hand_off=hand_off)
    )
    return envelope.id


async def test_what_is_due_at_once_is_claimed_for_an_idle_sender_and_handed_at_commit(
    database_url: str, rules: FanoutRules
) -> None:
    """A confirmation late in the evening: its email is due at once and handed (claimed in
    the fan-out's transaction, as a claim would), its SMS waits for the morning and stays
    in the queue; nobody else can claim what was handed, and its outcome is recorded as
    a claimed one's is."""
    async with notify_units(database_url, LATE) as (units, clock):
        handed = handed_at_commit(units)
        real = datetime.now(UTC)
        sender = await new_sender(units, real)
        data = sample("BookingConfirmed", booker=CUSTOMER, participants=[], auto_approved=False)
        event_id = await fan_out_handing(units, rules, data, hand_off_to(sender, real))
        rows = {r.channel: r for r in await deliveries(units, event_id)}
        email, sms = rows["email"], rows["sms"]
        assert (email.status, email.claim_id, email.attempts) == ("sending", sender, 1)
        assert email.claimed_until == real + LEASE
        assert (sms.status, sms.claim_id, sms.attempts) == ("queued", None, 0)
        [(hand_off, [row])] = handed
        assert hand_off.sender_id == sender and row.id == email.id
        assert (row.status, row.claim_id, row.attempts) == ("sending", sender, 1)
        assert row.body_text == email.body_text and row.recipient == "kari@example.org"

        other = await new_sender(units, real)
        clock.set(NEXT_MORNING)
        [morning] = await claim(units, other, real)  # the email is not free
        assert morning.id == sms.id
        assert await record(units, sender, (row, SendResult.sent("<m>"))) == [("email", "sent")]
        [stored] = [r for r in await deliveries(units, event_id) if r.channel == "email"]
        assert (stored.status, stored.attempts) == ("sent", 1)


async def test_a_sender_taken_for_dead_is_handed_nothing_and_a_replay_nothing_again(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        handed = handed_at_commit(units)
        real = datetime.now(UTC)
        data = sample("OrderReady", customer=CUSTOMER)
        # No such sender (taken for dead and deleted): the text is queued as usual.
        gone = await fan_out_handing(units, rules, data, hand_off_to(str(uuid.uuid4()), real))
        [row] = await deliveries(units, gone)
        assert (row.status, row.claim_id) == ("queued", None) and handed == []

        sender = await new_sender(units, real)
        event_id = await fan_out_handing(units, rules, data, hand_off_to(sender, real))
        assert len(handed) == 1
        # The same event again (redelivered): nothing is added, so nothing is handed.
        await fan_out_handing(units, rules, data, hand_off_to(sender, real), event_id=event_id)
        assert len(handed) == 1
        # Only the offered channels are handed.
        emailed = sample("LoanReturned", borrower=CUSTOMER)
        other = await fan_out_handing(units, rules, emailed, hand_off_to(sender, real, "sms"))
        [queued] = await deliveries(units, other)
        assert queued.status == "queued" and len(handed) == 1


async def test_handed_deliveries_of_a_dead_sender_are_taken_over(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        real = datetime.now(UTC)
        dead = await new_sender(units, real)
        event_id = await fan_out_handing(
            units, rules, sample("OrderReady", customer=CUSTOMER), hand_off_to(dead, real)
        )
        alive = await new_sender(units, real)
        assert await claim(units, alive, real) == []
        later = real + timedelta(seconds=6)
        beat = usecases.Heartbeat(alive, later, later - timedelta(seconds=5))
        beaten = await units.run(lambda uow: usecases.beat(uow, beat))
        assert beaten == usecases.Beaten(alive=True, dead=(dead,), released=1)
        [again] = await claim(units, alive, later)
        assert again.event_id == event_id and again.attempts == 2  # the handed attempt counts


async def test_a_retiring_sender_hands_its_claims_back_at_once(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        await fan_out(units, rules, sample("LoanReturned", borrower=CUSTOMER))
        real = datetime.now(UTC)
        first = await new_sender(units, real)
        [row] = await claim(units, first, real)
        assert await units.run(lambda uow: usecases.retire_sender(uow, first)) == 1
        second = await new_sender(units, real)
        [again] = await claim(units, second, real)
        assert again.id == row.id


# --- delivery reports ---------------------------------------------------------------------------


async def sent_sms(units: Units, rules: FanoutRules, provider_ref: str) -> DeliveryRow:
    event_id = await fan_out(units, rules, sample("OrderReady", customer=CUSTOMER))
    real = datetime.now(UTC)
    sender = await new_sender(units, real)
    [row] = await claim(units, sender, real)
    await record(units, sender, (row, SendResult.sent(provider_ref)))
    [stored] = await deliveries(units, event_id)
    return stored


def report(reference: str | None, status: str | bool | None = "delivered", **kw: Any) -> Any:
    return usecases.DeliveryReport(
        reference=reference,
        provider_ref=kw.pop("provider_ref", None),
        status=status,
        result_code=kw.pop("result_code", None),
        token=kw.pop("token", None),
    )


async def test_delivery_reports_move_a_sent_sms_once(database_url: str, rules: FanoutRules) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        sms = await sent_sms(units, rules, "gw-1")

        async def apply(r: Any, token: str | None = None) -> tuple[str, str]:
            return await units.run(lambda uow: usecases.record_delivery_report(uow, r, token=token))

        assert await apply(report(sms.id)) == (sms.id, "delivered")
        # The first final word stands: a late "failed" changes nothing.
        assert await apply(report(None, "failed", provider_ref="gw-1")) == (sms.id, "delivered")
        [stored] = await deliveries(units, sms.event_id)
        assert stored.status == "delivered" and stored.delivered_at == NOON
        assert [k for k, _ in await outbox(units)] == ["NotificationSent"]

        other = await sent_sms(units, rules, "gw-2")
        # LINK Mobility's result code 1005 is not 1001 (delivered): a final failure.
        assert await apply(report(other.id, None, result_code=1005)) == (other.id, "failed")
        [stored] = await deliveries(units, other.event_id)
        assert stored.last_error == "gateway reports not delivered (1005)"
        kind, failed = (await outbox(units))[-1]
        assert kind == "NotificationFailed" and failed["data"]["permanent"] is True

        with pytest.raises(Refused) as nothing:
            await apply(report(sms.id, None))
        assert nothing.value.code == "report_without_status"
        with pytest.raises(NotFound):
            await apply(report(str(uuid.uuid4())))
        with pytest.raises(NotAuthenticated):
            await apply(report(sms.id, token="wrong"), token="secret")


async def test_a_report_for_an_sms_not_yet_sent_is_a_conflict(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, LATE) as (units, _clock):
        event_id = await fan_out(units, rules, sample("ReservationReady", borrower=CUSTOMER))
        [row] = await deliveries(units, event_id)
        command = report(row.id)
        with pytest.raises(Conflict) as refused:
            await units.run(lambda uow: usecases.record_delivery_report(uow, command, token=None))
        assert refused.value.code == "report_before_sent"
        assert "queued" in refused.value.message


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    from services.notify.domain import after_send

    rng = random.Random(7)
    first = after_send(SendResult.transient("x"), 1, NOON, POLICY, None, rng)
    assert first.status == "queued" and first.next_attempt_at is not None
    assert timedelta(seconds=30) <= first.next_attempt_at - NOON <= timedelta(seconds=60)
    capped = after_send(SendResult.transient("x"), 2, NOON, RetryPolicy(9, 60, 90), None, rng)
    assert capped.next_attempt_at is not None
    assert timedelta(seconds=45) <= capped.next_attempt_at - NOON <= timedelta(seconds=90)
    slow = after_send(SendResult.transient("x", retry_after=3600), 1, NOON, POLICY, None, rng)
    assert slow.next_attempt_at == NOON + timedelta(hours=1)
