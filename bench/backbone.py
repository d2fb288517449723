"""End-to-end speed of the backbone against raw redis-py, measured in the same run.

Backbone: commit (outbox row, 100 events per transaction) → relay → XADD → consumer group
read → handler + inbox in one transaction → XACK. Baseline: pipelined XADD, and a consumer
doing XREADGROUP COUNT 100 with one XACK per batch. Both use two processes (producer,
consumer), as the services run. Prints events/s, the ratio, the latency from commit to
handled (p50/p99), and for each process of both runs its SQL statements, Redis commands and
CPU time per event and its peak RSS (bench/probe.py).

    python bench/backbone.py [--events 20000] [--db sqlite|postgres] [--postgres-url URL]
                             [--read-count 100] [--turns 3]

The baseline and the backbone take turns (`--turns`, each turn `--events` of each, the
backbone on empty databases each time); the ratio is of the sums, each turn's printed.
It also prints each backbone process's resident memory after a tenth of the events (at
most 10,000) and at the end of the last turn: `--events 100000 --turns 1` is the soak that
shows whether memory grows with the events that went through (a leak) or stays (within
10 %).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from bench.probe import Counts, Probe, current_rss_mb, percentile
from shared.events import BOOKING_STREAM, Envelope, encode_entry, new_event
from tests.backbone.harness import (
    applied_at_least,
    booking,
    make_consumer,
    make_db,
    make_relay,
    messaging,
)
from tests.support.databases import create_postgres_database, drop_postgres_database
from tests.support.prefixes import delete_prefixed
from tests.support.waiting import wait_for

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Entries per read (XREADGROUP COUNT), the same for the raw consumer and the backbone's: the
# services' default CONSUMER_BATCH. An environment variable, so the spawned processes see it.
READ_COUNT = int(os.environ.get("BENCH_READ_COUNT", "100"))
# The raw baseline and the backbone take turns (docs/bench.md, "in turns"): a shared host's
# speed drifts within a minute, and one stretch each put that drift in the ratio.
TURNS = 3


# --- backbone ---------------------------------------------------------------------------


def _backbone_consumer(db_url: str, prefix: str, total: int, out: mp.Queue) -> None:
    probe = Probe.install()

    async def go() -> None:
        db = await make_db(db_url)
        # Compact: the bench's own memory must not grow much with the events either.
        latencies = array.array("d")
        rss: dict[str, float] = {}
        finished = asyncio.Event()
        from shared.messaging.consumer import Delivery, batch_handler
        from tests.backbone.harness import EffectsStore

        @batch_handler
        async def handler(deliveries: list[Delivery[EffectsStore]]) -> None:
            now = datetime.now(UTC)
            latencies.extend((now - d.envelope.time).total_seconds() for d in deliveries)
            if "early" not in rss and len(latencies) >= _early(total):
                rss["early"] = current_rss_mb()
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

        consumer = make_consumer(
            db, REDIS_URL, prefix, handler=handler, block_ms=50, batch=READ_COUNT
        )
        out.put("ready")
        before = probe.snapshot()
        task = asyncio.create_task(consumer.run())
        await finished.wait()
        await wait_for(lambda: applied_at_least(db, total), timeout=60)
        done = time.perf_counter()
        consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.flush_acks()
        rss["end"] = current_rss_mb()
        out.put((done, list(latencies), probe.snapshot() - before, rss))

    asyncio.run(go())


async def _backbone_producer(
    db_url: str, prefix: str, total: int, per_tx: int, probe: Probe
) -> tuple[float, Counts, dict[str, float]]:
    db = await make_db(db_url)
    relay = make_relay(db, REDIS_URL, prefix, batch=1000, poll_seconds=0.05)
    # Events are built before the clock starts, in both runs: what is timed is the path
    # from serialising and committing them to their being handled.
    events = [new_event(booking(n)) for n in range(total)]
    rss: dict[str, float] = {}
    before = probe.snapshot()
    relay_task = asyncio.create_task(relay.run())
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
        if "early" not in rss and chunk + per_tx >= _early(total):
            rss["early"] = current_rss_mb()
    # The backlog check's own statements are the bench's, not the relay's.
    spent = probe.snapshot() - before
    while (await relay.backlog())[0]:
        spent = probe.snapshot() - before
        await asyncio.sleep(0.01)
    rss["end"] = current_rss_mb()
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await db.dispose()
    return start, spent, rss


def _producer_process(
    db_url: str, prefix: str, total: int, per_tx: int, go: Any, out: mp.Queue
) -> None:
    probe = Probe.install()
    go.wait()
    out.put(asyncio.run(_backbone_producer(db_url, prefix, total, per_tx, probe)))


def _early(total: int) -> int:
    """Where the first memory reading is taken: a tenth of the events, at most 10,000."""
    return min(10_000, max(1, total // 10))


@dataclass
class Run:
    rate: float
    producer: Counts
    consumer: Counts
    latencies: list[float]
    producer_rss: dict[str, float]
    consumer_rss: dict[str, float]


def run_backbone(db_url: str, consumer_db: str, total: int, per_tx: int) -> Run:
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    produced: mp.Queue = ctx.Queue()
    go = ctx.Event()
    proc = ctx.Process(target=_backbone_consumer, args=(consumer_db, prefix, total, out))
    producer = ctx.Process(
        target=_producer_process, args=(db_url, prefix, total, per_tx, go, produced)
    )
    proc.start()
    producer.start()
    assert out.get(timeout=60) == "ready"
    go.set()
    start, producer_counts, producer_rss = produced.get(timeout=600)
    done, latencies, consumer_counts, consumer_rss = out.get(timeout=600)
    proc.join(30)
    producer.join(30)
    asyncio.run(delete_prefixed(REDIS_URL, prefix))
    return Run(
        total / (done - start),
        producer_counts,
        consumer_counts,
        latencies,
        producer_rss,
        consumer_rss,
    )


# --- raw baseline -----------------------------------------------------------------------


async def _raw_consume(stream: str, total: int, on_ready) -> float:  # type: ignore[no-untyped-def]
    r = Redis.from_url(REDIS_URL)
    await r.xgroup_create(stream, "g", id="0", mkstream=True)
    on_ready()
    seen = 0
    while seen < total:
        resp = await r.xreadgroup("g", "c", {stream: ">"}, count=READ_COUNT, block=1000)
        for _name, entries in resp or []:
            for _entry_id, fields in entries:
                Envelope.model_validate_json(fields[b"__data__"])  # same parse work
            seen += len(entries)
            await r.xack(stream, "g", *[i for i, _ in entries])
    await r.aclose()
    return time.perf_counter()


def _raw_consumer(stream: str, total: int, out: mp.Queue) -> None:
    probe = Probe.install()
    before: list[Counts] = []

    def ready() -> None:
        before.append(probe.snapshot())
        out.put("ready")

    done = asyncio.run(_raw_consume(stream, total, ready))
    out.put((done, probe.snapshot() - before[0]))


async def _raw_producer(stream: str, total: int, on_start=None) -> float:  # type: ignore[no-untyped-def]
    r = Redis.from_url(REDIS_URL)
    events = [new_event(booking(n)) for n in range(total)]
    if on_start:
        on_start()
    start = time.perf_counter()
    payloads = [encode_entry(e) for e in events]
    for chunk in range(0, total, 1000):
        pipe = r.pipeline(transaction=False)
        for fields in payloads[chunk : chunk + 1000]:
            pipe.xadd(stream, fields)
        await pipe.execute()
    await r.aclose()
    return start


def _raw_producer_process(stream: str, total: int, go: Any, out: mp.Queue) -> None:
    probe = Probe.install()
    go.wait()
    before: list[Counts] = []
    start = asyncio.run(_raw_producer(stream, total, lambda: before.append(probe.snapshot())))
    out.put((start, probe.snapshot() - before[0]))


def run_raw(total: int) -> tuple[float, Counts, Counts]:
    """Producer and consumer in two processes."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    stream = prefix + BOOKING_STREAM
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    produced: mp.Queue = ctx.Queue()
    go = ctx.Event()
    proc = ctx.Process(target=_raw_consumer, args=(stream, total, out))
    producer = ctx.Process(target=_raw_producer_process, args=(stream, total, go, produced))
    proc.start()
    producer.start()
    assert out.get(timeout=60) == "ready"
    go.set()
    start, producer_counts = produced.get(timeout=600)
    done, consumer_counts = out.get(timeout=600)
    proc.join(30)
    producer.join(30)
    asyncio.run(delete_prefixed(REDIS_URL, prefix))
    return total / (done - start), producer_counts, consumer_counts


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
        await delete_prefixed(REDIS_URL, prefix)
        return total / (done - start)

    return asyncio.run(go())


