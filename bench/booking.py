"""Booking benchmark: `python bench/booking.py [--postgres URL] [--redis URL]`.

1. Confirmed bookings per second over real HTTP (uvicorn, 32 concurrent clients) with p50 and
   p99 latency, against a trivial endpoint (/health/live) served the same way in the same run.
2. Time per booking with 1,000 versus 100,000 existing bookings of the same resource (the
   overlap search is an index range, so the ratio should stay near 1).
3. A season: 60 clubs applying for 3 weekly slots each (4 wishes, overlapping) over a
   20-week season: the time to compute the proposal and to publish it, the latter as a ratio
   to booking the same number of bookings one by one (POST /bookings) in the same run.
   `--part season` runs only this.
4. `--ceiling`: POST /bookings once more with the unit of work answering at once (the first
   booking's answer for every request): what the HTTP stack alone leaves of the trivial
   endpoint's rate, the most any use case could reach.
   `--floor [N]`: in turns with the trivial endpoint, POST /bookings whose unit of work
   sends only a booking's round trips (its 6 statements, or N, as `SELECT 1`, in one write
   transaction) and then gives the first booking's answer: through the unit of work, and on the
   driver's own connections with no SQLAlchemy. The most a booking of that many
   statements could reach on each, with the use case's own work free.
5. `--split`: the same three requests (trivial, POST /bookings answered at once, POST
   /bookings) handed to the app itself one at a time, with no server and no client: how
   much of a request the app spends, and so how much is the HTTP around it.

Prints figures and ratios; asserts nothing about speed. SQLite by default (a temp file);
--postgres takes an admin URL and uses a fresh database it drops afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BOOKING_REMINDER_POLL_SECONDS", "3600")

from bench.probe import Counts, Probe, percentile
from bench.serving import CLIENTS, client_pool, clients_side, in_app, run_clients, served
from bench.turns import TURNS, Side, in_turns, relay_settled, turn_ratios
from services.booking.app import SPEC
from services.booking.models import Booking
from shared.auth import hash_token
from shared.db import POOL_SIZE, Database
from shared.settings import load_settings
from tests.support.databases import fresh_databases
from tests.support.prefixes import delete_prefixed

STAFF = {"Authorization": "Bearer bench"}
NOW = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
SLOT = timedelta(minutes=10)
RESOURCE = {
    "name": "Benkerom",
    "capacity": 10,
    "hours": {"mon-sun": "00:00-24:00"},
    "min_notice_minutes": 0,
    "min_length_minutes": 5,
    "max_length_minutes": 60,
    "max_days_ahead": 730,
    "free_for": ["organisation", "person", "staff"],
}


def body(resource_id: str, index: int, base: datetime) -> dict[str, Any]:
    start = base + index * SLOT
    return {
        "resource_id": resource_id,
        "start": start.isoformat(),
        "end": (start + SLOT).isoformat(),
        "booker_type": "person",
        "booker": {"name": "Benk", "email": "benk@example.org"},
    }


def pct(values: list[float], q: int) -> float:
    """The q-th percentile of latencies in seconds, in milliseconds."""
    return percentile(values, q) * 1000


async def prefill(app: Any, resource_id: str, count: int, base: datetime) -> None:
    """Existing bookings written straight to the table (the setup, not the measurement)."""
    runtime = app.state.runtime
    digest = hash_token("prefill")
    for chunk in range(0, count, 5000):
        rows = []
        for i in range(chunk, min(count, chunk + 5000)):
            start = base + i * SLOT
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "hub": "stromso",
                    "resource_id": resource_id,
                    "series_id": None,
                    "status": "confirmed",
                    "start_at": start,
                    "end_at": start + SLOT,
                    "blocked_until": start + SLOT,
                    "booker_type": "person",
                    "booker_name": "Benk",
                    "booker_email": None,
                    "booker_phone": None,
                    "booker_language": "nb",
                    "org_number": None,
                    "title": None,
                    "description": None,
                    "public": False,
                    "signup_capacity": None,
                    "attendees": None,
                    "catering": None,
                    "participants": [],
                    "free_of_charge": True,
                    "price_nok": 0,
                    "manage_token_hash": digest,
                    "reason": None,
                    "cancelled_by": None,
                    "reminder_sent_at": None,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        async with runtime.db.transaction() as session:
            await session.execute(insert(Booking), rows)
    if runtime.db.dialect == "postgresql":
        # Autovacuum refreshes the planner's statistics of a table that grew this much
        # within a minute or so. Until it does, the planner still reads the small table's
        # statistics and takes the exclusion constraint's index for a booking's overlap
        # read, by resource alone: every booking of the resource is read (the growth read
        # 3.8-5.3 without this, docs/bench.md, twentieth pass). The growth measured is a
        # table's that grew over years, so the setup ends as autovacuum would.
        async with runtime.db.engine.connect() as conn:
            await conn.execute(text("ANALYZE bookings"))
            await conn.commit()
    else:
        # The prefill's pages wait in the WAL; the first commits after it would copy them
        # into the database file (an automatic checkpoint) inside the timed bookings. That
        # copy is the setup's cost, not a booking's, and grows with the machine's I/O load.
        # On the pooled DBAPI connection: SQLAlchemy's would begin a transaction first,
        # and a checkpoint cannot run inside one. Its cursor is closed: one left open keeps
        # a read snapshot, and that connection's next write would be refused.
        def checkpoint(sync_connection: Connection) -> None:
            cursor = sync_connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                cursor.close()

        async with runtime.db.engine.connect() as conn:
            await conn.run_sync(checkpoint)


async def time_per_booking(base_url: str, resource_id: str, base: datetime, n: int) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        started = time.perf_counter()
        for i in range(n):
            r = await client.post("/bookings", json=body(resource_id, i, base))
            if r.status_code != 201:
                raise RuntimeError(f"booking failed: {r.status_code} {r.text[:200]}")
        return (time.perf_counter() - started) / n * 1000


CLUBS, SLOTS_EACH, WEEKS = 60, 3, 20
# Valid organisation numbers (MOD11) for the clubs: 9 digits, the last the check digit.
_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def org_number(i: int) -> str:
    for base in itertools.count(97476 * 1000 + i * 10):
        digits = f"{base:08d}"
        check = 11 - sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return digits + str(check)
    raise AssertionError("unreachable")


async def season_bench(base_url: str, one_by_one_count: int | None = None) -> None:
    groups = ("children", "youth", "adults", "seniors", "mixed")
    weekdays = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    grid = [(d, f"{h:02d}:{m:02d}") for d in weekdays for h in range(8, 22) for m in (0, 30)]
    async with httpx.AsyncClient(base_url=base_url, headers=STAFF, timeout=600) as client:
        hall = (await client.post("/resources", json=RESOURCE)).json()["id"]
        single_room = (await client.post("/resources", json=RESOURCE)).json()["id"]
        first = (NOW + timedelta(days=7)).date()
        made = await client.post(
            "/seasons",
            json={
                "resource_id": hall,
                "name": "Benkesesong",
                "starts_on": first.isoformat(),
                "ends_on": (first + timedelta(weeks=WEEKS, days=-1)).isoformat(),
                "applications_open_at": (NOW - timedelta(days=1)).isoformat(),
                "applications_close_at": (NOW + timedelta(days=1)).isoformat(),
                "frame": {"mon-sun": "08:00-22:00"},
                "slot_minutes": 30,
                "rules": {"max_hours_per_org": 2},
            },
        )
        season_id = made.json()["id"]
        await client.post(f"/seasons/{season_id}/open")
        for i in range(CLUBS):
            # Four wishes, the first shared with the next club: contested slots.
            wishes = [grid[(SLOTS_EACH * i + k) % len(grid)] for k in range(SLOTS_EACH + 1)]
            r = await client.post(
                f"/seasons/{season_id}/applications",
                json={
                    "organisation": {"number": org_number(i), "name": f"Klubb {i}"},
                    "contact": {"name": "Benk", "email": f"klubb{i}@example.org"},
                    "target_group": groups[i % len(groups)],
                    "activity": "Trening",
                    "participants": 20,
                    "local": i % 4 != 0,
                    "wishes": [{"weekday": d, "start": t} for d, t in wishes],
                    "wanted": SLOTS_EACH,
                },
            )
            if r.status_code != 201:
                raise RuntimeError(f"application failed: {r.status_code} {r.text[:300]}")
        await client.post(f"/seasons/{season_id}/close")
        started = time.perf_counter()
        proposal = await client.post(f"/seasons/{season_id}/proposal")
        proposed = time.perf_counter() - started
        granted = len(proposal.json()["allocations"])
        started = time.perf_counter()
        published = await client.post(f"/seasons/{season_id}/publish")
        publishing = time.perf_counter() - started
        if published.status_code != 200:
            raise RuntimeError(f"publish failed: {published.status_code} {published.text[:300]}")
        booked = sum(a["occurrences"] for a in published.json()["allocations"])
        skipped = sum(len(a["skipped"]) for a in published.json()["allocations"])
    # --one-by-one N times N bookings and scales to the season's count (a quicker run).
    sample = min(one_by_one_count or booked, booked)
    one_by_one = await time_per_booking(base_url, single_room, NOW + timedelta(days=30), sample)
    print(
        f"season: {CLUBS} clubs x {SLOTS_EACH} slots, {WEEKS} weeks: {granted} slots granted, "
        f"{booked} bookings, {skipped} dates skipped (holidays)"
    )
    print(f"compute the proposal (POST …/proposal): {proposed * 1000:8.1f} ms")
    print(f"publish the season  (POST …/publish):  {publishing * 1000:8.1f} ms")
    timed = "" if sample == booked else f" ({sample} timed, scaled)"
    print(f"the same {booked} bookings one by one{timed}:  {one_by_one * booked:8.1f} ms")
    print(f"ratio publish : one by one = {publishing * 1000 / (one_by_one * booked):.3f}")


class _Answered:
    """A service's units of work with the first booking's answer given to every later
    request at once: no statement, no event."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.answer: Any = None

    async def run(self, work: Any, *, read_only: bool = False) -> Any:
        if self.answer is None:
            self.answer = await self.real.run(work, read_only=read_only)
        return self.answer


