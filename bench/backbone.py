"""End-to-end speed of the backbone against raw redis-py, measured in the same run.

Backbone: commit (outbox row, 100 events per transaction) → relay → XADD → consumer group
read → handler + inbox in one transaction → XACK. Baseline: pipelined XADD, and a consumer
doing XREADGROUP COUNT 100 with one XACK per batch. Both use two processes (producer,
consumer), as the services run. Prints events/s, the ratio, and the latency from commit to
handled (p50/p99).

    python bench/backbone.py [--events 20000] [--db sqlite|postgres] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from shared.events import BOOKING_STREAM, Envelope, encode_entry, new_event
from tests.backbone.harness import (
    applied_at_least,
    booking,
    make_consumer,
    make_db,
    make_relay,
    messaging,
)
from tests.support.waiting import wait_for

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


# --- backbone ---------------------------------------------------------------------------


def _backbone_consumer(db_url: str, prefix: str, total: int, out: mp.Queue) -> None:
    async def go() -> None:
        db = await make_db(db_url)
        latencies: list[float] = []
        finished = asyncio.Event()
        from shared.messaging.consumer import Delivery, batch_handler
        from tests.backbone.harness import EffectsStore

        @batch_handler
        async def handler(deliveries: list[Delivery[EffectsStore]]) -> None:
            now = datetime.now(UTC)
            latencies.extend((now - d.envelope.time).total_seconds() for d in deliveries)
            if len(latencies) >= total:
                # Counted before commit; the consumer loop commits right after this returns.
                asyncio.get_running_loop().call_soon(finished.set)
            # The handler sees a unit of work bound to the inbox transaction, as services do.
            await deliveries[0].uow.store.apply_many(
                [
                    (d.envelope.id, d.data.booking_id, now)  # type: ignore[attr-defined]  # BookingConfirmed
                    for d in deliveries
                ]
            )

        consumer = make_consumer(db, REDIS_URL, prefix, handler=handler, block_ms=50)
        out.put("ready")
        task = asyncio.create_task(consumer.run())
        await finished.wait()
        await wait_for(lambda: applied_at_least(db, total), timeout=60)
        done = time.perf_counter()
        consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.flush_acks()
        out.put((done, latencies))

    asyncio.run(go())


async def _backbone_producer(db_url: str, prefix: str, total: int, per_tx: int) -> float:
    db = await make_db(db_url)
    relay = make_relay(db, REDIS_URL, prefix, batch=1000, poll_seconds=0.05)
    relay_task = asyncio.create_task(relay.run())
    # Events are built before the clock starts, in both runs: what is timed is the path
    # from serialising and committing them to their being handled.
    events = [new_event(booking(n)) for n in range(total)]
    start = time.perf_counter()
    for chunk in range(0, total, per_tx):
        async with db.transaction() as session:
            from shared.messaging.outbox import emit_envelopes

            await emit_envelopes(
                session,
                messaging,
                # Stamped now, so the latency is measured from this commit.
                [
                    e.model_copy(update={"time": datetime.now(UTC)})
                    for e in events[chunk : chunk + per_tx]
                ],
            )
        await asyncio.sleep(0)
    await wait_for(_backlog_empty(relay), timeout=600, interval=0.01)
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await db.dispose()
    return start


def run_backbone(db_url: str, total: int, per_tx: int) -> tuple[float, list[float]]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    consumer_db = db_url.replace("producer", "consumer")
    proc = ctx.Process(target=_backbone_consumer, args=(consumer_db, prefix, total, out))
    proc.start()
    assert out.get(timeout=60) == "ready"
    start = asyncio.run(_backbone_producer(db_url, prefix, total, per_tx))
    done, latencies = out.get(timeout=600)
    proc.join(30)
    asyncio.run(_cleanup(prefix))
    return total / (done - start), latencies


def _backlog_empty(relay):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return (await relay.backlog())[0] == 0

    return check


# --- raw baseline -----------------------------------------------------------------------


async def _raw_consume(stream: str, total: int, on_ready) -> float:  # type: ignore[no-untyped-def]
    r = Redis.from_url(REDIS_URL)
    await r.xgroup_create(stream, "g", id="0", mkstream=True)
    on_ready()
    seen = 0
    while seen < total:
        resp = await r.xreadgroup("g", "c", {stream: ">"}, count=100, block=1000)
        for _name, entries in resp or []:
            for _entry_id, fields in entries:
                Envelope.model_validate_json(fields[b"__data__"])  # same parse work
            seen += len(entries)
            await r.xack(stream, "g", *[i for i, _ in entries])
    await r.aclose()
    return time.perf_counter()


def _raw_consumer(stream: str, total: int, out: mp.Queue) -> None:
    out.put(asyncio.run(_raw_consume(stream, total, lambda: out.put("ready"))))


async def _raw_producer(stream: str, total: int) -> float:
    r = Redis.from_url(REDIS_URL)
    events = [new_event(booking(n)) for n in range(total)]
    start = time.perf_counter()
    payloads = [encode_entry(e) for e in events]
    for chunk in range(0, total, 1000):
        pipe = r.pipeline(transaction=False)
        for fields in payloads[chunk : chunk + 1000]:
            pipe.xadd(stream, fields)
        await pipe.execute()
    await r.aclose()
    return start


def run_raw(total: int) -> float:
    """Producer and consumer in two processes."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    stream = prefix + BOOKING_STREAM
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_raw_consumer, args=(stream, total, out))
    proc.start()
    assert out.get(timeout=60) == "ready"
    start = asyncio.run(_raw_producer(stream, total))
    done = out.get(timeout=600)
    proc.join(30)
    asyncio.run(_cleanup(prefix))
    return total / (done - start)


