"""Statements of a few shapes: batches of any size go out as a bounded set of SQL texts,
each of which the driver prepares once and keeps (shared/statement_shapes)."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.calendar import utcnow
from shared.events import Envelope, new_event
from shared.messaging.consumer.inbox import claim
from shared.messaging.outbox import emit
from shared.statement_shapes import LARGEST_PAGE, padded, pages
from tests.backbone.harness import booking, make_db, make_relay, messaging
from tests.support.databases import sql_texts


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
    is exactly what was, and the inserts are at most seven SQL texts (1, 2, 4 … 64 rows),
    where each batch size was a text of its own (a statement the driver keeps)."""
    db = await make_db(database_url)
    dialect = db.engine.dialect.name
    try:
        before: list[Envelope] = []
        with sql_texts(db, {"insert": "INSERT INTO inbox"}) as texts:
            for size in range(1, 71):
                fresh = [new_event(booking(n)) for n in range(size)]
                async with db.transaction() as session:
                    batch = [*before[:5], *fresh]  # the last batch's first, seen before
                    new = await claim(session, messaging.inbox, dialect, "s", batch, utcnow())
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
