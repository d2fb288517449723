"""Web front benchmark: `python bench/web.py [--redis URL] [--requests N]`.

The staff desk's "I dag" and "Forespørsler" pages per second, signed in as a booking
officer, and the citizens' week of Møterom 1 ("Uke", this week, 20 bookings a day), with
1,000 and with 100,000 bookings in the booking service's database, against a static page
(the accessibility statement: the same app, middleware, session and template engine, no
service call)
served the same way in the same run. Prints pages/s, p50 and p99, the CPU time per page of
each process (the bench's clients, the web front, the booking service), each page against
the static page, and 100k against 1k. Asserts nothing about speed.

Two hubs run side by side, one per database size, each a booking service and a web front
as their own processes, as deployed (SQLite, the shared Redis with a key prefix of its own;
the web front with the launcher's dev sign-in); the bookings are written straight to the
booking table with bench/booking.py's prefill (the setup, not the measurement). The
page-and-size pairs are measured in turns (--slices), so that a machine whose load moves
gives every pair (eight, with the week) the same mix of it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time as time_module
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BOOKING_REMINDER_POLL_SECONDS", "3600")


def _booking_bench() -> Any:
    """bench/booking.py, for its prefill (one way to write bookings straight to the table)."""
    spec = importlib.util.spec_from_file_location("booking_bench", ROOT / "bench" / "booking.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


booking_bench = _booking_bench()

from shared.db import Database  # noqa: E402
from tests.support.prefixes import delete_prefixed  # noqa: E402
from tests.support.servers import free_port  # noqa: E402
from tests.support.waiting import wait_for_sync  # noqa: E402

OSLO = ZoneInfo("Europe/Oslo")
TOKEN = "bench-booking"
CLIENTS = 8
PENDING = 20
PER_DAY = 20
PAGES = {
    "static /": "/tilgjengelighet",  # the front page now shows the week's hours: not static
    "I dag": "/ansatt/",
    "Forespørsler": "/ansatt/foresporsler",
    # The citizens' week of a room: seven availability reads, no sign-in needed.
    "Uke": "/rom/moterom-1",
}


def cpu_seconds(pid: int | None = None) -> float:
    """A process's CPU time so far (user + system, all its threads): this process's own
    when `pid` is None, another's from Linux's /proc (nan elsewhere)."""
    if pid is None:
        return time_module.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def process(module: str, env: dict[str, str], ready: str, log: Path) -> Iterator[int]:
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env={**os.environ, **env, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_sync(lambda: _ready(ready, child, log), 120, interval=0.2, message=module)
        yield child.pid
    finally:
        child.terminate()
        child.wait(15)


def _ready(url: str, child: subprocess.Popen[bytes], log: Path) -> bool:
    if child.poll() is not None:
        raise RuntimeError(f"{url} exited:\n{log.read_text()[-2000:]}")
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def signed_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/ansatt/logg-inn")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    answer = await client.post(
        "/ansatt/logg-inn/utvikling", data={"csrf": csrf[1], "role": "booking"}
    )
    assert answer.status_code == 303, answer.text[:500]


async def requests_waiting(booking_url: str) -> None:
    """Requests for Gymsalen on evenings ahead, each from its own club (the weekly quota)."""
    async with httpx.AsyncClient(base_url=booking_url, timeout=60) as client:
        made, ahead = 0, 2
        while made < PENDING:
            day = datetime.now(OSLO).date() + timedelta(days=ahead)
            ahead += 1
            start = datetime.combine(day, time(18), OSLO)
            answer = await client.post(
                "/bookings",
                json={
                    "resource_id": "gymsalen",
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=2)).isoformat(),
                    "booker_type": "organisation",
                    "organisation": {"number": "974760673", "name": "Benk idrettslag"},
                    "booker": {"name": "Benk", "email": "benk@example.org"},
                    "title": f"Trening {made}",
                },
            )
            if answer.status_code == 201:
                made += 1
            elif answer.status_code not in (409, 422):
                raise RuntimeError(f"request failed: {answer.status_code} {answer.text[:300]}")


class Tally:
    """One page of one hub: its requests, the time they took in all, their latencies, and
    the CPU time each process spent meanwhile (the bench's clients, the web front, the
    booking service)."""

    def __init__(self) -> None:
        self.requests = 0
        self.elapsed = 0.0
        self.latencies: list[float] = []
        self.cpu: dict[str, float] = {}

    def cpu_per_page(self) -> str:
        return ", ".join(
            f"{name} {seconds / self.requests * 1000:.1f}" for name, seconds in self.cpu.items()
        )

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed


async def measure(
    client: httpx.AsyncClient, path: str, n: int, tally: Tally, pids: dict[str, int | None]
) -> None:
    """`n` requests of `path` by CLIENTS concurrent clients, added to `tally`."""
    counter = iter(range(n))
    statuses: set[int] = set()

    async def worker() -> None:
        for _ in counter:
            started = time_module.perf_counter()
            statuses.add((await client.get(path)).status_code)
            tally.latencies.append(time_module.perf_counter() - started)

    spent = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time_module.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    tally.elapsed += time_module.perf_counter() - started
    for name, pid in pids.items():
        tally.cpu[name] = tally.cpu.get(name, 0.0) + cpu_seconds(pid) - spent[name]
    tally.requests += n
    if statuses != {200}:
        raise RuntimeError(f"{path}: statuses {statuses}")


async def interleaved(
    hubs: dict[str, tuple[str, httpx.Cookies, dict[str, int | None]]], n: int, slices: int
) -> dict[tuple[str, str], Tally]:
    """Every page of every hub, in `slices` turns of n/slices requests each: on a machine
    whose load moves (other work runs on it), each page then sees the same mix of quiet and
    busy moments, and the ratios compare like with like."""
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    clients = {
        label: httpx.AsyncClient(base_url=url, cookies=cookies, limits=limits, timeout=60)
        for label, (url, cookies, _pids) in hubs.items()
    }
    tallies = {(label, name): Tally() for label in hubs for name in PAGES}
    try:
        for (label, name), _tally in tallies.items():  # warm up, and fail early
            answer = await clients[label].get(PAGES[name])
            if answer.status_code != 200:
                raise RuntimeError(f"{PAGES[name]}: {answer.status_code} {answer.text[:300]}")
        share = max(1, n // slices)
        for _ in range(slices):
            for (label, name), tally in tallies.items():
                await measure(clients[label], PAGES[name], share, tally, hubs[label][2])
    finally:
        for client in clients.values():
            await client.aclose()
    return tallies


def report(tallies: dict[tuple[str, str], Tally], labels: list[str]) -> None:
    for label in labels:
        rates = {name: tallies[label, name].rate for name in PAGES}
        print(f"\nwith {label} bookings ({CLIENTS} clients)")
        for name in PAGES:
            tally = tallies[label, name]
            print(
                f"  {name:<13} {tally.rate:7.1f} pages/s"
                f"  p50 {booking_bench.pct(tally.latencies, 50):7.1f} ms"
                f"  p99 {booking_bench.pct(tally.latencies, 99):7.1f} ms"
                f"  CPU ms/page: {tally.cpu_per_page()}"
            )
        for name in (n for n in PAGES if n != "static /"):
            print(f"  ratio {name} : static = {rates[name] / rates['static /']:.2f}")
    small, large = labels
    print()
    for name in PAGES:
        ratio = tallies[large, name].rate / tallies[small, name].rate
        print(f"ratio {name} {large} : {small} = {ratio:.2f}")


@contextlib.contextmanager
def hub(
    label: str, tmp: Path, redis_url: str, prefix: str
) -> Iterator[tuple[str, str, SimpleNamespace, dict[str, int | None]]]:
    """A booking service and a web front on it, as processes, with a database of their
    own: (booking URL, web URL, a writer for the prefill, the processes whose CPU time is
    counted)."""
    slug = label.replace(",", "")
    database_url = f"sqlite+aiosqlite:///{tmp}/booking-{slug}.db"
    booking_port, web_port = free_port(), free_port()
    booking_url, web_url = f"http://127.0.0.1:{booking_port}", f"http://127.0.0.1:{web_port}"
    shared = {"REDIS_URL": redis_url, "STREAM_PREFIX": f"{prefix}{slug}:"}
    booking_env = {
        **shared,
        "BOOKING_PORT": str(booking_port),
        "BOOKING_DATABASE_URL": database_url,
        "STAFF_TOKENS": f"{TOKEN}:booking",
    }
    web_env = {
        **shared,
        "WEB_PORT": str(web_port),
        "WEB_BOOKING_URL": booking_url,
        "WEB_DEV_SIGNIN": "true",
        "WEB_DEV_TOKENS": f"booking:{TOKEN}",
        "WEB_SERVICE_TIMEOUT_SECONDS": "60",
    }
    # bench/booking.py's prefill writes through a service's runtime database.
    writer = SimpleNamespace(
        state=SimpleNamespace(runtime=SimpleNamespace(db=Database(database_url)))
    )
    log = tmp / f"{slug}.log"
    with (
        process("services.booking", booking_env, booking_url + "/health/ready", log) as booking,
        process("services.web", web_env, web_url + "/health/ready", log) as web,
    ):
        yield booking_url, web_url, writer, {"clients": None, "web": web, "booking": booking}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description="I dag and Forespørsler against the static page, 1,000 and 100,000 "
        "bookings side by side (two booking services, two web fronts), measured in turns."
    )
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument(
        "--requests", type=int, default=300, help="requests per page and database size"
    )
    parser.add_argument("--slices", type=int, default=5, help="turns the requests are cut into")
    args = parser.parse_args()
    prefix = f"bench-web-{uuid.uuid4().hex[:8]}:"
    tmp = tempfile.TemporaryDirectory()
    writers: list[SimpleNamespace] = []
    try:
        with (
            hub("1,000", Path(tmp.name), args.redis, prefix) as (s_booking, s_web, w1, s_pids),
            hub("100,000", Path(tmp.name), args.redis, prefix) as (l_booking, l_web, w2, l_pids),
        ):
            writers = [w1, w2]
            hubs: dict[str, tuple[str, httpx.Cookies, dict[str, int | None]]] = {}
            for label, booking_url, web_url, pids in (
                ("1,000", s_booking, s_web, s_pids),
                ("100,000", l_booking, l_web, l_pids),
            ):
                async with httpx.AsyncClient(base_url=web_url, timeout=60) as client:
                    await signed_in(client)
                    hubs[label] = (web_url, client.cookies, pids)
                await requests_waiting(booking_url)
            # A busy room: 20 bookings a day on Møterom 1 for the 50 days around today, in
            # both; then, in the large one, 99,000 more back to back in the years before.
            # I dag shows the same 40 bookings whether there are 1,000 or 100,000 in all.
            today = datetime.combine(datetime.now(OSLO).date(), time(0), OSLO)
            for writer in writers:
                for offset in range(-25, 25):
                    morning = (today + timedelta(days=offset, hours=8)).astimezone(UTC)
                    await booking_bench.prefill(writer, "moterom-1", PER_DAY, morning)
            # In UTC: wall-clock arithmetic in Oslo would fold slots together at DST.
            long_ago = (today - timedelta(days=800)).astimezone(UTC)
            await booking_bench.prefill(w2, "moterom-1", 99_000, long_ago)
            print(
                f"{args.requests} requests per page and size, in {args.slices} turns; "
                f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
            )
            tallies = await interleaved(hubs, args.requests, args.slices)
            report(tallies, list(hubs))
            print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        await delete_prefixed(args.redis, prefix)
        for writer in writers:
            await writer.state.runtime.db.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
