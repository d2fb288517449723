"""The unit of work: one transaction, the service's store on it, and the events it records.

Use cases and event handlers are written `async def use_case(uow, command) -> result`: they
read and write through `uow.store`, say what happened with `uow.record(event)`, and ask
`uow.now()` for the time. They never see a session, never begin or commit, and never
write the outbox themselves: the unit of work writes the recorded events to the outbox in
the same transaction as the state change, at commit.

`UnitsOfWork.run` owns the transaction's life: BEGIN IMMEDIATE on SQLite (shared.db), a
bounded retry when PostgreSQL picks the transaction as a deadlock or serialization victim
(the work is run again from the start, so it must not have effects outside the
transaction), then one `Busy` refusal; a database that does not answer becomes
`Unavailable`. With a `deadline`, a caller waits no longer than that for the whole of it:
past it the work is cancelled and left to unwind on its own, and the caller is told
`Unavailable` at once, since a frozen server otherwise costs a command timeout for the
statement and another for the rollback. A consumed event's handler gets a unit of work
bound to the consumer's inbox transaction instead (`UnitsOfWork.bound`): its events go out
with the inbox record, or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, kept_at_flush
from shared.db_errors import is_outage, is_retryable, storage_fault
from shared.errors import Busy, Conflict, Refusal, Unavailable
from shared.events import Envelope, EventData, new_event
from shared.messaging.outbox import emit_envelopes
from shared.messaging.tables import MessagingTables
from shared.observability import correlation_id

log = logging.getLogger("knutepunkt.uow")

S = TypeVar("S")
T = TypeVar("T")
StoreFactory = Callable[[AsyncSession], S]
# A service's reading of its own constraint names: the refusal a violation means, or None.
IntegrityReading = Callable[[IntegrityError], Refusal | None]

_STORAGE_TEXT = {
    "disk_full": ("the database's disk is full", "databasens disk er full"),
    "read_only": ("the database file is read-only", "databasefilen er skrivebeskyttet"),
    "disk_error": ("the database's disk cannot be written", "databasens disk kan ikke skrives"),
}


class UnitOfWork(Generic[S]):
    """One transaction seen from a use case: the store, the clock, and recorded events."""

    def __init__(
        self,
        session: AsyncSession,
        store: S,
        tables: MessagingTables,
        clock: Callable[[], datetime],
        *,
        correlation: str | None = None,
    ) -> None:
        self._session = session
        self.store = store
        self._tables = tables
        self._clock = clock
        self._correlation = correlation
        self._events: list[Envelope] = []

    def now(self) -> datetime:
        """The service's clock (aware UTC): real time, or a test's or the demo's."""
        return self._clock()

    @property
    def dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def record(self, data: EventData, *, subject: str | None = None) -> Envelope:
        """An event this unit of work's change caused; written to the outbox at commit."""
        envelope = new_event(
            data,
            correlation_id=self._correlation or correlation_id.get(),
            subject=subject,
        )
        self._events.append(envelope)
        return envelope

    @property
    def recorded(self) -> tuple[Envelope, ...]:
        return tuple(self._events)

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """A step that a rule may refuse after it has begun to write, inside a change that
        goes on when it is refused: a `Refusal` raised in it takes back what the step wrote
        (a savepoint), kept for the flush and recorded, and propagates; what came before it
        stays. Without it, the caller's next write would meet the step's half (a row the
        refusal was meant to undo) in the same transaction."""
        recorded = len(self._events)
        kept = kept_at_flush(self._session)
        written = len(kept)
        savepoint = await self._session.begin_nested()
        try:
            yield
        except Refusal:
            await savepoint.rollback()
            del self._events[recorded:]
            del kept[written:]
            raise
        await savepoint.commit()

    async def flush(self) -> None:
        """Write what was recorded so far to the outbox (in this transaction) and the
        store's pending changes to the database."""
        await flush_together([self])


async def flush_together(units: Sequence[UnitOfWork[Any]]) -> None:
    """`flush` for units of work on one session (a consumed batch's deliveries): their
    recorded events in one outbox statement, then one flush of the session."""
    if not units:
        return
    events: list[Envelope] = []
    for unit in units:
        events += unit._events
        unit._events = []
    first = units[0]
    await emit_envelopes(first._session, first._tables, events)
    await first._session.flush()


