"""Catering: how fast orders are taken when many fight for one day's capacity, against the
same orders spread over many days and a read-only baseline (GET /menu), in one run.

The one-day case queues every writer on that day's counter row (SELECT … FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite); the ratio shows what that lock costs.

    python bench/catering.py [--orders 1200] [--concurrency 25] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from datetime import time as wall
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.probe import Probe
from bench.turns import TURNS, Side, in_turns, relay_settled, turn_ratios
from services.catering.app import SPEC
from shared.calendar import CAFE_HOURS, Calendar, at_local
from shared.service import create_app
from shared.settings import load_settings
from tests.support.databases import fresh_databases
from tests.support.prefixes import delete_prefixed

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NOW = at_local(date(2026, 6, 1), wall(9, 0))
SHOW_SQL = False


def order(day: date) -> dict[str, object]:
    return {
        "kind": "takeaway",
        "pickup_at": at_local(day, wall(11, 0)).isoformat(),
        "lines": [{"item_id": "kake", "quantity": 1}],
        "customer": {"name": "Bench", "email": "bench@example.org"},
    }


async def timed(calls: list, concurrency: int) -> float:  # type: ignore[type-arg]
    """The seconds `calls` took, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(make) -> None:  # type: ignore[no-untyped-def]
        async with gate:
            response = await make()
            if response.status_code >= 400:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in calls))
    return time.perf_counter() - started


async def run(database_url: str, label: str, orders: int, concurrency: int) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    os.environ["CATERING_DAILY_CAPACITY"] = "100000"
    settings = load_settings(
        "catering", database_url=database_url, redis_url=REDIS_URL, stream_prefix=prefix
    )
    app = create_app(SPEC, settings, clock=lambda: NOW)
    days = [
        d
        for d in (NOW.date() + timedelta(days=i) for i in range(2, 120))
        if Calendar(CAFE_HOURS).is_open_day(d)
    ]
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                await c.get("/menu")

                async def menus(numbers: range) -> float:
                    return await timed([lambda: c.get("/menu")] * len(numbers), concurrency)

                async def spread_orders(numbers: range) -> float:
                    calls = [
                        lambda d=days[i % len(days)]: c.post("/orders", json=order(d))
                        for i in numbers
                    ]
                    return await timed(calls, concurrency)

                async def one_day_orders(numbers: range) -> float:
                    calls = [lambda: c.post("/orders", json=order(days[-1]))] * len(numbers)
                    return await timed(calls, concurrency)

                menu = Side("GET /menu", orders, menus)
                spread = Side("orders, spread", orders, spread_orders)
                one_day = Side("orders, one day", orders, one_day_orders)
                probe = Probe.install()
                settle = relay_settled(app.state.runtime.relay, probe)
                await in_turns([menu, spread, one_day], probe, settle=settle)
    finally:
        await delete_prefixed(REDIS_URL, prefix)
    print(f"{label}: GET /menu {menu.rate:8.0f} req/s (baseline), {TURNS} turns of each")
    print(
        f"{label}: orders over {len(days)} days {spread.rate:8.0f} orders/s"
        f"  = {spread.rate / menu.rate:.2f} × baseline (the turns': {turn_ratios(spread, menu)})"
    )
    print(
        f"{label}: orders on one day {one_day.rate:8.0f} orders/s"
        f"  = {one_day.rate / spread.rate:.2f} × spread, {one_day.rate / menu.rate:.2f} × baseline"
        f" (the turns': {turn_ratios(one_day, menu)})"
    )
    # One process: the app, its relay and timers, and the clients.
    print(f"  GET /menu:         {menu.spent.per(orders)}")
    print(f"  orders, spread:    {spread.spent.per(orders, 'order')}")
    print(f"  orders, one day:   {one_day.spent.per(orders, 'order')}")
    if SHOW_SQL:
        print("  statements per order (spread):")
        for line in spread.spent.top(20, orders, limit=20):
            print(f"    {line}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1200)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--sql", action="store_true", help="print an order's statements")
    args = parser.parse_args()
    global SHOW_SQL
    SHOW_SQL = args.sql
    Probe.install(keep_sql=args.sql)
    # SQLite always, then PostgreSQL when given one.
    servers = [("sqlite", None)] + ([("postgres", args.postgres_url)] if args.postgres_url else [])
    for label, postgres in servers:
        with tempfile.TemporaryDirectory() as tmp:
            async with fresh_databases(Path(tmp), postgres, "bench") as [url]:
                await run(url, label, args.orders, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
