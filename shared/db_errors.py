"""What a database error means for the caller: try again, the database is away, or a bug.

One reading of driver errors for the unit of work, the consumer and the HTTP edge, so that a
PostgreSQL restart or a full disk is answered the same way everywhere.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# deadlock detected, serialization failure: the transaction did nothing and may run again
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})

_OUTAGE_WORDS = (
    "connection refused",
    "could not connect",
    "connection was closed",
    "connection is closed",
    "connection reset",
    "unable to open database",
    "cannot connect",
    "the database system is starting up",
    "the database system is shutting down",
    "terminating connection",
    "server closed the connection",
)
# SQLite's words for a disk it cannot write to (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR).
_STORAGE_WORDS = {
    "database or disk is full": "disk_full",
    "attempt to write a readonly database": "read_only",
    "disk i/o error": "disk_error",
}


def sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and sqlstate(exc) in RETRYABLE_SQLSTATES


def storage_fault(exc: BaseException) -> str | None:
    """'disk_full', 'read_only' or 'disk_error' when SQLite cannot write its file."""
    text = str(getattr(exc, "orig", exc)).lower()
    return next((code for words, code in _STORAGE_WORDS.items() if words in text), None)


def is_outage(exc: BaseException) -> bool:
    """The database does not answer (down, restarting, unreachable): not the request's fault."""
    # A driver's timeout (asyncpg's connect and command timeouts are TimeoutError) and a
    # pool that handed out no connection in time (its connections wait on a server that
    # does not answer) are the database not answering, too.
    if isinstance(exc, OSError | ConnectionError | TimeoutError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, SQLAlchemyError):
        return type(exc).__module__.startswith("asyncpg") and "Connection" in type(exc).__name__
    text = str(getattr(exc, "orig", exc)).lower()
    return any(word in text for word in _OUTAGE_WORDS)