@contextlib.contextmanager
def _answering_at_once(app: Any) -> Iterator[None]:
    """The app's units of work replaced by `_Answered` for the block."""
    runtime = app.state.runtime
    real = runtime.uow
    runtime.uow = _Answered(real)
    try:
        yield
    finally:
        runtime.uow = real


async def _ceiling(app: Any, book: Any, base_url: str, base_rps: float, n: int) -> None:
    """POST /bookings as above with nothing behind the route: what the clients, the server,
    FastAPI and the request's and answer's models cost. No use case can make the ratio
    above this."""
    with _answering_at_once(app):
        rps, _, statuses = await run_clients(n, book, base_url)
    print(
        f"POST /bookings, the unit of work answering at once: {rps:8.0f}/s  statuses {statuses}"
        f"  ratio to trivial {rps / base_rps:.3f} (the ceiling the HTTP stack leaves)"
    )


class _RoundTripsOnly:
    """A service's units of work that send a booking's round trips and nothing else: one
    write transaction of `statements` `SELECT 1` for each request, through the unit of
    work (`real`), or with `driver` on the driver's own connection, then `answer`."""

    def __init__(self, real: Any, statements: int, answer: Any, driver: Any = None) -> None:
        self.real = real
        self.statements = statements
        self.answer = answer
        self.driver = driver

    async def run(self, work: Any, *, read_only: bool = False) -> Any:
        if self.driver is None:
            await self.real.run(_selects(self.statements))
        else:
            await self.driver(self.statements)
        return self.answer


