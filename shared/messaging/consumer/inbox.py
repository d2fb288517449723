"""The inbox claim: which events of a batch this service has not handled before.

Done in the batch's own transaction, so an event counts as handled exactly when its
handler's changes commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Envelope


async def claim(
    session: AsyncSession,
    inbox: Table,
    dialect: str,
    stream: str,
    envelopes: list[Envelope],
    now: datetime,
) -> set[str]:
    """Record the event ids; returns those not seen before (one statement per batch)."""
    unique = {e.id: e for e in envelopes}
    rows = [
        {"event_id": e.id, "stream": stream, "type": e.type, "processed_at": now}
        for e in unique.values()
    ]
    if dialect == "postgresql":
        # Concurrent transactions may race for an id: the database decides, and
        # RETURNING says which rows were ours.
        stmt = pg_insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
        return set((await session.execute(stmt, rows)).scalars())
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so a lookup then
    # a plain executemany is race-free, and cheaper than INSERT … RETURNING.
    seen: set[str] = set(
        (
            await session.execute(
                select(inbox.c.event_id).where(inbox.c.event_id.in_(list(unique)))
            )
        ).scalars()
    )
    fresh = [row for row in rows if row["event_id"] not in seen]
    if fresh:
        await session.execute(insert(inbox), fresh)
    return set(unique) - seen
