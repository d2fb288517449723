"""PostgreSQL stopped and started under a running hub: booking takes requests and catering
applies booking's events, both as real processes on a PostgreSQL of the test's own.

What must hold (issue 14): no 500, every request answered within the client's timeout
(201, or 503 with Retry-After), readiness 503 during the outage and 200 after, the
processes never restarted, every committed booking on the stream and applied by catering
exactly once, nothing dead-lettered."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from shared.events import BOOKING_STREAM, dlq_stream
from tests.faults.fleet import (
    base_env,
    readiness,
    start_all,
    stop_all,
    stream_event_ids,
    write_log_dir,
)
from tests.faults.load import Answer, Answers, booking_body, free_slots, send
from tests.faults.servers import postgres_server, why_no_postgres
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(why_no_postgres() is not None, reason=str(why_no_postgres())),
]

CLIENT_TIMEOUT = 10.0
WORKERS = 4


async def _pending_outbox(pg, database: str) -> int:  # type: ignore[no-untyped-def]
    rows = await pg.fetch(database, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
    return int(rows[0]["n"])


@pytest.mark.parametrize("fault", ["restart", "freeze"])
async def test_postgres_outage_under_requests_and_events(
    fault: str, tmp_path: Path, redis_url: str, prefix: str, redis: Redis
) -> None:
    """`restart`: stopped (fast: every session ended) and started again. `freeze`: every
    server process SIGSTOPped, so connections open but nothing answers: only the
    services' own connect and command timeouts stand between a client and a hang."""
    down, up = (pg_stop, pg_start) if fault == "restart" else (pg_freeze, pg_thaw)
    logs = write_log_dir(tmp_path)
    with postgres_server() as pg:
        env = base_env(
            redis_url,
            prefix,
            BOOKING_DATABASE_URL=await pg.create_database("booking"),
            CATERING_DATABASE_URL=await pg.create_database("catering"),
            # An outage must not spend an event's deliveries: with two, a consumer that
            # counted it would dead-letter at once.
            MAX_DELIVERIES="2",
        )
        booking = ServiceProcess("booking", env, logs)
        # Catering gives up on a hung server quickly, so that within the outage it meets
        # it many times: a consumer that counted each as a failed delivery would show it.
        quick = {
            "DATABASE_CONNECT_TIMEOUT_SECONDS": "0.5",
            "DATABASE_COMMAND_TIMEOUT_SECONDS": "1",
        }
        catering = ServiceProcess("catering", {**env, **quick}, logs)
        procs = [booking, catering]
        try:
            await start_all(procs)
            pids = {p.service: p.proc.pid for p in procs if p.proc}
            phases: dict[str, Answers] = {
                "before": Answers(),
                "during": Answers(),
                "after": Answers(),
            }
            phase = "before"
            stop = asyncio.Event()
            slots = free_slots()
            numbers = iter(range(100_000))

            async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:

                async def worker() -> None:
                    while not stop.is_set():
                        room, start = next(slots)
                        body = booking_body(room, start, next(numbers))
                        current = phase
                        answer = await send(client, "POST", f"{booking.url}/bookings", json=body)
                        phases[current].add(answer)

                load = [asyncio.create_task(worker()) for _ in range(WORKERS)]
                try:
                    await wait_for(
                        lambda: len(phases["before"].with_status(201)) >= 30,
                        timeout=60,
                        message="bookings before the outage",
                    )
                    await asyncio.to_thread(down, pg)
                    phase = "during"
                    await wait_for(
                        lambda: readiness(booking) == readiness(catering) == 503,
                        timeout=10,
                        message="readiness 503 during the outage",
                    )
                    await wait_for(
                        lambda: len(phases["during"].items) >= 2 * WORKERS,
                        timeout=3 * CLIENT_TIMEOUT,
                        message="requests answered during the outage",
                    )
                    await asyncio.to_thread(up, pg)
                    phase = "after"
                    await wait_for(
                        lambda: readiness(booking) == readiness(catering) == 200,
                        timeout=30,
                        message="readiness 200 after the outage",
                    )
                    await wait_for(
                        lambda: len(phases["after"].with_status(201)) >= 30,
                        timeout=60,
                        message="bookings after the outage",
                    )
                finally:
                    stop.set()
                    await asyncio.gather(*load, return_exceptions=True)

            # Everything committed reaches the stream and catering.
            await wait_for(
                lambda: _outbox_empty(pg),
                timeout=60,
                message="booking's outbox published",
            )
            committed = await _committed_bookings(pg)
            await wait_for(
                lambda: _catering_has(pg, committed),
                timeout=90,
                message="catering applied every committed booking",
            )
            alive = {p.service: p.alive and p.proc.pid == pids[p.service] for p in procs if p.proc}
            on_stream = await stream_event_ids(redis, prefix + BOOKING_STREAM)
            dead = await redis.xlen(dlq_stream(prefix + BOOKING_STREAM))
            orders = await _orders_per_booking(pg)
            order_events = await _order_events_per_booking(pg)
        finally:
            stop_all(procs)

    answers = [a for p in phases.values() for a in p.items]
    summary = {name: p.summary() for name, p in phases.items()}
    assert alive == {"booking": True, "catering": True}, "a service died or was restarted"
    assert not [a for a in answers if a.status is None], f"unanswered requests: {summary}"
    assert not [a for a in answers if a.status and a.status >= 500 and a.status != 503], summary
    assert set(Counter(a.status for a in answers)) <= {201, 503}, summary
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, f"the outage was never seen by a client: {summary}"
    assert all(_retry_after(a) for a in unavailable), summary
    assert all(a.code and a.code.startswith("database_") for a in unavailable), summary

    confirmed = {a.body["id"] for a in answers if a.status == 201}
    assert confirmed <= set(committed), "a 201 whose booking is not in the database"
    events = set(committed.values())
    assert set(on_stream) == events, "committed events missing from the stream"
    assert dead == 0, "events were dead-lettered during the outage"
    assert {b: n for b, n in orders.items() if n != 1} == {}, "a booking with not one order"
    assert set(orders) == set(committed), "catering missed or invented a booking"
    assert {b: n for b, n in order_events.items() if n != 1} == {}, "catering's event twice"
    assert set(order_events) == set(committed)


