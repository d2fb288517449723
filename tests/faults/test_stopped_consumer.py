"""A consumer that stops (SIGSTOP: alive, answering nothing) while its producer is busy,
then comes back: booking and catering as real processes.

What must hold (issue 14): the producer is not held back (every request answered 201, its
outbox drains), the stream keeps every unconsumed event, `knutepunkt status` shows the
group's lag and the age of its oldest unconsumed event, the consumer's `/metrics` shows
both while it catches up, and it catches up a bounded batch at a time (never more entries
read and unacknowledged than a read batch and a reclaim batch of CONSUMER_BATCH), applying
every event once."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from typer.testing import Result

from shared.events import BOOKING_STREAM
from tests.faults.fleet import base_env as fault_env
from tests.faults.fleet import (
    cli,
    cli_env,
    peak_rss_kib,
    start_all,
    stop_all,
    stream_event_ids,
    write_log_dir,
)
from tests.faults.load import (
    SLOT_STARTS,
    Answers,
    booking_body,
    free_slots,
    open_days,
    send,
    series_body,
)
from tests.support.processes import ServiceProcess
from tests.support.streams import group_caught_up
from tests.support.waiting import wait_for, wait_for_sync

pytestmark = pytest.mark.slow

BATCH = 10
SERIES_DAYS = 40


async def _gauges(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    text = (await client.get(f"{url}/metrics")).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("stream") == BOOKING_STREAM or not sample.labels
    }


async def _max_pending_per_consumer(redis: Redis, stream: str, group: str) -> int:
    consumers = await redis.xinfo_consumers(stream, group)
    return max((int(c["pending"]) for c in consumers), default=0)


async def test_stopped_consumer_lags_visibly_then_catches_up_a_batch_at_a_time(
    tmp_path: Path, redis_url: str, prefix: str, redis: Redis
) -> None:
    logs = write_log_dir(tmp_path)
    stream = prefix + BOOKING_STREAM
    env = fault_env(
        redis_url,
        prefix,
        BOOKING_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'booking.db'}",
        CATERING_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'catering.db'}",
    )
    booking = ServiceProcess("booking", env, logs)
    catering = ServiceProcess("catering", {**env, "CONSUMER_BATCH": str(BATCH)}, logs)
    procs = [booking, catering]
    try:
        await start_all(procs)
        assert catering.proc
        singles = free_slots(rooms=("moterom-1",))
        async with httpx.AsyncClient(timeout=30) as client:
            warm = Answers()
            for n in range(3):
                room, start = next(singles)
                warm.add(
                    await send(
                        client,
                        "POST",
                        f"{booking.url}/bookings",
                        json=booking_body(room, start, n, catering=False),
                    )
                )
            assert warm.statuses == {201: 3}, warm.summary()
            await wait_for(
                lambda: _group_done(redis, stream, "catering"), timeout=30, message="warm-up"
            )

            catering.proc.send_signal(signal.SIGSTOP)
            answers = Answers()
            days = [d for _, d in zip(range(SERIES_DAYS), open_days(), strict=False)]
            requests = [
                ("POST", f"{booking.url}/bookings/series", series_body("moterom-2", start, days, n))
                for n, start in enumerate(SLOT_STARTS)
            ] + [
                (
                    "POST",
                    f"{booking.url}/bookings",
                    booking_body(*next(singles), 100 + n, catering=False),
                )
                for n in range(40)
            ]

            async def worker(todo: list[tuple[str, str, dict[str, Any]]]) -> None:
                for method, url, body in todo:
                    answers.add(await send(client, method, url, json=body))

            await asyncio.gather(*(worker(requests[i::4]) for i in range(4)))
            assert answers.statuses == {201: len(requests)}, answers.summary()
            booked = sum(len(a.body["booked"]) if "booked" in a.body else 1 for a in answers.items)

            # The producer published everything; the stream holds it for the stopped group.
            await wait_for(
                lambda: _outbox_drained(client, booking.url), timeout=30, message="outbox"
            )
            assert sum((await stream_event_ids(redis, stream)).values()) >= booked + 3

            ops_env = cli_env(procs, redis_url, prefix)

            def status() -> Result:
                return cli(ops_env, "status", "--json", "--max-lag", "100", "--max-lag-age", "1")

            def lagging_for_a_second() -> dict[str, Any] | None:
                found = _group(status().stdout, BOOKING_STREAM, "catering")
                return found if found["oldest_unconsumed_age_seconds"] > 1 else None

            group = await asyncio.to_thread(
                wait_for_sync, lagging_for_a_second, 30, 0.2, "status shows the lag"
            )
            # A read that was blocked when the process stopped still got its batch: pending.
            assert group["lag"] + group["pending"] >= booked
            shown = await asyncio.to_thread(status)
            assert shown.exit_code == 1
            problems = " ".join(json.loads(shown.stdout)["problems"])
            assert "group catering lags" in problems
            assert "group catering has not consumed an event" in problems

            rss_before, _ = peak_rss_kib(catering.proc.pid)
            catering.proc.send_signal(signal.SIGCONT)
            seen_pending: list[int] = []
            seen_metrics: list[dict[str, float]] = []

            async def caught_up() -> bool:
                seen_pending.append(await _max_pending_per_consumer(redis, stream, "catering"))
                if len(seen_metrics) < 50:
                    seen_metrics.append(await _gauges(client, catering.url))
                return await _group_done(redis, stream, "catering")

            await wait_for(caught_up, timeout=120, interval=0.01, message="catering caught up")
            _, rss_peak = peak_rss_kib(catering.proc.pid)
            catering_inbox = await _inbox_count(tmp_path / "catering.db")
    finally:
        if catering.proc and catering.alive:
            catering.proc.send_signal(signal.SIGCONT)
        stop_all(procs)

    # Unacknowledged at any moment: one read batch (its acks ride with the next read) and
    # at most one batch of entries idle long enough to reclaim. Never the backlog.
    assert max(seen_pending) <= 2 * BATCH, f"read ahead of its batches: {max(seen_pending)}"
    assert max(seen_pending) > 0, "never saw the consumer mid-batch"
    lags = [m.get("consumer_group_lag", 0) for m in seen_metrics]
    ages = [m.get("consumer_group_lag_seconds", 0) for m in seen_metrics]
    assert max(lags) > 0 and max(ages) > 1, "catering's /metrics never showed its lag"
    assert catering_inbox >= booked + 3  # every event applied (the inbox holds each once)
    print(f"catering RSS {rss_before} KiB before catching up, peak {rss_peak} KiB")


def _group(text: str, stream: str, name: str) -> dict[str, Any]:
    found = next(s for s in json.loads(text)["streams"] if s["name"] == stream)
    return next(g for g in found["groups"] if g["name"] == name)


async def _group_done(redis: Redis, stream: str, group: str) -> bool:
    return await group_caught_up(redis, stream, group)


async def _outbox_drained(client: httpx.AsyncClient, url: str) -> bool:
    gauges = await _gauges(client, url)
    return gauges.get("outbox_backlog", 1) == 0


async def _inbox_count(path: Path) -> int:
    async with aiosqlite.connect(path) as db:
        cursor = await db.execute("SELECT count(*) FROM inbox WHERE stream = ?", (BOOKING_STREAM,))
        row = await cursor.fetchone()
        return int(row[0]) if row else 0
