"""The inbox claim: which events of a batch this service has not handled before.

Done in the batch's own transaction, so an event counts as handled exactly when its
handler's changes commit.
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Envelope
from shared.statement_shapes import RowsInsert


async def claim(
    session: AsyncSession,
    inbox: Table,
    stream: str,
    envelopes: list[Envelope],
    now: datetime,
) -> set[str]:
    """Record the event ids; returns those not seen before (one statement for up to 512
    events: shared/statement_shapes).

    Concurrent transactions may race for an id (PostgreSQL): the database decides, and
    RETURNING says which rows were ours. On SQLite the transaction holds the write lock
    (BEGIN IMMEDIATE), so there is no race, and the statement replaces a lookup and
    an insert: a round trip, and two of the driver thread's hand-offs, fewer per batch.
    """
    # An event given twice needs no weeding out here: its second row conflicts with its
    # first and is skipped, as the claim's padding is (shared/statement_shapes).
    rows = [(e.id, e.type) for e in envelopes]
    return set(await _claims(inbox).execute(session, rows, stream=stream, processed_at=now))


@functools.cache
def _claims(inbox: Table) -> RowsInsert:
    return RowsInsert(
        inbox,
        ("event_id", "type"),
        same=("stream", "processed_at"),
        skip_conflicts=True,
        returning="event_id",
    )