def _selects(k: int) -> Any:
    """A unit of work's work: `k` `SELECT 1` on its session, as the stores' reads go."""

    async def work(uow: Any) -> None:
        for _ in range(k):
            await uow.store.session.execute(_SELECT_ONE)

    return work


async def _selects_on_driver(db: Database, driver: Any, k: int) -> None:
    """`k` `SELECT 1` in one write transaction on the driver's own connection, with no
    SQLAlchemy (sqlite3 on the loop's thread, as shared/sqlite_driver.py runs it; asyncpg),
    behind the service's writer lock, as the unit of work is."""
    async with db.writing():
        if db.dialect == "sqlite":
            sqlite = driver._conn  # aiosqlite's sqlite3 connection
            sqlite.execute("BEGIN IMMEDIATE")
            for _ in range(k):
                sqlite.execute("SELECT 1").fetchall()
            sqlite.execute("COMMIT")
        else:
            async with driver.transaction():
                for _ in range(k):
                    await driver.fetch("SELECT 1")


@contextlib.asynccontextmanager
async def _driver_transactions(db: Database) -> Any:
    """A function that runs `k` `SELECT 1` in one write transaction on the driver itself
    (`_selects_on_driver`): on a connection of asyncpg's own pool of the service's size,
    or on SQLite's one connection."""
    if db.dialect == "postgresql":
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)

        async def on_asyncpg(k: int) -> None:
            async with pool.acquire() as connection:
                await _selects_on_driver(db, connection, k)

        try:
            yield on_asyncpg
        finally:
            await pool.close()
        return
    async with db.engine.connect() as held:
        driver = (await held.get_raw_connection()).driver_connection

        async def on_sqlite(k: int) -> None:
            await _selects_on_driver(db, driver, k)

        yield on_sqlite


