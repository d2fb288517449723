"""Notify benchmark: fan-out throughput and booking-to-SMS latency.

    python bench/notify.py [--events 4000] [--turns 4] [--bookings 100]
                           [--latency-turns 2] [--part all|fan-out|latency|soak]
                           [--postgres ADMIN_URL]

1. N events (BookingRejected: an email and an SMS each) fanned out to 2N deliveries,
   sent to a local aiosmtpd catcher and a local SMS stub; deliveries per second against a
   baseline measured in the same run: raw aiosmtplib loops (one per SMTP connection notify
   keeps) and raw httpx loops (as many as notify sends SMS at once), sending as many
   messages straight to the same sinks. The two take turns (--turns of each, N / turns
   events a turn), and the ratio is of their sums; each turn's ratio is printed too.
2. The latency from `POST /bookings` sent to the SMS arriving at the stub, p50/p99, with
   each hop's, against a raw chain measured the same way in the same run, in two layouts:
   - one process: booking, notify and the sinks on one event loop, the raw chain's
     endpoint and consumer likewise;
   - processes: booking and notify each a real process (`python -m services.<name>`, as
     deployed), the raw chain's endpoint (under uvicorn) and consumer likewise, the sinks
     in the bench's process. Only here does the SMS's time show notify's own work alone,
     not the booking service's and the sinks' on the same loop.
   The hub and the raw chain take turns (--latency-turns, the bookings shared out), each
   turn on fresh processes; each turn's p50 ratio is printed too.

3. Only with `--part soak`: notify's resident memory with --events events sent through it a
   thousand at a time, after a tenth of them and after all (no leak: within 10 %).

BENCH_DATABASE_URL picks notify's database for the fan-out and the soak (default: a SQLite
file in a temp dir). The latency's services use SQLite files, or with --postgres (an admin
URL; default BENCH_POSTGRES_URL) a fresh PostgreSQL database each per turn, dropped after
it. Redis from REDIS_URL (default the local one), under a unique prefix that is deleted
afterwards.
No speed is asserted: the figures and ratios are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import uvicorn
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.probe import Probe, current_rss_mb, percentile
from bench.turns import Side, in_turns, relay_settled, turn_ratios
from knutepunkt.devsinks.testing import running_mail_catcher, running_sms_sink
from services.booking.app import SPEC as BOOKING
from services.notify.app import make_spec
from services.notify.models import DeliveryRow
from services.notify.settings import NotifySettings
from shared.calendar import OSLO
from shared.db import Database, is_sqlite
from shared.events import (
    BOOKING_STREAM,
    Contact,
    Envelope,
    decode_entry,
    encode_entry,
    new_event,
)
from tests.notify.samples import sample
from tests.support.apps import running_service
from tests.support.databases import fresh_databases
from tests.support.prefixes import delete_prefixed
from tests.support.processes import ServiceProcess
from tests.support.servers import free_port
from tests.support.waiting import wait_for

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Tuesday 12:00 in Oslo for notify's clock: no quiet hours in the way.
NOON = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
NOTIFY_CONFIG = {
    "sms_per_second": 0,
    "email_per_second": 0,
    "batch": 500,
    "sms_concurrency": 8,
    "poll_seconds": 0.2,
}


def moving_clock(start: datetime):  # type: ignore[no-untyped-def]
    offset = start - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


async def baseline(
    mail_url: str, sms_url: str, count: int, smtp_connections: int, sms_concurrency: int
) -> float:
    """count emails and count SMS sent straight to the same sinks, with the concurrency
    notify is given (its SMTP connections, each a loop over one connection; its SMS at
    once, over one httpx client); returns messages per second."""
    host, port = mail_url.removeprefix("smtp://").split(":")

    async def emails(numbers: range) -> None:
        smtp = aiosmtplib.SMTP(hostname=host, port=int(port), start_tls=False)
        await smtp.connect()
        for i in numbers:
            message = EmailMessage()
            message["From"] = "bench@example.org"
            message["To"] = f"raw{i}@example.org"
            message["Subject"] = "Bookingen ble ikke godkjent"
            message.set_content("Hei!\n\nVi kunne dessverre ikke godkjenne bookingen.\n" * 3)
            await smtp.send_message(message)
        await smtp.quit()

    async def texts(client: httpx.AsyncClient, numbers: range) -> None:
        for i in numbers:
            response = await client.post(
                f"{sms_url}/sms",
                json={"to": f"+4790{i:06d}", "message": "Bookingen ble ikke godkjent.",
                      "reference": str(i)},
            )  # fmt: skip
            response.raise_for_status()

    started = time.perf_counter()
    async with httpx.AsyncClient() as client:
        await asyncio.gather(
            *(emails(range(n, count, smtp_connections)) for n in range(smtp_connections)),
            *(texts(client, range(n, count, sms_concurrency)) for n in range(sms_concurrency)),
        )
    return 2 * count / (time.perf_counter() - started)


@contextlib.asynccontextmanager
async def notify_and_sinks(database_url: str, prefix: str) -> AsyncIterator[tuple[Any, Any, Any]]:
    """Notify in this process with a mail catcher and an SMS stub: (mail, sms, notify)."""
    async with (
        running_mail_catcher(http=False) as mail,
        running_sms_sink() as sms,
        running_service(
            make_spec(**NOTIFY_CONFIG),
            database_url=database_url,
            redis_url=REDIS_URL,
            prefix=prefix,
            clock=moving_clock(NOON),
            smtp_url=mail.url,
            sms_gateway_url=sms.url,
            consumer_batch=500,
        ) as notify,
    ):
        yield mail, sms, notify


def rejections(numbers: range) -> list[Envelope]:
    """A BookingRejected per number, each of its own booking and to its own booker: an
    email and an SMS each."""
    return [
        new_event(
            sample(
                "BookingRejected",
                booking_id=str(uuid.uuid4()),
                booker=Contact(
                    name=f"Bruker {i}", email=f"b{i}@example.org", phone=f"+4791{i:06d}"
                ),
            )
        )
        for i in numbers
    ]


async def publish(redis: Redis, stream: str, envelopes: list[Envelope]) -> None:
    for chunk in range(0, len(envelopes), 1000):
        pipe = redis.pipeline(transaction=False)
        for envelope in envelopes[chunk : chunk + 1000]:
            pipe.xadd(stream, encode_entry(envelope))
        await pipe.execute()


async def fan_out(database_url: str, prefix: str, events: int, turns: int) -> None:
    """The baseline and notify in turns (bench/turns.py), `turns` of each, events / turns
    events a turn: a machine whose speed drifts during the run (a shared host's does, by a
    third and more) slows both sides alike, where one long stretch of each put the drift in
    the ratio."""
    redis = Redis.from_url(REDIS_URL)
    config = NotifySettings(**NOTIFY_CONFIG)
    envelopes = rejections(range(events))
    polled = 0  # the bench's own statements, taken out of notify's

    async with notify_and_sinks(database_url, prefix) as (mail, sms, notify):
        probe = Probe.install()

        async def raw(numbers: range) -> float:
            messages = await baseline(
                mail.url, sms.url, len(numbers), config.smtp_connections, config.sms_concurrency
            )
            mail.clear()
            sms.clear()
            return 2 * len(numbers) / messages

        async def through_notify(numbers: range) -> float:
            nonlocal polled
            started = time.perf_counter()
            await publish(redis, prefix + BOOKING_STREAM, envelopes[numbers.start : numbers.stop])

            async def all_sent() -> bool:
                nonlocal polled
                statements = probe.statements
                sent = await sent_count(notify.runtime.db)
                polled += probe.statements - statements
                return sent >= 2 * numbers.stop  # this turn's and every turn's before

            await wait_for(all_sent, timeout=600, interval=0.1, message="the turn's deliveries")
            seconds = time.perf_counter() - started
            assert len(mail.messages) == len(sms.messages) == len(numbers), "lost messages"
            mail.clear()
            sms.clear()
            return seconds

        base, hub = Side("baseline", events, raw), Side("notify", events, through_notify)
        # Notify's events published before the baseline's turn.
        await in_turns([base, hub], probe, turns, settle=relay_settled(notify.runtime.relay, probe))
    await redis.aclose()
    hub.spent.statements -= polled
    deliveries = 2 * events
    print(f"fan-out: {events} events -> {deliveries} deliveries in {hub.seconds:.1f} s: "
          f"{2 * hub.rate:.0f}/s, in {turns} turns taken in between the baseline's")  # fmt: skip
    print(f"baseline (raw aiosmtplib + httpx, same sinks and concurrency): {2 * base.rate:.0f}/s")
    print(f"ratio notify / baseline: {hub.rate / base.rate:.2f} "
          f"(the turns': {turn_ratios(hub, base)})")  # fmt: skip
    # A slowed host only ever slows a turn: each side's fastest is the least disturbed.
    fastest, fastest_base = max(hub.turn_rates), max(base.turn_rates)
    print(f"  fastest turns: {2 * fastest:.0f}/s : {2 * fastest_base:.0f}/s = "
          f"{fastest / fastest_base:.2f}")  # fmt: skip
    # One process: notify, the mail catcher and the SMS stub (and the bench's XADDs).
    print(f"  baseline: {base.spent.per(deliveries, 'message')}")
    print(f"  notify:   {hub.spent.per(deliveries, 'delivery')}")


async def soak(database_url: str, prefix: str, events: int) -> None:
    """Notify's resident memory with `events` events (two deliveries each) sent through it
    a thousand at a time (`events` a multiple of 1,000, at least 2,000): after a tenth of
    them and after all. The sinks forget what they received after each thousand, so what
    grows is notify's (and the bench's own)."""
    redis = Redis.from_url(REDIS_URL)
    step = 1000
    tenth = max(step, events // 10 // step * step)
    rss: dict[int, float] = {}
    async with notify_and_sinks(database_url, prefix) as (mail, sms, notify):
        db = notify.runtime.db
        started = time.perf_counter()
        for start in range(0, events, step):
            # A thousand more, once the thousand before the last are sent: notify always
            # has the next ones waiting, and the sinks forget as they go.
            await publish(redis, prefix + BOOKING_STREAM, rejections(range(start, start + step)))
            await _all_sent(db, start)
            mail.clear()
            sms.clear()
            if start == tenth:
                rss[tenth] = current_rss_mb()
        await _all_sent(db, events)
        rss[events] = current_rss_mb()
        seconds = time.perf_counter() - started
    await redis.aclose()
    print(f"soak: {events} events -> {2 * events} deliveries in {seconds:.0f} s")
    print(
        f"  resident memory (notify, its sinks and the bench, one process): "
        f"{rss[tenth]:.0f} MB at {tenth} events, {rss[events]:.0f} MB at {events} "
        f"({rss[events] / rss[tenth]:.2f})"
    )


async def sent_count(db: Database) -> int:
    async with db.read() as session:
        query = select(func.count()).where(DeliveryRow.status == "sent")
        return int((await session.execute(query)).scalar_one())


async def _all_sent(db: Database, events: int) -> None:
    """Until the first `events` events' deliveries (two each) are sent."""

    async def done() -> bool:
        return await sent_count(db) >= 2 * events

    await wait_for(done, timeout=600, interval=0.1, message=f"{events} events' deliveries sent")