def pg_stop(pg) -> None:  # type: ignore[no-untyped-def]
    pg.stop()


def pg_start(pg) -> None:  # type: ignore[no-untyped-def]
    pg.start()


def pg_freeze(pg) -> None:  # type: ignore[no-untyped-def]
    pg.freeze()


def pg_thaw(pg) -> None:  # type: ignore[no-untyped-def]
    pg.thaw()


def _retry_after(answer: Answer) -> bool:
    return answer.retry_after is not None and answer.retry_after.isdigit()


async def _outbox_empty(pg) -> bool:  # type: ignore[no-untyped-def]
    return await _pending_outbox(pg, "booking") == 0 and await _pending_outbox(pg, "catering") == 0


async def _committed_bookings(pg) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """booking id -> the event id of its BookingConfirmed, from booking's outbox."""
    rows = await pg.fetch(
        "booking", "SELECT event_id, payload FROM outbox WHERE type = 'BookingConfirmed'"
    )
    return {json.loads(r["payload"])["data"]["booking_id"]: r["event_id"] for r in rows}


async def _orders_per_booking(pg) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = await pg.fetch(
        "catering",
        "SELECT booking_id, count(*) AS n FROM orders WHERE booking_id IS NOT NULL"
        " GROUP BY booking_id",
    )
    return {r["booking_id"]: int(r["n"]) for r in rows}


async def _order_events_per_booking(pg) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = await pg.fetch(
        "catering",
        "SELECT payload FROM outbox WHERE type IN ('OrderPlaced', 'OrderRejected')",
    )
    return dict(Counter(json.loads(r["payload"])["data"].get("booking_id") for r in rows))


async def _catering_has(pg, committed: dict[str, str]) -> bool:  # type: ignore[no-untyped-def]
    return set(await _orders_per_booking(pg)) >= set(committed)
