"""Redis loses its data (restarted without its AOF) while the hub runs: booking, catering
and notify as real processes on a Redis of the test's own, with a real SMTP catcher and SMS
gateway stub.

Events published while the consumers were away are gone from Redis. What must hold (issue
14): the producers bring their streams back with their consumer groups, the consumers
recreate theirs, `knutepunkt outbox republish --since ...` sends the kept window again,
every effect is applied once (each booking one order, each order event once), and no
notification message goes out twice."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import pytest
from redis.asyncio import Redis

from knutepunkt.devsinks.testing import running_mail_catcher, running_sms_sink
from shared.calendar import utcnow
from shared.events import BOOKING_STREAM, CATERING_STREAM, CONSUMERS, PRODUCERS
from shared.messaging.lag import caught_up
from tests.faults.fleet import (
    ADMIN,
    base_env,
    cli,
    cli_env,
    start_all,
    stop_all,
    write_log_dir,
)
from tests.faults.load import Answers, booking_body, free_slots, send
from tests.support.processes import ServiceProcess
from tests.support.servers import redis_server
from tests.support.staff import STAFF_YAML
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

PER_PHASE = 8


async def _book(
    client: httpx.AsyncClient, url: str, slots: Iterator[tuple[str, datetime]], first: int
) -> list[dict[str, Any]]:
    answers = Answers()
    for n in range(first, first + PER_PHASE):
        room, start = next(slots)
        answers.add(
            await send(client, "POST", f"{url}/bookings", json=booking_body(room, start, n))
        )
    assert answers.statuses == {201: PER_PHASE}, answers.summary()
    return [a.body for a in answers.items]


async def _orders(db: Path) -> Counter[str]:
    async with aiosqlite.connect(db) as conn:
        rows = await conn.execute_fetchall(
            "SELECT booking_id FROM orders WHERE booking_id IS NOT NULL"
        )
    return Counter(r[0] for r in rows)


async def _order_events(db: Path) -> Counter[str]:
    async with aiosqlite.connect(db) as conn:
        rows = await conn.execute_fetchall(
            "SELECT payload FROM outbox WHERE type IN ('OrderPlaced', 'OrderRejected')"
        )
    return Counter(json.loads(r[0])["data"].get("booking_id") for r in rows)


async def _groups(redis: Redis, prefix: str) -> dict[str, set[str]]:
    found = {}
    for stream in PRODUCERS:
        if await redis.exists(prefix + stream):
            found[stream] = {g["name"].decode() for g in await redis.xinfo_groups(prefix + stream)}
    return found


async def _settled(redis: Redis, prefix: str, streams: tuple[str, ...]) -> bool:
    for stream in streams:
        for g in await redis.xinfo_groups(prefix + stream):
            if not await caught_up(redis, prefix + stream, g):
                return False
    return True


async def _notify_drained(client: httpx.AsyncClient, url: str) -> bool:
    for status in ("queued", "sending"):
        answer = await client.get(f"{url}/notifications", params={"status": status}, headers=ADMIN)
        if answer.status_code != 200 or answer.json():
            return False
    return True


async def test_redis_restarted_empty_then_the_outbox_window_is_republished(
    tmp_path: Path,
) -> None:
    logs = write_log_dir(tmp_path)
    staff = tmp_path / "staff.yaml"
    staff.write_text(STAFF_YAML)
    prefix = "lost:"
    dbs = {s: tmp_path / f"{s}.db" for s in ("booking", "catering", "notify")}
    with redis_server(persistent=True) as server:
        async with running_mail_catcher() as mail, running_sms_sink() as sms:
            env = base_env(
                server.url,
                prefix,
                SMTP_URL=mail.url,
                SMS_GATEWAY_URL=sms.url,
                SMS_PROVIDER="generic",
                STAFF_DIRECTORY=str(staff),
                NOTIFY_POLL_SECONDS="0.2",
                **{f"{s.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{p}" for s, p in dbs.items()},
            )
            booking = ServiceProcess("booking", env, logs)
            consumers = [ServiceProcess(s, env, logs) for s in ("catering", "notify")]
            procs = [booking, *consumers]
            redis = Redis.from_url(server.url)
            try:
                await start_all(procs)
                window_start = utcnow()
                slots = free_slots()
                async with httpx.AsyncClient(timeout=30) as client:
                    # A: applied before the loss.
                    applied = await _book(client, booking.url, slots, 0)
                    await wait_for(
                        lambda: _settled(redis, prefix, (BOOKING_STREAM, CATERING_STREAM)),
                        timeout=60,
                        message="phase A consumed",
                    )
                    # Notify's own sending is not under test here (a notify stopped
                    # mid-send is issue 14's other part): let it finish first.
                    await wait_for(
                        lambda: _notify_drained(client, consumers[1].url),
                        timeout=60,
                        message="phase A sent",
                    )
                    # B: published while the consumers are away, then lost with Redis.
                    await asyncio.to_thread(stop_all, consumers)
                    lost = await _book(client, booking.url, slots, 100)
                    await wait_for(
                        lambda: _entries_at_least(redis, prefix + BOOKING_STREAM, 2 * PER_PHASE),
                        timeout=30,
                        message="phase B published",
                    )
                    await asyncio.to_thread(_restart_empty, server)
                    await redis.connection_pool.disconnect()
                    assert await redis.exists(prefix + BOOKING_STREAM) == 0

                    # C: after the loss; the relay brings the stream back with its groups.
                    after = await _book(client, booking.url, slots, 200)
                    await wait_for(
                        lambda: _entries_at_least(redis, prefix + BOOKING_STREAM, PER_PHASE),
                        timeout=30,
                        message="phase C published",
                    )
                    # Before any consumer is back: the groups are the producer's doing.
                    groups = await _groups(redis, prefix)
                    consumers = [ServiceProcess(s, env, logs) for s in ("catering", "notify")]
                    procs = [booking, *consumers]
                    await start_all(consumers)
                    await wait_for(
                        lambda: _orders_for(dbs["catering"], after),
                        timeout=60,
                        message="phase C applied",
                    )
                    missing = await _orders(dbs["catering"])
                    assert not {b["id"] for b in lost} & set(missing), "B arrived by itself?"

                    ops_env = cli_env(procs, server.url, prefix)
                    since = window_start.isoformat()
                    only = [a for p in procs for a in ("--service", p.service)]
                    result = await asyncio.to_thread(
                        cli, ops_env, "outbox", "republish", "--since", since, *only, "--json"
                    )
                    assert result.exit_code == 0, result.output
                    republished = json.loads(result.stdout)

                    everything = applied + lost + after
                    await wait_for(
                        lambda: _orders_for(dbs["catering"], everything),
                        timeout=90,
                        message="the lost window applied",
                    )
                    await wait_for(
                        lambda: _settled(redis, prefix, (BOOKING_STREAM, CATERING_STREAM)),
                        timeout=60,
                        message="consumers settled",
                    )
                    await wait_for(
                        lambda: _notify_drained(client, consumers[1].url),
                        timeout=90,
                        message="notify drained",
                    )
                orders = await _orders(dbs["catering"])
                order_events = await _order_events(dbs["catering"])
            finally:
                await redis.aclose()
                await asyncio.to_thread(stop_all, procs)
            mails = list(mail.messages)
            texts = list(sms.messages)

    by_service = {s["service"]: s for s in republished["services"]}
    assert by_service["booking"]["republished"] >= 3 * PER_PHASE
    assert all(s["complete"] and s["problem"] is None for s in by_service.values())
    assert groups[BOOKING_STREAM] == set(CONSUMERS[BOOKING_STREAM])

    booking_ids = {b["id"] for b in everything}
    assert set(orders) == booking_ids and set(orders.values()) == {1}, orders
    assert set(order_events) == booking_ids and set(order_events.values()) == {1}

    deliveries = Counter(m.message["X-Knutepunkt-Delivery"] for m in mails)
    references = Counter(s.reference for s in texts)
    assert deliveries and references
    assert {d: n for d, n in deliveries.items() if n > 1} == {}, "an email sent twice"
    assert {r: n for r, n in references.items() if n > 1} == {}, "an SMS sent twice"
    same_mail = Counter((tuple(m.to), m.subject, m.text) for m in mails)
    assert {k: n for k, n in same_mail.items() if n > 1} == {}, "the same email twice"
    same_sms = Counter((s.to, s.text) for s in texts)
    assert {k: n for k, n in same_sms.items() if n > 1} == {}, "the same SMS twice"
    bookers = Counter(a for m in mails for a in m.to if a.startswith("leder"))
    assert set(bookers) == {f"leder{n}@example.org" for n in _numbers()}, "a booker not told"


def _numbers() -> list[int]:
    return [n for first in (0, 100, 200) for n in range(first, first + PER_PHASE)]


def _restart_empty(server: Any) -> None:
    """Stop Redis, lose its AOF and everything else in its dir, start it on the same port."""
    server.stop()
    shutil.rmtree(server.dir)
    server.dir.mkdir()
    server.start()


async def _entries_at_least(redis: Redis, stream: str, n: int) -> bool:
    return int(await redis.xlen(stream)) >= n


async def _orders_for(db: Path, bookings: list[dict[str, Any]]) -> bool:
    return {b["id"] for b in bookings} <= set(await _orders(db))