class UnitsOfWork(Generic[S]):
    """Makes a service's units of work: one per request (`run`), or bound to a consumed
    event's inbox transaction (`bound`)."""

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        store: StoreFactory[S],
        clock: Callable[[], datetime],
        *,
        attempts: int = 4,
        integrity: IntegrityReading | None = None,
        deadline: float | None = None,
    ) -> None:
        self.db = db
        self.deadline = deadline
        self.tables = tables
        self.store = store
        self.clock = clock
        self.attempts = attempts
        self.integrity = integrity

    def bound(
        self, session: AsyncSession, *, correlation: str | None = None, store: S | None = None
    ) -> UnitOfWork[S]:
        """A unit of work on `session`'s transaction; units of work on one session may share
        one store (`store`), which holds nothing but the session."""
        return UnitOfWork(
            session,
            self.store(session) if store is None else store,
            self.tables,
            self.clock,
            correlation=correlation,
        )

    async def run(
        self,
        work: Callable[[UnitOfWork[S]], Awaitable[T]],
        *,
        read_only: bool = False,
    ) -> T:
        """Run `work` in one transaction and commit it with its events; a refusal raised by
        the work rolls everything back and propagates unchanged."""
        ends = None if self.deadline is None else time.monotonic() + self.deadline
        for attempt in range(1, self.attempts + 1):
            try:
                if ends is None:
                    return await self._once(work, read_only)
                return await _within(self._once(work, read_only), ends)
            except IntegrityError as exc:
                raise self._conflict(exc) from exc
            except DBAPIError as exc:
                if is_retryable(exc):
                    if attempt < self.attempts:
                        log.info("transaction picked as a victim (attempt %d); again", attempt)
                        continue
                    raise Busy(
                        "the database is busy, try again",
                        nb="databasen er opptatt, prøv igjen",
                        code="database_busy",
                    ) from exc
                _raise_unavailable(exc)
                raise
            except (OSError, ConnectionError, TimeoutError) as exc:
                _raise_unavailable(exc)
                raise
        raise AssertionError("unreachable")

    async def _once(self, work: Callable[[UnitOfWork[S]], Awaitable[T]], read_only: bool) -> T:
        if not read_only:
            async with self.db.writing():
                return await self._in_transaction(work, read_only)
        return await self._in_transaction(work, read_only)

    async def _in_transaction(
        self, work: Callable[[UnitOfWork[S]], Awaitable[T]], read_only: bool
    ) -> T:
        async with self.db.begun(read_only) as session:
            uow = self.bound(session)
            result = await work(uow)
            await uow.flush()
        return result

    def _conflict(self, exc: IntegrityError) -> Refusal:
        refusal = self.integrity(exc) if self.integrity else None
        return refusal or Conflict(
            "the change conflicts with a concurrent change; try again",
            nb="endringen kolliderer med en samtidig endring; prøv igjen",
            code="concurrent_change",
        )


async def _within(work: Awaitable[T], ends: float) -> T:
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=max(0.0, ends - time.monotonic()))
    if done:
        return task.result()
    task.cancel()
    task.add_done_callback(_forget)
    raise TimeoutError("the unit of work passed its deadline")


def _forget(task: asyncio.Future[Any]) -> None:
    # Retrieved so that asyncio does not log it as never retrieved; the outage itself is
    # logged once, where the caller is told.
    if not task.cancelled():
        task.exception()


def unavailable(exc: BaseException) -> Unavailable | None:
    """The refusal for a database that cannot be reached or written, or None for a bug."""
    fault = storage_fault(exc)
    if fault:
        en, nb = _STORAGE_TEXT[fault]
        log.error("database cannot be written: %s", fault)
        return Unavailable(en, nb=nb, code=f"database_{fault}", retry_after=30)
    if is_outage(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return Unavailable(
            "the database is not answering, try again shortly",
            nb="databasen svarer ikke, prøv igjen om litt",
            code="database_unavailable",
            retry_after=5,
        )
    return None


def _raise_unavailable(exc: BaseException) -> None:
    refusal = unavailable(exc)
    if refusal is not None:
        raise refusal from exc