async def _floor(app: Any, book: Any, base_url: str, probe: Probe, n: int, statements: int) -> None:
    """The trivial endpoint, and POST /bookings sending only a booking's round trips
    (`_RoundTripsOnly`) through the unit of work and on the driver, in turns. `book(client,
    i)` books free slots: the first is booked for real, for the answer every request gets."""

    async def trivial(client: httpx.AsyncClient, i: int) -> int:
        return (await client.get("/health/live")).status_code

    runtime = app.state.runtime
    real = runtime.uow
    async with client_pool(base_url) as pool, _driver_transactions(runtime.db) as driver:
        with _answering_at_once(app):
            await run_clients(range(1), book, pool)
            answer = runtime.uow.answer
        floors = {
            "unit of work": _RoundTripsOnly(real, statements, answer),
            "driver": _RoundTripsOnly(real, statements, answer, driver),
        }

        def side(name: str, units: _RoundTripsOnly) -> Side:
            requests = clients_side(name, n, book, pool)

            async def run(numbers: range) -> float:
                runtime.uow = units
                try:
                    return await requests.run(numbers)
                finally:
                    runtime.uow = real

            return Side(name, n, run)

        base = clients_side("trivial", 3 * n, trivial, pool)
        sides = [side(name, units) for name, units in floors.items()]
        for s in sides:  # each pool's connections made before the clock starts
            await s.run(range(2 * CLIENTS))
        await in_turns([base, *sides], probe)
    print(f"floors: {statements} statements a booking and nothing else ({TURNS} turns each):")
    print(f"  trivial endpoint: {base.rate:8.0f} req/s")
    for s in sides:
        print(
            f"  round trips only, {s.name + ':':14s} {s.rate:7.0f}/s  "
            f"ratio {s.rate / base.rate:.3f} (turns' {turn_ratios(s, base)})"
        )
        print(f"    {s.spent.per(n, 'request')}")


async def _split(app: Any, resource_id: str, after: datetime, n: int, probe: Probe) -> None:
    """The app's own time for each kind of request, one at a time: no server, no client."""
    trivial = await in_app(app, n, "GET", "/health/live")
    with _answering_at_once(app):
        answered = await in_app(app, n, "POST", "/bookings", lambda i: body(resource_id, i, after))
    # The answered run booked its first slot for real; these begin after it.
    booked = await in_app(app, n, "POST", "/bookings", lambda i: body(resource_id, i + 1, after))
    print("inside the app, one request at a time (no server, no client, no socket):")
    print(f"  GET /health/live:                       {trivial * 1e6:6.0f} µs/request")
    print(f"  POST /bookings, unit of work answering: {answered * 1e6:6.0f} µs/request")
    print(f"  POST /bookings:                         {booked * 1e6:6.0f} µs/booking")
    one, more = await _unit_of_work_floor(app.state.runtime.uow, n)
    print(f"  a unit of work around one SELECT 1:     {one * 1e6:6.0f} µs")
    print(f"  each further SELECT 1 in it:            {more * 1e6:6.0f} µs")
    core, driver = await _data_layer_floors(app.state.runtime.db, n)
    print("  the same write transaction around one SELECT 1, without the unit of work:")
    print(f"    Core on a connection from the pool (no session): {core * 1e6:6.0f} µs")
    print(f"    the driver's own connection, held (no pool):     {driver * 1e6:6.0f} µs")
    if app.state.runtime.db.dialect == "postgresql":
        checked, pinged = await _checkout_against_ping(app.state.runtime.db.url, n, probe)
        print("  a write transaction around one SELECT 1, in turns, wall (CPU) per transaction:")
        print(f"    a closed connection replaced at checkout (the hub's): {checked}")
        print(f"    the pool's pre-ping instead (BEGIN, a statement, ROLLBACK): {pinged}")


