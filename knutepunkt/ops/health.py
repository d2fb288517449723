"""What `knutepunkt status` looks at: each service's readiness and outbox, each stream's
consumer groups (lag, pending, oldest pending), and the dead letters. Read-only."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from knutepunkt.ops.connection import json_object, unreachable
from knutepunkt.ops.target import Target
from shared.events import CONSUMERS, PRODUCERS, dlq_stream
from shared.messaging.lag import group_lag, redis_now_ms


@dataclass
class ServiceHealth:
    name: str
    url: str
    ready: bool = False
    version: str | None = None
    problem: str | None = None  # why it is not ready
    outbox_backlog: float | None = None
    outbox_lag_seconds: float | None = None
    clock: str | None = None  # the service's time (a demo clock's in the embedded mode)


@dataclass
class GroupHealth:
    name: str
    lag: int | None  # None: Redis cannot tell (e.g. after trimming or deletions)
    pending: int
    oldest_pending_age_seconds: float | None
    consumers: int
    # The oldest event the group has not consumed (pending or not yet read): a stopped
    # consumer shows here while its pending count stays 0.
    oldest_unconsumed_age_seconds: float = 0.0


@dataclass
class StreamHealth:
    name: str
    length: int
    dead_letters: int
    groups: list[GroupHealth] = field(default_factory=list)
    missing_groups: list[str] = field(default_factory=list)


@dataclass
class Thresholds:
    max_lag: int
    max_pending_age: float
    max_outbox_lag: float
    max_lag_age: float = 300.0


@dataclass
class HubHealth:
    services: list[ServiceHealth]
    streams: list[StreamHealth]
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "problems": self.problems,
            "services": [asdict(s) for s in self.services],
            "streams": [asdict(s) for s in self.streams],
        }


async def service_health(client: httpx.AsyncClient, name: str, url: str) -> ServiceHealth:
    found = ServiceHealth(name=name, url=url)
    try:
        response = await client.get(f"{url}/health/ready")
    except httpx.HTTPError as exc:
        found.problem = unreachable(exc)
        return found
    body = json_object(response)
    found.version = body.get("version")
    found.clock = body.get("clock")
    found.ready = response.status_code == 200 and body.get("status") == "ready"
    if not found.ready:
        down = [f"{k} {v}" for k, v in body.items() if k in ("database", "redis") and v != "ok"]
        found.problem = "not ready: " + (", ".join(down) or f"HTTP {response.status_code}")
    if body.get("service") not in (None, name):
        found.ready = False
        found.problem = f"the service at {url} says it is {body.get('service')!r}"
    try:
        metrics = await client.get(f"{url}/metrics")
        values = _gauges(metrics.text)
        found.outbox_backlog = values.get("outbox_backlog")
        found.outbox_lag_seconds = values.get("outbox_lag_seconds")
    except httpx.HTTPError:
        pass
    return found


def _gauges(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in ("outbox_backlog", "outbox_lag_seconds"):
                    out[sample.name] = sample.value
    except ValueError:
        pass
    return out


async def stream_health(redis: Redis, target: Target, stream: str, now_ms: int) -> StreamHealth:
    key = target.names(stream)
    length = int(await redis.xlen(key))
    found = StreamHealth(stream, length, int(await redis.xlen(dlq_stream(key))))
    groups = await redis.xinfo_groups(key) if await redis.exists(key) else []
    for info in groups:
        lag = await group_lag(redis, key, info, now_ms)
        found.groups.append(
            GroupHealth(
                name=lag.group,
                lag=lag.lag,
                pending=lag.pending,
                oldest_pending_age_seconds=lag.oldest_pending_age_seconds,
                consumers=lag.consumers,
                oldest_unconsumed_age_seconds=lag.oldest_unconsumed_age_seconds,
            )
        )
    have = {g.name for g in found.groups}
    found.missing_groups = [g for g in CONSUMERS.get(stream, ()) if g not in have]
    return found


async def gather(target: Target, redis: Redis, thresholds: Thresholds, timeout: float) -> HubHealth:
    """Raises redis errors (the caller maps them to a connection error)."""
    now_ms = await redis_now_ms(redis)
    streams = [await stream_health(redis, target, s, now_ms) for s in PRODUCERS]
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        services = list(
            await asyncio.gather(*(service_health(client, n, u) for n, u in target.urls.items()))
        )
    return HubHealth(services, streams, problems(services, streams, thresholds))


def problems(
    services: list[ServiceHealth], streams: list[StreamHealth], limits: Thresholds
) -> list[str]:
    found: list[str] = []
    for s in services:
        if not s.ready:
            found.append(f"{s.name}: {s.problem}")
        elif s.outbox_lag_seconds is not None and s.outbox_lag_seconds > limits.max_outbox_lag:
            found.append(
                f"{s.name}: outbox lag {s.outbox_lag_seconds:.0f} s "
                f"(over {limits.max_outbox_lag:g} s)"
            )
    for st in streams:
        if st.dead_letters:
            found.append(f"{st.name}: {st.dead_letters} dead letter(s) in {st.name}.dlq")
        for g in st.groups:
            if g.lag is not None and g.lag > limits.max_lag:
                found.append(
                    f"{st.name}: group {g.name} lags {g.lag} events (over {limits.max_lag})"
                )
            age = g.oldest_pending_age_seconds
            if age is not None and age > limits.max_pending_age:
                found.append(
                    f"{st.name}: group {g.name} has an event pending for {age:.0f} s "
                    f"(over {limits.max_pending_age:g} s)"
                )
            behind = g.oldest_unconsumed_age_seconds
            if behind > limits.max_lag_age and (age is None or age <= limits.max_pending_age):
                found.append(
                    f"{st.name}: group {g.name} has not consumed an event {behind:.0f} s old "
                    f"(over {limits.max_lag_age:g} s)"
                )
    return found
