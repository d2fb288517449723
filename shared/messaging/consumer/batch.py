"""A read batch, handled: decoded, applied in one transaction with its inbox records, acked.

A duplicate changes nothing (the inbox). A handler that takes a batch gets the run of
consecutive fresh deliveries it handles at once (of one type, or of every type it is the
handler of). A handler that raises is taken out
(to be retried later) and the rest applied again, so one bad event holds back nothing and no
handler runs twice for one delivery. A database that does not answer is nobody's fault:
`DatabaseDown` tells the loop to hold the batch without spending its delivery counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import utcnow
from shared.db import Database
from shared.db_errors import is_outage
from shared.events import (
    REPLAY_GROUP_FIELD,
    Envelope,
    EventData,
    PoisonEvent,
    decode_entry,
    decode_event,
    parse_data,
)
from shared.messaging.consumer import inbox
from shared.messaging.consumer.acks import Acks
from shared.messaging.consumer.delivery import Delivery, Handler, batch_of
from shared.messaging.consumer.failures import Failures
from shared.messaging.consumer.member import Member
from shared.messaging.redis import Entry, as_str
from shared.messaging.tables import MessagingTables
from shared.observability import Metrics, correlation_id
from shared.unit_of_work import UnitOfWork, UnitsOfWork, flush_together

_REPLAY_GROUP = REPLAY_GROUP_FIELD.encode()

Todo = tuple[bytes, Envelope, EventData]


class DatabaseDown(Exception):
    """The database is unreachable: nothing is the event's fault, so nothing counts."""


class _HandlerError(Exception):
    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause


def raise_if_outage(exc: BaseException) -> None:
    if is_outage(exc):
        raise DatabaseDown() from exc


@dataclass
class Batches:
    member: Member
    db: Database
    tables: MessagingTables
    units: UnitsOfWork[Any] | None
    handlers: dict[str, Handler]
    metrics: Metrics
    acks: Acks
    failures: Failures
    max_event_bytes: int

    async def handle(self, stream: str, entries: list[Entry]) -> int:
        base = self.member.names.base(stream)
        todo: list[Todo] = []
        for entry_id, fields in entries:
            self.failures.forget(entry_id)
            target = fields.get(_REPLAY_GROUP)
            if target is not None and as_str(target) != self.member.group:
                self.acks.add(stream, entry_id)  # a replay meant for another group
                continue
            try:
                decoded = decode_event(fields, self.max_event_bytes)
                if decoded is None:
                    # Not valid as a whole: the envelope alone, then the data, say why.
                    envelope, data = decode_entry(fields, self.max_event_bytes), None
                else:
                    envelope, data = decoded
                if envelope.type not in self.handlers:
                    self.acks.add(stream, entry_id)
                    self.metrics.events_consumed.labels(base, "ignored").inc()
                    continue
                if data is None:
                    data = parse_data(envelope)
            except PoisonEvent as exc:
                await self.failures.dead_letter(stream, entry_id, fields, str(exc), deliveries=1)
                continue
            todo.append((entry_id, envelope, data))
        if not todo:
            return 0
        handled = len(todo)
        while todo:
            try:
                await self._apply(stream, todo)
                break
            except DatabaseDown:
                raise
            except _HandlerError as err:
                culprit = todo.pop(err.index)
                await self.failures.failed(stream, culprit[0], err.cause)
            except Exception:
                # Not attributable to one handler (e.g. at commit): one by one.
                for item in todo:
                    try:
                        await self._apply(stream, [item])
                    except DatabaseDown:
                        raise
                    except Exception as exc:
                        cause = exc.cause if isinstance(exc, _HandlerError) else exc
                        await self.failures.failed(stream, item[0], cause)
                break
        return handled

    async def _apply(self, stream: str, todo: list[Todo]) -> None:
        base = self.member.names.base(stream)
        try:
            async with self.db.transaction() as session:
                fresh = await inbox.claim(
                    session,
                    self.tables.inbox,
                    base,
                    [e for _, e, _ in todo],
                    utcnow(),
                )
                runs: list[tuple[int, Handler, list[Delivery[Any]]]] = []
                # One store for the transaction: a store holds nothing but its session.
                store = self.units.store(session) if self.units is not None else None
                for index, (_, envelope, data) in enumerate(todo):
                    if envelope.id not in fresh:
                        continue
                    fresh.discard(envelope.id)  # the same event twice in one batch
                    delivery = Delivery(self._bind(session, envelope, store), envelope, data)
                    handler = self.handlers[envelope.type]
                    if batch_of(handler) is not None and runs and runs[-1][1] is handler:
                        runs[-1][2].append(delivery)
                    else:
                        runs.append((index, handler, [delivery]))
                for index, handler, deliveries in runs:
                    await self._call(index, handler, deliveries)
        except (SQLAlchemyError, OSError) as exc:
            # OSError: a connection refused or reset, and asyncpg's timeouts (TimeoutError).
            raise_if_outage(exc)
            raise
        for entry_id, _envelope, _data in todo:
            self.acks.add(stream, entry_id)
        self.metrics.events_consumed.labels(base, "handled").inc(len(todo))

    def _bind(self, session: AsyncSession, envelope: Envelope, store: Any) -> UnitOfWork[Any]:
        if self.units is not None:
            return self.units.bound(session, correlation=envelope.correlationid, store=store)
        # Without a service's units of work: no store, on the real clock.
        return UnitOfWork(session, None, self.tables, utcnow, correlation=envelope.correlationid)

    async def _call(self, index: int, handler: Handler, deliveries: list[Delivery[Any]]) -> None:
        first = deliveries[0]
        batch = batch_of(handler)
        token = correlation_id.set(first.envelope.correlationid)
        try:
            if batch is not None:
                await batch(deliveries)
            else:
                await handler(first)
            # A run's events in one outbox statement and one flush, not one per delivery.
            await flush_together([delivery.uow for delivery in deliveries])
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError | OSError):
                raise_if_outage(exc)
            if len(deliveries) > 1:
                raise  # which one? the caller retries them one by one
            raise _HandlerError(index, exc) from exc
        finally:
            correlation_id.reset(token)