def _slots(count: int) -> list[tuple[str, datetime, datetime]]:
    """Free 30-minute slots in the two meeting rooms, Mon-Fri 10-14, from next week."""
    day = datetime.now(OSLO).date() + timedelta(days=7 - datetime.now(OSLO).weekday())
    out: list[tuple[str, datetime, datetime]] = []
    while len(out) < count * 2:
        if day.weekday() < 5:
            for room in ("moterom-1", "moterom-2"):
                for half in range(8):
                    start = datetime(day.year, day.month, day.day, 10, tzinfo=OSLO) + timedelta(
                        minutes=30 * half
                    )
                    out.append((room, start, start + timedelta(minutes=30)))
        day += timedelta(days=1)
    return out


# The latency part, in two layouts. "one process": booking, notify and the sinks on one event
# loop, as before. "processes": booking and notify each a real process (as deployed), the
# sinks in the bench's process, the outside world both talk to.
LAYOUTS = ("one process", "processes")


@dataclass
class HubRun:
    """What the bookings of one layout's run showed: per booker's phone, the times (epoch
    seconds) its POST was sent and answered and its confirmation SMS arrived, and the hops."""

    sent: dict[str, float]
    returned: dict[str, float]
    arrived: dict[str, float]
    hops: dict[str, list[float]]


