"""The day's capacity counter: reserve portions without overselling, release them again.

Writers of one day queue on its counter row: SELECT … FOR UPDATE on PostgreSQL; on SQLite
every write transaction already begins IMMEDIATE (shared.db), which serialises them. The
CHECK (used <= capacity) on the row is the guarantee should anything slip past.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.catering.domain import DayLoad, OrderRefused, next_day_with_room
from services.catering.models import DayCapacity
from shared.calendar import Calendar


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]


async def _locked_load(session: AsyncSession, hub: str, day: date, default: int) -> DayLoad:
    await session.execute(
        _insert(session)(DayCapacity)
        .values(hub=hub, day=day, capacity=default, used=0)
        .on_conflict_do_nothing()
    )
    row = (
        await session.execute(
            select(DayCapacity.capacity, DayCapacity.used)
            .where(DayCapacity.hub == hub, DayCapacity.day == day)
            .with_for_update()
        )
    ).one()
    return DayLoad(row.capacity, row.used)


async def loads(session: AsyncSession, hub: str, first: date, last: date) -> dict[date, DayLoad]:
    rows = await session.execute(
        select(DayCapacity.day, DayCapacity.capacity, DayCapacity.used).where(
            DayCapacity.hub == hub, DayCapacity.day >= first, DayCapacity.day <= last
        )
    )
    return {r.day: DayLoad(r.capacity, r.used) for r in rows}


async def reserve(
    session: AsyncSession,
    *,
    hub: str,
    day: date,
    portions: int,
    default_capacity: int,
    calendar: Calendar,
) -> None:
    load = await _locked_load(session, hub, day, default_capacity)
    if load.used + portions <= load.capacity:
        await session.execute(
            update(DayCapacity)
            .where(DayCapacity.hub == hub, DayCapacity.day == day)
            .values(used=DayCapacity.used + portions)
        )
        return
    ahead = await loads(session, hub, day + timedelta(days=1), day + timedelta(days=60))
    nxt = next_day_with_room(calendar, day, portions, ahead, default_capacity)
    reason = (
        f"the café is full on {day.isoformat()}: {load.remaining} portion(s) left, "
        f"{portions} asked for"
    )
    reason += (
        f"; the next day with room is {nxt.isoformat()}"
        if nxt
        else "; no day within the next 60 has room for that many"
    )
    raise OrderRefused(
        "capacity_full",
        reason,
        remaining=load.remaining,
        next_available_date=nxt.isoformat() if nxt else None,
    )


async def release(session: AsyncSession, *, hub: str, day: date, portions: int) -> None:
    if portions:
        await session.execute(
            update(DayCapacity)
            .where(DayCapacity.hub == hub, DayCapacity.day == day)
            .values(used=DayCapacity.used - portions)
        )


async def set_capacity(
    session: AsyncSession, *, hub: str, day: date, capacity: int, default_capacity: int
) -> DayLoad:
    """Raises OrderRefused when the day already holds more than the new capacity."""
    load = await _locked_load(session, hub, day, default_capacity)
    if capacity < load.used:
        raise OrderRefused(
            "below_used",
            f"{load.used} portions are already promised on {day.isoformat()}; "
            "the capacity cannot go below that",
            used=load.used,
        )
    await session.execute(
        update(DayCapacity)
        .where(DayCapacity.hub == hub, DayCapacity.day == day)
        .values(capacity=capacity)
    )
    return DayLoad(capacity, load.used)
