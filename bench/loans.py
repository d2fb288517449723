"""Loans benchmarks: `python bench/loans.py [--postgres URL] [--part scan|checkouts] [--sql]
[--split]`.

1. The overdue scan with 1,000 versus 1,000,000 loans of which the same 100 are due: the scan
   reads only loans with a notice pending (a partial index), so the ratio should stay near 1.
   It also counts the SQL statements of one scan (100 borrowers told): they follow the
   batches, not the borrowers.
2. Check-outs per second over real HTTP (uvicorn in this process, as bench/booking.py),
   against a trivial endpoint (/health/live) served the same way in the same run, as a
   ratio: with 32 concurrent clients, and with one client (each request waits for the last).
3. `--split`: after the one-client run, the app's own time for a trivial request and for a
   check-out, given straight to the ASGI app one at a time (no server, client or socket):
   steadier than the rates on a busy machine, and where a change to the service shows.

SQLite files in a temporary directory by default; --postgres takes an admin URL and uses a
fresh database per part, dropped afterwards. The Redis at REDIS_URL (default the local one)
is used under a prefix of its own, removed afterwards.
No asserts on speed: it prints figures and ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import delete, insert, update

from bench.probe import Probe
from bench.serving import CLIENTS, client_pool, clients_side, in_app, run_clients, served
from bench.turns import TURNS, Side, in_turns, relay_settled, turn_ratios
from services.loans.app import SPEC
from services.loans.models import Borrower, Item, Loan, NoticeSent, messaging
from services.loans.settings import LoansSettings
from services.loans.store import Store, refusal_of
from services.loans.timers import notice_rules, scan_notices
from shared import migrations
from shared.calendar import OSLO
from shared.db import Database
from shared.hubs import DEFAULT_HUB
from shared.settings import load_settings
from shared.unit_of_work import UnitsOfWork
from tests.support.databases import fresh_databases, seeing_statements
from tests.support.prefixes import delete_prefixed

DUE = 100
NOW = datetime(2026, 5, 12, 10, 30, tzinfo=OSLO).astimezone(UTC)
CHUNK = 20_000


async def _fill(db: Database, total: int) -> list[str]:
    """`total` loans: DUE active and due, up to 1,000 active and not due, the rest returned."""
    not_due = min(1_000, total - DUE)
    returned = total - DUE - not_due
    async with db.transaction() as session:
        await session.execute(
            insert(Borrower),
            [
                {"id": f"b{n}", "name": f"B {n}", "phone": f"+47400{n:05d}", "created_at": NOW}
                for n in range(DUE)
            ],
        )
        await session.execute(
            insert(Item),
            [
                {
                    "id": f"i{n}",
                    "hub": DEFAULT_HUB,
                    "kind": "pc",
                    "label": f"I{n}",
                    "condition": "ok",
                    "created_at": NOW,
                }
                for n in range(DUE + not_due + 1)
            ],
        )
    due_ids = [f"due{n}" for n in range(DUE)]

    def row(
        loan_id: str, item: str, borrower: str, due_at: datetime, back: bool, nxt: datetime | None
    ) -> dict[str, object]:
        return {
            "id": loan_id,
            "hub": DEFAULT_HUB,
            "item_id": item,
            "borrower_id": borrower,
            "started_at": due_at - timedelta(days=1),
            "due_at": due_at,
            "returned_at": due_at if back else None,
            "renewals": 0,
            "condition_out": "ok",
            "backfilled": False,
            "next_notice_at": nxt,
        }

    rows = [
        row(lid, f"i{n}", f"b{n}", NOW - timedelta(hours=1), False, NOW - timedelta(hours=1))
        for n, lid in enumerate(due_ids)
    ]
    rows += [
        row(
            f"act{n}",
            f"i{DUE + n}",
            f"b{n % DUE}",
            NOW + timedelta(days=5),
            False,
            NOW + timedelta(days=4),
        )
        for n in range(not_due)
    ]
    await _insert(db, rows)
    old = f"i{DUE + not_due}"
    for start in range(0, returned, CHUNK):
        await _insert(
            db,
            [
                row(f"r{n}", old, f"b{n % DUE}", NOW - timedelta(days=30 + n % 300), True, None)
                for n in range(start, min(returned, start + CHUNK))
            ],
        )
    return due_ids


async def _insert(db: Database, rows: list[dict[str, object]]) -> None:
    async with db.transaction() as session:
        await session.execute(insert(Loan), rows)


async def _reset(db: Database, due_ids: list[str]) -> None:
    async with db.transaction() as session:
        await session.execute(delete(NoticeSent))
        await session.execute(delete(messaging.outbox))
        await session.execute(
            update(Loan).where(Loan.id.in_(due_ids)).values(next_notice_at=NOW - timedelta(hours=1))
        )


async def scan_time(url: str, total: int, repeats: int = 7) -> tuple[float, int]:
    """The median time of a scan, and the statements one scan sends."""
    db = Database(url)
    await migrations.upgrade("loans", db)
    due_ids = await _fill(db, total)
    units: UnitsOfWork[Store] = UnitsOfWork(db, messaging, Store, lambda: NOW, integrity=refusal_of)
    rules = notice_rules(LoansSettings())
    times = []
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    for _ in range(repeats):
        await _reset(db, due_ids)
        statements[0] = 0
        with seeing_statements(db, count):
            started = time.perf_counter()
            result = await scan_notices(units, rules)
            times.append(time.perf_counter() - started)
        assert result.loans == DUE, result  # the scan did its work (not a speed assert)
    await db.dispose()
    return statistics.median(times), statements[0]


async def http_rates(
    url: str, redis_url: str, probe: Probe, n: int, clients: int, split: bool = False
) -> tuple[Side, Side]:
    """Trivial requests and check-outs from `clients` concurrent clients, in turns
    (bench/turns.py), with what each cost the process (server, relay, timers and clients);
    with `split`, then the app's own time for each, one request at a time."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    settings = load_settings(
        "loans",
        database_url=url,
        redis_url=redis_url,
        stream_prefix=prefix,
        staff_tokens="bench:desk",
        log_level="WARNING",
    )
    headers = {"Authorization": "Bearer bench"}

    async def trivial(client: httpx.AsyncClient, i: int) -> int:
        return (await client.get("/health/live")).status_code

    async def check_out(client: httpx.AsyncClient, i: int) -> int:
        r = await client.post("/loans", json=_check_out(f"+47410{i:05d}"), headers=headers)
        if r.status_code != 201:
            raise RuntimeError(r.text)
        return r.status_code

    try:
        async with served(SPEC, settings, lambda: NOW) as (base_url, app):
            async with httpx.AsyncClient(base_url=base_url, headers=headers) as c:
                for i in range(n):
                    r = await c.post("/items", json={"kind": "other", "label": f"Ting {i}"})
                    r.raise_for_status()
            async with client_pool(base_url, clients) as pool:
                await run_clients(200, trivial, pool)  # warm up

                sides = (
                    clients_side("trivial", n, trivial, pool),
                    clients_side("check-outs", n, check_out, pool),
                )
                await in_turns(sides, probe, settle=relay_settled(app.state.runtime.relay, probe))
            if split:
                await _split(app, n, headers)
    finally:
        await delete_prefixed(redis_url, prefix)
    return sides


