"""The first request after a start: `python bench/first_request.py [--requests 20]`.

Each service (booking, loans, catering) is started in a fresh process, as after a deploy or
a restart, and given its everyday write (POST /bookings, POST /loans, POST /orders) once and
then `--requests` more times, straight to the app (no server: what is timed is the app's
own work). Prints the start, the first request, the median of the ones after it, and the
first as a multiple of that median: what the first citizen or desk officer after a start
waits for that the next one does not. SQLite in a temp file, Redis from REDIS_URL under a
unique prefix deleted afterwards. No speed is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.prefixes import delete_prefixed

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# 11:00 on a Monday in January: the desk and the café open, no holiday near.
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
DESK = {"Authorization": "Bearer td"}

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def _booking(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
    from shared.calendar import at_local

    # Half-hour slots between 10:00 and 14:00 from the Tuesday a week later, in the two
    # meeting rooms in turn: 16 a day.
    day = date(2027, 1, 12) + timedelta(days=i // 16)
    start = at_local(day, wall(10, 0)) + timedelta(minutes=30 * (i % 16 // 2))
    return client.post(
        "/bookings",
        json={
            "resource_id": ("moterom-1", "moterom-2")[i % 2],
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "booker_type": "person",
            "booker": {"name": "Kari Nordmann", "email": f"k{i}@example.org",
                       "phone": f"+4792{i:06d}"},
        },
    )  # fmt: skip


def _loan(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
    body = {"kind": "pc", "days": 3, "borrower": {"name": f"L {i}", "phone": f"+47410{i:05d}"}}
    return client.post("/loans", json=body, headers=DESK)


def _order(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
    from shared.calendar import at_local

    return client.post(
        "/orders",
        json={
            "kind": "takeaway",
            "pickup_at": at_local(date(2027, 1, 12), wall(11, 0)).isoformat(),
            "lines": [{"item_id": "kake", "quantity": 1}],
            "customer": {"name": "Bench", "email": f"b{i}@example.org"},
        },
    )


async def _items(app: Any, count: int) -> None:
    """Lendable PCs, written to the database before any request (the desk's stock)."""
    from services.loans.models import Item
    from shared.hubs import DEFAULT_HUB

    rows = [
        {"id": f"pc{n}", "hub": DEFAULT_HUB, "kind": "pc", "label": f"PC {n}",
         "condition": "ok", "created_at": NOW}
        for n in range(count)
    ]  # fmt: skip
    async with app.state.runtime.db.transaction() as session:
        await session.execute(insert(Item), rows)


# Each service's everyday write: what it is called, and how a client sends the i-th.
WRITES: dict[str, tuple[str, Request]] = {
    "booking": ("POST /bookings", _booking),
    "loans": ("POST /loans", _loan),
    "catering": ("POST /orders", _order),
}


def measure(service: str, requests: int) -> tuple[float, list[float]]:
    """In this (fresh) process: seconds to start, and each request's seconds."""
    return asyncio.run(_measure(service, requests))


async def _measure(service: str, requests: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    # Imported here, in the fresh process, as a service's own start imports them.
    from tests.support.apps import staffed_service

    spec = importlib.import_module(f"services.{service}.app").SPEC
    request = WRITES[service][1]
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            async with staffed_service(
                spec,
                database_url=f"sqlite+aiosqlite:///{tmp}/{service}.db",
                redis_url=REDIS_URL,
                prefix=prefix,
                clock=lambda: NOW,
            ) as running:
                start = time.perf_counter() - started
                if service == "loans":
                    await _items(running.app, requests + 1)
                for i in range(requests + 1):
                    begun = time.perf_counter()
                    response = await request(running.client, i)
                    times.append(time.perf_counter() - begun)
                    if response.status_code != 201:
                        raise RuntimeError(f"{service}: {response.status_code} {response.text}")
        finally:
            await delete_prefixed(REDIS_URL, prefix)
    return start, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20, help="after the first")
    args = parser.parse_args()
    os.environ.setdefault("CATERING_DAILY_CAPACITY", "100000")
    print(f"each service in a fresh process; its write once, then {args.requests} more (ms)")
    print(f"  {'':<24}{'start':>8}{'first':>9}{'after it':>10}{'first / after':>15}")
    for service, (path, _request) in WRITES.items():
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as fresh:
            start, times = fresh.submit(measure, service, args.requests).result()
        first, rest = times[0] * 1000, statistics.median(times[1:]) * 1000
        print(
            f"  {service + ' ' + path:<24}{start * 1000:8.0f}{first:9.1f}{rest:10.1f}"
            f"{first / rest:15.1f}"
        )


if __name__ == "__main__":
    main()
