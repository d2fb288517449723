"""A minimal producer and consumer on the real backbone, for the backbone's own tests.

The consumer's handler records one row per application in `effects` (no unique key), so a
double application shows up as two rows, through a small store on the unit of work the
consumer binds to its inbox transaction, as a service's handlers do. Failures are injected
per booking id.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import utcnow
from shared.db import Database, UTCDateTime
from shared.events import BookingConfirmed, Contact, EventData, new_event
from shared.hubs import DEFAULT_HUB
from shared.messaging.consumer import (
    Consumer,
    ConsumerConfig,
    Delivery,
    Handler,
    batch_handler,
)
from shared.messaging.outbox import OutboxRelay
from shared.messaging.redis import StreamNames, connect
from shared.messaging.tables import add_messaging_tables
from shared.observability import Metrics
from shared.unit_of_work import UnitsOfWork
from tests.support.streams import group_caught_up

metadata = MetaData()
messaging = add_messaging_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(100), nullable=False),
    Column("booking_id", String(100), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

START = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


class EffectsStore:
    """The backbone tests' store: one `effects` row per application of an event."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def apply(self, event_id: str, booking_id: str, at: datetime) -> None:
        await self.apply_many([(event_id, booking_id, at)])

    async def apply_many(self, rows: list[tuple[str, str, datetime]]) -> None:
        await self.session.execute(
            effects.insert(),
            [{"event_id": e, "booking_id": b, "applied_at": at} for e, b, at in rows],
        )


def booking(n: int | str) -> BookingConfirmed:
    return BookingConfirmed(
        booking_id=str(n),
        hub=DEFAULT_HUB,
        resource_id="room-1",
        resource_name="Møterom 1",
        start=START + timedelta(hours=int(n) if str(n).isdigit() else 0),
        end=START + timedelta(hours=(int(n) if str(n).isdigit() else 0) + 1),
        booker_type="organisation",
        booker=Contact(name="Testklubben", email="klubb@example.org", phone="+4700000000"),
    )


async def make_db(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return db


class Failures:
    """Booking ids whose handler raises: `always`, or the next `n` times."""

    def __init__(self) -> None:
        self.times: dict[str, int] = {}
        self.always: set[str] = set()
        self.calls: dict[str, int] = {}

    def check(self, booking_id: str) -> None:
        self.calls[booking_id] = self.calls.get(booking_id, 0) + 1
        if booking_id in self.always:
            raise RuntimeError(f"handler refuses booking {booking_id}")
        left = self.times.get(booking_id, 0)
        if left > 0:
            self.times[booking_id] = left - 1
            raise RuntimeError(f"transient failure for booking {booking_id}")


def recording_handler(failures: Failures | None = None) -> Handler:
    async def on_confirmed(delivery: Delivery[EffectsStore]) -> None:
        data = delivery.data
        assert isinstance(data, BookingConfirmed)
        if failures:
            failures.check(data.booking_id)
        await delivery.uow.store.apply(delivery.envelope.id, data.booking_id, delivery.uow.now())

    return on_confirmed


def recording_batch_handler(failures: Failures | None = None) -> Handler:
    """The same effect, written with one multi-row insert per batch."""

    @batch_handler
    async def on_confirmed_batch(deliveries: list[Delivery[EffectsStore]]) -> None:
        rows = []
        for delivery in deliveries:
            data = delivery.data
            assert isinstance(data, BookingConfirmed)
            if failures:
                failures.check(data.booking_id)
            rows.append((delivery.envelope.id, data.booking_id, delivery.uow.now()))
        await deliveries[0].uow.store.apply_many(rows)

    return on_confirmed_batch


def make_consumer(
    db: Database,
    redis_url: str,
    prefix: str,
    *,
    name: str = "c1",
    handler: Handler | None = None,
    types: tuple[str, ...] = ("BookingConfirmed",),
    **config: int,
) -> Consumer:
    defaults = {"block_ms": 100, "claim_idle_ms": 1000, "retry_backoff_ms": 20}
    defaults.update(config)
    return Consumer(
        service="notify",
        db=db,
        tables=messaging,
        redis=connect(redis_url),
        names=StreamNames(prefix),
        handlers=dict.fromkeys(types, handler or recording_handler()),
        metrics=Metrics(),
        units=UnitsOfWork(db, messaging, EffectsStore, utcnow),
        config=ConsumerConfig(**defaults),
        name=name,
    )


def make_relay(
    db: Database, redis_url: str, prefix: str, *, poll_seconds: float = 0.05, **kw: Any
) -> OutboxRelay:
    return OutboxRelay(
        service="booking",
        db=db,
        tables=messaging,
        redis=connect(redis_url),
        names=StreamNames(prefix),
        metrics=Metrics(),
        streams=("booking.events",),
        poll_seconds=poll_seconds,
        **kw,
    )


async def effect_rows(db: Database) -> list[tuple[str, str]]:
    async with db.read() as s:
        return [(r.event_id, r.booking_id) for r in await s.execute(select(effects))]


async def group_done(redis: Redis, stream: str, group: str) -> bool:
    """The group has read everything on the stream and acknowledged it."""
    return await group_caught_up(redis, stream, group)


async def applied_at_least(db: Database, n: int) -> bool:
    return await effect_count(db) >= n


async def effect_count(db: Database) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(effects))).scalar_one())


def envelope(data: EventData, event_id: str | None = None) -> dict[str, str]:
    from shared.events import encode_entry

    return encode_entry(new_event(data, event_id=event_id))


async def run_until(consumer: Consumer, done: Callable[[], object], timeout: float = 30) -> None:
    """Run the consumer's loop until `done()` holds (awaited if a coroutine)."""
    from tests.support.waiting import wait_for

    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(done, timeout=timeout, message="consumer caught up")
    finally:
        consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.flush_acks()


async def _main() -> None:
    """A consumer as its own process (for kill tests): env KP_DB, KP_REDIS, KP_PREFIX."""
    db = await make_db(os.environ["KP_DB"])
    consumer = make_consumer(
        db,
        os.environ["KP_REDIS"],
        os.environ["KP_PREFIX"],
        name=os.environ.get("KP_NAME", f"proc-{os.getpid()}"),
        claim_idle_ms=int(os.environ.get("KP_CLAIM_IDLE_MS", "1000")),
        batch=int(os.environ.get("KP_BATCH", "100")),
    )
    print("consumer started", flush=True)
    await consumer.run()


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
