"""The backbone under failure: Redis down, a consumer killed mid-run, two relays at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI, Request
from redis.asyncio import Redis

from shared.events import BOOKING_STREAM, WIRE_FIELD
from shared.messaging.outbox import OutboxRelay, emit
from shared.service import Runtime, ServiceSpec
from tests.backbone.harness import (
    applied_at_least,
    booking,
    effect_rows,
    envelope,
    group_done,
    make_consumer,
    make_db,
    make_relay,
    messaging,
    metadata,
)
from tests.support.apps import running_service
from tests.support.processes import ROOT
from tests.support.servers import redis_server
from tests.support.waiting import wait_for


def _producer_api(app: FastAPI) -> None:
    @app.post("/bookings/{n}", status_code=201)
    async def confirm(n: int, request: Request) -> dict[str, str]:
        runtime: Runtime = request.app.state.runtime
        async with runtime.db.transaction() as session:
            event = await emit(session, messaging, booking(n))
        return {"event_id": event.id}


async def _create_tables(runtime: Runtime) -> None:
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


PRODUCER = ServiceSpec(
    name="booking",
    metadata=metadata,
    tables=messaging,
    produces=(BOOKING_STREAM,),
    build_api=_producer_api,
    setup=_create_tables,
)


async def test_redis_down_requests_succeed_and_events_arrive_once_in_order(
    database_url: str, tmp_path: Path
) -> None:
    prefix = "outage:"
    consumer_db = await make_db(f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}")
    with redis_server(persistent=True) as server:
        async with running_service(
            PRODUCER,
            database_url=database_url,
            redis_url=server.url,
            prefix=prefix,
            migrate_on_start=False,
            outbox_poll_seconds=0.1,
        ) as producer:
            consumer = make_consumer(consumer_db, server.url, prefix)
            task = asyncio.create_task(consumer.run())
            try:
                for n in range(1, 51):
                    assert (await producer.client.post(f"/bookings/{n}")).status_code == 201
                await wait_for(lambda: applied_at_least(consumer_db, 50), timeout=20)

                server.stop()
                ready = await producer.client.get("/health/ready")
                assert ready.status_code == 503
                assert ready.json()["redis"].startswith("down")
                for n in range(51, 101):
                    response = await producer.client.post(f"/bookings/{n}")
                    assert response.status_code == 201, response.text
                backlog, _age = await producer.runtime.relay.backlog()
                assert backlog == 50  # waiting in the outbox, not lost

                server.start()
                await wait_for(lambda: applied_at_least(consumer_db, 100), timeout=30)
                assert (await producer.client.get("/health/ready")).status_code == 200
            finally:
                consumer.stop()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    rows = await effect_rows(consumer_db)
    assert [int(b) for _, b in rows] == list(range(1, 101))  # each once, in order
    await consumer_db.dispose()


def _consumer_process(db_url: str, redis_url: str, prefix: str, name: str, log: Path):
    env = {
        **os.environ,
        "KP_DB": db_url,
        "KP_REDIS": redis_url,
        "KP_PREFIX": prefix,
        "KP_NAME": name,
        "KP_CLAIM_IDLE_MS": "1000",
        "KP_BATCH": "50",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.backbone.harness"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_consumer_killed_mid_run_applies_every_event_exactly_once(
    database_url: str, redis_url: str, prefix: str, redis: Redis, tmp_path: Path
) -> None:
    total = 5000
    db = await make_db(database_url)
    stream = prefix + BOOKING_STREAM
    first = _consumer_process(database_url, redis_url, prefix, "doomed", tmp_path / "a.log")
    second = None
    try:
        pipe = redis.pipeline(transaction=False)
        for n in range(total):
            pipe.xadd(stream, envelope(booking(n)))
        await pipe.execute()
        await wait_for(lambda: applied_at_least(db, 800), timeout=60, message="first consumer")
        first.send_signal(signal.SIGKILL)  # mid-run: a batch in flight, entries pending
        first.wait(10)
        pending_after_kill = (await redis.xpending(stream, "notify"))["pending"]
        second = _consumer_process(database_url, redis_url, prefix, "heir", tmp_path / "b.log")
        await wait_for(lambda: applied_at_least(db, total), timeout=120, message="all applied")

        await wait_for(
            lambda: group_done(redis, stream, "notify"), timeout=30, message="group settled"
        )
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    rows = await effect_rows(db)
    assert len(rows) == total, f"{len(rows)} effects for {total} events"
    assert len({event_id for event_id, _ in rows}) == total
    assert pending_after_kill > 0  # it died holding entries: the heir had to reclaim them
    await db.dispose()


async def test_two_relays_on_postgres_publish_each_row_once(
    postgres_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    db = await make_db(postgres_database_url)
    relays = [make_relay(db, redis_url, prefix, batch=50) for _ in range(2)]
    sent: list[str] = []

    async def produce() -> None:
        for chunk in range(20):
            async with db.transaction() as session:
                for n in range(25):
                    sent.append((await emit(session, messaging, booking(chunk * 25 + n))).id)

    async def relay_loop(relay: OutboxRelay) -> None:
        for _ in range(200):
            await relay.publish_once()

    await asyncio.gather(produce(), relay_loop(relays[0]), relay_loop(relays[1]))
    while await relays[0].publish_once():
        pass
    entries = await redis.xrange(prefix + BOOKING_STREAM)
    ids = [json.loads(f[WIRE_FIELD.encode()])["id"] for _, f in entries]
    assert sorted(ids) == sorted(sent)
    assert len(ids) == len(set(ids)) == 500
    await db.dispose()


async def test_ready_endpoint_reports_database_and_redis(
    sqlite_database_url: str, redis_url: str, prefix: str
) -> None:
    async with running_service(
        PRODUCER,
        database_url=sqlite_database_url,
        redis_url=redis_url,
        prefix=prefix,
        migrate_on_start=False,
    ) as producer:
        body = (await producer.client.get("/health/ready")).json()
        assert body["database"] == "ok" and body["redis"] == "ok"
        metrics = await producer.client.get("/metrics")
        assert "outbox_backlog" in metrics.text