async def _unit_of_work_floor(units: Any, n: int) -> tuple[float, float]:
    """What the unit of work and its session cost before any use case: a write
    transaction around one trivial statement, and each statement more."""

    timed = []
    for k in (1, 8):
        work = _selects(k)
        started = time.perf_counter()
        for _ in range(n):
            await units.run(work)
        timed.append((time.perf_counter() - started) / n)
    return timed[0], (timed[1] - timed[0]) / 7


async def _data_layer_floors(db: Any, n: int) -> tuple[float, float]:
    """What the same write transaction costs below the unit of work: on a connection
    from SQLAlchemy's pool with no session (Core), and on the driver's own connection with
    no SQLAlchemy at all (sqlite3 on the loop's thread, as shared/sqlite_driver.py runs
    it; asyncpg). Each behind the service's writer lock, as the unit of work is: what a
    data layer written on either would start from. The first checks a connection out of
    the pool for each transaction, as the unit of work does; the second holds one, so it
    has no pool's cost at all."""

    async def on_core() -> None:
        async with db.writing(), db.engine.begin() as connection:
            await connection.execute(_SELECT_ONE)

    started = time.perf_counter()
    for _ in range(n):
        await on_core()
    core = (time.perf_counter() - started) / n
    async with db.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        started = time.perf_counter()
        for _ in range(n):
            await _selects_on_driver(db, driver, 1)
        on_driver = (time.perf_counter() - started) / n
    return core, on_driver


async def _checkout_against_ping(url: str, n: int, probe: Probe) -> tuple[str, str]:
    """A write transaction around one SELECT 1 on two engines of the same database, taking
    turns (bench/turns.py): the hub's (shared.db.replace_closed at checkout) and one with
    the pool's pre-ping, which shared.db used until the sixteenth pass. Each side's wall
    and CPU time per transaction."""
    checked, pinged = Database(url), Database(url, pool_pre_ping=True)

    def transactions(db: Database) -> Any:
        async def run(numbers: range) -> float:
            started = time.perf_counter()
            for _ in numbers:
                async with db.transaction() as session:
                    await session.execute(_SELECT_ONE)
            return time.perf_counter() - started

        return run

    sides = [
        Side("checked", n * TURNS, transactions(checked)),
        Side("pinged", n * TURNS, transactions(pinged)),
    ]
    try:
        for side in sides:  # each pool's connection made before the clock starts
            await side.run(range(1))
        await in_turns(sides, probe)
    finally:
        await checked.dispose()
        await pinged.dispose()

    def per_transaction(side: Side) -> str:
        wall, cpu = side.seconds / side.n, side.spent.cpu_seconds / side.n
        return f"{wall * 1e6:6.0f} µs ({cpu * 1e6:.0f} µs)"

    return per_transaction(sides[0]), per_transaction(sides[1])


_SELECT_ONE = text("SELECT 1")
# A booking's own statements on PostgreSQL: its resource, the closures, the lock, the
# overlap, the booking with its history (one statement), and the outbox; BEGIN and COMMIT
# come with any. SQLite has no lock statement.
FLOOR_STATEMENTS = 6


