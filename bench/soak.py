"""Soak with faults: the whole hub under a steady load while things break, then an audit.

    python bench/soak.py [--minutes 30] [--seed 1] [--fault-every 40] [--workers 4]

The four services run as real processes on a PostgreSQL and a Redis the soak starts itself
(its own cluster on a free port, and redis-server with its AOF), with a local mail catcher
and SMS gateway stub. Clients book rooms (a third with catering), cancel some, lend and
return PCs and order take-away. At random intervals (exponential, mean --fault-every
seconds; one at a time) one of these happens:

- kill: a random service is SIGKILLed and started again 1-5 s later;
- pause-redis: Redis is SIGSTOPped for 2-8 s, then SIGCONT;
- restart-postgres: PostgreSQL is stopped (fast: every session ended) for 1-5 s and
  started again.

When the time is up, the load and the faults stop, and the soak waits for the hub to
settle (outboxes empty, every consumer group caught up, notify with nothing queued). Then
it audits what the databases, the streams and the sinks hold:

- every booking, loan and order answered 201 is in its service's database, and every
  committed one produced its events (outbox rows), each on its stream (lost: none on it;
  duplicated: more than once; consumers deduplicate those);
- every event a consumer handles is in its inbox, and nothing is dead-lettered;
- every booking with catering has exactly one order;
- every message notify recorded as sent reached the sink, and none twice (by delivery
  id: the idempotency key), counted per channel.

It prints the counts, the faults injected, each service's peak RSS and the latency (p50,
p99) per request kind. Exit 0 when nothing is lost or duplicated beyond notify's documented
per-channel guarantee (counted apart), 1 otherwise. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import time as wall
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knutepunkt.devsinks.testing import running_mail_catcher, running_sms_sink
from shared.calendar import CAFE_HOURS, Calendar, at_local, utcnow
from shared.events import CONSUMERS, PRODUCERS, dlq_stream
from shared.messaging.lag import caught_up, unread_entries
from shared.settings import SERVICES
from tests.faults.fleet import (
    ADMIN,
    DESK,
    STAFF_TOKENS,
    peak_rss_kib,
    stream_event_ids,
)
from tests.faults.load import Answer, booking_body, free_slots, send
from tests.faults.servers import PostgresServer, why_no_postgres
from tests.support.processes import ServiceProcess
from tests.support.servers import RedisServer, free_port
from tests.support.staff import STAFF_YAML

PREFIX = "soak:"
PC_STOCK = 400
# How often each kind of request is made, relative to the others.
WEIGHTS = {"book": 4, "cancel": 1, "lend": 2, "return": 1, "takeaway": 2}
# Which service answers each kind of request (to set a dropped connection beside a kill).
SERVICE_OF = {
    "book": "booking",
    "cancel": "booking",
    "lend": "loans",
    "return": "loans",
    "takeaway": "catering",
}
# How far the clients' and the fault injector's clocks may stand apart, in seconds.
CLOCK_SLACK = 2.0
# NOTIFY_UNRECORDED_WINDOW as the soak runs notify: messages per instance a kill can resend.
UNRECORDED_WINDOW = 16
SETTLE_SECONDS = 300.0  # above notify's claim lease, so a killed sender's claims come back
# What httpx says when the server's connection goes away under a request.
DROPPED = {"RemoteProtocolError", "ReadError"}


@dataclass
class Fault:
    kind: str
    target: str
    at: float
    seconds: float


@dataclass
class Record:
    kind: str
    answer: Answer
    seconds: float
    at: float = 0.0  # when it was sent, seconds into the soak (to set beside the faults)


@dataclass
class Ledger:
    """What the clients were told, and what they keep to act on later."""

    records: list[Record] = field(default_factory=list)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> body, token
    cancelled: set[str] = field(default_factory=set)
    loans: set[str] = field(default_factory=set)
    open_loans: list[str] = field(default_factory=list)
    returned: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)


class Hub:
    """PostgreSQL, Redis and the four services, each restartable."""

    def __init__(self, work: Path, mail_url: str, sms_url: str) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pg = PostgresServer()
        self.redis_server = RedisServer(persistent=True)
        self.mail_url = mail_url
        self.sms_url = sms_url
        self.procs: dict[str, ServiceProcess] = {}
        self.env: dict[str, str] = {}
        self.peak_kib: dict[str, int] = defaultdict(int)
        self.incarnations: Counter[str] = Counter()

    async def start(self) -> None:
        self.pg.init()
        self.pg.start()
        self.redis_server.start()
        staff = self.work / "staff.yaml"
        staff.write_text(STAFF_YAML)
        self.env = {
            "REDIS_URL": self.redis_server.url,
            "STREAM_PREFIX": PREFIX,
            "STAFF_TOKENS": STAFF_TOKENS,
            "STAFF_DIRECTORY": str(staff),
            "SMTP_URL": self.mail_url,
            "SMS_GATEWAY_URL": self.sms_url,
            "SMS_PROVIDER": "generic",
            "LOG_FORMAT": "json",
            "NOTIFY_QUIET_HOURS": "04:00-04:01",  # the soak may run at night
        }
        for service in SERVICES:
            self.env[f"{service.upper()}_DATABASE_URL"] = await self.pg.create_database(service)
            self.env[f"{service.upper()}_PORT"] = str(free_port())
        for service in SERVICES:
            self.procs[service] = ServiceProcess(service, self.env, self.logs)
            self.procs[service].start(wait=False)
            self.incarnations[service] += 1
        await asyncio.gather(*(asyncio.to_thread(p.wait_ready, 180) for p in self.procs.values()))

    def url(self, service: str) -> str:
        return self.procs[service].url

    def watch_rss(self) -> None:
        for service, proc in self.procs.items():
            if proc.alive and proc.proc:
                with contextlib.suppress(OSError, KeyError, ValueError):
                    _, peak = peak_rss_kib(proc.proc.pid)
                    self.peak_kib[service] = max(self.peak_kib[service], peak)

    async def kill_and_restart(self, service: str, down: float) -> None:
        self.watch_rss()
        await asyncio.to_thread(self.procs[service].kill)
        await asyncio.sleep(down)
        proc = ServiceProcess(service, self.env, self.logs)
        proc.start(wait=False)
        self.procs[service] = proc
        self.incarnations[service] += 1
        await asyncio.to_thread(proc.wait_ready, 180)

    async def pause_redis(self, seconds: float) -> None:
        self.redis_server.pause()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.redis_server.resume()

    async def restart_postgres(self, down: float) -> None:
        await asyncio.to_thread(self.pg.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.pg.start)

    async def stop(self) -> None:
        self.watch_rss()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.procs.values()))
        self.redis_server.close()
        self.pg.close()


# --- the load -------------------------------------------------------------------------


class Load:
    def __init__(self, hub: Hub, ledger: Ledger, rng: random.Random) -> None:
        self.hub = hub
        self.ledger = ledger
        self.rng = rng
        self.slots = free_slots()
        self.numbers = iter(range(10_000_000))
        self.cafe = Calendar(CAFE_HOURS)
        self.takeaway_days = [d for _, d in zip(range(60), self._cafe_days(), strict=False)]
        self.began = time.perf_counter()

    def _cafe_days(self):  # type: ignore[no-untyped-def]
        day = utcnow().date() + timedelta(days=1)
        while True:
            if self.cafe.is_open_day(day):
                yield day
            day += timedelta(days=1)

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        kinds = list(WEIGHTS)
        weights = [WEIGHTS[k] for k in kinds]
        while not stop.is_set():
            kind = self.rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            answer = await getattr(self, f"_{kind}")(client)
            if answer is not None:
                self.ledger.records.append(
                    Record(kind, answer, time.perf_counter() - started, started - self.began)
                )
            # A steady, human pace rather than a flood: the soak is about time, not load.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(0.05, 0.4))

    async def _book(self, client: httpx.AsyncClient) -> Answer:
        room, start = next(self.slots)
        n = next(self.numbers)
        body = booking_body(room, start, n, catering=self.rng.random() < 1 / 3)
        answer = await send(client, "POST", f"{self.hub.url('booking')}/bookings", json=body)
        if answer.status == 201:
            self.ledger.bookings[answer.body["id"]] = {
                "token": answer.body.get("manage_token"),
                "catering": "catering" in body,
            }
        return answer

    async def _cancel(self, client: httpx.AsyncClient) -> Answer | None:
        open_ones = [b for b in self.ledger.bookings if b not in self.ledger.cancelled]
        if not open_ones:
            return None
        booking = self.rng.choice(open_ones)
        answer = await send(
            client,
            "POST",
            f"{self.hub.url('booking')}/bookings/{booking}/cancel",
            headers={"X-Manage-Token": self.ledger.bookings[booking]["token"]},
            json={"reason": "Møtet er flyttet"},
        )
        if answer.status == 200:
            self.ledger.cancelled.add(booking)
        return answer

    async def _lend(self, client: httpx.AsyncClient) -> Answer:
        n = next(self.numbers)
        body = {
            "kind": "pc",
            "borrower": {"name": f"Låner {n}", "phone": f"+47 000 {n % 100000:05d}"},
            # Registered from the paper log: the desk's hours do not limit the soak.
            "started_at": (utcnow() - timedelta(minutes=1)).isoformat(),
            "days": 1,
        }
        answer = await send(
            client, "POST", f"{self.hub.url('loans')}/loans", headers=DESK, json=body
        )
        if answer.status == 201:
            self.ledger.loans.add(answer.body["id"])
            self.ledger.open_loans.append(answer.body["id"])
        return answer

    async def _return(self, client: httpx.AsyncClient) -> Answer | None:
        if not self.ledger.open_loans:
            return None
        loan = self.ledger.open_loans.pop(self.rng.randrange(len(self.ledger.open_loans)))
        answer = await send(
            client,
            "POST",
            f"{self.hub.url('loans')}/loans/{loan}/return",
            headers=DESK,
            json={"condition": "ok"},
        )
        if answer.status == 200:
            self.ledger.returned.add(loan)
        elif answer.status in (None, 503) or (answer.status or 0) >= 500:
            self.ledger.open_loans.append(loan)  # try again later
        return answer

    async def _takeaway(self, client: httpx.AsyncClient) -> Answer:
        n = next(self.numbers)
        day = self.rng.choice(self.takeaway_days)
        pickup = at_local(day, wall(10 + self.rng.randrange(4), self.rng.choice((0, 15, 30, 45))))
        body = {
            "kind": "takeaway",
            "pickup_at": pickup.isoformat(),
            "lines": [{"item_id": "kanelbolle", "quantity": 1 + n % 3}],
            "customer": {"name": f"Kunde {n}", "email": f"kunde{n}@example.org"},
        }
        answer = await send(client, "POST", f"{self.hub.url('catering')}/orders", json=body)
        if answer.status == 201:
            self.ledger.orders.add(answer.body["id"])
        return answer


async def add_stock(hub: Hub, client: httpx.AsyncClient) -> None:
    """Enough PCs that check-outs by kind rarely run out (the seed has four)."""
    url = f"{hub.url('loans')}/items"
    for start in range(0, PC_STOCK, 20):
        answers = await asyncio.gather(
            *(
                send(client, "POST", url, headers=DESK, json={"kind": "pc", "label": f"PC-S{n}"})
                for n in range(start, start + 20)
            )
        )
        bad = [a for a in answers if a.status != 201]
        if bad:
            raise SystemExit(f"could not add PCs: {bad[0]}")


# --- the faults -----------------------------------------------------------------------


async def inject_faults(
    hub: Hub, rng: random.Random, mean_every: float, stop: asyncio.Event, faults: list[Fault]
) -> None:
    began = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.expovariate(1 / mean_every))
        if stop.is_set():
            return
        kind = rng.choice(("kill", "pause-redis", "restart-postgres"))
        at = time.monotonic() - began
        started = time.monotonic()
        if kind == "kill":
            target = rng.choice(SERVICES)
            await hub.kill_and_restart(target, rng.uniform(1, 5))
        elif kind == "pause-redis":
            target = "redis"
            await hub.pause_redis(rng.uniform(2, 8))
        else:
            target = "postgres"
            await hub.restart_postgres(rng.uniform(1, 5))
        faults.append(Fault(kind, target, at, time.monotonic() - started))
        print(f"  {at:7.1f} s  {kind:<17} {target:<9} {faults[-1].seconds:5.1f} s", flush=True)


async def watch_rss(hub: Hub, stop: asyncio.Event) -> None:
    while not stop.is_set():
        hub.watch_rss()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)


# --- settling and the audit -----------------------------------------------------------


async def settled(hub: Hub, redis: Redis, client: httpx.AsyncClient) -> str | None:
    """None when the hub has caught up, else what it is still doing."""
    for service in SERVICES:
        rows = await hub.pg.fetch(
            service, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
        )
        if rows[0]["n"]:
            return f"{service} outbox holds {rows[0]['n']}"
    for stream in PRODUCERS:
        key = PREFIX + stream
        if not await redis.exists(key):
            continue
        for g in await redis.xinfo_groups(key):
            if not await caught_up(redis, key, g):
                unread = await unread_entries(redis, key, g)
                return f"{stream}: {g['name'].decode()} unread {unread} pending {g['pending']}"
    for status in ("queued", "sending"):
        answer = await client.get(
            f"{hub.url('notify')}/notifications", params={"status": status}, headers=ADMIN
        )
        if answer.status_code != 200:
            return f"notify answered {answer.status_code}"
        if answer.json():
            return f"notify has deliveries {status}"
    return None


async def settle(hub: Hub, redis: Redis, client: httpx.AsyncClient, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    last: str | None = "not checked"
    while time.monotonic() < deadline:
        try:
            last = await settled(hub, redis, client)
        except Exception as exc:  # a service still coming back
            last = f"{type(exc).__name__}: {exc}"
        if last is None:
            return None
        await asyncio.sleep(1)
    return last


@dataclass
class Audit:
    lines: list[str] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    messages_twice: int = 0
    # Emails sent a second time inside notify's documented window after a kill
    # (docs/notify.md, "Once, and a crash"): counted, apart from the duplicates.
    within_window: int = 0

    def add(self, label: str, value: object, *, lost: int = 0, duplicated: int = 0) -> None:
        self.lost += lost
        self.duplicated += duplicated
        self.lines.append(f"  {label:<58} {value}")


async def audit(
    hub: Hub,
    redis: Redis,
    ledger: Ledger,
    mails: list[Any],
    texts: list[Any],
    notify_kills: int,
) -> Audit:
    out = Audit()
    # What each producer committed, and what reached its stream.
    outbox: dict[str, list[dict[str, Any]]] = {}
    on_stream: dict[str, Counter[str]] = {}
    for service in SERVICES:
        rows = await hub.pg.fetch(service, "SELECT event_id, type, stream, payload FROM outbox")
        outbox[service] = [dict(r) for r in rows]
    for stream in PRODUCERS:
        on_stream[stream] = await stream_event_ids(redis, PREFIX + stream)
    for service, rows in outbox.items():
        missing = [r for r in rows if on_stream[r["stream"]][r["event_id"]] == 0]
        twice = sum(max(0, on_stream[r["stream"]][r["event_id"]] - 1) for r in rows)
        out.add(
            f"{service}: events committed / not on the stream",
            f"{len(rows)} / {len(missing)}",
            lost=len(missing),
        )
        # Published twice (a relay that lost its mark): at-least-once, the inboxes dedupe.
        out.add(f"{service}: events on the stream twice (consumers deduplicate)", twice)

    subjects = {
        s: Counter(json.loads(r["payload"]).get("subject") for r in rows)
        for s, rows in outbox.items()
    }
    booked = {r["id"] for r in await hub.pg.fetch("booking", "SELECT id FROM bookings")}
    answered = set(ledger.bookings)
    out.add(
        "bookings answered 201 / not in the database",
        f"{len(answered)} / {len(answered - booked)}",
        lost=len(answered - booked),
    )
    silent = [b for b in booked if not subjects["booking"][b]]
    out.add(
        "bookings committed / without an event", f"{len(booked)} / {len(silent)}", lost=len(silent)
    )
    lent = {r["id"] for r in await hub.pg.fetch("loans", "SELECT id FROM loans")}
    out.add(
        "loans answered 201 / not in the database",
        f"{len(ledger.loans)} / {len(ledger.loans - lent)}",
        lost=len(ledger.loans - lent),
    )
    silent = [loan for loan in lent if not subjects["loans"][loan]]
    out.add("loans committed / without an event", f"{len(lent)} / {len(silent)}", lost=len(silent))
    orders = await hub.pg.fetch("catering", "SELECT id, booking_id FROM orders")
    order_ids = {r["id"] for r in orders}
    out.add(
        "take-away orders answered 201 / not in the database",
        f"{len(ledger.orders)} / {len(ledger.orders - order_ids)}",
        lost=len(ledger.orders - order_ids),
    )
    silent = [o for o in order_ids if not subjects["catering"][o]]
    out.add(
        "orders committed / without an event", f"{len(order_ids)} / {len(silent)}", lost=len(silent)
    )
    per_booking = Counter(r["booking_id"] for r in orders if r["booking_id"])
    with_catering = {b for b, v in ledger.bookings.items() if v["catering"]}
    no_order = with_catering - set(per_booking)
    extra = sum(n - 1 for n in per_booking.values() if n > 1)
    out.add(
        "bookings with catering / without an order / orders twice",
        f"{len(with_catering)} / {len(no_order)} / {extra}",
        lost=len(no_order),
        duplicated=extra,
    )

    # What each consumer applied: every event of a type it handles is in its inbox.
    for service in SERVICES:
        streams = [s for s, groups in CONSUMERS.items() if service in groups]
        if not streams:
            continue
        inbox = await hub.pg.fetch(service, "SELECT event_id, type FROM inbox")
        handled_types = {r["type"] for r in inbox}
        seen = {r["event_id"] for r in inbox}
        expected = {
            r["event_id"]
            for producer in SERVICES
            for r in outbox[producer]
            if r["stream"] in streams and r["type"] in handled_types
        }
        out.add(
            f"{service}: events to apply / not applied",
            f"{len(expected)} / {len(expected - seen)}",
            lost=len(expected - seen),
        )
    dead = sum([int(await redis.xlen(dlq_stream(PREFIX + s))) for s in PRODUCERS])
    out.add("dead letters", dead, lost=dead)

    # Messages: each one notify recorded as sent reached the sink once.
    deliveries = await hub.pg.fetch("notify", "SELECT id, channel, status FROM deliveries")
    statuses = Counter((r["channel"], r["status"]) for r in deliveries)
    out.add("deliveries by channel and status", dict(sorted(statuses.items())))
    received = {
        "email": Counter(m.message["X-Knutepunkt-Delivery"] for m in mails),
        "sms": Counter(s.reference for s in texts),
    }
    for channel, got in received.items():
        sent = {
            r["id"]
            for r in deliveries
            if r["channel"] == channel and r["status"] in ("sent", "delivered")
        }
        never = sent - set(got)
        twice = sum(n - 1 for n in got.values() if n > 1)
        out.messages_twice += twice
        # An email may go out once more when notify dies between the SMTP server's answer
        # and the commit: never a third time, at most the window per killed instance. An
        # SMS never (the sink, like the gateways we use, drops a repeated reference).
        allowed = channel == "email" and max(got.values(), default=1) <= 2
        within = twice if allowed and twice <= UNRECORDED_WINDOW * notify_kills else 0
        out.within_window += within
        out.add(
            f"{channel}: sent / received / sent but never received / received twice",
            f"{len(sent)} / {sum(got.values())} / {len(never)} / {twice}",
            lost=len(never),
            duplicated=twice - within,
        )
    unfinished = sum(1 for r in deliveries if r["status"] in ("queued", "sending"))
    out.add("deliveries still queued or sending", unfinished, lost=unfinished)
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    ledger: Ledger,
    faults: list[Fault],
    hub: Hub,
    result: Audit,
    minutes: float,
    unsettled: str | None,
) -> int:
    print(f"\nsoak: {minutes:g} min, {len(ledger.records)} requests, {len(faults)} faults")
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for r in ledger.records:
        by_kind[r.kind].append(r)
    print("\nrequests (status/code: count), latency p50 / p99 ms:")
    for kind, records in sorted(by_kind.items()):
        codes = Counter((r.answer.status, r.answer.code or r.answer.error) for r in records)
        shown = ", ".join(f"{s}/{c}: {n}" for (s, c), n in sorted(codes.items(), key=str))
        ms = [r.seconds * 1000 for r in records]
        print(
            f"  {kind:<9} {len(records):>6}  p50 {statistics.median(ms):7.1f}  "
            f"p99 {percentile(ms, 0.99):7.1f}  {shown}"
        )
    every = [r.seconds * 1000 for r in ledger.records]
    print(
        f"  {'all':<9} {len(every):>6}  p50 {statistics.median(every):7.1f}  "
        f"p99 {percentile(every, 0.99):7.1f}"
    )
    refused_connection = [r for r in ledger.records if r.answer.error == "ConnectError"]
    cut = [r for r in ledger.records if cut_by_kill(r, faults)]
    errors = [
        r
        for r in ledger.records
        if (r.answer.status is None and r.answer.error != "ConnectError" and r not in cut)
        or (r.answer.status is not None and r.answer.status >= 500 and r.answer.status != 503)
    ]
    # One replica per service: while a killed one restarts, its port refuses connections.
    print(f"  connection refused (the service was down after a kill): {len(refused_connection)}")
    print(f"  connection cut (in flight when its service was SIGKILLed): {len(cut)}")
    print(f"  500s, timeouts and other unanswered requests: {len(errors)}")
    for r in errors[:10]:
        what = r.answer.error or f"{r.answer.status} {r.answer.code}"
        print(f"    at {r.at:7.1f} s  {r.kind:<9} {what} after {r.seconds:.1f} s")
    print("\nfaults:", dict(Counter(f.kind for f in faults)))
    print("\npeak RSS (MiB) per service, over its incarnations (starts):")
    for service in SERVICES:
        print(f"  {service:<9} {hub.peak_kib[service] / 1024:7.1f}   ({hub.incarnations[service]})")
    print("\naudit:")
    print("\n".join(result.lines))
    if unsettled:
        print(f"\nNOT SETTLED within {SETTLE_SECONDS:g} s: {unsettled}")
    print(
        f"\nlost {result.lost}, duplicated {result.duplicated} "
        f"(of which messages sent twice: {result.messages_twice - result.within_window}); "
        f"emails sent twice within notify's documented window after a kill: "
        f"{result.within_window}; "
        f"500s or unanswered {len(errors)}"
    )
    return len(errors)


def cut_by_kill(record: Record, faults: list[Fault]) -> bool:
    """A request in flight when its service was SIGKILLed loses its connection: no process
    is left to answer it, so it is the kill's, not an unanswered request. Only a dropped
    connection counts, and only with a kill of that very service while it was on its way."""
    if record.answer.status is not None or record.answer.error not in DROPPED:
        return False
    began, ended = record.at - CLOCK_SLACK, record.at + record.seconds + CLOCK_SLACK
    return any(
        f.kind == "kill" and f.target == SERVICE_OF[record.kind] and began <= f.at <= ended
        for f in faults
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-every", type=float, default=40.0, help="mean seconds")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None, help="keep logs in this folder")
    args = parser.parse_args()
    reason = why_no_postgres()
    if reason:
        raise SystemExit(f"soak: {reason}")
    rng = random.Random(args.seed)
    work = args.keep or Path(tempfile.mkdtemp(prefix="kp-soak-"))
    print(
        f"soak: {args.minutes:g} min, faults every ~{args.fault_every:g} s, seed {args.seed}; "
        f"logs in {work / 'logs'}"
    )
    ledger, faults = Ledger(), []
    async with running_mail_catcher() as mail, running_sms_sink() as sms:
        hub = Hub(work, mail.url, sms.url)
        redis: Redis | None = None
        try:
            await hub.start()
            redis = Redis.from_url(hub.redis_server.url)
            # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes
            # them, or a request sent as the server closes its end fails as a ReadError.
            limits = httpx.Limits(keepalive_expiry=2.0)
            async with httpx.AsyncClient(timeout=15, limits=limits) as client:
                await add_stock(hub, client)
                stop = asyncio.Event()
                load = Load(hub, ledger, rng)
                tasks = [asyncio.create_task(load.run(client, stop)) for _ in range(args.workers)]
                tasks.append(
                    asyncio.create_task(inject_faults(hub, rng, args.fault_every, stop, faults))
                )
                tasks.append(asyncio.create_task(watch_rss(hub, stop)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.minutes * 60)
                stop.set()
                await asyncio.gather(*tasks)
                print("load and faults stopped; settling", flush=True)
                unsettled = await settle(hub, redis, client, SETTLE_SECONDS)
                hub.watch_rss()
                notify_kills = sum(1 for f in faults if f.kind == "kill" and f.target == "notify")
                result = await audit(
                    hub, redis, ledger, list(mail.messages), list(sms.messages), notify_kills
                )
        finally:
            if redis is not None:
                await redis.aclose()
            await hub.stop()
    errors = report(ledger, faults, hub, result, args.minutes, unsettled)
    clean = result.lost == 0 and result.duplicated == 0 and unsettled is None and errors == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
