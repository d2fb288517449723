"""Outbox → stream → consumer → inbox: atomicity, once-only effects, retries, dead letters."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from shared.events import (
    BOOKING_STREAM,
    WIRE_FIELD,
    BookingCancelled,
    BookingConfirmed,
    Envelope,
    decode_entry,
    dlq_stream,
    new_event,
    parse_data,
)
from shared.messaging import dlq
from shared.messaging.consumer import Delivery, batch_handler
from shared.messaging.outbox import emit
from shared.messaging.redis import StreamNames
from tests.backbone.harness import (
    EffectsStore,
    Failures,
    booking,
    effect_count,
    effect_rows,
    envelope,
    group_done,
    make_consumer,
    make_db,
    make_relay,
    messaging,
    recording_batch_handler,
    recording_handler,
    run_until,
)
from tests.notify.samples import sample
from tests.support.waiting import wait_for


async def test_rolled_back_transaction_publishes_nothing(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    relay = make_relay(db, redis_url, prefix)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await emit(session, messaging, booking(1))
            raise RuntimeError("the state change failed")
    async with db.transaction() as session:
        committed = [await emit(session, messaging, booking(n)) for n in (2, 3)]
    published = await relay.publish_once()
    assert published == 2
    entries = await redis.xrange(prefix + BOOKING_STREAM)
    ids = [json.loads(fields[WIRE_FIELD.encode()])["id"] for _, fields in entries]
    assert ids == [e.id for e in committed]
    assert await relay.publish_once() == 0  # marked published: never twice
    await db.dispose()


async def test_relay_is_woken_by_commit(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    import asyncio

    db = await make_db(sqlite_database_url)
    relay = make_relay(db, redis_url, prefix, poll_seconds=30.0)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: redis.exists(prefix + BOOKING_STREAM), message="groups made")
        async with db.transaction() as session:
            await emit(session, messaging, booking(7))
        # The poll is 30 s: only the wake-up after commit can deliver it this fast.
        await wait_for(lambda: redis.xlen(prefix + BOOKING_STREAM), timeout=3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()


async def test_a_paced_relay_publishes_a_quiet_commit_at_once_and_a_stream_of_commits_together(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    import asyncio
    import time

    pace = 1.0
    db = await make_db(database_url)
    relay = make_relay(db, redis_url, prefix, poll_seconds=30.0, pace_seconds=pace)
    passes: list[tuple[float, int]] = []  # (when a pass started, rows it published)
    publish_once = relay.publish_once

    async def counted() -> int:
        started = time.monotonic()
        published = await publish_once()
        passes.append((started, published))
        return published

    relay.publish_once = counted  # type: ignore[method-assign]
    stream = prefix + BOOKING_STREAM
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: redis.exists(stream), message="groups made")
        await wait_for(lambda: time.monotonic() - passes[-1][0] > pace, message="a quiet spell")
        async with db.transaction() as session:
            await emit(session, messaging, booking(1))
        # Published at once: the poll is 30 s and the pace has passed since the last pass.
        await wait_for(lambda: redis.xlen(stream), timeout=pace / 2)
        for n in (2, 3, 4):  # three commits in a row, within the pace of that pass
            async with db.transaction() as session:
                await emit(session, messaging, booking(n))
        # Until the pass is over (its rows marked), not only until its entries are out.
        await wait_for(lambda: sum(published for _, published in passes) == 4, timeout=10 * pace)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()
    publishing = [(started, published) for started, published in passes if published]
    assert [published for _, published in publishing] == [1, 3]
    assert publishing[1][0] - publishing[0][0] >= pace
    ids = [json.loads(fields[WIRE_FIELD.encode()])["data"]["booking_id"]
           for _, fields in await redis.xrange(stream)]  # fmt: skip
    assert ids == ["1", "2", "3", "4"]


async def test_duplicate_delivery_has_one_effect(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    event_id = str(uuid.uuid4())
    # Same id published twice (a relay that crashed before marking), plus one other event.
    await redis.xadd(stream, envelope(booking(1), event_id))
    await redis.xadd(stream, envelope(booking(1), event_id))
    await redis.xadd(stream, envelope(booking(2)))
    consumer = make_consumer(db, redis_url, prefix)

    async def caught_up() -> bool:
        return (
            await effect_count(db) >= 2 and not (await redis.xpending(stream, "notify"))["pending"]
        )

    await run_until(consumer, caught_up)
    # Deliver the first one once more, in a later batch.
    await redis.xadd(stream, envelope(booking(1), event_id))
    consumer = make_consumer(db, redis_url, prefix)
    await run_until(consumer, lambda: group_done(redis, stream, "notify"), timeout=10)
    rows = await effect_rows(db)
    assert sorted(b for _, b in rows) == ["1", "2"]
    await db.dispose()


async def test_transient_failure_is_retried_then_applied_once(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    failures = Failures()
    failures.times["5"] = 2
    for n in range(1, 11):
        await redis.xadd(stream, envelope(booking(n)))
    consumer = make_consumer(
        db, redis_url, prefix, handler=recording_handler(failures), max_deliveries=5
    )
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    rows = await effect_rows(db)
    assert sorted(int(b) for _, b in rows) == list(range(1, 11))
    assert failures.calls["5"] == 3  # failed twice, then applied
    assert await redis.xlen(dlq_stream(stream)) == 0
    await db.dispose()


async def test_permanent_failure_goes_to_dead_letters_and_others_proceed(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    failures = Failures()
    failures.always.add("3")
    for n in range(1, 21):
        await redis.xadd(stream, envelope(booking(n)))
    consumer = make_consumer(
        db, redis_url, prefix, handler=recording_handler(failures), max_deliveries=4
    )
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    rows = await effect_rows(db)
    assert sorted(int(b) for _, b in rows) == [n for n in range(1, 21) if n != 3]
    assert failures.calls["3"] == 4  # MAX_DELIVERIES attempts, no more
    letters = await dlq.list_dead_letters(redis, StreamNames(prefix), [BOOKING_STREAM])
    assert len(letters) == 1
    letter = letters[0]
    assert letter.group == "notify"
    assert letter.deliveries == 4
    assert "handler refuses booking 3" in letter.error
    assert parse_data(Envelope.model_validate_json(letter.payload or "")).booking_id == "3"

    # The cause is fixed; ops replay the dead letter: applied once, dead letter gone.
    failures.always.clear()
    new_id = await dlq.replay(redis, StreamNames(prefix), letter)
    assert new_id
    consumer = make_consumer(db, redis_url, prefix, handler=recording_handler(failures))
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    rows = await effect_rows(db)
    assert sorted(int(b) for _, b in rows) == list(range(1, 21))
    assert await redis.xlen(dlq_stream(stream)) == 0
    await db.dispose()


async def test_replay_reaches_only_the_failed_group(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    """A replay is for the group that dead-lettered it; another group acks it unread."""
    from shared.messaging.redis import ensure_group

    stream = prefix + BOOKING_STREAM
    await ensure_group(redis, stream, "catering")
    letter_fields = envelope(booking(9))
    letter_fields["replay_group"] = "notify"
    await redis.xadd(stream, letter_fields)
    db = await make_db(sqlite_database_url)
    other = make_consumer(db, redis_url, prefix, name="other")
    other.group = "catering"
    await run_until(other, lambda: group_done(redis, stream, "catering"))
    assert await effect_count(db) == 0
    await db.dispose()


async def test_poison_entries_go_to_dead_letters(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    poison: list[dict[str, str | bytes]] = [
        {WIRE_FIELD: "this is not json"},
        {"something": "else"},
        {WIRE_FIELD: new_event(booking(1)).model_copy(update={"type": "NoSuchEvent"}).to_json()},
        {
            WIRE_FIELD: new_event(booking(1))
            .model_copy(update={"data": {"booking_id": 5}})
            .to_json()
        },
        {WIRE_FIELD: json.dumps({"id": "x", "padding": "x" * 100_000})},
        {WIRE_FIELD: b"\xff\xfe\x00binary"},
    ]
    pipe = redis.pipeline()
    expected = 0
    for n in range(1000):
        pipe.xadd(stream, envelope(booking(n % 500)))
        expected += 1
        if n % 170 == 0 and poison:
            pipe.xadd(stream, poison.pop())
    for rest in poison:
        pipe.xadd(stream, rest)
    await pipe.execute()
    consumer = make_consumer(db, redis_url, prefix)
    await run_until(consumer, lambda: group_done(redis, stream, "notify"), timeout=60)
    assert await effect_count(db) == expected
    letters = await dlq.list_dead_letters(redis, StreamNames(prefix), [BOOKING_STREAM])
    assert len(letters) == 6
    reasons = " | ".join(letter.error for letter in letters)
    for fragment in (
        "not a valid envelope",
        "no __data__",
        "unknown event type",
        "data invalid",
        "over the limit",
    ):
        assert fragment in reasons
    await db.dispose()


async def test_a_type_the_consumer_does_not_handle_is_acked_whatever_its_data(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    """Only the data of a handled type is checked: another type's entry, even one whose
    data no longer fits its model, is acknowledged and never dead-lettered."""
    db = await make_db(sqlite_database_url)
    stream = prefix + BOOKING_STREAM
    cancelled = new_event(sample("BookingCancelled"))
    await redis.xadd(stream, {WIRE_FIELD: cancelled.model_copy(update={"data": {}}).to_json()})
    await redis.xadd(stream, {WIRE_FIELD: cancelled.to_json()})
    await redis.xadd(stream, envelope(booking(2)))
    consumer = make_consumer(db, redis_url, prefix)
    await run_until(consumer, lambda: group_done(redis, stream, "notify"), timeout=30)
    assert await effect_count(db) == 1
    assert await dlq.list_dead_letters(redis, StreamNames(prefix), [BOOKING_STREAM]) == []
    await db.dispose()


async def test_plain_redis_client_reads_an_event(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    """The wire format needs no FastStream: XRANGE, take `__data__`, parse JSON."""
    db = await make_db(sqlite_database_url)
    relay = make_relay(db, redis_url, prefix)
    async with db.transaction() as session:
        sent = await emit(session, messaging, booking(4), correlation="corr-1")
    await relay.publish_once()
    [(_entry_id, fields)] = await redis.xrange(prefix + BOOKING_STREAM)
    event = json.loads(fields[b"__data__"])
    assert event["specversion"] == "1.0"
    assert event["type"] == "BookingConfirmed"
    assert event["id"] == sent.id
    assert event["source"] == "/knutepunkt/booking"
    assert event["subject"] == "4"
    assert event["correlationid"] == "corr-1"
    assert event["schemaversion"] == 1
    assert event["data"]["booking_id"] == "4"
    assert event["time"].endswith("Z")
    assert decode_entry(fields, 65536).id == sent.id
    await db.dispose()


async def test_faststream_subscriber_reads_the_same_entries(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    """Other teams may consume with FastStream: its subscriber parses our plain JSON."""
    from faststream.redis import RedisBroker, StreamSub

    stream = prefix + BOOKING_STREAM
    received: list[dict[str, Any]] = []
    broker = RedisBroker(redis_url, logger=None)

    @broker.subscriber(stream=StreamSub(stream, group="faststream-test", consumer="c", last_id="0"))
    async def on_event(body: dict[str, Any]) -> None:
        received.append(body)

    sent = new_event(booking(8))
    await redis.xadd(stream, {WIRE_FIELD: sent.to_json()})
    async with broker:
        await broker.start()
        await wait_for(lambda: received, timeout=10)
    assert received[0]["id"] == sent.id
    assert BookingConfirmed.model_validate(received[0]["data"]).booking_id == "8"


async def test_inbox_records_what_was_applied(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(sqlite_database_url)
    stream = prefix + BOOKING_STREAM
    event_id = str(uuid.uuid4())
    await redis.xadd(stream, envelope(booking(1), event_id))
    consumer = make_consumer(db, redis_url, prefix)
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    async with db.read() as s:
        inbox = (await s.execute(select(messaging.inbox))).all()
    assert [(r.event_id, r.type) for r in inbox] == [(event_id, "BookingConfirmed")]
    await db.dispose()


async def test_batch_handler_applies_each_once_and_isolates_a_failure(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    failures = Failures()
    failures.times["42"] = 1
    duplicate = str(uuid.uuid4())
    pipe = redis.pipeline()
    for n in range(300):
        pipe.xadd(stream, envelope(booking(n)))
    pipe.xadd(stream, envelope(booking(1000), duplicate))
    pipe.xadd(stream, envelope(booking(1000), duplicate))
    await pipe.execute()
    consumer = make_consumer(db, redis_url, prefix, handler=recording_batch_handler(failures))
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    rows = await effect_rows(db)
    assert sorted(int(b) for _, b in rows) == [*range(300), 1000]
    assert failures.calls["42"] >= 2  # failed in its batch, applied on a retry
    await db.dispose()


async def test_a_batch_handler_of_several_types_gets_their_runs_at_once(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    """One handler for two types (as notify's for every type) gets the batch's consecutive
    events of both in one call, each once."""
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    calls: list[list[str]] = []

    @batch_handler
    async def on_either(deliveries: list[Delivery[EffectsStore]]) -> None:
        calls.append([d.envelope.type for d in deliveries])
        rows = []
        for d in deliveries:
            assert isinstance(d.data, BookingConfirmed | BookingCancelled)
            rows.append((d.envelope.id, d.data.booking_id, d.uow.now()))
        await deliveries[0].uow.store.apply_many(rows)

    pipe = redis.pipeline()
    for n in range(40):
        data = booking(n)
        if n % 2:
            data = BookingCancelled(**data.model_dump(), cancelled_by="owner")
        pipe.xadd(stream, envelope(data))
    await pipe.execute()
    consumer = make_consumer(
        db, redis_url, prefix, handler=on_either, types=("BookingConfirmed", "BookingCancelled")
    )
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    assert sorted(int(b) for _, b in await effect_rows(db)) == list(range(40))
    assert sum(len(call) for call in calls) == 40
    assert any(set(call) == {"BookingConfirmed", "BookingCancelled"} for call in calls), calls
    await db.dispose()
