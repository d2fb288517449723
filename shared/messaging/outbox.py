"""The transactional outbox and its relay.

`emit` writes an event in the caller's transaction, beside the state change it describes.
The relay publishes committed rows to their streams in order, woken right after a commit
and polling slowly as a fallback, and marks them published. Redis down: rows wait.

Published rows are kept for OUTBOX_KEEP_SECONDS, then pruned. Within that window
`republish` sends them again: after Redis lost its data (restarted without its AOF, a
failover to an empty replica), that is how what was published but not yet consumed comes
back; the consumers' inboxes drop what they had already applied. A stream that does not
exist when the relay publishes to it is created with its consumer groups first, in the same
script, so that no group misses an event because Redis came back empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.calendar import utcnow
from shared.db import (
    Database,
    insert_kept,
    kept_at_flush,
    on_connection,
    try_advisory_xact_lock,
)
from shared.events import CATALOG, CONSUMERS, WIRE_FIELD, Envelope, EventData, new_event
from shared.messaging.redis import StreamNames, ensure_consumer_groups, reset_connections
from shared.messaging.retention import trim_stream
from shared.messaging.tables import MessagingTables
from shared.observability import Metrics, correlation_id
from shared.statement_shapes import RowsInsert, padded
from shared.tasks import cancelling

log = logging.getLogger("knutepunkt.outbox")
_PENDING_KEY = "knutepunkt.outbox_rows"
# XADD each KEYS[i] one entry with field ARGV[1] = ARGV[i + 2]; returns the new ids.
# ARGV[2] is JSON {stream key: [group, ...]}: a stream that does not exist yet gets these
# groups (at 0, so they read what follows) before its first entry.
_XADD_MANY = """
local groups = cjson.decode(ARGV[2])
local seen = {}
local ids = {}
for i, key in ipairs(KEYS) do
  if not seen[key] then
    seen[key] = true
    if redis.call('EXISTS', key) == 0 then
      for _, group in ipairs(groups[key] or {}) do
        redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
      end
    end
  end
  ids[i] = redis.call('XADD', key, '*', ARGV[1], ARGV[i + 2])
end
return ids
"""
_SCRIPT_CHUNK = 1000
HOUSEKEEPING_SECONDS = 30.0


async def emit(
    session: AsyncSession,
    tables: MessagingTables,
    data: EventData,
    *,
    correlation: str | None = None,
    subject: str | None = None,
) -> Envelope:
    """Write one event to the outbox in the session's transaction."""
    envelope = new_event(data, correlation_id=correlation or correlation_id.get(), subject=subject)
    await emit_envelopes(session, tables, [envelope])
    return envelope


async def emit_envelopes(
    session: AsyncSession, tables: MessagingTables, envelopes: list[Envelope]
) -> None:
    """Write the events to the outbox, after the rows the transaction kept for its flush
    (shared.db.insert_at_flush): on PostgreSQL in one statement with them when they fit."""
    if not envelopes:
        await insert_kept(session)
        return
    rows = [(e.id, _stream_of(e), e.type, e.to_json()) for e in envelopes]
    created_at = utcnow()
    if not kept_at_flush(session) or not await insert_kept(
        session, (tables.outbox, [_outbox_values(row, created_at) for row in rows])
    ):
        await _inserts(tables.outbox).execute(session, rows, created_at=created_at)
    session.info[_PENDING_KEY] = True


def _outbox_values(row: tuple[str, str, str, str], created_at: datetime) -> dict[str, Any]:
    event_id, stream, type_, payload = row
    return {
        "event_id": event_id,
        "stream": stream,
        "type": type_,
        "payload": payload,
        "created_at": created_at,
    }


@functools.cache
def _inserts(outbox: Table) -> RowsInsert:
    return RowsInsert(outbox, ("event_id", "stream", "type", "payload"), same=("created_at",))


def _stream_of(envelope: Envelope) -> str:
    return CATALOG[envelope.type].stream


