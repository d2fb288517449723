"""Placing orders and moving them through their lifecycle, inside the caller's transaction.
Used by the HTTP API and by the booking event handlers alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catering import capacity
from services.catering.domain import (
    CafeRules,
    CancelCheck,
    MenuFacts,
    OrderRefused,
    Status,
    Timing,
    check_cancel,
    check_timing,
    next_status,
    portions,
    price_lines,
    total_ore,
)
from services.catering.models import CafeClosure, MenuItem, Order, OrderLineRow
from shared.calendar import CAFE_HOURS, Calendar, Closure, local_date
from shared.events import (
    Contact,
    EventData,
    OrderAccepted,
    OrderCancelled,
    OrderLine,
    OrderPickedUp,
    OrderPlaced,
    OrderReady,
    OrderRejected,
)


@dataclass(frozen=True)
class Draft:
    hub: str
    kind: str
    pickup_at: datetime
    lines: list[tuple[str, int]]
    customer: Contact
    people: int | None = None
    note: str | None = None
    booking_id: str | None = None
    manage_token_hash: str | None = None


async def cafe_calendar(session: AsyncSession, hub: str, now: datetime) -> Calendar:
    rows = await session.execute(
        select(CafeClosure.start_at, CafeClosure.end_at, CafeClosure.reason).where(
            CafeClosure.hub == hub, CafeClosure.end_at > now
        )
    )
    return Calendar(CAFE_HOURS, [Closure(r.start_at, r.end_at, r.reason) for r in rows])


async def menu_facts(session: AsyncSession, hub: str, ids: Iterable[str]) -> dict[str, MenuFacts]:
    rows = (
        await session.execute(
            select(MenuItem).where(MenuItem.hub == hub, MenuItem.id.in_(list(set(ids))))
        )
    ).scalars()
    return {
        m.id: MenuFacts(
            m.id, m.name_nb, m.price_ore, tuple(m.allergens), m.available, tuple(m.kinds)
        )
        for m in rows
    }


def _new_order(draft: Draft, timing: Timing | None, now: datetime, status: Status) -> Order:
    pickup_at = timing.pickup_at if timing else draft.pickup_at
    return Order(
        id=str(uuid.uuid4()),
        hub=draft.hub,
        kind=draft.kind,
        status=status.value,
        short_notice=bool(timing and timing.short_notice),
        pickup_at=pickup_at,
        pickup_day=local_date(pickup_at),
        people=draft.people,
        portions=0,
        total_ore=0,
        customer_name=draft.customer.name,
        customer_email=draft.customer.email,
        customer_phone=draft.customer.phone,
        customer_language=draft.customer.language,
        note=draft.note,
        booking_id=draft.booking_id,
        manage_token_hash=draft.manage_token_hash,
        order_by=timing.order_by if timing else now,
        cancel_cutoff_at=timing.cancel_cutoff_at if timing else now,
        placed_at=now,
        updated_at=now,
    )


async def place(session: AsyncSession, draft: Draft, now: datetime, rules: CafeRules) -> Order:
    """Raises OrderRefused (nothing written) when the order cannot be taken."""
    menu = await menu_facts(session, draft.hub, (i for i, _ in draft.lines))
    priced = price_lines(draft.lines, menu, draft.kind)
    calendar = await cafe_calendar(session, draft.hub, now)
    timing = check_timing(draft.kind, draft.pickup_at, now, calendar, rules)
    needed = portions(priced)
    await capacity.reserve(
        session,
        hub=draft.hub,
        day=timing.pickup_day,
        portions=needed,
        default_capacity=rules.daily_capacity,
        calendar=calendar,
    )
    status = Status.PENDING_ACCEPTANCE if timing.short_notice else Status.PLACED
    order = _new_order(draft, timing, now, status)
    order.portions = needed
    order.total_ore = total_ore(priced)
    order.lines = [
        OrderLineRow(
            item_id=p.item_id,
            name=p.name,
            quantity=p.quantity,
            unit_price_ore=p.unit_price_ore,
            allergens=list(p.allergens),
        )
        for p in priced
    ]
    session.add(order)
    await session.flush()
    return order


async def record_refused(
    session: AsyncSession, draft: Draft, now: datetime, refusal: OrderRefused
) -> Order:
    """A booking's catering request that cannot be met is kept as a rejected order, so the
    booker and the café are told and the refusal stays on record."""
    order = _new_order(draft, None, now, Status.REJECTED)
    order.reason = refusal.reason
    order.rejected_at = now
    session.add(order)
    await session.flush()
    return order


async def load(session: AsyncSession, order_id: str, *, lock: bool = False) -> Order | None:
    query = select(Order).where(Order.id == order_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def advance(session: AsyncSession, order: Order, action: str, now: datetime) -> None:
    """accept / reject / ready / picked_up; raises TransitionRefused."""
    target = next_status(order.status, action)
    if target is Status.REJECTED:
        await capacity.release(
            session, hub=order.hub, day=order.pickup_day, portions=order.portions
        )
    order.status = target.value
    stamp = {
        Status.ACCEPTED: "accepted_at",
        Status.REJECTED: "rejected_at",
        Status.READY: "ready_at",
        Status.PICKED_UP: "picked_up_at",
    }[target]
    setattr(order, stamp, now)
    order.updated_at = now


async def cancel(
    session: AsyncSession, order: Order, by: str, now: datetime, reason: str | None
) -> None:
    check_cancel(order.status, CancelCheck(by, now, order.cancel_cutoff_at))  # type: ignore[arg-type]
    await capacity.release(session, hub=order.hub, day=order.pickup_day, portions=order.portions)
    order.status = Status.CANCELLED.value
    order.cancelled_by = by
    order.cancelled_at = now
    order.reason = reason
    order.updated_at = now


# --------------------------------------------------------------------------- events


def contact(order: Order) -> Contact:
    return Contact(
        name=order.customer_name,
        email=order.customer_email,
        phone=order.customer_phone,
        language=order.customer_language,  # type: ignore[arg-type]
    )


def _facts(order: Order) -> dict[str, object]:
    return {
        "order_id": order.id,
        "hub": order.hub,
        "kind": order.kind,
        "pickup_at": order.pickup_at,
        "customer": contact(order),
        "booking_id": order.booking_id,
    }


def placed_event(order: Order) -> OrderPlaced:
    return OrderPlaced(
        **_facts(order),  # type: ignore[arg-type]
        status=order.status,  # type: ignore[arg-type]
        short_notice=order.short_notice,
        people=order.people,
        lines=[
            OrderLine(
                item_id=line.item_id,
                name=line.name,
                quantity=line.quantity,
                unit_price_ore=line.unit_price_ore,
                allergens=list(line.allergens),
            )
            for line in order.lines
        ],
        total_ore=order.total_ore,
        note=order.note,
    )


def status_event(order: Order, rejected_by: str | None = None) -> EventData:
    facts = _facts(order)
    status = Status(order.status)
    if status is Status.ACCEPTED:
        return OrderAccepted(**facts)  # type: ignore[arg-type]
    if status is Status.REJECTED:
        return OrderRejected(**facts, reason=order.reason or "", rejected_by=rejected_by)  # type: ignore[arg-type]
    if status is Status.READY:
        return OrderReady(**facts)  # type: ignore[arg-type]
    if status is Status.PICKED_UP:
        return OrderPickedUp(**facts)  # type: ignore[arg-type]
    if status is Status.CANCELLED:
        return OrderCancelled(
            **facts,  # type: ignore[arg-type]
            cancelled_by=order.cancelled_by,  # type: ignore[arg-type]
            reason=order.reason,
        )
    raise ValueError(f"no status event for {status}")