def _print_sql(spent: Counts, n: int, wanted: bool) -> None:
    if wanted:
        print("  statements per booking (all of the process's engines):")
        for line in spent.top(12, n):
            print(f"    {line}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--part", choices=("all", "bookings", "season"), default="all")
    parser.add_argument("--one-by-one", type=int, default=None, help="season: bookings timed")
    parser.add_argument("--sql", action="store_true", help="print the statements a booking sends")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also POST /bookings with the unit of work answering at once: the HTTP stack's share",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="also the app's own time per request, handed to it with no server or client",
    )
    parser.add_argument(
        "--floor",
        type=int,
        nargs="?",
        const=FLOOR_STATEMENTS,
        metavar="STATEMENTS",
        help="also POST /bookings sending only a booking's statements (6, or as many as given)",
    )
    args = parser.parse_args()
    probe = Probe.install(keep_sql=args.sql)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    async with contextlib.AsyncExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        [url] = await stack.enter_async_context(fresh_databases(folder, args.postgres, "bench"))
        stack.push_async_callback(delete_prefixed, args.redis, prefix)
        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite (WAL)'}; {CLIENTS} clients")
        settings = load_settings(
            "booking",
            database_url=url,
            redis_url=args.redis,
            stream_prefix=prefix,
            staff_tokens="bench:booking",
            log_level="WARNING",
        )
        async with served(SPEC, settings, lambda: NOW) as (base_url, app):
            async with httpx.AsyncClient(base_url=base_url) as client:
                made = [
                    (await client.post("/resources", json=RESOURCE, headers=STAFF)).json()["id"]
                    for _ in range(2)
                ]
            throughput_room, scale_room = made
            if args.part in ("all", "season"):
                await season_bench(base_url, args.one_by_one)
            if args.part == "season":
                return

            async def trivial(client: httpx.AsyncClient, i: int) -> int:
                return (await client.get("/health/live")).status_code

            async def book(client: httpx.AsyncClient, i: int) -> int:
                r = await client.post("/bookings", json=body(throughput_room, i, NOW + SLOT))
                return r.status_code

            base_lat: list[float] = []
            lat: list[float] = []
            statuses: Counter[int] = Counter()

            async with client_pool(base_url) as pool:
                await run_clients(200, trivial, pool)  # warm up
                base = clients_side("trivial", 3000, trivial, pool, base_lat)
                booked = clients_side("bookings", args.bookings, book, pool, lat, statuses)
                settle = relay_settled(app.state.runtime.relay, probe)
                await in_turns([base, booked], probe, settle=settle)
            base_rps, rps = base.rate, booked.rate
            print(
                f"trivial endpoint: {base_rps:8.0f} req/s  p50 {pct(base_lat, 50):6.1f} ms  "
                f"p99 {pct(base_lat, 99):6.1f} ms"
            )
            print(
                f"POST /bookings:   {rps:8.0f} bookings/s  p50 {pct(lat, 50):6.1f} ms  "
                f"p99 {pct(lat, 99):6.1f} ms  statuses {dict(statuses)}"
            )
            print(
                f"ratio bookings/s : trivial req/s = {rps / base_rps:.3f} "
                f"({TURNS} turns each; the turns': {turn_ratios(booked, base)})"
            )
            # One process: the server, its relay and timers, and the clients.
            print(f"  trivial:  {base.spent.per(3000)}")
            print(f"  bookings: {booked.spent.per(args.bookings, 'booking')}")
            _print_sql(booked.spent, args.bookings, args.sql)
            if args.ceiling:
                after = NOW + SLOT * (args.bookings + 1)  # free slots: the first is booked

                async def book_after(client: httpx.AsyncClient, i: int) -> int:
                    r = await client.post("/bookings", json=body(throughput_room, i, after))
                    return r.status_code

                await _ceiling(app, book_after, base_url, base_rps, args.bookings)
            if args.floor is not None:
                after = NOW + SLOT * (5 * args.bookings)  # past the slots of the runs above

                async def book_free(client: httpx.AsyncClient, i: int) -> int:
                    r = await client.post("/bookings", json=body(throughput_room, i, after))
                    return r.status_code

                await _floor(app, book_free, base_url, probe, args.bookings, args.floor)
            if args.split:
                # After every slot the runs above may have booked.
                await _split(
                    app,
                    throughput_room,
                    NOW + SLOT * (3 * args.bookings + 2),
                    args.bookings,
                    probe,
                )

            # Existing bookings in the past weeks of the same resource; new ones after them.
            far = NOW + timedelta(days=400)
            await prefill(app, scale_room, 1000, far - 1000 * SLOT)
            before = probe.snapshot()
            small = await time_per_booking(base_url, scale_room, far, 300)
            spent_small = probe.snapshot() - before
            await prefill(app, scale_room, 99_000, far - 100_000 * SLOT)
            before = probe.snapshot()
            large = await time_per_booking(base_url, scale_room, far + 300 * SLOT, 300)
            spent_large = probe.snapshot() - before
            print(f"time per booking with   1,000 existing: {small:6.2f} ms")
            print(f"  {spent_small.per(300, 'booking')}")
            print(f"time per booking with 100,000 existing: {large:6.2f} ms")
            print(f"  {spent_large.per(300, 'booking')}")
            print(f"ratio 100k : 1k = {large / small:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