@dataclass
class Republished:
    """What `republish` sent: rows per stream, and whether the window was all still kept."""

    since: datetime
    until: datetime | None
    # False when `since` reaches further back than OUTBOX_KEEP_SECONDS: rows published
    # before the keep window may already be pruned, and cannot be sent again.
    complete: bool
    oldest_kept: datetime | None
    streams: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.streams.values())


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        db: Database,
        tables: MessagingTables,
        redis: Redis,
        names: StreamNames,
        metrics: Metrics,
        streams: tuple[str, ...],
        batch: int = 500,
        poll_seconds: float = 1.0,
        keep_seconds: int = 86_400,
        retention_seconds: int = 7 * 86_400,
        pace_seconds: float = 0.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.service = service
        self.db = db
        self.tables = tables
        self.redis = redis
        self.names = names
        self.metrics = metrics
        self.streams = streams
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.pace_seconds = pace_seconds
        self._last_pass = -math.inf
        self.keep = timedelta(seconds=keep_seconds)
        self.retention_seconds = retention_seconds
        self.clock = clock
        self._groups = json.dumps(
            {names(stream): list(CONSUMERS.get(stream, ())) for stream in streams}
        )
        self._wake = asyncio.Event()
        self._publish_script = redis.register_script(_XADD_MANY)
        self._groups_ready = False
        self._last_housekeeping = 0.0
        # Built once: the relay runs them for every batch, and building a statement (its
        # expression and cache key) cost more than the database's answer to it.
        outbox = tables.outbox
        self._unpublished = (
            select(outbox.c.id, outbox.c.stream, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(batch)
        )
        self._published = (
            update(outbox)
            .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
            .values(published_at=bindparam("at"))
        )
        db.after_commit(self._on_commit)

    def _on_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING_KEY, False):
            self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                if not self._groups_ready:
                    for stream in self.streams:
                        await ensure_consumer_groups(self.redis, self.names, stream)
                    self._groups_ready = True
                published = await self.publish_once()
                await self._housekeeping()
                backoff = 0.1
            except (RedisError, OSError, SQLAlchemyError) as exc:
                if cancelling():
                    raise asyncio.CancelledError() from exc
                log.warning("outbox relay paused: %s", type(exc).__name__)
                self._groups_ready = False
                if not isinstance(exc, SQLAlchemyError):
                    await reset_connections(self.redis)
                await self._wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published < self.batch:
                await self._wait(self.poll_seconds)
                await self._paced()

    async def _wait(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, and the relay would outlive its service.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _paced(self) -> None:
        """With a pace, a pass starts no sooner than `pace_seconds` after the one before: a
        commit after a quiet spell is published at once, while a stream of commits is
        published a pass per pace, each taking what all of them wrote (a pass is a read, a
        script call and a write transaction, whether it carries one row or a hundred)."""
        rest = self.pace_seconds - (time.monotonic() - self._last_pass)
        if rest > 0:
            await asyncio.sleep(rest)
            # What the commits meanwhile wrote, the pass about to start reads.
            self._wake.clear()

    async def publish_once(self) -> int:
        """Publish one batch; returns how many rows went out."""
        self._last_pass = time.monotonic()
        query = self._unpublished
        if self.db.dialect == "postgresql":
            # One relay at a time per service keeps the stream in commit order; the lock
            # is held across the publish, which PostgreSQL's row locking tolerates.
            async with self.db.transaction() as session:
                if not await try_advisory_xact_lock(session, f"outbox-relay:{self.service}"):
                    return 0
                rows = (await on_connection(session, query)).all()
                if rows:
                    await self._xadd(rows)
                    await self._mark(session, [r.id for r in rows])
                return len(rows)
        # SQLite: do not hold the write lock over a Redis round trip.
        async with self.db.read() as session:
            rows = (await on_connection(session, query)).all()
        if not rows:
            return 0
        await self._xadd(rows)
        async with self.db.transaction() as session:
            await self._mark(session, [r.id for r in rows])
        return len(rows)

    async def _xadd(self, rows: Sequence[Any]) -> None:
        # One script call adds the whole batch: Redis runs it atomically (all entries or
        # none, in order), and redis-py packs and parses one command instead of one per
        # row, which is most of the relay's CPU.
        for start in range(0, len(rows), _SCRIPT_CHUNK):
            chunk = rows[start : start + _SCRIPT_CHUNK]
            await self._publish_script(
                keys=[self.names(row.stream) for row in chunk],
                args=[WIRE_FIELD, self._groups_of(chunk), *(row.payload for row in chunk)],
            )
        for stream, count in Counter(row.stream for row in rows).items():
            self.metrics.events_published.labels(stream).inc(count)

    def _groups_of(self, rows: Sequence[Any]) -> str:
        if all(row.stream in self.streams for row in rows):
            return self._groups
        # A row for a stream the service does not declare (a test, an old row): its groups
        # from the catalog all the same.
        keys = {row.stream for row in rows} | set(self.streams)
        return json.dumps({self.names(s): list(CONSUMERS.get(s, ())) for s in keys})

    async def _mark(self, session: AsyncSession, ids: list[int]) -> None:
        await on_connection(session, self._published, {"ids": padded(ids), "at": self.clock()})

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_housekeeping < HOUSEKEEPING_SECONDS:
            return
        self._last_housekeeping = now
        await self.prune()
        for stream in self.streams:
            await trim_stream(self.redis, self.names(stream), self.retention_seconds)

    async def prune(self) -> int:
        """Delete rows published longer ago than the keep window; returns how many."""
        outbox = self.tables.outbox
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(outbox)
                .where(outbox.c.published_at < self.clock() - self.keep)
                .returning(outbox.c.id)
            )
            return len(result.all())

    async def republish(self, since: datetime, until: datetime | None = None) -> Republished:
        """Publish again every kept row published, and created in [since, until]; in order,
        a batch at a time. Rows not yet published are the relay's: they go out once."""
        outbox = self.tables.outbox
        done = Republished(
            since=since,
            until=until,
            complete=since >= self.clock() - self.keep,
            oldest_kept=await self._oldest_kept(),
        )
        after = 0
        while True:
            query = (
                select(outbox.c.id, outbox.c.stream, outbox.c.payload)
                .where(
                    outbox.c.id > after,
                    outbox.c.published_at.is_not(None),
                    outbox.c.created_at >= since,
                )
                .order_by(outbox.c.id)
                .limit(self.batch)
            )
            if until is not None:
                query = query.where(outbox.c.created_at <= until)
            async with self.db.read() as session:
                rows = (await session.execute(query)).all()
            if not rows:
                break
            await self._xadd(rows)
            for row in rows:
                done.streams[row.stream] = done.streams.get(row.stream, 0) + 1
            after = rows[-1].id
        log.info("republished %d outbox rows from %s", done.total, since.isoformat())
        return done

    async def _oldest_kept(self) -> datetime | None:
        outbox = self.tables.outbox
        async with self.db.read() as session:
            oldest: datetime | None = (
                await session.execute(
                    select(func.min(outbox.c.created_at)).where(outbox.c.published_at.is_not(None))
                )
            ).scalar()
        return oldest

    async def backlog(self) -> tuple[int, float]:
        """(rows not yet published, age in seconds of the oldest)."""
        outbox = self.tables.outbox
        async with self.db.read() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        # min() keeps the column's type: `oldest` is aware UTC on both databases.
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        return int(count), age
