"""The database layer: an async engine per service, SQLite or PostgreSQL, and a UTC type.

SQLite: WAL, a busy timeout, and every write transaction begun with BEGIN IMMEDIATE, since
the driver's default (SELECT outside a transaction, then a deferred write) double-books
(see docs/architecture.md). Its transactions (`begun`, `transaction`, `read`) run on a
synchronous engine of the same file, on the loop's thread (shared/loop_sessions.py).
PostgreSQL: asyncpg; the hard rules (no overlap) are constraints in the schema.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, bindparam, event, text
from sqlalchemy import insert as sqlalchemy_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Dialect, Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.typing import TupleAny, Unpack

from shared import sqlite_driver
from shared.loop_sessions import LoopSessions
from shared.wal_checkpoints import WalCheckpoints, log_limit_bytes

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Switching a fresh file to WAL needs its exclusive lock, and SQLite answers BUSY at once,
# without the busy handler, when two connections ask together (deadlock avoidance); so
# the switch is retried on its own, for as long as the busy timeout would wait.
_WAL_RETRY_SECONDS = 0.01


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC, on both databases; naive values are a programming error."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps text: a fixed, offset-free ISO form compares correctly as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Every service's declarative base maps these Python types the same way.
TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    datetime: UTCDateTime,
    dict[str, Any]: JSON,
    list[Any]: JSON,
}


def insert_for(dialect: str) -> Callable[..., Any]:
    """The dialect's INSERT construct, which knows ON CONFLICT (both databases have it)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> str | None:
    """The path of a SQLite database on disk; None for PostgreSQL, memory and URI files."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _prepare_sqlite_file(url: str) -> None:
    database = _sqlite_file(url)
    if database is not None:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # WAL is a property of the file: set it once here, before the pool's connections
        # (and their hooks) race for it.
        with sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000) as conn:
            use_wal(conn)
        conn.close()


def use_wal(dbapi_connection: Any) -> None:
    """Put the connection's file in WAL mode (a no-op once it is)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            finally:
                cursor.close()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


