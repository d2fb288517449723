"""Statements of a few shapes: batches of any size go out as a bounded set of SQL texts,
each of which the driver prepares once and keeps (shared/statement_shapes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError

from shared.calendar import utcnow
from shared.db import UTCDateTime
from shared.events import Envelope, new_event
from shared.messaging.consumer.inbox import claim
from shared.messaging.outbox import emit, emit_envelopes
from shared.statement_shapes import LARGEST_PAGE, RowsInsert, padded, pages
from tests.backbone.harness import booking, make_db, make_relay, messaging
from tests.support.databases import seeing_statements, sql_texts


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def test_pages_cover_the_rows_in_order_in_powers_of_two_largest_first() -> None:
    for count in range(0, 1300):
        rows = list(range(count))
        chunks = list(pages(rows))
        sizes = [len(chunk) for chunk in chunks]
        assert [row for chunk in chunks for row in chunk] == rows
        assert all(is_power_of_two(size) and size <= LARGEST_PAGE for size in sizes)
        assert sizes == sorted(sizes, reverse=True)


def test_padded_values_are_the_same_values_in_a_power_of_two() -> None:
    assert padded([]) == []
    for count in range(1, 300):
        values = [f"id-{n}" for n in range(count)]
        longer = padded(values)
        assert longer[:count] == values and set(longer) == set(values)
        assert is_power_of_two(len(longer)) and len(longer) < 2 * count


async def test_inbox_claims_of_every_batch_size_are_a_few_statements(database_url: str) -> None:
    """Batches of 1 to 70 events, each with some seen before: what each claim says is new
    is exactly what was, and the inserts are at most seven SQL texts (the batch padded to
    1, 4, 8 … 128 rows), where each batch size was a text of its own (a statement the
    driver keeps)."""
    db = await make_db(database_url)
    try:
        before: list[Envelope] = []
        with sql_texts(db, {"insert": "INSERT INTO inbox"}) as texts:
            for size in range(1, 71):
                fresh = [new_event(booking(n)) for n in range(size)]
                async with db.transaction() as session:
                    batch = [*before[:5], *fresh]  # the last batch's first, seen before
                    new = await claim(session, messaging.inbox, "s", batch, utcnow())
                assert new == {e.id for e in fresh}
                before = fresh
        assert 0 < len(texts["insert"]) <= 7, len(texts["insert"])
    finally:
        await db.dispose()


async def test_the_relay_marks_batches_of_every_size_in_a_few_statements(
    database_url: str, redis_url: str, prefix: str
) -> None:
    """Batches of 1 to 40 rows published: each marked, with at most seven SQL texts (ids
    padded to 1, 2, 4 … 64), where each batch size was a text of its own."""
    db = await make_db(database_url)
    relay = make_relay(db, redis_url, prefix)
    try:
        with sql_texts(db, {"mark": "UPDATE outbox"}) as texts:
            for size in range(1, 41):
                async with db.transaction() as session:
                    for n in range(size):
                        await emit(session, messaging, booking(n))
                assert await relay.publish_once() == size
        async with db.read() as session:
            unmarked = select(func.count()).where(messaging.outbox.c.published_at.is_(None))
            assert (await session.execute(unmarked)).scalar() == 0
        assert 0 < len(texts["mark"]) <= 7, len(texts["mark"])
    finally:
        await relay.redis.aclose()
        await db.dispose()


async def test_an_inbox_claim_is_one_statement_up_to_the_largest_page(database_url: str) -> None:
    """A claim pads its rows with the last one, which skips itself: 300 events with 100 of
    them twice and 50 seen before are one statement of 512 rows, and 700 are two, and
    each says exactly which events are new."""
    db = await make_db(database_url)
    sent: list[str] = []
    try:
        seen = [new_event(booking(n)) for n in range(50)]
        async with db.transaction() as session:
            await claim(session, messaging.inbox, "s", seen, utcnow())
        for count, statements in ((300, 1), (700, 2)):
            fresh = [new_event(booking(n)) for n in range(count)]
            batch = [*seen, *fresh, *fresh[:100]]
            sent.clear()
            with seeing_statements(db, lambda _c, _k, sql, *_a: sent.append(sql)):
                async with db.transaction() as session:
                    new = await claim(session, messaging.inbox, "s", batch, utcnow())
            assert new == {e.id for e in fresh}
            assert len([sql for sql in sent if "INSERT INTO inbox" in sql]) == statements
    finally:
        await db.dispose()


async def test_rows_insert_binds_each_value_through_its_column_type(database_url: str) -> None:
    """A row's own timestamps and a shared one go through the column's type (aware UTC in,
    aware UTC back, on both databases), and a naive one is refused."""
    table = Table(
        "stamps",
        MetaData(),
        Column("name", String(20), primary_key=True),
        Column("at", UTCDateTime, nullable=False),
        Column("seen", UTCDateTime, nullable=False),
    )
    db = await make_db(database_url)
    insert = RowsInsert(table, ("name", "at"), same=("seen",))
    oslo = datetime(2026, 3, 29, 3, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Oslo"))
    seen = datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=UTC)
    rows = [(f"r{n}", oslo + timedelta(minutes=n)) for n in range(3)]
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.create)
        async with db.transaction() as session:
            assert await insert.execute(session, rows[:1], seen=seen) == []
            await insert.execute(session, rows[1:], seen=seen)
        async with db.read() as session:
            back = (await session.execute(select(table).order_by(table.c.name))).all()
        assert [(r.name, r.at, r.seen) for r in back] == [(n, at, seen) for n, at in rows]
        assert all(r.at.tzinfo == UTC for r in back)
        with pytest.raises(ValueError, match="naive"):
            async with db.transaction() as session:
                await insert.execute(session, [("naive", datetime(2026, 1, 1))], seen=seen)
        with pytest.raises(TypeError, match="seen"):
            async with db.transaction() as session:
                await insert.execute(session, [("nothing shared", seen)])
    finally:
        await db.dispose()


async def test_an_outbox_row_twice_is_sqlalchemys_integrity_error(database_url: str) -> None:
    """The outbox's insert is driver SQL, and its errors still come as SQLAlchemy's: the
    unit of work reads an IntegrityError as a conflict, and a rolled-back transaction keeps
    nothing of it."""
    db = await make_db(database_url)
    event = new_event(booking(1))
    try:
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await emit_envelopes(session, messaging, [new_event(booking(2)), event, event])
        async with db.read() as session:
            assert (await session.execute(select(func.count(messaging.outbox.c.id)))).scalar() == 0
    finally:
        await db.dispose()
