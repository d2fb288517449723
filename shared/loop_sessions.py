"""SQLite sessions whose statements run on SQLAlchemy's synchronous engine, on the loop's thread.

SQLite answers a statement on a local file in microseconds, and `shared.sqlite_driver`
already runs each one whole on the loop's thread. What was left of a statement's cost was
the async adaptation around it: a greenlet per call, a switch to the loop and back for
each driver call, and the adapted connection and cursor. A unit of work spent more on
that than on SQLite (docs/bench.md, tenth pass: a unit of work around one statement took
523-558 µs through the async session and 290-325 µs through this one; each further
statement 97-112 µs against 52-54).

So a service's units of work on SQLite get a `LoopSession`: an `AsyncSession` (the same
awaitable API for the stores, on both databases) over a synchronous `Session` on a
synchronous engine of the same file. Its calls run at once; none of them waits, except
the one place where SQLite makes a writer wait for another process: BEGIN IMMEDIATE,
taken here before the session starts. That wait is the loop's: the BEGIN is tried again
after a short sleep, so the loop serves meanwhile, up to the busy timeout, past which the
writer gets SQLite's "database is locked" as it did before. Within one process writers
queue in `Database.writing` and never meet the lock.

PostgreSQL stays on asyncpg: its statements wait on the network.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from shared.sqlite_driver import is_busy

# The pauses between BEGIN IMMEDIATE's tries while another process holds the lock.
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05


class LoopConnection(AsyncConnection):
    """The session's connection for Core statements, run at once on the loop's thread."""

    async def execute(self, statement: Any, parameters: Any = None, **kw: Any) -> CursorResult[Any]:
        return self.sync_connection.execute(statement, parameters, **kw)  # type: ignore[union-attr]

    # AsyncConnection's own would insist that the driver awaited something (scalar and
    # the like go through execute above).
    async def exec_driver_sql(  # type: ignore[override]
        self, statement: str, parameters: Any = None, **kw: Any
    ) -> CursorResult[Any]:
        return self.sync_connection.exec_driver_sql(statement, parameters, **kw)  # type: ignore[union-attr]


class LoopSession(AsyncSession):
    """An `AsyncSession` over a synchronous `Session` on one SQLite connection."""

    def __init__(self, async_engine: AsyncEngine, sync_session: Session) -> None:
        # AsyncSession makes its Session by calling this "class": it gets the one given.
        super().__init__(sync_session_class=lambda **_: sync_session)  # type: ignore[arg-type]
        self._async_engine = async_engine

    @property  # type: ignore[misc]
    def bind(self) -> AsyncEngine:
        """The service's engine, as for any of its sessions (the stores read its dialect)."""
        return self._async_engine

    async def execute(self, *args: Any, **kw: Any) -> Result[Any]:
        return self.sync_session.execute(*args, **kw)

    async def scalar(self, *args: Any, **kw: Any) -> Any:
        return self.sync_session.scalar(*args, **kw)

    async def scalars(self, *args: Any, **kw: Any) -> Any:
        return self.sync_session.scalars(*args, **kw)

    async def get(self, *args: Any, **kw: Any) -> Any:
        return self.sync_session.get(*args, **kw)

    async def flush(self, objects: Any = None) -> None:
        self.sync_session.flush(objects)

    async def delete(self, instance: object) -> None:
        self.sync_session.delete(instance)

    async def connection(self, *args: Any, **kw: Any) -> AsyncConnection:
        return LoopConnection(self._async_engine, self.sync_session.connection(*args, **kw))


class LoopSessions:
    """A service's SQLite sessions on a synchronous engine of the same file, with the
    same connection settings and after-commit hooks as its async engine's."""

    def __init__(
        self,
        async_engine: AsyncEngine,
        session_class: type[Session],
        *,
        busy_timeout: float,
        checkpointed: bool,
    ) -> None:
        from shared.db import sqlite_transactions

        self.async_engine = async_engine
        self.session_class = session_class
        self.busy_timeout = busy_timeout
        # Units of work of one Database may run on more than one thread's loop (tests).
        self.engine: Engine = create_engine(
            async_engine.url.set(drivername="sqlite"),
            connect_args={"check_same_thread": False},
        )
        sqlite_transactions(self.engine)

        @event.listens_for(self.engine, "connect")
        def _settings(dbapi_connection: Any, _record: Any) -> None:
            # A writer waits for the lock in `_begin_immediate`, on the loop, never in
            # SQLite's busy handler, which would stop the loop for as long.
            dbapi_connection.execute("PRAGMA busy_timeout=0")
            if checkpointed:
                dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    @asynccontextmanager
    async def begun(self, read_only: bool) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on success (after-commit hooks run)."""
        async with self._opened(read_only) as session:
            with session.sync_session.begin():
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read session, rolled back at its end: no commit, so no after-commit hook."""
        async with self._opened(read_only=True) as session:
            yield session

    @asynccontextmanager
    async def _opened(self, read_only: bool) -> AsyncIterator[AsyncSession]:
        with self.engine.connect() as connection:
            if read_only:
                connection.execution_options(sqlite_begin="DEFERRED")
            else:
                await _begin_immediate(connection, self.busy_timeout)
            sync_session = self.session_class(bind=connection, expire_on_commit=False)
            try:
                yield LoopSession(self.async_engine, sync_session)
            finally:
                sync_session.close()

    def dispose(self) -> None:
        self.engine.dispose()


async def _begin_immediate(connection: Connection, busy_timeout: float) -> None:
    """BEGIN IMMEDIATE on the driver, waiting for another process's write lock on the
    loop (the session's own BEGIN then sees the transaction begun, shared.db)."""
    driver = connection.connection.dbapi_connection
    assert driver is not None
    deadline = time.monotonic() + busy_timeout
    pause = _FIRST_PAUSE
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() + pause > deadline:
                # As SQLAlchemy wraps the driver's errors, for the callers' reading of them.
                raise OperationalError("BEGIN IMMEDIATE", None, error) from error
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)
