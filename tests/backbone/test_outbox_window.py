"""The outbox's kept window: published rows stay for OUTBOX_KEEP_SECONDS, can be sent again
(Redis lost its data), and a stream that vanished comes back with its consumer groups."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import func, select

from shared.calendar import utcnow
from shared.events import BOOKING_STREAM, CONSUMERS
from shared.messaging.lag import unread_entries
from shared.messaging.outbox import emit
from tests.backbone.harness import (
    booking,
    effect_rows,
    group_done,
    make_consumer,
    make_db,
    make_relay,
    messaging,
    run_until,
)
from tests.support.clock import TestClock


async def _rows(db) -> int:  # type: ignore[no-untyped-def]
    async with db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(messaging.outbox))).scalar()
        )


async def _emit(db, numbers: range) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        return [(await emit(session, messaging, booking(n))).id for n in numbers]


async def test_published_rows_are_kept_for_the_window_then_pruned(
    database_url: str, redis_url: str, prefix: str
) -> None:
    db = await make_db(database_url)
    clock = TestClock(utcnow())
    relay = make_relay(db, redis_url, prefix, keep_seconds=3600, clock=clock)
    await _emit(db, range(5))
    assert await relay.publish_once() == 5
    clock.advance(timedelta(seconds=3599))
    assert await relay.prune() == 0
    assert await _rows(db) == 5
    clock.advance(timedelta(seconds=2))
    assert await relay.prune() == 5
    assert await _rows(db) == 0
    await db.dispose()


async def test_unpublished_rows_are_never_pruned(
    database_url: str, redis_url: str, prefix: str
) -> None:
    db = await make_db(database_url)
    clock = TestClock(utcnow())
    relay = make_relay(db, redis_url, prefix, keep_seconds=0, clock=clock)
    await _emit(db, range(3))
    clock.advance(timedelta(days=30))
    assert await relay.prune() == 0
    assert await _rows(db) == 3
    await db.dispose()


async def test_republish_sends_the_window_again_and_consumers_apply_it_once(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    relay = make_relay(db, redis_url, prefix)
    await _emit(db, range(3))
    since = utcnow()
    window = await _emit(db, range(3, 7))
    assert await relay.publish_once() == 7
    consumer = make_consumer(db, redis_url, prefix)
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    assert len(await effect_rows(db)) == 7

    await redis.delete(stream)  # Redis lost its data
    await _emit(db, range(7, 9))  # committed, not yet published: the relay's, not ours
    done = await relay.republish(since)
    assert done.streams == {BOOKING_STREAM: 4}
    assert done.complete
    on_stream = await redis.xrange(stream)
    assert len(on_stream) == 4
    groups = {g["name"].decode() for g in await redis.xinfo_groups(stream)}
    assert groups == set(CONSUMERS[BOOKING_STREAM])

    assert await relay.publish_once() == 2
    consumer = make_consumer(db, redis_url, prefix)
    await run_until(consumer, lambda: group_done(redis, stream, "notify"))
    rows = await effect_rows(db)
    assert sorted(int(b) for _, b in rows) == list(range(9))  # the window applied once
    assert not set(window) - {e for e, _ in rows}
    await db.dispose()


async def test_republish_of_a_window_older_than_kept_says_it_is_incomplete(
    sqlite_database_url: str, redis_url: str, prefix: str
) -> None:
    db = await make_db(sqlite_database_url)
    relay = make_relay(db, redis_url, prefix, keep_seconds=3600)
    await _emit(db, range(2))
    await relay.publish_once()
    done = await relay.republish(utcnow() - timedelta(hours=2))
    assert done.total == 2
    assert not done.complete
    await db.dispose()


async def test_a_vanished_stream_comes_back_with_its_consumer_groups(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    relay = make_relay(db, redis_url, prefix)
    await _emit(db, range(2))
    await relay.publish_once()
    await redis.delete(stream)
    await _emit(db, range(2, 3))
    assert await relay.publish_once() == 1
    groups = {g["name"].decode(): g for g in await redis.xinfo_groups(stream)}
    assert set(groups) == set(CONSUMERS[BOOKING_STREAM])
    # Made before the entry, at 0: every group still has it to read.
    assert [await unread_entries(redis, stream, g) for g in groups.values()] == [1] * len(groups)
    await db.dispose()
