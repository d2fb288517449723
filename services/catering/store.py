"""Every query and write of the catering service, on one session (the unit of work's).

The day's capacity counter lives here: writers of one day queue on its counter row (SELECT
… FOR UPDATE on PostgreSQL; on SQLite every write transaction already begins IMMEDIATE,
which serialises them). The CHECK (used <= capacity) on the row is the guarantee should
anything slip past. Whether an order fits is the domain's call (`DayLoad.fits`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.catering.domain import HOLDS_CAPACITY, ChangeStatus, DayLoad, MenuFacts
from services.catering.models import (
    BookingCancellation,
    CafeClosure,
    DayCapacity,
    MenuItem,
    Order,
    OrderChangeRequest,
)
from shared.anonymise import ANONYMISED
from shared.db import insert_at_flush, insert_for
from shared.errors import Conflict, Refusal
from shared.messaging.redact import Person


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def flush(self) -> None:
        await self.session.flush()

    # ----------------------------------------------------------------------- the menu

    async def menu(self, hub: str, *, include_unavailable: bool) -> list[MenuItem]:
        query = select(MenuItem).where(MenuItem.hub == hub).order_by(MenuItem.category, MenuItem.id)
        if not include_unavailable:
            query = query.where(MenuItem.available.is_(True))
        return list((await self.session.execute(query)).scalars())

    async def menu_item(self, hub: str, item_id: str) -> MenuItem | None:
        return await self.session.get(MenuItem, (hub, item_id))

    async def add_menu_item(self, item: MenuItem) -> None:
        self.session.add(item)
        await self.session.flush()

    async def menu_facts(self, hub: str, ids: Iterable[str]) -> dict[str, MenuFacts]:
        rows = await self.session.execute(_MENU_FACTS, {"hub": hub, "ids": list(set(ids))})
        return {
            item_id: MenuFacts(item_id, name, price, tuple(allergens), available, tuple(kinds))
            for item_id, name, price, allergens, available, kinds in rows
        }

    # ----------------------------------------------------------------------- closures

    async def closures(self, hub: str, after: datetime) -> list[CafeClosure]:
        """The hub's café closures that end after `after`, by start."""
        rows = await self.session.execute(_CLOSURES_AFTER, {"hub": hub, "after": after})
        return list(rows.scalars())

    async def add_closure(self, closure: CafeClosure) -> None:
        self.session.add(closure)
        await self.session.flush()

    # ----------------------------------------------------------------------- orders

    async def order(self, order_id: str, *, lock: bool = False) -> Order | None:
        query = select(Order).where(Order.id == order_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def order_of_booking(self, booking_id: str, *, lock: bool = False) -> Order | None:
        query = select(Order).where(Order.booking_id == booking_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def booking_has_order(self, booking_id: str) -> bool:
        found = await self.session.execute(select(Order.id).where(Order.booking_id == booking_id))
        return found.first() is not None

    async def orders(
        self,
        hub: str,
        *,
        day: date | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        """By pick-up time."""
        query = select(Order).where(Order.hub == hub).order_by(Order.pickup_at, Order.id)
        if day is not None:
            query = query.where(Order.pickup_day == day)
        if status is not None:
            query = query.where(Order.status == status)
        if limit is not None:
            query = query.limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def add_order(self, order: Order) -> None:
        """The new order and its lines, written with the unit of work's flush as Core
        statements (shared.db.insert_at_flush: a small order's in one on PostgreSQL, with
        its event): the order is not read or changed again in the transaction that places
        it."""
        for line in order.lines:
            line.order_id = order.id
        insert_at_flush(self.session, order, *order.lines)

    async def orders_per_day(
        self, hub: str, first: date, last: date
    ) -> dict[date, tuple[int, int]]:
        """Per pick-up day in [first, last]: the orders that hold portions, and the portions."""
        rows = await self.session.execute(
            select(Order.pickup_day, func.count(), func.sum(Order.portions))
            .where(
                Order.hub == hub,
                Order.pickup_day >= first,
                Order.pickup_day <= last,
                Order.status.in_([s.value for s in HOLDS_CAPACITY]),
            )
            .group_by(Order.pickup_day)
        )
        return {day: (int(count), int(portions or 0)) for day, count, portions in rows}

    # ----------------------------------------------------------------------- changes

    async def anonymise_orders(self, ended_before: datetime, limit: int) -> int:
        """Retention (docs/privacy.md): orders that ended (picked up, cancelled, rejected; or,
        never picked up, their pick-up time) before `ended_before` lose the customer's name,
        contacts and note; lines, counts, totals, times and status stay for statistics. The
        UPDATE repeats the condition, so of two replicas one counts each order."""
        ended = func.coalesce(
            Order.picked_up_at, Order.cancelled_at, Order.rejected_at, Order.pickup_at
        )
        due = [Order.customer_name != ANONYMISED, ended < ended_before]
        ids = list(
            await self.session.scalars(
                select(Order.id).where(*due).order_by(Order.pickup_at, Order.id).limit(limit)
            )
        )
        if not ids:
            return 0
        done = await self.session.execute(
            update(Order)
            .where(Order.id.in_(ids), *due)
            .values(
                customer_name=ANONYMISED,
                customer_email=None,
                customer_phone=None,
                note=None,
                reason=None,
                manage_token_hash=None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    async def orders_of(self, person: Person) -> list[Order]:
        found = or_(
            func.lower(Order.customer_email).in_(sorted(person.emails)),
            Order.customer_phone.in_(sorted(person.phones)),
        )
        return list(await self.session.scalars(select(Order).where(found)))

    async def pending_change(self, order_id: str) -> OrderChangeRequest | None:
        """The change waiting for the café (the caller holds the order's lock)."""
        query = select(OrderChangeRequest).where(
            OrderChangeRequest.order_id == order_id,
            OrderChangeRequest.status == ChangeStatus.PENDING.value,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def pending_changes(self, hub: str) -> list[tuple[OrderChangeRequest, Order]]:
        """Every change waiting for the café, oldest first, with its order."""
        query = (
            select(OrderChangeRequest, Order)
            .join(Order, Order.id == OrderChangeRequest.order_id)
            .where(
                Order.hub == hub,
                OrderChangeRequest.status == ChangeStatus.PENDING.value,
            )
            .order_by(OrderChangeRequest.requested_at, OrderChangeRequest.id)
            .limit(1000)
        )
        return [(change, order) for change, order in await self.session.execute(query)]

    async def add_change(self, change: OrderChangeRequest) -> None:
        self.session.add(change)
        await self.session.flush()

    async def end_pending_change(self, order_id: str, status: ChangeStatus, at: datetime) -> None:
        await self.session.execute(
            update(OrderChangeRequest)
            .where(
                OrderChangeRequest.order_id == order_id,
                OrderChangeRequest.status == ChangeStatus.PENDING.value,
            )
            .values(status=status.value, decided_at=at)
        )
        # The unique index on pending changes must see this before a new one is inserted.
        await self.session.flush()

    # ----------------------------------------------------------------------- bookings

    async def booking_cancelled(self, booking_id: str) -> bool:
        return await self.session.get(BookingCancellation, booking_id) is not None

    async def remember_booking_cancelled(self, booking_id: str, at: datetime) -> None:
        await self.session.execute(
            insert_for(self.dialect)(BookingCancellation)
            .values(booking_id=booking_id, cancelled_at=at)
            .on_conflict_do_nothing()
        )

    # ----------------------------------------------------------------------- capacity

    async def take_portions(
        self, hub: str, day: date, default_capacity: int, portions: int
    ) -> bool:
        """Adds the portions to the day's counter if they fit, in one statement (made at
        the default capacity when staff have not set the day); False, and nothing
        written, when they do not. The row is locked either way (an upsert's conflict
        locks it), as `locked_load` locks it."""
        values = {"hub": hub, "day": day, "capacity": default_capacity, "used": portions}
        taken = await self.session.execute(_take_portions(self.dialect), values)
        return taken.first() is not None

    async def locked_load(self, hub: str, day: date, default_capacity: int) -> DayLoad:
        """The day's counter, locked until the end of the transaction (made at the default
        capacity when staff have not set the day)."""
        await self.session.execute(
            insert_for(self.dialect)(DayCapacity)
            .values(hub=hub, day=day, capacity=default_capacity, used=0)
            .on_conflict_do_nothing()
        )
        row = (
            await self.session.execute(
                select(DayCapacity.capacity, DayCapacity.used)
                .where(DayCapacity.hub == hub, DayCapacity.day == day)
                .with_for_update()
            )
        ).one()
        return DayLoad(row.capacity, row.used)

    async def loads(self, hub: str, first: date, last: date) -> dict[date, DayLoad]:
        """The days staff have set or orders have used; other days are at the default."""
        rows = await self.session.execute(
            select(DayCapacity.day, DayCapacity.capacity, DayCapacity.used).where(
                DayCapacity.hub == hub, DayCapacity.day >= first, DayCapacity.day <= last
            )
        )
        return {r.day: DayLoad(r.capacity, r.used) for r in rows}

    async def use_portions(self, hub: str, day: date, portions: int) -> None:
        """Negative gives portions back."""
        if portions:
            await self.session.execute(
                update(DayCapacity)
                .where(DayCapacity.hub == hub, DayCapacity.day == day)
                .values(used=DayCapacity.used + portions)
            )

    async def set_day_capacity(self, hub: str, day: date, capacity: int) -> None:
        await self.session.execute(
            update(DayCapacity)
            .where(DayCapacity.hub == hub, DayCapacity.day == day)
            .values(capacity=capacity)
        )


def refusal_of(exc: IntegrityError) -> Refusal | None:
    """What a violated catering constraint means (PostgreSQL names the constraint, SQLite
    the constraint or the columns); None for anything else."""
    text = str(exc.orig)
    if "menu_items_pkey" in text or "menu_items.hub, menu_items.id" in text:
        return Conflict(
            "a menu item with that id already exists",
            code="menu_item_exists",
            nb="en rett med den id-en finnes allerede på menyen",
        )
    if "ck_day_capacity_not_oversold" in text:
        return Conflict(
            "the day's capacity changed meanwhile; try again",
            code="capacity_changed",
            nb="kapasiteten for dagen ble endret i mellomtiden; prøv igjen",
        )
    return None


# --- an order's statements, built once ------------------------------------------------------
# Building each statement anew (its expression tree and cache key) cost more than the
# database's answer (docs/bench.md, fifth pass); these take their values bound.

_MENU_FACTS = select(
    MenuItem.id,
    MenuItem.name_nb,
    MenuItem.price_ore,
    MenuItem.allergens,
    MenuItem.available,
    MenuItem.kinds,
).where(MenuItem.hub == bindparam("hub"), MenuItem.id.in_(bindparam("ids", expanding=True)))

_CLOSURES_AFTER = (
    select(CafeClosure)
    .where(CafeClosure.hub == bindparam("hub"), CafeClosure.end_at > bindparam("after"))
    .order_by(CafeClosure.start_at)
)


@functools.cache
def _take_portions(dialect: str) -> Any:
    insert = insert_for(dialect)(cast(Table, DayCapacity.__table__))
    counter = DayCapacity.__table__.c
    return insert.on_conflict_do_update(
        index_elements=["hub", "day"],
        set_={"used": counter.used + insert.excluded.used},
        where=counter.used + insert.excluded.used <= counter.capacity,
    ).returning(counter.used)
