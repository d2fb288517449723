"""Consumers: a service's consumer group on the streams it listens to.

The promises it keeps (DESIGN.md): a group is created at the start of its stream, reads are
bounded, and a batch is handled in one transaction together with its inbox records, then
acked (the ack rides with the next read). A duplicate changes nothing. A failed entry stays
pending and is retried with exponential backoff; after MAX_DELIVERIES it goes to
`<stream>.dlq` with the error. An entry that cannot be parsed goes there at once. Entries
left pending by a dead consumer are taken over after CLAIM_IDLE_MS (XAUTOCLAIM).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import utcnow
from shared.db import Database
from shared.events import (
    CATALOG,
    REPLAY_GROUP_FIELD,
    Envelope,
    EventData,
    PoisonEvent,
    decode_entry,
    dlq_stream,
    parse_data,
)
from shared.messaging.redis import StreamNames, as_str, ensure_group, reset_connections
from shared.messaging.tables import MessagingTables
from shared.observability import Metrics, correlation_id
from shared.tasks import cancelling
from shared.unit_of_work import UnitOfWork, UnitsOfWork

log = logging.getLogger("knutepunkt.consumer")

Fields = dict[bytes, bytes]
Entry = tuple[bytes, Fields]


@dataclass
class Delivery:
    """What a handler gets: the event, and a unit of work bound to the consumer's inbox
    transaction (its store, its clock, `record` for the handler's own events)."""

    uow: UnitOfWork[Any]
    envelope: Envelope
    data: EventData

    # Transitional, until every handler works on its unit of work's store.
    @property
    def session(self) -> AsyncSession:
        return self.uow._session

    async def emit(self, data: EventData, *, subject: str | None = None) -> Envelope:
        return self.uow.record(data, subject=subject)


Handler = Callable[[Delivery], Awaitable[None]]
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


def batch_handler(fn: BatchHandler) -> Handler:
    """Mark a handler that takes every fresh delivery of its type in a batch at once (one
    multi-row statement instead of one per event). It may be called with a single one."""
    fn.takes_batch = True  # type: ignore[attr-defined]
    return fn  # type: ignore[return-value]


@dataclass
class _Retry:
    stream: str
    due: float


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
    # Binds each delivery's unit of work to the inbox transaction; without one (backbone
    # tests) handlers get a unit of work with no store, on the real clock.
    units: UnitsOfWork[Any] | None = None
    config: ConsumerConfig = field(default_factory=ConsumerConfig)
    name: str = ""

    def __post_init__(self) -> None:
        self.group = self.service
        self.name = self.name or default_consumer_name(self.service)
        unknown = set(self.handlers) - set(CATALOG)
        if unknown:
            raise ValueError(f"handlers for unknown event types: {sorted(unknown)}")
        self.streams = sorted({CATALOG[t].stream for t in self.handlers})
        self._acks: dict[str, list[bytes]] = {}
        self._retries: dict[bytes, _Retry] = {}
        self._groups_ready = False
        self._next_reclaim = 0.0
        self._stopping = False
        self._held: list[tuple[str, list[Entry]]] = []
        self._held_backoff = 0.1

    # --- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                if not self._groups_ready:
                    for stream in self.streams:
                        await ensure_group(self.redis, self.names(stream), self.group)
                    self._groups_ready = True
                await self.step()
                backoff = 0.1
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    # The stream or group vanished (Redis restarted empty, or ops deleted
                    # it): make it again rather than stop consuming for good.
                    log.warning("consumer group missing, recreating")
                    self._groups_ready = False
                    self._acks.clear()
                    self._retries.clear()
                    self._held.clear()
                    continue
                log.exception("redis refused a consumer command")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except (RedisError, OSError) as exc:
                if cancelling():
                    raise asyncio.CancelledError() from exc
                log.warning("consumer waiting for redis: %s", type(exc).__name__)
                self._groups_ready = False
                await reset_connections(self.redis)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def stop(self) -> None:
        self._stopping = True

    async def step(self) -> int:
        """One read (with the previous batch's acks) and its handling, then any reclaims."""
        block = self.config.block_ms
        if self._retries:
            soonest = min(r.due for r in self._retries.values()) - time.monotonic()
            block = max(1, min(block, int(soonest * 1000)))
        block = max(1, min(block, self.config.claim_idle_ms // 2))
        if self._held:
            return await self._retry_held()
        pipe = self.redis.pipeline(transaction=False)
        self._queue_acks(pipe)
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
        if time.monotonic() >= self._next_reclaim or self._due_retries():
            handled += await self.reclaim()
        return handled

    async def _handle_or_hold(self, stream: str, entries: list[Entry]) -> int:
        try:
            return await self.handle_entries(stream, entries)
        except _InfrastructureDown:
            # The entries stay pending to us; try them again once the database answers,
            # without spending their delivery count on an outage.
            log.warning("database unavailable; holding %d entries", len(entries))
            self._held.append((stream, entries))
            return 0

    async def _retry_held(self) -> int:
        await asyncio.sleep(self._held_backoff)
        stream, entries = self._held[0]
        try:
            handled = await self.handle_entries(stream, entries)
        except _InfrastructureDown:
            self._held_backoff = min(self._held_backoff * 2, 5.0)
            return 0
        self._held.pop(0)
        self._held_backoff = 0.1
        return handled

    def _queue_acks(self, pipe: object) -> None:
        for stream, ids in self._acks.items():
            if ids:
                pipe.xack(stream, self.group, *ids)  # type: ignore[attr-defined]

    async def flush_acks(self) -> None:
        if any(self._acks.values()):
            pipe = self.redis.pipeline(transaction=False)
            self._queue_acks(pipe)
            await pipe.execute()
            self._acks.clear()

    def _ack(self, stream: str, entry_id: bytes) -> None:
        self._acks.setdefault(stream, []).append(entry_id)

    # --- handling ----------------------------------------------------------------------

    async def handle_entries(self, stream: str, entries: list[Entry]) -> int:
        base = self.names.base(stream)
        todo: list[tuple[bytes, Envelope, EventData]] = []
        for entry_id, fields in entries:
            self._retries.pop(entry_id, None)
            target = fields.get(REPLAY_GROUP_FIELD.encode())
            if target is not None and as_str(target) != self.group:
                self._ack(stream, entry_id)  # a replay meant for another group
                continue
            try:
                envelope = decode_entry(fields, self.config.max_event_bytes)
                if envelope.type not in self.handlers:
                    self._ack(stream, entry_id)
                    self.metrics.events_consumed.labels(base, "ignored").inc()
                    continue
                data = parse_data(envelope)
            except PoisonEvent as exc:
                await self.dead_letter(stream, entry_id, fields, str(exc), deliveries=1)
                continue
            todo.append((entry_id, envelope, data))
        if not todo:
            return 0
        handled = len(todo)
        # Apply the batch in one transaction. A handler that raises is taken out (to be
        # retried later) and the rest applied again, so one bad event holds back nothing
        # and no handler runs twice for one delivery.
        while todo:
            try:
                await self._apply(stream, todo)
                break
            except _InfrastructureDown:
                raise
            except _HandlerError as err:
                culprit = todo.pop(err.index)
                await self._failed(stream, culprit[0], err.cause)
            except Exception:
                # Not attributable to one handler (e.g. at commit): one by one.
                for item in todo:
                    try:
                        await self._apply(stream, [item])
                    except _InfrastructureDown:
                        raise
                    except Exception as exc:
                        cause = exc.cause if isinstance(exc, _HandlerError) else exc
                        await self._failed(stream, item[0], cause)
                break
        return handled

    async def _apply(self, stream: str, todo: list[tuple[bytes, Envelope, EventData]]) -> None:
        base = self.names.base(stream)
        try:
            async with self.db.transaction() as session:
                fresh = await self._claim_inbox(session, base, [e for _, e, _ in todo])
                runs: list[tuple[int, list[Delivery]]] = []
                for index, (_, envelope, data) in enumerate(todo):
                    if envelope.id not in fresh:
                        continue
                    fresh.discard(envelope.id)  # the same event twice in one batch
                    delivery = Delivery(self._bind(session, envelope), envelope, data)
                    handler = self.handlers[envelope.type]
                    if (
                        getattr(handler, "takes_batch", False)
                        and runs
                        and runs[-1][1][0].envelope.type == envelope.type
                    ):
                        runs[-1][1].append(delivery)
                    else:
                        runs.append((index, [delivery]))
                for index, deliveries in runs:
                    await self._call(index, deliveries)
        except DBAPIError as exc:
            _raise_if_outage(exc)
            raise
        for entry_id, _envelope, _data in todo:
            self._ack(stream, entry_id)
        self.metrics.events_consumed.labels(base, "handled").inc(len(todo))

    def _bind(self, session: AsyncSession, envelope: Envelope) -> UnitOfWork[Any]:
        if self.units is not None:
            return self.units.bound(session, correlation=envelope.correlationid)
        return UnitOfWork(session, None, self.tables, utcnow, correlation=envelope.correlationid)

    async def _call(self, index: int, deliveries: list[Delivery]) -> None:
        first = deliveries[0]
        handler = self.handlers[first.envelope.type]
        token = correlation_id.set(first.envelope.correlationid)
        try:
            if getattr(handler, "takes_batch", False):
                await handler(deliveries)  # type: ignore[arg-type]
            else:
                await handler(first)
            for delivery in deliveries:
                await delivery.uow.flush()
        except Exception as exc:
            if isinstance(exc, DBAPIError):
                _raise_if_outage(exc)
            if len(deliveries) > 1:
                raise  # which one? the caller retries them one by one
            raise _HandlerError(index, exc) from exc
        finally:
            correlation_id.reset(token)

    async def _claim_inbox(
        self, session: AsyncSession, stream: str, envelopes: list[Envelope]
    ) -> set[str]:
        """Record the event ids; returns those not seen before (one statement per batch)."""
        inbox = self.tables.inbox
        now = utcnow()
        rows = [
            {"event_id": e.id, "stream": stream, "type": e.type, "processed_at": now}
            for e in {e.id: e for e in envelopes}.values()
        ]
        if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
            # Concurrent transactions may race for an id: the database decides, and
            # RETURNING says which rows were ours.
            stmt = pg_insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
            return set((await session.execute(stmt, rows)).scalars())
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so a lookup then
        # a plain executemany is race-free, and cheaper than INSERT … RETURNING.
        ids = [row["event_id"] for row in rows]
        seen = set(
            (
                await session.execute(select(inbox.c.event_id).where(inbox.c.event_id.in_(ids)))
            ).scalars()
        )
        fresh = [row for row in rows if row["event_id"] not in seen]
        if fresh:
            await session.execute(insert(inbox), fresh)
        return {row["event_id"] for row in fresh}

    async def _failed(self, stream: str, entry_id: bytes, exc: Exception) -> None:
        if cancelling():
            # Interrupted, not failed: the entry stays pending and is not counted.
            raise asyncio.CancelledError() from exc
        base = self.names.base(stream)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        deliveries = await self._deliveries(stream, entry_id)
        log.warning(
            "handler failed (delivery %s of %s) on %s %s: %s",
            deliveries,
            self.config.max_deliveries,
            base,
            as_str(entry_id),
            type(exc).__name__,
        )
        if deliveries >= self.config.max_deliveries:
            entries = await self.redis.xrange(stream, entry_id, entry_id)
            fields = entries[0][1] if entries else {}
            await self.dead_letter(stream, entry_id, fields, error, deliveries=deliveries)
            return
        self.metrics.events_retried.labels(base).inc()
        delay_ms = min(
            self.config.retry_backoff_max_ms,
            self.config.retry_backoff_ms * 2 ** max(0, deliveries - 1),
        )
        delay = delay_ms / 1000 * random.uniform(0.8, 1.2)
        self._retries[entry_id] = _Retry(stream, time.monotonic() + delay)

    async def _deliveries(self, stream: str, entry_id: bytes) -> int:
        info = await self.redis.xpending_range(stream, self.group, entry_id, entry_id, 1)
        return int(info[0]["times_delivered"]) if info else 1

    async def dead_letter(
        self, stream: str, entry_id: bytes, fields: Fields, error: str, *, deliveries: int
    ) -> None:
        base = self.names.base(stream)
        record: dict[bytes | str, bytes | str] = dict(fields)
        record.update(
            {
                "dlq_stream": base,
                "dlq_entry_id": as_str(entry_id),
                "dlq_group": self.group,
                "dlq_consumer": self.name,
                "dlq_error": error[:2000],
                "dlq_deliveries": str(deliveries),
                "dlq_at": datetime.now(UTC).isoformat(),
            }
        )
        # The dead letter and the ack go together, or neither does.
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(dlq_stream(stream), record)
        pipe.xack(stream, self.group, entry_id)
        await pipe.execute()
        self._retries.pop(entry_id, None)
        self.metrics.events_dead_lettered.labels(base).inc()
        log.error("dead-lettered %s %s: %s", base, as_str(entry_id), error.splitlines()[0][:300])

    # --- retries and reclaim -------------------------------------------------------------

    def _due_retries(self) -> bool:
        now = time.monotonic()
        return any(r.due <= now for r in self._retries.values())

    async def reclaim(self) -> int:
        handled = 0
        now = time.monotonic()
        # Our own failures whose backoff has passed: claim again (counts a delivery).
        due: dict[str, list[bytes]] = {}
        for entry_id, retry in list(self._retries.items()):
            if retry.due <= now:
                due.setdefault(retry.stream, []).append(entry_id)
        for stream, ids in due.items():
            claimed = await self.redis.xclaim(stream, self.group, self.name, 0, ids)
            for entry_id in ids:
                self._retries.pop(entry_id, None)
            live = [(i, f) for i, f in claimed if f]
            handled += await self._handle_or_hold(stream, live)
        # Entries a dead (or stuck) consumer left pending.
        for base in self.streams:
            stream = self.names(base)
            _next, claimed, _deleted = await self.redis.xautoclaim(
                stream,
                self.group,
                self.name,
                min_idle_time=self.config.claim_idle_ms,
                start_id="0-0",
                count=self.config.batch,
            )
            # Our own failures idle this long are due anyway: the claim has counted a delivery.
            claimed = [(i, f) for i, f in claimed if f]
            if not claimed:
                continue
            log.info("reclaimed %d idle entries of %s", len(claimed), base)
            ready: list[Entry] = []
            counts = await self._counts(stream, [i for i, _ in claimed])
            for entry_id, fields in claimed:
                deliveries = counts.get(entry_id, 1)
                if deliveries > self.config.max_deliveries:
                    error = f"gave up after {deliveries - 1} deliveries without an answer"
                    await self.dead_letter(stream, entry_id, fields, error, deliveries=deliveries)
                else:
                    ready.append((entry_id, fields))
            handled += await self._handle_or_hold(stream, ready)
        self._next_reclaim = time.monotonic() + self.config.claim_idle_ms / 2000
        return handled

    async def _counts(self, stream: str, ids: list[bytes]) -> dict[bytes, int]:
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(stream, self.group, entry_id, entry_id, 1, consumername=self.name)
        out: dict[bytes, int] = {}
        for entry_id, info in zip(ids, await pipe.execute(), strict=True):
            out[entry_id] = int(info[0]["times_delivered"]) if info else 1
        return out


class _HandlerError(Exception):
    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause


class _InfrastructureDown(Exception):
    """The database is unreachable: nothing is the event's fault, so nothing counts."""


def _raise_if_outage(exc: DBAPIError) -> None:
    if exc.connection_invalidated or _looks_like_outage(exc):
        raise _InfrastructureDown() from exc


def _looks_like_outage(exc: SQLAlchemyError) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        word in text
        for word in (
            "connection refused",
            "could not connect",
            "connection was closed",
            "unable to open database",
            "cannot connect",
        )
    )
