"""The whole hub as real processes for the end-to-end tests: the four services on SQLite
files of their own, the run's Redis, a real SMTP server and SMS gateway stub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from knutepunkt.devsinks.testing import running_mail_catcher, running_sms_sink
from knutepunkt.ops.target import Target
from shared.calendar import CAFE_HOURS, HUB_HOURS, Calendar, utcnow
from tests.support.processes import ServiceProcess
from tests.support.staff import STAFF_YAML

SERVICES = ("booking", "loans", "catering", "notify")


class Hub:
    def __init__(
        self,
        procs: dict[str, ServiceProcess],
        env: dict[str, str],
        tmp: Path,
        tokens: dict[str, str],
        mail: Any,
        sms: Any,
    ) -> None:
        self.procs = procs
        self.env = env
        self.tmp = tmp
        self.tokens = tokens
        self.mail = mail
        self.sms = sms
        self.http = httpx.AsyncClient(timeout=15)

    def url(self, service: str, path: str) -> str:
        return self.procs[service].url + path

    def staff(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def target(self) -> Target:
        return Target(
            redis_url=self.env["REDIS_URL"],
            prefix=self.env["STREAM_PREFIX"],
            urls={s: p.url for s, p in self.procs.items()},
            tokens={self.tokens["admin"]: frozenset({"admin"})},
        )

    def database(self, service: str) -> Path:
        return self.tmp / f"{service}.db"


@contextlib.asynccontextmanager
async def running_hub(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    tokens: dict[str, str],
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Hub]:
    staff_file = tmp_path / "staff.yaml"
    staff_file.write_text(STAFF_YAML)
    async with running_mail_catcher() as mail, running_sms_sink() as sms:
        env = {
            "REDIS_URL": redis_url,
            "STREAM_PREFIX": prefix,
            "SMTP_URL": mail.url,
            "SMS_GATEWAY_URL": sms.url,
            "SMS_PROVIDER": "generic",
            "STAFF_TOKENS": ",".join(f"{t}:{r}" for r, t in tokens.items()),
            "STAFF_DIRECTORY": str(staff_file),
            "NOTIFY_QUIET_HOURS": "04:00-04:01",  # the test may run at night
            "CONSUMER_BLOCK_MS": "200",
            "OUTBOX_POLL_SECONDS": "0.2",
            "NOTIFY_POLL_SECONDS": "0.2",
            "CLAIM_IDLE_MS": "5000",
            **(extra_env or {}),
        }
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / service}.db"
        procs = {s: ServiceProcess(s, env, tmp_path) for s in SERVICES}
        try:
            for proc in procs.values():
                proc.start(wait=False)
            for proc in procs.values():
                await asyncio.to_thread(proc.wait_ready, 120)
            hub = Hub(procs, env, tmp_path, tokens, mail, sms)
            yield hub
            await hub.http.aclose()
        finally:
            for proc in procs.values():
                proc.stop()


def open_meeting_day() -> date:
    """An open day for the rooms and the café, far enough ahead for catering's lead time."""
    hub, cafe = Calendar(HUB_HOURS), Calendar(CAFE_HOURS)
    day = cafe.add_working_days(utcnow().date(), 4)
    while not (hub.is_open_day(day) and cafe.is_open_day(day)):
        day += timedelta(days=1)
    return day