def main() -> None:
    global READ_COUNT
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-transaction", type=int, default=100)
    parser.add_argument(
        "--read-count",
        type=int,
        default=READ_COUNT,
        help="entries per consumer read, raw and backbone alike (CONSUMER_BATCH; default 100)",
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1/postgres"
        ),
    )
    parser.add_argument(
        "--turns",
        type=int,
        default=TURNS,
        help="runs of each side, taking turns (default 3; the soak: 1)",
    )
    args = parser.parse_args()
    os.environ["BENCH_READ_COUNT"] = str(args.read_count)
    READ_COUNT = args.read_count
    n = args.events
    print(
        f"layout: 2 processes (producer+relay | consumer); {n} events a turn, {args.turns} "
        f"turns; {args.per_transaction} events per producer transaction; "
        f"{args.read_count} per consumer read; db={args.db}"
    )
    # Seconds of each side, summed over the turns; the runs' counts and latencies likewise.
    raw2 = raw1 = backbone = 0.0
    raw_producer, raw_consumer, producer, consumer = Counts(), Counts(), Counts(), Counts()
    latencies: list[float] = []
    run: Run | None = None
    for turn in range(1, args.turns + 1):
        rate2, turn_producer, turn_consumer = run_raw(n)
        rate1 = run_raw_one_process(n)
        run = _backbone_turn(args, n)
        raw2, raw1, backbone = raw2 + n / rate2, raw1 + n / rate1, backbone + n / run.rate
        raw_producer, raw_consumer = raw_producer + turn_producer, raw_consumer + turn_consumer
        producer, consumer = producer + run.producer, consumer + run.consumer
        latencies.extend(run.latencies)
        print(
            f"turn {turn}: raw {rate2:,.0f} (1 process {rate1:,.0f}), backbone "
            f"{run.rate:,.0f} events/s: ratio {run.rate / rate2:.2f}"
        )
    assert run is not None, "--turns must be at least 1"
    total = n * args.turns
    print(f"raw redis-py baseline, 2 processes: {total / raw2:10,.0f} events/s")
    print(f"raw redis-py baseline, 1 process  : {total / raw1:10,.0f} events/s")
    print(f"backbone end to end, 2 processes  : {total / backbone:10,.0f} events/s")
    print(f"ratio to the 2-process baseline   : {raw2 / backbone:10.2f}")
    print(f"ratio to the 1-process baseline   : {raw1 / backbone:10.2f}")
    print(
        f"commit→handled latency          : p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.1f} ms"
    )
    print("per process, per event:")
    print(f"  raw producer         {raw_producer.per(total, 'event')}")
    print(f"  raw consumer         {raw_consumer.per(total, 'event')}")
    print(f"  backbone producer    {producer.per(total, 'event')}  (writes + relay)")
    print(f"  backbone consumer    {consumer.per(total, 'event')}")
    print(f"resident memory at {_early(n):,} events and at {n:,} (the last turn's processes):")
    for name, rss in (("producer", run.producer_rss), ("consumer", run.consumer_rss)):
        print(
            f"  backbone {name:<11} {rss['early']:6.0f} MB -> {rss['end']:6.0f} MB"
            f"  ({rss['end'] / rss['early']:.2f})"
        )


def _backbone_turn(args: argparse.Namespace, n: int) -> Run:
    """One run of the backbone on databases of its own: each turn starts from empty ones,
    as the first did."""
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            return run_backbone(
                f"sqlite+aiosqlite:///{tmp}/producer.db",
                f"sqlite+aiosqlite:///{tmp}/consumer.db",
                n,
                args.per_transaction,
            )
        # Databases of its own, so that two runs at once (other work) do not collide.
        (db_url, producer_name), (consumer_db, consumer_name) = [
            asyncio.run(create_postgres_database(args.postgres_url)) for _ in range(2)
        ]
        try:
            return run_backbone(db_url, consumer_db, n, args.per_transaction)
        finally:
            for name in (producer_name, consumer_name):
                asyncio.run(drop_postgres_database(args.postgres_url, name))


if __name__ == "__main__":
    main()