def run_raw_one_process(total: int) -> float:
    """Producer and consumer as two tasks of one process (GIL-bound)."""

    async def go() -> float:
        prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        stream = prefix + BOOKING_STREAM
        ready = asyncio.Event()
        consumer = asyncio.create_task(_raw_consume(stream, total, ready.set))
        await ready.wait()
        start = await _raw_producer(stream, total)
        done = await consumer
        await _cleanup(prefix)
        return total / (done - start)

    return asyncio.run(go())


async def _cleanup(prefix: str) -> None:
    r = Redis.from_url(REDIS_URL)
    keys = [k async for k in r.scan_iter(match=f"{prefix}*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-transaction", type=int, default=100)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1/postgres"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            db_url = f"sqlite+aiosqlite:///{tmp}/producer.db"
        else:
            db_url = asyncio.run(_pg_databases(args.postgres_url))
        print(
            f"layout: 2 processes (producer+relay | consumer); {args.events} events; "
            f"{args.per_transaction} events per producer transaction; db={args.db}"
        )
        raw2 = run_raw(args.events)
        raw1 = run_raw_one_process(args.events)
        print(f"raw redis-py baseline, 2 processes: {raw2:10,.0f} events/s")
        print(f"raw redis-py baseline, 1 process  : {raw1:10,.0f} events/s")
        rate, latencies = run_backbone(db_url, args.events, args.per_transaction)
        print(f"backbone end to end, 2 processes  : {rate:10,.0f} events/s")
        print(f"ratio to the 2-process baseline   : {rate / raw2:10.2f}")
        print(f"ratio to the 1-process baseline   : {rate / raw1:10.2f}")
        print(
            f"commit→handled latency          : p50 {_pct(latencies, 0.5):.1f} ms, "
            f"p99 {_pct(latencies, 0.99):.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms"
        )
        if args.db == "postgres":
            asyncio.run(_pg_drop(args.postgres_url))


_PG_NAMES = ["kp_bench_producer", "kp_bench_consumer"]


async def _pg_databases(admin_url: str) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    plain = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(plain)
    for name in _PG_NAMES:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=_PG_NAMES[0])
    return url.render_as_string(False)


async def _pg_drop(admin_url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    plain = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(plain)
    for name in _PG_NAMES:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


if __name__ == "__main__":
    main()
