"""The waiting list: reservations of an item kind, offered an item in queue order."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans.models import Borrower, Item, Reservation, messaging
from services.loans.store import (
    contact_of,
    for_update,
    held_for_other,
    lendable_items,
    policy_for,
)
from shared.events import ReservationReady
from shared.messaging.outbox import emit

OPEN = ("waiting", "offered")


async def expire_offers(session: AsyncSession, hub: str, kind: str | None, now: datetime) -> int:
    """Offers not taken up in time lapse; the item goes to the next in line."""
    query = update(Reservation).where(
        Reservation.hub == hub,
        Reservation.status == "offered",
        Reservation.hold_until <= now,
    )
    if kind is not None:
        query = query.where(Reservation.kind == kind)
    result = await session.execute(query.values(status="expired"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def offer_next(session: AsyncSession, hub: str, kind: str, now: datetime) -> int:
    """Offer free items of the kind to the waiting reservations, first come first served;
    returns how many were offered (each gets one ReservationReady)."""
    await expire_offers(session, hub, kind, now)
    policy = await policy_for(session, hub, kind)
    offered = 0
    while True:
        reservation = (
            await session.execute(
                for_update(
                    session,
                    select(Reservation)
                    .where(
                        Reservation.hub == hub,
                        Reservation.kind == kind,
                        Reservation.status == "waiting",
                        Reservation.wanted_from <= now,
                    )
                    .order_by(Reservation.id)
                    .limit(1),
                    skip_locked=True,
                )
            )
        ).scalar_one_or_none()
        if reservation is None:
            return offered
        # An item still being prepared (the buffer) may be offered: the hold starts when
        # it is ready.
        item = (
            await session.execute(
                for_update(
                    session,
                    lendable_items(hub, kind)
                    .where(~held_for_other(Item.id, now, None))
                    .order_by(Item.available_from.is_not(None), Item.available_from, Item.label)
                    .limit(1),
                    skip_locked=True,
                )
            )
        ).scalar_one_or_none()
        if item is None:
            return offered
        ready_at = max(now, item.available_from or now)
        reservation.status = "offered"
        reservation.offered_item_id = item.id
        reservation.hold_until = ready_at + timedelta(hours=policy.hold_hours)
        borrower = await session.get(Borrower, reservation.borrower_id)
        assert borrower is not None
        await session.flush()
        await emit(
            session,
            messaging,
            ReservationReady(
                hub=hub,
                reservation_id=str(reservation.id),
                item_id=item.id,
                item_label=item.label,
                item_kind=item.kind,  # type: ignore[arg-type]
                borrower_id=borrower.id,
                borrower=contact_of(borrower),
                hold_until=reservation.hold_until,
            ),
        )
        offered += 1


async def release_item_offers(session: AsyncSession, item_id: str) -> list[Reservation]:
    """An item that can no longer be lent: its open offers go back to the queue (they keep
    their place, which is their id)."""
    rows = (
        (
            await session.execute(
                select(Reservation).where(
                    Reservation.offered_item_id == item_id, Reservation.status == "offered"
                )
            )
        )
        .scalars()
        .all()
    )
    for reservation in rows:
        reservation.status = "waiting"
        reservation.offered_item_id = None
        reservation.hold_until = None
    return list(rows)


async def open_reservation_of(
    session: AsyncSession, hub: str, kind: str, borrower_id: str
) -> Reservation | None:
    return (
        await session.execute(
            select(Reservation)
            .where(
                Reservation.hub == hub,
                Reservation.kind == kind,
                Reservation.borrower_id == borrower_id,
                Reservation.status.in_(OPEN),
            )
            .order_by(Reservation.id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def someone_waiting(session: AsyncSession, hub: str, kind: str, before: datetime) -> bool:
    """Another borrower waits for this kind (now, or from a date before `before`)."""
    row = (
        await session.execute(
            select(Reservation.id)
            .where(
                Reservation.hub == hub,
                Reservation.kind == kind,
                or_(
                    Reservation.status == "offered",
                    (Reservation.status == "waiting") & (Reservation.wanted_from <= before),
                ),
            )
            .limit(1)
        )
    ).first()
    return row is not None
