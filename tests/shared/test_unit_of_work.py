"""The unit of work on real databases: events go out with the change or not at all, a
refusal rolls everything back, reads do not block writers, deadlock victims run again and
then become one Busy refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from shared.calendar import utcnow
from shared.db import Database, insert_at_flush
from shared.errors import Busy, Conflict, Refused, Unavailable
from shared.events import ItemOutOfService
from shared.messaging.tables import add_messaging_tables
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.support.databases import seeing_statements

metadata = MetaData()
tables = add_messaging_tables(metadata)
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), unique=True),
)


class _Base(DeclarativeBase):
    metadata = metadata


class Thing(_Base):
    __table__ = things


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str) -> None:
        await self.session.execute(insert(things).values(name=name))

    def keep(self, name: str) -> None:
        insert_at_flush(self.session, Thing(name=name))

    async def count(self) -> int:
        return int(
            (await self.session.execute(select(func.count()).select_from(things))).scalar_one()
        )

    async def outbox(self) -> int:
        query = select(func.count()).select_from(tables.outbox)
        return int((await self.session.execute(query)).scalar_one())


def _event(label: str) -> ItemOutOfService:
    return ItemOutOfService(
        hub="h", item_id="i1", item_label=label, item_kind="pc", reason="damaged"
    )


@pytest.fixture
async def units(database_url: str) -> AsyncIterator[UnitsOfWork[Store]]:
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield UnitsOfWork(db, tables, Store, utcnow)
    await db.dispose()


async def _counts(units: UnitsOfWork[Store]) -> tuple[int, int]:
    async def read(uow: UnitOfWork[Store]) -> tuple[int, int]:
        return await uow.store.count(), await uow.store.outbox()

    return await units.run(read, read_only=True)


async def test_recorded_events_are_written_with_the_change(units: UnitsOfWork[Store]) -> None:
    async def add(uow: UnitOfWork[Store]) -> str:
        await uow.store.add("a")
        return uow.record(_event("PC-1"), subject="i1").id

    event_id = await units.run(add)
    assert await _counts(units) == (1, 1)
    async with units.db.sessions() as session:
        row = (await session.execute(select(tables.outbox))).one()
    assert row.event_id == event_id
    assert row.type == "ItemOutOfService"


async def test_a_refusal_rolls_back_the_change_and_its_events(units: UnitsOfWork[Store]) -> None:
    async def refuse(uow: UnitOfWork[Store]) -> None:
        await uow.store.add("a")
        uow.record(_event("PC-1"))
        raise Refused("no", code="test_no")

    with pytest.raises(Refused):
        await units.run(refuse)
    assert await _counts(units) == (0, 0)


async def test_a_refused_attempt_takes_back_only_its_own_writes_and_events(
    units: UnitsOfWork[Store],
) -> None:
    async def add(uow: UnitOfWork[Store]) -> None:
        await uow.store.add("before")
        uow.record(_event("PC-1"))
        with pytest.raises(Refused):
            async with uow.attempt():
                await uow.store.add("tried")
                uow.store.keep("kept while tried")
                uow.record(_event("PC-2"))
                raise Refused("full", nb="fullt")
        await uow.store.add("tried")  # the refused row is gone: its name is free again
        async with uow.attempt():  # an attempt that is not refused keeps its work
            await uow.store.add("kept")
            uow.record(_event("PC-3"))

    await units.run(add)
    async with units.db.sessions() as session:
        names = set((await session.execute(select(things.c.name))).scalars())
        query = select(tables.outbox.c.payload).order_by(tables.outbox.c.id)
        payloads = (await session.execute(query)).scalars().all()
    assert names == {"before", "tried", "kept"}
    assert ["PC-1" in p for p in payloads] == [True, False]
    assert ["PC-3" in p for p in payloads] == [False, True]


async def test_rows_kept_for_the_flush_go_with_the_events_in_one_statement_on_postgres(
    units: UnitsOfWork[Store],
) -> None:
    """A new row kept for the flush is not in the database before it, and goes with the
    events: one statement on PostgreSQL, one a table on SQLite. A constraint that refuses
    it at the flush is read as a refusal of the unit of work, and nothing of it lands."""
    sent: list[str] = []

    async def keep(uow: UnitOfWork[Store]) -> None:
        before = await uow.store.count()
        uow.store.keep("a")
        assert await uow.store.count() == before  # not written yet
        uow.record(_event("PC-1"))

    with seeing_statements(units.db, lambda *args: sent.append(args[2])):
        await units.run(keep)
    writes = [statement for statement in sent if statement.startswith(("INSERT", "WITH"))]
    assert len(writes) == (1 if units.db.dialect == "postgresql" else 2)
    assert await _counts(units) == (1, 1)
    with pytest.raises(Conflict):
        await units.run(keep)  # "a" again: the unique name refuses it at the flush
    assert await _counts(units) == (1, 1)


async def test_rows_kept_for_a_flush_that_never_comes_refuse_the_commit(
    units: UnitsOfWork[Store],
) -> None:
    """A transaction outside a unit of work keeps a row for a flush that never comes: its
    commit is refused loudly, not committed without the row."""
    with pytest.raises(RuntimeError, match="never sent"):
        async with units.db.transaction() as session:
            await Store(session).add("beside")
            Store(session).keep("lost")
    assert await _counts(units) == (0, 0)


async def test_a_unique_violation_is_a_conflict(units: UnitsOfWork[Store]) -> None:
    async def add(uow: UnitOfWork[Store]) -> None:
        await uow.store.add("same")

    await units.run(add)
    with pytest.raises(Conflict) as refused:
        await units.run(add)
    assert refused.value.code == "concurrent_change"
    assert await _counts(units) == (1, 0)


async def test_the_service_reads_its_own_constraints(units: UnitsOfWork[Store]) -> None:
    units.integrity = lambda exc: Conflict("that name is taken", code="name_taken")

    async def add(uow: UnitOfWork[Store]) -> None:
        await uow.store.add("same")

    await units.run(add)
    with pytest.raises(Conflict) as refused:
        await units.run(add)
    assert refused.value.code == "name_taken"


class _Victim(Exception):
    sqlstate = "40P01"


async def test_a_deadlock_victim_runs_again_then_is_busy(units: UnitsOfWork[Store]) -> None:
    calls = 0

    async def unlucky(uow: UnitOfWork[Store]) -> None:
        nonlocal calls
        calls += 1
        await uow.store.add(f"n{calls}")
        raise DBAPIError("INSERT", {}, _Victim("deadlock detected"))

    with pytest.raises(Busy) as refused:
        await units.run(unlucky)
    assert calls == units.attempts
    assert refused.value.code == "database_busy"
    assert await _counts(units) == (0, 0)

    calls = 0

    async def once_unlucky(uow: UnitOfWork[Store]) -> None:
        nonlocal calls
        calls += 1
        await uow.store.add(f"m{calls}")
        if calls == 1:
            raise DBAPIError("INSERT", {}, _Victim("deadlock detected"))

    await units.run(once_unlucky)
    assert calls == 2
    assert await _counts(units) == (1, 0)


async def test_a_read_does_not_hold_back_a_writer(units: UnitsOfWork[Store]) -> None:
    reading = asyncio.Event()
    written = asyncio.Event()

    async def slow_read(uow: UnitOfWork[Store]) -> int:
        count = await uow.store.count()
        reading.set()
        # The writer must be able to commit while this read transaction is open.
        await asyncio.wait_for(written.wait(), 10)
        return count

    async def write(uow: UnitOfWork[Store]) -> None:
        await uow.store.add("w")

    async def writer() -> None:
        await reading.wait()
        await units.run(write)
        written.set()

    count, _ = await asyncio.gather(units.run(slow_read, read_only=True), writer())
    assert count == 0
    assert await _counts(units) == (1, 0)


async def test_a_database_that_is_gone_is_unavailable() -> None:
    db = Database("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    units = UnitsOfWork(db, tables, Store, utcnow)

    async def read(uow: UnitOfWork[Store]) -> int:
        return (await uow.store.session.execute(text("SELECT 1"))).scalar_one()

    with pytest.raises(Unavailable) as refused:
        await units.run(read)
    assert refused.value.code == "database_unavailable"
    assert refused.value.retry_after > 0
    await db.dispose()


async def test_past_its_deadline_the_caller_is_told_unavailable_and_nothing_lands(
    database_url: str,
) -> None:
    """A frozen PostgreSQL costs a command timeout for the statement and another for the
    rollback; with a deadline the caller is answered at the deadline instead."""
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    units = UnitsOfWork(db, tables, Store, utcnow, deadline=0.3)
    never = asyncio.Event()
    abandoned = asyncio.Event()

    async def hangs(uow: UnitOfWork[Store]) -> None:
        await uow.store.add("late")
        uow.record(_event("PC-1"))
        try:
            await never.wait()  # a server that does not answer
        finally:
            abandoned.set()

    try:
        with pytest.raises(Unavailable) as refused:
            await units.run(hangs)
        assert refused.value.code == "database_unavailable"
        await asyncio.wait_for(abandoned.wait(), timeout=5)  # the work was ended, too
        # Checked without the deadline: the abandoned transaction's connection may take
        # longer than 0.3 s to give back on a slow machine, and that is not under test.
        assert await _counts(UnitsOfWork(db, tables, Store, utcnow)) == (0, 0)
    finally:
        await db.dispose()
