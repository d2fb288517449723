"""The inbox claim: which events of a batch this service has not handled before.

Done in the batch's own transaction, so an event counts as handled exactly when its
handler's changes commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.events import Envelope
from shared.statement_shapes import first_columns_returned


async def claim(
    session: AsyncSession,
    inbox: Table,
    dialect: str,
    stream: str,
    envelopes: list[Envelope],
    now: datetime,
) -> set[str]:
    """Record the event ids; returns those not seen before (one statement per page of a
    batch: shared/statement_shapes).

    Concurrent transactions may race for an id (PostgreSQL): the database decides, and
    RETURNING says which rows were ours. On SQLite the transaction holds the write lock
    (BEGIN IMMEDIATE), so there is no race, and the statement replaces a lookup and
    an insert: a round trip, and two of the driver thread's hand-offs, fewer per batch.
    """
    unique = {e.id: e for e in envelopes}
    rows = [
        {"event_id": e.id, "stream": stream, "type": e.type, "processed_at": now}
        for e in unique.values()
    ]
    stmt = insert_for(dialect)(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
    # On the session's connection: a Core statement needs none of the ORM's execution.
    return set(await first_columns_returned(session, stmt, rows))
