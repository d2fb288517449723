"""`knutepunkt outbox republish`: after Redis lost its data, ask each service to publish
again what its outbox kept from a window (`POST /admin/outbox/republish`, admin role).

Through the services' HTTP API rather than their databases: the command needs no database
URL, works the same against the embedded hub and compose, and each service reads its own
outbox with its own driver and settings."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from knutepunkt.ops.connection import json_object, unreachable
from knutepunkt.ops.target import Target, TargetError
from shared.calendar import utcnow

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 instant with its zone offset (`2027-03-15T10:30+01:00`, `...Z`), or a
    duration back from now (`90m`, `2h`, `1d12h`, `45s`)."""
    value = text.strip()
    match = _DURATION.match(value)
    if value and match and any(match.groups()):
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        return (now or utcnow()) - span
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 instant nor a duration like 90m, 2h or 1d"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no zone offset: add one, e.g. +01:00 or Z")
    return instant


@dataclass
class ServiceRepublished:
    service: str
    url: str
    republished: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    complete: bool = False
    oldest_kept: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def republish_one(
    client: httpx.AsyncClient,
    hub: Target,
    service: str,
    since: datetime,
    until: datetime | None,
) -> ServiceRepublished:
    url = hub.urls[service]
    found = ServiceRepublished(service, url)
    body: dict[str, Any] = {"since": since.isoformat()}
    if until is not None:
        body["until"] = until.isoformat()
    try:
        response = await client.post(
            f"{url}/admin/outbox/republish", json=body, headers=hub.staff_headers("admin")
        )
    except httpx.HTTPError as exc:
        found.problem = unreachable(exc)
        return found
    answer = json_object(response)
    if response.status_code != 200:
        reason = answer.get("detail")
        found.problem = f"HTTP {response.status_code}: {reason or response.text[:200]}"
        return found
    found.republished = int(answer.get("republished", 0))
    found.streams = dict(answer.get("streams", {}))
    found.complete = bool(answer.get("complete"))
    found.oldest_kept = answer.get("oldest_kept")
    return found


async def republish(
    hub: Target,
    services: list[str],
    since: datetime,
    until: datetime | None,
    timeout: float,
) -> list[ServiceRepublished]:
    # The token is checked before any request: a missing one is a usage error (exit 2).
    hub.staff_headers("admin")
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        return list(
            await asyncio.gather(*(republish_one(client, hub, s, since, until) for s in services))
        )


def chosen_services(hub: Target, wanted: list[str] | None) -> list[str]:
    if not wanted:
        return list(hub.urls)
    unknown = [s for s in wanted if s not in hub.urls]
    if unknown:
        raise TargetError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(hub.urls)}")
    return wanted
