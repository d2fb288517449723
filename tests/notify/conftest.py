"""The notify service in-process against the real dev sinks (aiosmtpd, HTTP SMS stub)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from knutepunkt.devsinks.mail import MailCatcher
from knutepunkt.devsinks.sms import SmsSink
from knutepunkt.devsinks.testing import running_mail_catcher, running_sms_sink
from services.notify.app import make_spec
from shared.events import CATALOG, NOTIFY_STREAM, EventData, encode_entry, new_event
from tests.support.apps import RunningService, staffed_service
from tests.support.clock import TestClock
from tests.support.streams import stream_entries

AUTH = {"Authorization": "Bearer td"}
# Tuesday 5 May 2026, 12:00 in Oslo: inside everyone's hours.
NOON = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)


def MovingClock(start: datetime) -> TestClock:
    return TestClock(start, moving=True)


@dataclass
class Hub:
    service: RunningService
    mail: MailCatcher
    sms: SmsSink
    redis: Redis
    prefix: str
    clock: TestClock

    @property
    def client(self):  # type: ignore[no-untyped-def]
        return self.service.client

    async def publish(self, data: EventData, **kwargs: Any) -> str:
        envelope = new_event(data, **kwargs)
        await self.redis.xadd(self.prefix + CATALOG[envelope.type].stream, encode_entry(envelope))
        return envelope.id

    async def republish(self, data: EventData, event_id: str) -> None:
        envelope = new_event(data, event_id=event_id)
        await self.redis.xadd(self.prefix + CATALOG[envelope.type].stream, encode_entry(envelope))

    async def notifications(self, **params: str) -> list[dict[str, Any]]:
        if "recipient" in params:  # an address only ever in a body
            response = await self.client.post("/notifications/search", json=params, headers=AUTH)
        else:
            response = await self.client.get("/notifications", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def outcomes(self) -> list[dict[str, Any]]:
        return await stream_entries(self.redis, self.prefix + NOTIFY_STREAM)

    async def settled(self, event_id: str, count: int) -> list[dict[str, Any]]:
        """The event's deliveries once there are `count` and none is still on its way."""
        rows = await self.notifications(event_id=event_id)
        if len(rows) == count and all(r["status"] not in ("queued", "sending") for r in rows):
            return rows
        return []


Factory = Callable[..., contextlib.AbstractAsyncContextManager[Hub]]


@pytest.fixture
def hub(database_url: str, redis_url: str, prefix: str, redis: Redis) -> Factory:
    @contextlib.asynccontextmanager
    async def start(
        start: datetime = NOON, sms_provider: str = "generic", **config: Any
    ) -> AsyncIterator[Hub]:
        config.setdefault("retry_base_seconds", 0.05)
        config.setdefault("retry_max_seconds", 0.2)
        config.setdefault("poll_seconds", 0.1)
        config.setdefault("sms_per_second", 0)
        config.setdefault("sms_username", "knutepunkt")
        config.setdefault("sms_password", "test-password")
        # The daily digests only where a test asks for them: at NOON on a weekday one is
        # due, and whether it lists a test's events would race their consumption.
        for role in ("desk", "cafe", "booking"):
            config.setdefault(f"digest_{role}_enabled", False)
        clock = MovingClock(start)
        async with (
            running_mail_catcher(http=False) as mail,
            running_sms_sink() as sms,
            staffed_service(
                make_spec(**config),
                database_url=database_url,
                redis_url=redis_url,
                prefix=prefix,
                clock=clock,
                smtp_url=mail.url,
                sms_gateway_url=sms.url,
                sms_provider=sms_provider,
            ) as service,
        ):
            yield Hub(service, mail, sms, redis, prefix, clock)

    return start
