"""SQLAlchemy's aiosqlite adaptation, with statements run on the event loop's own thread.

aiosqlite runs each sqlite3 call on a thread of the connection's own, and SQLAlchemy's
adaptation makes four such calls per statement (open a cursor, execute, fetch the rows,
close the cursor). Each call is a trip through the event loop: a future, a wake-up of the
loop from the thread and a greenlet switch, and the thread then contends for the GIL with
the loop. A statement on a local file in WAL mode takes microseconds: the trips cost more
than the work (docs/bench.md, third pass: a check-out 11.1 → 7.1 ms of CPU, POST /bookings
0.26 → 0.39–0.41 of its baseline).

So a statement, a commit and a rollback run here, on the caller's thread, whole (execute,
fetch, close), with the connection's busy timeout at 0: SQLite answers at once or says the
file is busy. The only waits are for a lock another process holds (readers never wait in
WAL mode; this process's writers queue in `Database.writing` before they begin). A busy
statement is sent once more on the connection's thread, with the busy timeout set for that
one statement, so the loop goes on serving while it waits, as it did before.

Everything else (the connection, its thread, error translation, the pool) stays
SQLAlchemy's and aiosqlite's: `dbapi()` is passed to the engine as its module.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# What one statement left behind: description, rows, rowcount, lastrowid.
_Outcome = tuple[Any, list[Any], int, int | None]


def is_busy(error: BaseException) -> bool:
    """SQLite's SQLITE_BUSY (any extended form): another connection holds the lock."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code is not None and code & 0xFF == 5


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool = False
) -> _Outcome:
    """On the connection's thread: the whole statement, the rows read at once."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _waiting(busy_timeout_ms: int, work: Any, connection: sqlite3.Connection, *args: Any) -> Any:
    """On the connection's thread: `work` with SQLite's busy handler waiting up to the
    timeout, and the connection back at no wait afterwards."""
    connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    try:
        return work(connection, *args)
    finally:
        connection.execute("PRAGMA busy_timeout=0")


class LoopThreadCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement ran whole: here, or on the connection's thread
    when it had to wait for another process's lock."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No driver cursor is opened here: each statement opens and closes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        # The rows are read and the driver's cursor closed already.
        return None

    def close(self) -> None:
        self._rows.clear()

    def _keep(self, outcome: _Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            await_(self._here_or_waiting(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            await_(self._here_or_waiting(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _here_or_waiting(self, operation: Any, parameters: Any, many: bool) -> None:
        # A coroutine although it rarely waits: SQLAlchemy's AsyncConnection.execute
        # insists that its driver awaited something.
        if not self._adapt_connection._execute_mutex.locked():
            try:
                self._keep(_run(self._connection._conn, operation, parameters, many))
                return
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
        # Busy, or a statement of this connection waits on its thread (its caller was
        # cancelled): this one goes there, behind it.
        await self._waiting(operation, parameters, many)

    async def _waiting(self, operation: Any, parameters: Any, many: bool) -> None:
        """The statement on the connection's thread, waiting for another process's lock
        up to the busy timeout; statements that fail with SQLITE_BUSY did nothing, so
        sending one again is what SQLite's own busy handler does."""
        adapt = self._adapt_connection
        async with adapt._execute_mutex:
            connection = self._connection
            self._keep(
                await connection._execute(
                    _waiting,
                    adapt.dbapi.busy_timeout_ms,
                    _run,
                    connection._conn,
                    operation,
                    parameters,
                    many,
                )
            )

    def nextset(self) -> None:
        return None


class LoopThreadConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = LoopThreadCursor

    def commit(self) -> None:
        if not self._connection._connection:
            return
        try:
            if self._execute_mutex.locked():
                super().commit()  # behind the statement waiting on the thread
                return
            try:
                self._connection._conn.commit()
            except sqlite3.OperationalError as error:
                # Outside WAL mode a commit can wait for readers to finish.
                if not is_busy(error):
                    raise
                await_(
                    self._connection._execute(
                        _waiting,
                        self.dbapi.busy_timeout_ms,
                        sqlite3.Connection.commit,
                        self._connection._conn,
                    )
                )
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        if not self._connection._connection:
            return
        if self._execute_mutex.locked():
            super().rollback()
            return
        try:
            self._connection._conn.rollback()
        except Exception as error:
            self._handle_exception(error)


class LoopThreadDBAPI(AsyncAdapt_aiosqlite_dbapi):
    busy_timeout_ms: int

    def connect(self, *arg: Any, **kw: Any) -> LoopThreadConnection:
        # Used from the loop's thread and from its own (when waiting for a lock), never
        # from both at once (the connection's mutex).
        kw["check_same_thread"] = False
        connection = aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy does: the connection's thread must not keep the process alive.
        connection._thread.daemon = True
        adapted = LoopThreadConnection(self, await_(connection))  # type: ignore[arg-type]
        adapted._connection._conn.execute("PRAGMA busy_timeout=0")
        return adapted


def dbapi(busy_timeout_ms: int) -> LoopThreadDBAPI:
    """The module to give `create_async_engine(..., module=...)` for an aiosqlite URL; a
    statement that finds the file locked by another process waits up to `busy_timeout_ms`
    (on the connection's thread) before it fails with "database is locked"."""
    module = LoopThreadDBAPI(aiosqlite, sqlite3)
    module.busy_timeout_ms = busy_timeout_ms
    return module