def _check_out(phone: str) -> dict[str, object]:
    """A week's loan of any free item of the bench's kind, to the borrower with `phone`."""
    return {"kind": "other", "days": 7, "borrower": {"name": "L", "phone": phone}}


async def _split(app: Any, n: int, headers: dict[str, str]) -> None:
    """The app's own time for a trivial request and a check-out, one at a time: no server,
    no client, no socket. Its items are written straight to the database beforehand."""
    async with app.state.runtime.db.transaction() as session:
        await session.execute(
            insert(Item),
            [
                {
                    "id": f"split{i}",
                    "hub": DEFAULT_HUB,
                    "kind": "other",
                    "label": f"Delt {i}",
                    "condition": "ok",
                    "created_at": NOW,
                }
                for i in range(n)
            ],
        )

    trivial = await in_app(app, n, "GET", "/health/live")
    checked_out = await in_app(
        app, n, "POST", "/loans", lambda i: _check_out(f"+47420{i:05d}"), headers
    )
    print("inside the app, one request at a time (no server, no client, no socket):")
    print(f"  GET /health/live: {trivial * 1e6:6.0f} µs/request")
    print(f"  POST /loans:      {checked_out * 1e6:6.0f} µs/check-out")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sql", action="store_true", help="print a check-out's statements")
    parser.add_argument("--checkouts", type=int, default=600)
    parser.add_argument(
        "--split", action="store_true", help="also the app's own time, without HTTP"
    )
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--part", choices=("all", "scan", "checkouts"), default="all")
    args = parser.parse_args()
    probe = Probe.install(keep_sql=args.sql)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite (WAL)'}")
        if args.part in ("all", "scan"):
            print(f"overdue scan, {DUE} loans due (median of 7 scans)")
            async with fresh_databases(folder, args.postgres, "small") as [url]:
                small, statements = await scan_time(url, 1_000)
            print(f"  1,000 loans:      {small * 1000:8.2f} ms")
            print(f"  statements:       {statements:8d}     (one scan telling {DUE} borrowers)")
            started = time.perf_counter()
            async with fresh_databases(folder, args.postgres, "large") as [url]:
                large, _ = await scan_time(url, 1_000_000)
            print(
                f"  1,000,000 loans:  {large * 1000:8.2f} ms"
                f"   (filling took {time.perf_counter() - started:.0f} s)"
            )
            print(f"  ratio 1M / 1k:    {large / small:8.2f}  (near 1: cost follows what is due)")
        if args.part == "scan":
            return

        n = args.checkouts
        for clients in (CLIENTS, 1):
            async with fresh_databases(folder, args.postgres, f"http{clients}") as [url]:
                trivial, checkouts = await http_rates(
                    url, redis_url, probe, n, clients, split=args.split and clients == 1
                )
            print(
                f"HTTP (uvicorn in this process), {clients} client(s), {n} requests each, "
                f"in {TURNS} turns"
            )
            print(f"  GET /health/live: {trivial.rate:8.0f} req/s")
            print(f"  POST /loans:      {checkouts.rate:8.0f} check-outs/s")
            print(
                f"  ratio:            {checkouts.rate / trivial.rate:8.3f}  (check-outs / trivial;"
                f" the turns': {turn_ratios(checkouts, trivial)})"
            )
            # One process: the server, its relay and timers, and the clients.
            print(f"  trivial:   {trivial.spent.per(n)}")
            print(f"  check-out: {checkouts.spent.per(n, 'check-out')}")
            if args.sql:
                print("  statements per check-out (all of the process's engines):")
                for line in checkouts.spent.top(20, n, limit=20):
                    print(f"    {line}")


if __name__ == "__main__":
    asyncio.run(main())