def create_engine(
    url: str,
    *,
    connect_timeout: float | None = None,
    command_timeout: float | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An engine; on PostgreSQL `connect_timeout` and `command_timeout` (seconds, None: the
    driver's, which waits a minute to connect and for ever for an answer) bound how long a
    caller waits on a server that accepts connections but does not answer (a hung host,
    a frozen server)."""
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        kwargs.setdefault("module", sqlite_driver.dbapi(SQLITE_BUSY_TIMEOUT_MS))
        engine = create_async_engine(url, **kwargs)
        sqlite_transactions(engine.sync_engine)
        return engine
    # A fixed pool: a burst waits for one of its connections rather than opening more.
    # Connections opened past the pool were closed again as soon as they came back, so a
    # burst opened and closed them over and over, each a handshake and its statements
    # prepared anew; 32 clients' bookings ran about a quarter faster without them
    # (docs/bench.md, twenty-first pass). It also bounds what each replica takes of
    # PostgreSQL's connections (100 by default) to POOL_SIZE.
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    # A connection a firewall dropped without a word is not seen closed (below): none is
    # kept longer than this.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    connect_args = dict(kwargs.pop("connect_args", {}))
    if connect_timeout is not None:
        connect_args.setdefault("timeout", connect_timeout)
        # Waiting longer for a pooled connection than for a new one helps no caller.
        kwargs.setdefault("pool_timeout", connect_timeout + (command_timeout or 0))
    if command_timeout is not None:
        connect_args.setdefault("command_timeout", command_timeout)
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine.sync_engine.pool, "checkout", replace_closed)
    return engine


POOL_SIZE = 10
POOL_RECYCLE_SECONDS = 3600


def replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection its server closed (a restart ends every session) is replaced at
    checkout, as the pool's pre-ping would replace it, without the ping: asyncpg's adapter
    pings with BEGIN, a statement and ROLLBACK, three round trips before every transaction.
    asyncpg sees a close when it comes (it reads the socket all the while); a server that
    hangs is seen neither here nor by a ping, and the command timeout answers for it."""
    if dbapi_connection._connection.is_closed():
        raise DisconnectionError()


def sqlite_transactions(engine: Engine) -> None:
    """The hub's SQLite connection settings and BEGIN on `engine`: an async engine's
    `sync_engine`, or the synchronous one its transactions run on (shared/loop_sessions)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver, so that BEGIN is ours (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        use_wal(dbapi_connection)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A log that starts over is cut back to the checkpoints' limit: a file's length
        # is otherwise the longest its log ever was.
        cursor.execute(f"PRAGMA journal_size_limit={log_limit_bytes()}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if getattr(conn.connection.dbapi_connection, "in_transaction", False):
            return  # begun already, by a writer that waited for the lock (LoopSessions)
        # A deferred BEGIN that later writes fails at once with SQLITE_BUSY under
        # contention; IMMEDIATE takes the write lock up front and waits for it.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One service's database: engine, sessions, and a hook run after each commit."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self._after_commit: list[Callable[[Session], None]] = []
        self._sqlite = is_sqlite(url)
        # SQLite: this process's writers, one at a time (`writing`). PostgreSQL: sessions,
        # as many at a time as the pool has connections (`_pool_turns`).
        self._writers = (
            _Gate(1, lambda: SQLITE_BUSY_TIMEOUT_MS / 1000, _database_locked)
            if self._sqlite
            else None
        )
        self._turns = None if self._sqlite else _pool_turns(self.engine.sync_engine.pool)
        self.checkpoints = _checkpoints_of(self.engine, url)

        class _Session(Session):
            pass

        @event.listens_for(_Session, "before_commit")
        def _nothing_kept(session: Session) -> None:
            # Rows kept for a unit of work's flush that no flush sent would be lost
            # silently with this commit: refuse it loudly instead. A savepoint's commit
            # (UnitOfWork.attempt) comes before the flush, and is not the end.
            if session.info.get(_AT_FLUSH) and not session.in_nested_transaction():
                raise RuntimeError("rows kept for the flush (insert_at_flush) were never sent")

        @event.listens_for(_Session, "after_commit")
        def _committed(session: Session) -> None:
            if self.checkpoints is not None:
                self.checkpoints.committed()
            for hook in self._after_commit:
                hook(session)

        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=_Session
        )
        self._loop_sessions = (
            LoopSessions(
                self.engine,
                _Session,
                busy_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                checkpointed=self.checkpoints is not None,
            )
            if self._sqlite
            else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engines(self) -> tuple[Engine, ...]:
        """The synchronous engines that send this database's statements, for hooks on
        them: the async engine's, and on SQLite the transactions' own."""
        if self._loop_sessions is None:
            return (self.engine.sync_engine,)
        return (self.engine.sync_engine, self._loop_sessions.engine)

    def after_commit(self, hook: Callable[[Session], None]) -> None:
        self._after_commit.append(hook)

    def writing(self) -> AbstractAsyncContextManager[None]:
        """Around a write transaction. SQLite lets one writer in at a time, and one that
        finds the file locked sleeps and tries again (1, 2, 5, 10… ms): this process's
        writers queue here instead and go in the moment the one before them commits.
        Other processes' writers still meet the file's lock and its busy timeout.

        The wait is bounded as SQLite's own is: past the busy timeout the writer gets the
        error SQLite would have given it, and its caller answers as it did then."""
        return _entered(self._writers)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error."""
        async with self.writing(), self.begun() as session:
            yield session

    @asynccontextmanager
    async def begun(self, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on success and rolled back on error;
        a writer's must be taken inside `writing()`. On SQLite a read does not take the
        write lock (BEGIN DEFERRED)."""
        if self._loop_sessions is not None:
            async with self._loop_sessions.begun(read_only) as session:
                yield session
            return
        async with _entered(self._turns), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; on SQLite it does not take the write lock."""
        if self._loop_sessions is not None:
            async with self._loop_sessions.reading() as session:
                yield session
            return
        async with _entered(self._turns), self.sessions() as session:
            await session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.close()
        if self._loop_sessions is not None:
            self._loop_sessions.dispose()
        await self.engine.dispose()


class _Gate:
    """At most `size` holders at a time, let in in the order they came, each waiting no
    longer than `timeout()` seconds and then refused with `refusal()`. Its semaphore is
    the running loop's: asyncio's primitives belong to the loop that made them, and a
    test's or a bench's next loop gets one of its own."""

    def __init__(
        self, size: int, timeout: Callable[[], float], refusal: Callable[[], Exception]
    ) -> None:
        self.size = size
        self._timeout = timeout
        self._refusal = refusal
        self._semaphore: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @asynccontextmanager
    async def entered(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore[0] is not loop:
            self._semaphore = (loop, asyncio.Semaphore(self.size))
        semaphore = self._semaphore[1]
        try:
            async with asyncio.timeout(self._timeout()):
                await semaphore.acquire()
        except TimeoutError as exc:
            raise self._refusal() from exc
        try:
            yield
        finally:
            semaphore.release()


def _database_locked() -> OperationalError:
    """What SQLite itself answers a writer that waited past its busy timeout."""
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


def _entered(gate: _Gate | None) -> AbstractAsyncContextManager[None]:
    return nullcontext() if gate is None else gate.entered()


def _pool_turns(pool: Any) -> _Gate | None:
    """PostgreSQL's sessions wait here for one of the pool's connections (create_engine's
    fixed pool), first come first served. The pool itself hands a connection that comes
    back to whoever asks for one first, and a waiter it had woken that finds the connection
    taken goes to the back of the queue: 32 clients booking one resource, a tenth of the
    bookings waited three to six times the median (docs/bench.md, twenty-second pass).
    Bounded as the pool's own wait is, and refused with its error (an outage: 503)."""
    if not isinstance(pool, QueuePool):
        return None
    size = pool.size()
    return _Gate(
        size,
        pool.timeout,
        lambda: PoolTimeout(f"no connection of the pool's {size} free in time"),
    )


def _checkpoints_of(engine: AsyncEngine, url: str) -> WalCheckpoints | None:
    """A SQLite file's log is checkpointed in the background, never inside a commit on the
    loop's thread (shared/wal_checkpoints.py); None for PostgreSQL and in-memory files."""
    database = _sqlite_file(url)
    if database is None:
        return None

    @event.listens_for(engine.sync_engine, "connect")
    def _no_checkpoint_in_commits(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return WalCheckpoints(database)


async def on_connection(
    session: AsyncSession, statement: Any, values: Any = None
) -> CursorResult[Unpack[TupleAny]]:
    """A Core statement (a read of columns, an insert, an update) on the session's
    connection, in its transaction. The session's own execute first flushes what is
    pending and then runs the ORM's machinery around the statement: 50-90 µs more a read
    (docs/bench.md, eleventh pass), for rows it hands back as they came. So: only where
    plain rows are wanted, and for tables the transaction has no unflushed change to (a
    caller that changed one flushes first)."""
    connection = await session.connection()
    return await connection.execute(statement, values)


async def insert_new(
    session: AsyncSession, *rows: Any, then: tuple[Any, dict[str, Any]] | None = None
) -> None:
    """INSERT new mapped objects now, as cached Core statements on the session's connection,
    instead of adding them to the session for the ORM's flush (whose work per object cost
    more than the write on a request's path). The objects stay as built, out of the
    session: for answers and events, not for later changes in the transaction. Columns an
    object was not given take their default, on the row and on the object alike.

    Rows of one class go as one statement (several: one executemany). Rows of several
    classes (a row and those that refer to it, in that order) go on PostgreSQL as one
    statement, each table's INSERT but the last in a WITH, as long as there are few of them
    (`_TOGETHER_MOST`): each statement costs this process a round trip and 170-370 µs of
    CPU under load (docs/bench.md, twenty-second pass). On SQLite, where a statement costs
    tens of µs and no round trip, and past that count, a statement a class.

    `then` is a cached UPDATE or DELETE and its values, run after the inserts; on
    PostgreSQL in the same statement, with every INSERT in its WITH. It sees the tables as
    they were before the statement (the rows inserted with it are not there yet), so it
    must not need them; its parameters must not be named like `_together_name`'s."""
    await _insert_groups(session, _groups_of(rows), [] if then is None else [then])


def insert_at_flush(
    session: AsyncSession, *rows: Any, then: tuple[Any, dict[str, Any]] | None = None
) -> None:
    """`insert_new`, sent with the unit of work's flush instead of now: on PostgreSQL in
    the same statement as the transaction's outbox rows (`insert_kept`), a round trip and
    its CPU fewer. Defaults are set on the objects now. Until the flush the rows are not
    in the database: for rows nothing later in the transaction reads or refers to, and
    whose refusal by a constraint (a unique index, an exclusion) can wait for the flush,
    where the unit of work reads it as it would have here."""
    kept_at_flush(session).append((_groups_of(rows), then))


def kept_at_flush(session: AsyncSession) -> list[Any]:
    """What `insert_at_flush` keeps for the flush, in order (a refused attempt drops what
    it kept: shared.unit_of_work)."""
    kept: list[Any] = session.info.setdefault(_AT_FLUSH, [])
    return kept


async def insert_kept(
    session: AsyncSession, last: tuple[Any, list[dict[str, Any]]] | None = None
) -> bool:
    """Send what `insert_at_flush` kept, and `last` (a table and its rows: the outbox's)
    with it when it fits one statement on PostgreSQL. Whether `last` went: if not, the
    caller sends it."""
    kept = session.info.pop(_AT_FLUSH, None)
    if not kept:
        return False
    groups: dict[Any, list[dict[str, Any]]] = {}
    thens = []
    for kept_groups, then in kept:
        for table, values in kept_groups.items():
            groups.setdefault(table, []).extend(values)
        if then is not None:
            thens.append(then)
    if last is not None:
        table, values = last
        with_last = {**groups, table: [*groups.get(table, []), *values]}
        if _together(session, with_last, thens):
            await _insert_together(session, with_last, thens)
            return True
    await _insert_groups(session, groups, thens)
    return False


# The session's info key for what insert_at_flush keeps.
_AT_FLUSH = "knutepunkt.rows_at_flush"


def _groups_of(rows: tuple[Any, ...]) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        table = row.__table__
        groups.setdefault(table, []).append(_values_of(row, table))
    return groups


def _together(
    session: AsyncSession,
    groups: dict[Any, list[dict[str, Any]]],
    thens: list[tuple[Any, dict[str, Any]]],
) -> bool:
    """Whether the rows (and at most one statement after them) go as one statement."""
    return (
        len(groups) + len(thens) > 1
        # Each `then` names its own parameters: two might take the same name.
        and len(thens) <= 1
        and sum(map(len, groups.values())) <= _TOGETHER_MOST
        and session.get_bind().dialect.name == "postgresql"
        # A table's rows in one VALUES list: each with the same columns.
        and all(len({tuple(v) for v in values}) == 1 for values in groups.values())
    )


async def _insert_groups(
    session: AsyncSession,
    groups: dict[Any, list[dict[str, Any]]],
    thens: list[tuple[Any, dict[str, Any]]],
) -> None:
    if _together(session, groups, thens):
        await _insert_together(session, groups, thens)
        return
    for table, values in groups.items():
        await insert_values(session, table, values)
    for then in thens:
        await on_connection(session, *then)


async def _insert_together(
    session: AsyncSession,
    groups: dict[Any, list[dict[str, Any]]],
    thens: list[tuple[Any, dict[str, Any]]],
) -> None:
    """The rows, and the one statement after them if any, as one statement (`_together`)."""
    shape = tuple((table, tuple(values[0]), len(values)) for table, values in groups.items())
    named = _together_values(groups)
    if not thens:
        await on_connection(session, _inserts_together(shape), named)
        return
    ((statement, own),) = thens
    await on_connection(session, _inserts_together(shape, statement), named | own)


# Rows that go in one statement at most: each count of rows a table is a statement text of
# its own, prepared on each connection (shared/statement_shapes.py). A catering order with
# its lines and its event fits.
_TOGETHER_MOST = 8


async def insert_values(session: AsyncSession, table: Any, values: list[dict[str, Any]]) -> None:
    """INSERT rows given as values now, as the table's one cached Core statement on the
    session's connection (one row: an execute; several: one executemany). The session's
    own execute would first flush its pending objects, and costs more than the insert."""
    await on_connection(session, _insert_into(table), values if len(values) > 1 else values[0])


@functools.lru_cache(maxsize=64)
def _inserts_together(shape: tuple[tuple[Any, tuple[str, ...], int], ...], then: Any = None) -> Any:
    """One INSERT of the rows of several tables: for each table, in order, its rows'
    columns and how many rows; every table's INSERT but the last in a WITH, or every one
    when `then` (a statement) follows them. Built once a shape; the values are bound at
    execution (`_together_values` names them), each through its column's type. PostgreSQL
    runs the WITH's INSERTs in the same statement, and checks the constraints (a reference
    to a row inserted in the WITH included) at its end."""
    inserts = []
    for t, (table, keys, count) in enumerate(shape):
        values = [
            {key: bindparam(_together_name(t, r, key), type_=table.c[key].type) for key in keys}
            for r in range(count)
        ]
        inserts.append(sqlalchemy_insert(table).values(values if len(values) > 1 else values[0]))
    if then is None:
        *inserts, then = inserts
    for t, statement in enumerate(inserts):
        then = then.add_cte(statement.cte(f"inserted_{t}"))
    return then


def _together_values(groups: dict[Any, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        _together_name(t, r, key): value
        for t, rows in enumerate(groups.values())
        for r, values in enumerate(rows)
        for key, value in values.items()
    }


def _together_name(table: int, row: int, column: str) -> str:
    return f"t{table}r{row}_{column}"


def _values_of(row: Any, table: Any) -> dict[str, Any]:
    given = vars(row)
    values: dict[str, Any] = {}
    for column in table.c:
        default = column.default
        if column.key in given:
            values[column.key] = given[column.key]
        elif default is not None and (default.is_scalar or default.is_callable):
            value = default.arg if default.is_scalar else default.arg(None)
            values[column.key] = value
            setattr(row, column.key, value)
    return values


@functools.cache
def _insert_into(table: Any) -> Any:
    """The table's plain INSERT, built once: its values are given at execution."""
    return sqlalchemy_insert(table)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def try_advisory_xact_lock(session: AsyncSession, name: str) -> bool:
    """PostgreSQL: take a transaction-scoped advisory lock if free. SQLite: the write lock
    of BEGIN IMMEDIATE already serialises writers, so always True."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    result = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": advisory_key(name)}
    )
    return bool(result.scalar())


async def advisory_xact_lock(session: AsyncSession, name: str) -> None:
    """PostgreSQL: wait for a transaction-scoped advisory lock. SQLite: no-op (see above)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(name)})