async def latency(
    tmp: Path, prefix: str, bookings: int, layout: str, turns: int, postgres: str | None
) -> None:
    """The hub and the raw chain take turns, `bookings / turns` each a turn, each turn on
    fresh processes, databases and a stream of its own; the percentiles are of all turns'."""
    whole: list[float] = []
    answered: list[float] = []
    raw: list[float] = []
    hops: dict[str, list[float]] = {}
    each = max(1, bookings // turns)
    for turn in range(1, turns + 1):
        folder = tmp / f"{layout}-{turn}"
        folder.mkdir()
        turn_prefix = f"{prefix}t{turn}:"
        databases = fresh_databases(folder, postgres, "booking", "notify")
        async with databases as (booking_db, notify_db):
            if layout == "processes":
                hub = await _hub_in_processes(folder, turn_prefix, each, booking_db, notify_db)
                turn_raw = await raw_chain_in_processes(turn_prefix, len(hub.returned))
            else:
                hub = await _hub_in_process(turn_prefix, each, booking_db, notify_db)
                turn_raw = await raw_chain(turn_prefix, len(hub.returned))
        # From the request sent, as the booker feels it: in the raw chain the XADD happens
        # before its endpoint answers, so from the answer its SMS can come "before" (< 0).
        turn_whole = [(hub.arrived[phone] - hub.sent[phone]) * 1000 for phone in hub.arrived]
        whole += turn_whole
        answered += [(hub.returned[phone] - hub.sent[phone]) * 1000 for phone in hub.arrived]
        raw += turn_raw
        for name, values in hub.hops.items():
            hops.setdefault(name, []).extend(values)
        print(
            f"  {layout}, turn {turn}: p50 hub {statistics.median(turn_whole):.1f} ms, raw "
            f"{statistics.median(turn_raw):.1f} ms: ratio "
            f"{statistics.median(turn_whole) / statistics.median(turn_raw):.1f}"
        )
    database = "PostgreSQL" if postgres else "SQLite"
    print(
        f"latency, {layout}, {database}, {len(whole)} bookings paced 0.1 s apart, "
        f"in {turns} turns (ms):"
    )
    print(f"  POST /bookings sent -> SMS at the stub: {_p50_p99(whole)}")
    print(f"    {'sent -> answered (the booking service)':<42} {_p50_p99(answered)}")
    for name, values in hops.items():
        print(f"    {name:<42} {_p50_p99(values)}")
    print(f"  raw chain (an endpoint that XADDs, a consumer that POSTs): {_p50_p99(raw)}")
    print(
        f"  ratio hub / raw: p50 {statistics.median(whole) / statistics.median(raw):.1f}, "
        f"p99 {percentile(whole, 99) / percentile(raw, 99):.1f}"
    )


async def _hub_in_process(prefix: str, bookings: int, booking_db: str, notify_db: str) -> HubRun:
    notify_clock = moving_clock(NOON)
    # What notify's clock is ahead of the real one: its rows' times, made real again.
    ahead = notify_clock() - datetime.now(UTC)
    async with (
        running_mail_catcher(http=False) as mail,
        running_sms_sink() as sms,
        running_service(
            BOOKING,
            database_url=booking_db,
            redis_url=REDIS_URL,
            prefix=prefix,
            outbox_poll_seconds=1.0,
        ) as booking,
        running_service(
            make_spec(**NOTIFY_CONFIG),
            database_url=notify_db,
            redis_url=REDIS_URL,
            prefix=prefix,
            clock=notify_clock,
            smtp_url=mail.url,
            sms_gateway_url=sms.url,
            consumer_block_ms=1000,
        ) as notify,
    ):
        sent, returned = await _book_paced(booking.client, bookings)
        arrived = await _arrivals(sms, returned)
        hops = await _hops(prefix, notify.runtime.db, returned, arrived, ahead)
    return HubRun(sent, returned, arrived, hops)


async def _hub_in_processes(
    tmp: Path, prefix: str, bookings: int, booking_db: str, notify_db: str
) -> HubRun:
    """Booking and notify as `python -m services.<name>`, each on its own database. On
    SQLite notify runs on the demo clock (embedded mode) at NOON, so no quiet hours hold the
    SMS; the demo clock is refused on PostgreSQL, so there notify runs on the real clock
    with its quiet hours one minute, twelve hours from now."""
    since = datetime.now(UTC)
    if is_sqlite(notify_db):
        ahead = NOON - since
        clock = {
            "KNUTEPUNKT_EMBEDDED": "1",
            "DEMO_CLOCK_AT": NOON.isoformat(),
            "DEMO_CLOCK_SINCE": since.isoformat(),
        }
    else:
        ahead = timedelta(0)
        quiet = (since + timedelta(hours=12)).astimezone(OSLO)
        clock = {"NOTIFY_QUIET_HOURS": f"{quiet:%H:%M}-{quiet + timedelta(minutes=1):%H:%M}"}
    common = {"REDIS_URL": REDIS_URL, "STREAM_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
    async with running_mail_catcher(http=False) as mail, running_sms_sink() as sms:
        booking = ServiceProcess(
            "booking",
            {
                **common,
                "DATABASE_URL": booking_db,
                "OUTBOX_POLL_SECONDS": "1.0",
            },
            tmp,
        )
        notify = ServiceProcess(
            "notify",
            {
                **common,
                "DATABASE_URL": notify_db,
                "SMTP_URL": mail.url,
                "SMS_GATEWAY_URL": sms.url,
                "CONSUMER_BLOCK_MS": "1000",
                **clock,
                **{f"NOTIFY_{key.upper()}": str(value) for key, value in NOTIFY_CONFIG.items()},
            },
            tmp,
        )
        try:
            # In threads: the sinks on this loop go on answering while the services start
            # and stop (a stopping notify finishes the emails it has on their way).
            await asyncio.to_thread(booking.start)
            await asyncio.to_thread(notify.start)
            async with httpx.AsyncClient(base_url=booking.url) as client:
                sent, returned = await _book_paced(client, bookings)
            arrived = await _arrivals(sms, returned)
        finally:
            await asyncio.to_thread(notify.stop)
            await asyncio.to_thread(booking.stop)
    db = Database(notify_db)
    try:
        hops = await _hops(prefix, db, returned, arrived, ahead)
    finally:
        await db.dispose()
    return HubRun(sent, returned, arrived, hops)


async def _book_paced(
    client: httpx.AsyncClient, bookings: int
) -> tuple[dict[str, float], dict[str, float]]:
    """`bookings` bookings, one at a time; per booker's phone, when each was sent and
    answered."""
    sent: dict[str, float] = {}
    returned: dict[str, float] = {}
    made = 0
    for room, start, end in _slots(bookings):
        if made == bookings:
            break
        phone = f"+4792{made:06d}"
        body = {
            "resource_id": room,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "booker_type": "organisation",
            "booker": {"name": "Kari Nordmann", "email": f"k{made}@example.org",
                       "phone": phone},
            "organisation": {"number": "974760673", "name": "Strømsø Sjakklubb"},
        }  # fmt: skip
        sent_at = time.time()
        response = await client.post("/bookings", json=body)
        if response.status_code != 201:
            continue  # a holiday or a closed slot: take the next one
        returned[phone] = time.time()
        sent[phone] = sent_at
        made += 1
        # Paced well under what the SMS stub takes per second, so the figure is
        # the pipeline's latency, not a queue in front of the stub.
        await asyncio.sleep(0.1)
    return sent, returned


async def _arrivals(sms: Any, returned: dict[str, float]) -> dict[str, float]:
    """When each booker's confirmation SMS reached the stub (the booking service may also
    send reminders), once all have or two minutes have passed."""

    def confirmations() -> dict[str, float]:
        first: dict[str, float] = {}
        for m in sms.messages:
            if m.to in returned and m.text.startswith("Bekreftet"):
                first.setdefault(m.to, m.received_at.timestamp())
        return first

    with contextlib.suppress(TimeoutError):
        await wait_for(lambda: len(confirmations()) >= len(returned), timeout=120)
    return confirmations()


def _p50_p99(values: list[float]) -> str:
    return f"p50 {statistics.median(values):6.1f}  p99 {percentile(values, 99):6.1f}"


async def _hops(
    prefix: str,
    db: Database,
    returned: dict[str, float],
    arrived: dict[str, float],
    ahead: timedelta,
) -> dict[str, list[float]]:
    """Each confirmation's path cut where it can be seen from outside: the entry id of
    its event on the stream (when the relay added it), the time notify's consumer wrote
    the delivery (in the transaction that handled the event), the stub's arrival."""
    redis = Redis.from_url(REDIS_URL)
    try:
        added: dict[str, float] = {}
        for entry_id, fields in await redis.xrange(prefix + BOOKING_STREAM):
            envelope = decode_entry(fields, max_bytes=1_000_000)
            added[envelope.id] = int(entry_id.decode().split("-")[0]) / 1000
    finally:
        await redis.aclose()
    async with db.read() as session:
        rows = (
            await session.execute(
                select(DeliveryRow.recipient, DeliveryRow.event_id, DeliveryRow.created_at).where(
                    DeliveryRow.channel == "sms", DeliveryRow.event_type == "BookingConfirmed"
                )
            )
        ).all()
    hops: dict[str, list[float]] = {
        "returned -> XADD (relay woken on commit)": [],
        "XADD -> consumer's transaction (notify)": [],
        "consumer's transaction -> request at the stub": [],
    }
    for phone, event_id, created_at in rows:
        if phone not in arrived or event_id not in added:
            continue
        handled = (created_at - ahead).timestamp()
        hops["returned -> XADD (relay woken on commit)"].append(
            (added[event_id] - returned[phone]) * 1000
        )
        hops["XADD -> consumer's transaction (notify)"].append((handled - added[event_id]) * 1000)
        hops["consumer's transaction -> request at the stub"].append(
            (arrived[phone] - handled) * 1000
        )
    return hops


async def raw_chain(prefix: str, count: int) -> list[float]:
    """The same path with nothing of the hub's: a trivial endpoint that XADDs, a raw
    consumer (XREADGROUP, POST to the same kind of stub, XACK), paced the same way; here
    both on this process's loop, beside the stub, as booking and notify are above. The
    stream is under `prefix`, deleted with the rest of the run's keys."""
    stream = f"{prefix}raw-chain"
    redis = Redis.from_url(REDIS_URL)
    try:
        async with running_sms_sink() as sms:
            consumer = asyncio.create_task(_raw_consume(stream, sms.url))
            transport = httpx.ASGITransport(app=_raw_endpoint(redis, stream))
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://raw") as client:
                    return await _raw_paced(client, sms, count)
            finally:
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
    finally:
        await redis.aclose()


async def raw_chain_in_processes(prefix: str, count: int) -> list[float]:
    """The raw chain with its endpoint (under uvicorn) and its consumer each a process of
    their own, as booking and notify are in that layout; the stub stays here."""
    stream = f"{prefix}raw-chain-processes"
    context = mp.get_context("spawn")
    port = free_port()
    async with running_sms_sink() as sms:
        processes = [
            context.Process(target=_raw_endpoint_process, args=(stream, port)),
            context.Process(target=_raw_consumer_process, args=(stream, sms.url)),
        ]
        for process in processes:
            process.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def answering() -> bool:
                    with contextlib.suppress(httpx.HTTPError):
                        return (await client.get("/docs")).status_code == 200
                    return False

                await wait_for(answering, timeout=30, message="raw endpoint started")
                return await _raw_paced(client, sms, count)
        finally:
            for process in processes:
                process.terminate()
                await asyncio.to_thread(process.join, 10)


async def _raw_paced(client: httpx.AsyncClient, sms: Any, count: int) -> list[float]:
    """`count` requests to the raw endpoint, paced as the bookings; each one's time from
    sent to its SMS at the stub (ms)."""
    sent: dict[str, float] = {}
    for n in range(count):
        phone = f"+4793{n:06d}"
        sent[phone] = time.time()
        (await client.post("/raw", json={"to": phone})).raise_for_status()
        await asyncio.sleep(0.1)
    await wait_for(lambda: len(sms.messages) >= count, timeout=60)
    return [(m.received_at.timestamp() - sent[m.to]) * 1000 for m in sms.messages]


def _raw_endpoint(redis: Redis, stream: str) -> FastAPI:
    app = FastAPI()

    @app.post("/raw")
    async def add(body: dict[str, str]) -> dict[str, str]:
        await redis.xadd(stream, {"to": body["to"]})
        return {"ok": "yes"}

    return app


async def _raw_consume(stream: str, sms_url: str) -> None:
    group = "raw"
    redis = Redis.from_url(REDIS_URL)
    try:
        # At the stream's start: what the endpoint added before this ran is read too.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: made already
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        async with httpx.AsyncClient() as client:
            while True:
                answer = await redis.xreadgroup(group, "c", {stream: ">"}, count=10, block=1000)
                for _stream, entries in answer or []:
                    for entry_id, fields in entries:
                        sent = await client.post(
                            f"{sms_url}/sms",
                            json={"to": fields[b"to"].decode(), "message": "Bekreftet (raw)",
                                  "reference": entry_id.decode()},
                        )  # fmt: skip
                        sent.raise_for_status()
                        await redis.xack(stream, group, entry_id)
    finally:
        await redis.aclose()


def _raw_endpoint_process(stream: str, port: int) -> None:
    app = _raw_endpoint(Redis.from_url(REDIS_URL), stream)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def _raw_consumer_process(stream: str, sms_url: str) -> None:
    asyncio.run(_raw_consume(stream, sms_url))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=4_000)
    parser.add_argument("--bookings", type=int, default=100)
    parser.add_argument("--turns", type=int, default=4, help="fan-out: turns of each side")
    parser.add_argument(
        "--latency-turns", type=int, default=2, help="latency: turns of the hub and the raw chain"
    )
    parser.add_argument(
        "--part",
        choices=("all", "fan-out", "latency", "soak"),
        default="all",
        help="which part to run (soak: only when asked)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="latency: an admin URL; the services on fresh PostgreSQL databases",
    )
    args = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp / 'n.db'}"
        try:
            if args.part in ("all", "fan-out"):
                await fan_out(database_url, prefix, args.events, args.turns)
            if args.part in ("all", "latency"):
                for number, layout in enumerate(LAYOUTS):
                    await latency(
                        tmp,
                        f"{prefix}lat{number}:",
                        args.bookings,
                        layout,
                        args.latency_turns,
                        args.postgres,
                    )
            if args.part == "soak":
                if args.events < 2000 or args.events % 1000:
                    parser.error("--part soak: --events a multiple of 1000, at least 2000")
                await soak(database_url, prefix, args.events)
        finally:
            await delete_prefixed(REDIS_URL, prefix)


if __name__ == "__main__":
    asyncio.run(main())
