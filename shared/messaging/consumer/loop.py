"""The consumer's loop: a service's consumer group on the streams it listens to.

The group is created at the start of its stream; reads are bounded (COUNT, BLOCK) and carry
the previous batch's acks in the same round trip. Each read batch is handled by batch.py;
failures are retried or dead-lettered by failures.py; what others left pending is taken over
by reclaim.py. Redis away: back off and reconnect. Its groups gone (NOGROUP, Redis restarted
empty): make them again. The database away: hold the batch, retry it with backoff, and spend
none of its delivery counts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shared.backoff import Backoff
from shared.db import Database
from shared.events import CATALOG
from shared.messaging.consumer.acks import Acks
from shared.messaging.consumer.batch import Batches, DatabaseDown
from shared.messaging.consumer.delivery import Handler
from shared.messaging.consumer.failures import Failures
from shared.messaging.consumer.member import Member
from shared.messaging.consumer.reclaim import Reclaimer
from shared.messaging.redis import (
    Entry,
    StreamNames,
    as_str,
    ensure_group,
    reset_connections,
)
from shared.messaging.tables import MessagingTables
from shared.observability import Metrics
from shared.tasks import cancelling
from shared.unit_of_work import UnitsOfWork

log = logging.getLogger("knutepunkt.consumer")


@dataclass
class ConsumerConfig:
    batch: int = 100
    block_ms: int = 1_000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    retry_backoff_ms: int = 500
    retry_backoff_max_ms: int = 60_000
    max_event_bytes: int = 64 * 1024


def default_consumer_name(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


@dataclass
class Consumer:
    service: str
    db: Database
    tables: MessagingTables
    redis: Redis
    names: StreamNames
    handlers: dict[str, Handler]
    metrics: Metrics
    # Binds each delivery's unit of work to the inbox transaction; without one, handlers get
    # a unit of work with no store, on the real clock.
    units: UnitsOfWork[Any] | None = None
    config: ConsumerConfig = field(default_factory=ConsumerConfig)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or default_consumer_name(self.service)
        unknown = set(self.handlers) - set(CATALOG)
        if unknown:
            raise ValueError(f"handlers for unknown event types: {sorted(unknown)}")
        self.streams = sorted({CATALOG[t].stream for t in self.handlers})
        config = self.config
        self._member = Member(self.redis, self.names, self.service, self.name)
        self._acks = Acks(self._member)
        self._failures = Failures(
            self._member,
            self.metrics,
            max_deliveries=config.max_deliveries,
            backoff_ms=config.retry_backoff_ms,
            backoff_max_ms=config.retry_backoff_max_ms,
        )
        self._batches = Batches(
            self._member,
            self.db,
            self.tables,
            self.units,
            self.handlers,
            self.metrics,
            self._acks,
            self._failures,
            max_event_bytes=config.max_event_bytes,
        )
        self._reclaimer = Reclaimer(
            self._member,
            self.streams,
            self._failures,
            claim_idle_ms=config.claim_idle_ms,
            batch=config.batch,
            max_deliveries=config.max_deliveries,
        )
        self._groups_ready = False
        self._stopping = False
        # Batches the database could not take yet, oldest first.
        self._held: list[tuple[str, list[Entry]]] = []
        self._held_backoff = Backoff(0.1, 5.0)

    @property
    def group(self) -> str:
        """The consumer group: the service's name (a test may read as another service)."""
        return self._member.group

    @group.setter
    def group(self, group: str) -> None:
        self._member.group = group

    async def run(self) -> None:
        backoff = Backoff(0.1, 5.0)
        while not self._stopping:
            try:
                if not self._groups_ready:
                    for stream in self.streams:
                        await ensure_group(self.redis, self.names(stream), self.group)
                    self._groups_ready = True
                await self.step()
                backoff.reset()
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    # The stream or group vanished (Redis restarted empty, or ops deleted
                    # it): make it again rather than stop consuming for good.
                    log.warning("consumer group missing, recreating")
                    self._groups_ready = False
                    self._acks.clear()
                    self._failures.clear()
                    self._held.clear()
                    continue
                log.exception("redis refused a consumer command")
                await asyncio.sleep(backoff.next())
            except (RedisError, OSError) as exc:
                if cancelling():
                    raise asyncio.CancelledError() from exc
                log.warning("consumer waiting for redis: %s", type(exc).__name__)
                self._groups_ready = False
                await reset_connections(self.redis)
                await asyncio.sleep(backoff.next())

    def stop(self) -> None:
        self._stopping = True

    async def step(self) -> int:
        """One read (with the previous batch's acks) and its handling, then any reclaims."""
        block = self.config.block_ms
        soonest = self._failures.soonest()
        if soonest is not None:
            block = max(1, min(block, int((soonest - time.monotonic()) * 1000)))
        block = max(1, min(block, self.config.claim_idle_ms // 2))
        if self._held:
            return await self._retry_held()
        pipe = self.redis.pipeline(transaction=False)
        self._acks.queue(pipe)
        pipe.xreadgroup(
            self.group,
            self.name,
            {self.names(s): ">" for s in self.streams},
            count=self.config.batch,
            block=block,
        )
        results = await pipe.execute()
        self._acks.clear()
        handled = 0
        for stream_name, entries in results[-1] or []:
            handled += await self._handle_or_hold(as_str(stream_name), entries)
        if self._reclaimer.due(time.monotonic()):
            handled += await self.reclaim()
        return handled

    async def handle_entries(self, stream: str, entries: list[Entry]) -> int:
        return await self._batches.handle(stream, entries)

    async def reclaim(self) -> int:
        handled = 0
        async for stream, entries in self._reclaimer.batches():
            handled += await self._handle_or_hold(stream, entries)
        return handled

    async def flush_acks(self) -> None:
        if self._acks:
            pipe = self.redis.pipeline(transaction=False)
            self._acks.queue(pipe)
            await pipe.execute()
            self._acks.clear()

    async def _handle_or_hold(self, stream: str, entries: list[Entry]) -> int:
        try:
            return await self._batches.handle(stream, entries)
        except DatabaseDown:
            # The entries stay pending to us; try them again once the database answers,
            # without spending their delivery count on an outage.
            log.warning("database unavailable; holding %d entries", len(entries))
            self._held.append((stream, entries))
            return 0

    async def _retry_held(self) -> int:
        await asyncio.sleep(self._held_backoff.next())
        stream, entries = self._held[0]
        try:
            handled = await self._batches.handle(stream, entries)
        except DatabaseDown:
            return 0
        self._held.pop(0)
        self._held_backoff.reset()
        return handled
