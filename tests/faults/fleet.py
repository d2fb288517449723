"""Services as real processes for the fault tests, and what their databases hold.

The checks read each service's outbox and inbox (the backbone's own tables) and a few
domain rows: the truth of what was committed, whatever the clients were answered.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import typer
from redis.asyncio import Redis
from typer.testing import CliRunner, Result

from knutepunkt import ops
from shared.events import WIRE_FIELD
from shared.settings import SERVICES
from tests.support.processes import ServiceProcess
from tests.support.servers import free_port

TOKENS = {"booking": "f-booking", "desk": "f-desk", "cafe": "f-cafe", "admin": "f-admin"}
STAFF_TOKENS = ",".join(f"{token}:{role}" for role, token in TOKENS.items())
ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}
CAFE = {"Authorization": f"Bearer {TOKENS['cafe']}"}
DESK = {"Authorization": f"Bearer {TOKENS['desk']}"}


def base_env(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """What every service of a fault test gets: quick polls, so that a test waits seconds."""
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": prefix,
        "STAFF_TOKENS": STAFF_TOKENS,
        "LOG_FORMAT": "json",
        "OUTBOX_POLL_SECONDS": "0.2",
        "CONSUMER_BLOCK_MS": "200",
        "CLAIM_IDLE_MS": "5000",
        "RETRY_BACKOFF_MS": "100",
        "NOTIFY_QUIET_HOURS": "04:00-04:01",  # the test may run at night
        "BOOKING_REMINDER_POLL_SECONDS": "3600",
    }
    env.update(extra)
    return env


async def start_all(procs: list[ServiceProcess], timeout: float = 120) -> None:
    """Start every process at once, then wait for each to be ready."""
    for proc in procs:
        proc.start(wait=False)
    await asyncio.gather(*(asyncio.to_thread(p.wait_ready, timeout) for p in procs))


def readiness(proc: ServiceProcess, timeout: float = 5.0) -> int | None:
    """The status of /health/ready; its checks answer within 2 s even when a server hangs."""
    try:
        return httpx.get(f"{proc.url}/health/ready", timeout=timeout).status_code
    except httpx.HTTPError:
        return None


def stop_all(procs: list[ServiceProcess]) -> None:
    for proc in procs:
        proc.stop()


def log_text(procs: list[ServiceProcess]) -> str:
    return "\n".join(p.log_path.read_text(errors="replace") for p in procs if p.log_path.exists())


async def stream_event_ids(redis: Redis, stream: str) -> Counter[str]:
    """How many times each event id is on the stream."""
    found: Counter[str] = Counter()
    last = "-"
    while True:
        entries = await redis.xrange(stream, min=last, count=1000)
        if last != "-":
            entries = entries[1:]
        if not entries:
            return found
        for _entry_id, fields in entries:
            payload = fields.get(WIRE_FIELD.encode())
            if payload is not None:
                found[json.loads(payload)["id"]] += 1
        last = entries[-1][0].decode()


def cli(env: dict[str, str], *args: str) -> Result:
    """`knutepunkt <args>` in-process, with the hub found through `env` (as ops would)."""
    app = typer.Typer()

    @app.callback()
    def _root() -> None: ...

    ops.register(app)
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def cli_env(procs: list[ServiceProcess], redis_url: str, prefix: str) -> dict[str, str]:
    env = {"REDIS_URL": redis_url, "STREAM_PREFIX": prefix, "STAFF_TOKENS": STAFF_TOKENS}
    for proc in procs:
        env[f"{proc.service.upper()}_URL"] = proc.url
    for service in SERVICES:
        # A service the test does not run: a port with nothing on it, answered at once.
        env.setdefault(f"{service.upper()}_URL", f"http://127.0.0.1:{free_port()}")
    return env


def peak_rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def write_log_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return logs
