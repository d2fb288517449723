"""Four replicas of each service started at once on fresh PostgreSQL databases, round after
round: every replica becomes ready every time, and the seed rows are there once.

The production shape (compose, several replicas) on a PostgreSQL of the test's own, each
round on four new databases: migrations and seeds race for real. Two rounds by default;
ten in the `slow` test."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.settings import SERVICES
from tests.faults.fleet import base_env
from tests.faults.servers import PostgresServer, postgres_server, why_no_postgres
from tests.support.prefixes import delete_prefixed
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for_sync

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(why_no_postgres() is not None, reason=str(why_no_postgres())),
]

REPLICAS = 4
READY_WITHIN = 180.0  # 16 processes importing at once on two cores
# The natural key of each service's seed rows, and the table: a row there twice is a race.
SEEDED = {
    "booking": ("resources", "name"),
    "catering": ("menu_items", "id"),
    "loans": ("items", "hub, label"),
}


@dataclass
class Round:
    number: int
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    seed_counts: dict[str, int] = field(default_factory=dict)


def _wait_ready(proc: ServiceProcess, deadline: float) -> str | None:
    """None when ready; else what happened (its exit code and the last log lines)."""
    try:
        wait_for_sync(
            lambda: proc.ready_status() == 200 or not proc.alive,
            max(1.0, deadline - time.monotonic()),
            interval=0.2,
        )
    except TimeoutError:
        return f"not ready within {READY_WITHIN:g} s: {_cause(proc)}"
    if not proc.alive:
        code = proc.proc.returncode if proc.proc else None
        return f"exited with code {code}: {_cause(proc)}"
    return None


def _cause(proc: ServiceProcess) -> str:
    """The exception a replica died of (the last line of its last traceback), else its
    last log line."""
    last = ""
    for line in proc.log_tail(200).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if "Traceback" in message:
            raised = [ln for ln in message.splitlines() if _RAISED.match(ln)]
            # A violation names itself in the driver's line (a seed racing another).
            raised = [ln for ln in raised if "violat" in ln] or raised
            last = raised[-1] if raised else message.strip().splitlines()[-1]
        elif not last:
            last = message
    return last[:300]


# "sqlalchemy.exc.IntegrityError: ...", "ValueError: ...": the line naming what was raised.
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Violation\w*)\b.*:")


def _stop(procs: list[ServiceProcess]) -> None:
    for proc in procs:
        if proc.alive and proc.proc:
            proc.proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.stop()  # waits; kills what did not stop


async def _round(pg: PostgresServer, number: int, redis_url: str, logs: Path) -> Round:
    found = Round(number)
    urls = {s: await pg.create_database(f"r{number}_{s}") for s in SERVICES}
    prefix = f"replicas-{number}-{time.monotonic_ns()}:"
    env = base_env(
        redis_url, prefix, **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()}
    )
    procs = [ServiceProcess(s, env, logs) for s in SERVICES for _ in range(REPLICAS)]
    started = time.monotonic()
    try:
        for proc in procs:
            proc.start(wait=False)
        deadline = started + READY_WITHIN
        outcomes = await asyncio.gather(
            *(asyncio.to_thread(_wait_ready, p, deadline) for p in procs)
        )
        found.seconds = time.monotonic() - started
        for proc, outcome in zip(procs, outcomes, strict=True):
            if outcome is not None:
                found.failures.append(f"round {number}: {proc.service}:{proc.port} {outcome}")
    finally:
        await asyncio.to_thread(_stop, procs)
        await delete_prefixed(redis_url, prefix)
    for service, (table, key) in SEEDED.items():
        database = f"r{number}_{service}"
        twice = await pg.fetch(
            database, f"SELECT {key}, count(*) FROM {table} GROUP BY {key} HAVING count(*) > 1"
        )
        if twice:
            found.failures.append(f"round {number}: {service} seeded twice: {twice[:3]}")
        rows = await pg.fetch(database, f"SELECT count(*) AS n FROM {table}")
        found.seed_counts[service] = int(rows[0]["n"])
    return found


async def _rounds(count: int, redis_url: str, tmp_path: Path) -> list[Round]:
    logs = tmp_path / "logs"
    logs.mkdir()
    with postgres_server() as pg:
        return [await _round(pg, n, redis_url, logs) for n in range(1, count + 1)]


def _verdict(rounds: list[Round]) -> None:
    failures = [f for r in rounds for f in r.failures]
    timings = ", ".join(f"{r.seconds:.1f}" for r in rounds)
    print(f"{len(rounds)} rounds of {REPLICAS * len(SERVICES)} replicas; ready in s: {timings}")
    assert not failures, "\n".join(failures)
    counts = {tuple(sorted(r.seed_counts.items())) for r in rounds}
    assert len(counts) == 1, f"seed rows differ between rounds: {counts}"
    assert all(n > 0 for n in rounds[0].seed_counts.values()), rounds[0].seed_counts


@pytest.mark.timeout(900)
@pytest.mark.timeout(900)
async def test_replicas_start_together_on_fresh_databases(tmp_path: Path, redis_url: str) -> None:
    _verdict(await _rounds(2, redis_url, tmp_path))


# Ten rounds of sixteen processes is minutes on two cores: run it on purpose (`-m rounds`).
@pytest.mark.slow
@pytest.mark.rounds
@pytest.mark.timeout(3600)
async def test_replicas_start_together_on_fresh_databases_ten_times(
    tmp_path: Path, redis_url: str
) -> None:
    _verdict(await _rounds(10, redis_url, tmp_path))
