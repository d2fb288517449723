"""SQLAlchemy's aiosqlite adaptation with one hop to the connection's thread per statement.

aiosqlite runs each sqlite3 call on a thread of the connection's own, and SQLAlchemy's
adaptation makes four such calls per statement (open a cursor, execute, fetch the rows,
close the cursor). Each call is a trip through the event loop: a future, a wake-up of the
loop from the thread and a greenlet switch, about a tenth of a millisecond of the main
thread's CPU. For a request of ten statements that is most of its cost (docs/bench.md).
Here a statement's execute, fetch and close run as one function on that thread, and the
cursor answers `description`, `rowcount` and `lastrowid` from what that function saw.

Everything else (the connection, its thread, commit and rollback, error translation, the
pool) stays SQLAlchemy's and aiosqlite's: `dbapi()` is passed to the engine as its module.
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


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement ran whole on the connection's thread."""

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

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            self._keep(await connection._execute(_run, connection._conn, operation, parameters))

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            self._keep(
                await connection._execute(
                    _run, connection._conn, operation, seq_of_parameters, many=True
                )
            )

    def nextset(self) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy does: the connection's thread must not keep the process alive.
        connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))  # type: ignore[arg-type]


def dbapi() -> OneHopDBAPI:
    """The module to give `create_async_engine(..., module=...)` for an aiosqlite URL."""
    return OneHopDBAPI(aiosqlite, sqlite3)
