"""The database layer on SQLite and PostgreSQL: UTC timestamps, migrations, new rows of
several tables in one statement, and SQLite write transactions that wait for each other
instead of failing."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import migrations
from shared.db import POOL_SIZE, TYPE_ANNOTATION_MAP, Database, UTCDateTime, insert_new
from shared.db_errors import is_outage
from shared.settings import SERVICES
from tests.support.apps import running_service
from tests.support.databases import seeing_statements
from tests.support.waiting import wait_for

OSLO = ZoneInfo("Europe/Oslo")

metadata = MetaData()
stamps = Table(
    "stamps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
)
counter = Table("counter", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))


class _Base(DeclarativeBase):
    type_annotation_map = TYPE_ANNOTATION_MAP


class _Parent(_Base):
    __tablename__ = "parents"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    made_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(20), default="ny")


class _Child(_Base):
    __tablename__ = "children"
    __table_args__ = (CheckConstraint("n > 0", name="ck_children_n"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[str] = mapped_column(ForeignKey("parents.id"))
    n: Mapped[int]


async def _database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(_Base.metadata.create_all)
    return db


async def test_aware_times_round_trip_in_utc_across_dst(database_url: str) -> None:
    db = await _database(database_url)
    try:
        instants = [
            datetime(2025, 3, 30, 1, 59, 59, tzinfo=OSLO),  # CET, just before spring forward
            datetime(2025, 3, 30, 3, 0, tzinfo=OSLO),  # CEST, one second of real time later
            datetime(2025, 10, 26, 2, 30, fold=0, tzinfo=OSLO),  # CEST: the first 02:30
            datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=OSLO),  # CET: the second 02:30
            datetime(2025, 7, 1, 5, 0, tzinfo=timezone(timedelta(hours=-7))),
            datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        ]
        async with db.transaction() as session:  # stored out of order on purpose
            await session.execute(stamps.insert(), [{"at": at} for at in reversed(instants)])

        async with db.read() as session:
            stored = list(
                (await session.execute(select(stamps.c.at).order_by(stamps.c.at))).scalars()
            )
            # Compared in the database, on the stored form: only the second 02:30 (CET,
            # 01:30 UTC) lies between 00:45 UTC and November.
            window = stamps.c.at.between(
                datetime(2025, 10, 26, 0, 45, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
            )
            in_window = list((await session.execute(select(stamps.c.at).where(window))).scalars())

        # The same instants, in real-time order. (In UTC: Python compares two Oslo times
        # by wall clock, and never calls one in the repeated hour equal to another zone's.)
        assert stored == sorted(at.astimezone(UTC) for at in instants)
        assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in stored)
        assert stored[1] - stored[0] == timedelta(seconds=1)  # over the spring gap
        assert stored[4] - stored[3] == timedelta(hours=1)  # the two 02:30 in October
        assert in_window == [datetime(2025, 10, 26, 1, 30, tzinfo=UTC)]
    finally:
        await db.dispose()


async def test_naive_times_are_refused_and_nothing_is_written(database_url: str) -> None:
    db = await _database(database_url)
    try:
        with pytest.raises(StatementError, match="naive datetime"):
            async with db.transaction() as session:
                await session.execute(stamps.insert(), [{"at": datetime(2025, 3, 30, 12, 0)}])
        async with db.read() as session:
            assert (await session.execute(select(func.count()).select_from(stamps))).scalar() == 0
    finally:
        await db.dispose()


async def test_new_rows_of_several_tables_go_in_one_statement_on_postgres(
    database_url: str,
) -> None:
    """A row and the rows that refer to it: one statement on PostgreSQL (a round trip, not
    three), a statement a table on SQLite; stored alike, defaults on the rows and on the
    objects, and a reference to the row inserted in the same statement holds."""
    db = await _database(database_url)
    sent: list[str] = []
    made = datetime(2026, 12, 7, 12, 0, tzinfo=OSLO)
    try:
        parent = _Parent(id="p1", made_at=made)
        children = [_Child(parent_id="p1", n=1), _Child(parent_id="p1", n=2)]
        async with db.transaction() as session:
            with seeing_statements(db, lambda *args: sent.append(args[2])):
                await insert_new(session, parent, *children)
            inserts = [statement for statement in sent if statement.startswith(("INSERT", "WITH"))]
        assert len(inserts) == (1 if db.dialect == "postgresql" else 2)
        assert parent.note == "ny"
        async with db.read() as session:
            stored = (await session.execute(select(_Parent.__table__))).one()
            numbers = (await session.execute(select(_Child.n, _Child.parent_id))).all()
        assert (stored.id, stored.made_at, stored.note) == ("p1", made.astimezone(UTC), "ny")
        assert sorted(numbers) == [(1, "p1"), (2, "p1")]
    finally:
        await db.dispose()


_RENAME = (
    update(_Parent.__table__)
    .where(_Parent.__table__.c.id == bindparam("parent"))
    .values(note=bindparam("note"))
)


async def test_new_rows_and_the_update_after_them_go_in_one_statement_on_postgres(
    database_url: str,
) -> None:
    """A new row and an update of another table's row (a loan and its item): one statement
    on PostgreSQL, two on SQLite; both land, and a refused insert takes the update with it."""
    db = await _database(database_url)
    sent: list[str] = []
    made = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    try:
        async with db.transaction() as session:
            await insert_new(session, _Parent(id="p1", made_at=made))
        async with db.transaction() as session:
            child = _Child(parent_id="p1", n=1)
            lent = (_RENAME, {"parent": "p1", "note": "lånt"})
            with seeing_statements(db, lambda *args: sent.append(args[2])):
                await insert_new(session, child, then=lent)
            writes = [s for s in sent if s.startswith(("INSERT", "WITH", "UPDATE"))]
        assert len(writes) == (1 if db.dialect == "postgresql" else 2)
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                refused = _Child(parent_id="p1", n=0)  # the CHECK
                await insert_new(session, refused, then=(_RENAME, {"parent": "p1", "note": "x"}))
        async with db.read() as session:
            note = (await session.execute(select(_Parent.note))).scalar_one()
            numbers = (await session.execute(select(_Child.n))).scalars().all()
        assert (note, numbers) == ("lånt", [1])
    finally:
        await db.dispose()


async def test_rows_inserted_together_are_all_or_nothing(database_url: str) -> None:
    """A row the database refuses, in the first table or in a later one, refuses the whole
    statement: no row of it is stored, and the caller is told as for any insert."""
    db = await _database(database_url)
    made = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    try:
        async with db.transaction() as session:
            await insert_new(session, _Parent(id="taken", made_at=made))
        refused = [
            [_Parent(id="p2", made_at=made), _Child(parent_id="p2", n=0)],  # the CHECK
            [_Parent(id="taken", made_at=made), _Child(parent_id="taken", n=1)],  # the key
        ]
        for rows in refused:
            with pytest.raises(IntegrityError):
                async with db.transaction() as session:
                    await insert_new(session, *rows)
        async with db.read() as session:
            parents = (await session.execute(select(_Parent.id))).scalars().all()
            children = (await session.execute(select(func.count()).select_from(_Child))).scalar()
        assert (parents, children) == (["taken"], 0)
    finally:
        await db.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_migrates_to_head(service: str, database_url: str) -> None:
    models = importlib.import_module(f"services.{service}.models")
    config = Config()
    config.set_main_option("script_location", str(migrations.SERVICES_DIR / service / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()  # fails on several heads
    db = Database(database_url)
    try:
        await migrations.upgrade(service, db)
        await migrations.upgrade(service, db)  # a restart: nothing left to do, no error
        assert await migrations.current(service, db) == head
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert set(models.metadata.tables) <= tables
    finally:
        await db.dispose()


# -- SQLite: BEGIN IMMEDIATE ------------------------------------------------------------------


def _other_writer_can_begin(url: str) -> bool:
    """Can a second connection take the write lock right now (without waiting)?"""
    con = sqlite3.connect(make_url(url).database or "", timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        con.close()


async def test_sqlite_transaction_holds_the_write_lock_from_its_start(
    sqlite_database_url: str,
) -> None:
    db = await _database(sqlite_database_url)
    try:
        async with db.transaction() as session:
            await session.execute(select(func.count()).select_from(counter))  # only a read
            assert not _other_writer_can_begin(sqlite_database_url)
        assert _other_writer_can_begin(sqlite_database_url)
        async with db.read() as session:
            await session.execute(select(func.count()).select_from(counter))
            assert _other_writer_can_begin(sqlite_database_url)  # reads take no write lock
    finally:
        await db.dispose()


async def _bump(db: Database) -> None:
    async with db.transaction() as session:
        n = (await session.execute(select(counter.c.n))).scalar_one()
        await session.execute(select(func.count()).select_from(stamps))  # let others run
        await session.execute(update(counter).values(n=n + 1))


async def test_concurrent_sqlite_writers_wait_instead_of_failing(sqlite_database_url: str) -> None:
    db = await _database(sqlite_database_url)
    try:
        async with db.transaction() as session:
            await session.execute(counter.insert().values(id=1, n=0))
        await asyncio.gather(*(_bump(db) for _ in range(8)))
        async with db.read() as session:
            assert (await session.execute(select(counter.c.n))).scalar_one() == 8
    finally:
        await db.dispose()


async def test_deferred_begin_would_fail_the_same_writers(sqlite_database_url: str) -> None:
    """Why the two tests above matter: with SQLite's default (deferred) BEGIN, two
    read-then-write transactions that overlap end in 'database is locked'."""
    db = await _database(sqlite_database_url)
    try:
        async with db.transaction() as session:
            await session.execute(counter.insert().values(id=1, n=0))
        both_read = asyncio.Barrier(2)

        async def deferred_bump() -> None:
            async with db.sessions() as session:
                await session.connection(execution_options={"sqlite_begin": "DEFERRED"})
                n = (await session.execute(select(counter.c.n))).scalar_one()
                await both_read.wait()
                await session.execute(update(counter).values(n=n + 1))
                await session.commit()

        results = await asyncio.gather(deferred_bump(), deferred_bump(), return_exceptions=True)
        assert any(isinstance(r, OperationalError) and "locked" in str(r) for r in results)
    finally:
        await db.dispose()


# -- /metrics ---------------------------------------------------------------------------------


async def test_metrics_are_prometheus_text(database_url: str, redis_url: str, prefix: str) -> None:
    from services.notify.app import SPEC

    async with running_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix
    ) as service:
        assert (await service.client.get("/health/ready")).status_code == 200
        response = await service.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["outbox_backlog"].samples[0].value == 0
    requests = [
        s
        for s in families["http_requests"].samples
        if s.name == "http_requests_total" and s.labels["route"] == "/health/ready"
    ]
    assert requests and requests[0].labels["status"] == "200"


async def test_a_postgres_connection_its_server_closed_is_replaced_without_a_ping(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection whose session the server ended (as a restart ends them all) is
    replaced when next checked out, and no transaction fails for it; a live one is used
    as it is, with no ping (asyncpg's adapter pings with three round trips)."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    pings: list[object] = []
    real_ping = AsyncAdapt_asyncpg_connection.ping

    def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(self)
        real_ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    db = await _database(postgres_database_url)
    plain = make_url(postgres_database_url).set(drivername="postgresql")
    admin = await asyncpg.connect(plain.render_as_string(hide_password=False))
    backend = text("SELECT pg_backend_pid()")
    try:
        async with db.transaction() as session:
            first = (await session.execute(backend)).scalar_one()
            raw = await (await session.connection()).get_raw_connection()
            pooled = raw.dbapi_connection._connection  # type: ignore[union-attr]
        async with db.transaction() as session:
            assert (await session.execute(backend)).scalar_one() == first  # the pool's own
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)

        def closed() -> bool:
            return bool(pooled.is_closed())

        await wait_for(closed, timeout=10, message="the client sees its session ended")
        async with db.transaction() as session:
            second = (await session.execute(backend)).scalar_one()
            await session.execute(insert(counter).values(id=1, n=1))
        assert second != first
        async with db.read() as session:
            assert (await session.execute(select(counter.c.n))).scalar_one() == 1
        assert pings == []
    finally:
        await admin.close()
        await db.dispose()


async def test_a_burst_past_the_pool_waits_for_its_connections(postgres_database_url: str) -> None:
    """Three times as many transactions at once as the pool holds: every one is done, no
    more than the pool's connections are open at once, and a second burst opens none: a
    connection is kept, not closed when it comes back and opened again for the next."""
    db = Database(postgres_database_url, connect_timeout=3, command_timeout=5)
    opened: list[object] = []
    event.listen(db.engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))
    inside = 0
    most_inside = 0
    full = asyncio.Event()

    async def transaction() -> int:
        nonlocal inside, most_inside
        async with db.transaction() as session:
            # The session takes its connection at its first statement.
            backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            inside += 1
            most_inside = max(most_inside, inside)
            if inside == POOL_SIZE:
                full.set()
            # Each holds its connection until the pool is all in use: a pool that opened
            # more would let a further transaction in meanwhile. A pool that never fills
            # fails the test here, not at the run's timeout.
            async with asyncio.timeout(10):
                await full.wait()
            inside -= 1
        return int(backend)

    try:
        first = await asyncio.gather(*(transaction() for _ in range(3 * POOL_SIZE)))
        assert most_inside == POOL_SIZE
        assert len(set(first)) == len(opened) == POOL_SIZE
        second = await asyncio.gather(*(transaction() for _ in range(3 * POOL_SIZE)))
        assert len(opened) == POOL_SIZE
        assert set(second) == set(first)
    finally:
        await db.dispose()


async def test_sessions_get_the_pools_connections_in_the_order_they_asked(
    postgres_database_url: str,
) -> None:
    """Clients that each ask again as soon as their transaction ends, four times the pool:
    no request gets a connection before one that asked earlier and is still waiting,
    beyond the reorderings of the pool's own size (its connections answer in any order).
    The pool alone let a newcomer take a connection that had come back while an earlier
    waiter was being woken, and put that waiter at the back of the queue."""
    size = 2
    rounds = 300
    db = Database(postgres_database_url, pool_size=size, connect_timeout=3, command_timeout=5)
    tickets = iter(range(10_000))
    waiting: set[int] = set()
    overtaken: list[int] = []

    async def client() -> None:
        for _ in range(rounds):
            ticket = next(tickets)
            waiting.add(ticket)
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
                waiting.discard(ticket)
                # The requests made before this one and still without a connection.
                overtaken.append(sum(1 for other in waiting if other < ticket))
                await session.execute(text("SELECT 1"))

    try:
        await asyncio.gather(*(client() for _ in range(4 * size)))
        assert len(overtaken) == 4 * size * rounds
        assert max(overtaken) <= size - 1
    finally:
        await db.dispose()


async def test_a_session_that_waits_past_the_pools_timeout_is_told_an_outage(
    postgres_database_url: str,
) -> None:
    """Waiting for a turn is bounded as the pool's own wait is, and told with its error,
    which the unit of work and the routes answer as an outage (503)."""
    db = Database(postgres_database_url, pool_size=1, connect_timeout=0.2, command_timeout=0.2)
    try:
        async with db.transaction() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(PoolTimeout) as refused:
                async with db.transaction() as session:
                    await session.execute(text("SELECT 1"))
        assert is_outage(refused.value)
        async with db.transaction() as session:  # the turn was given back
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.dispose()
