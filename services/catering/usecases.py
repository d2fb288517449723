"""What the café does, one use case each, on a unit of work: the HTTP API and the booking
event handlers call these and nothing else. Each asks domain.py, reads and writes through
`uow.store`, records its events with `uow.record`, and takes the time from `uow.now()`;
the café's settings travel as keyword arguments (`rules`, `daily_capacity`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from services.catering import domain
from services.catering.domain import (
    HOLDS_CAPACITY,
    STAMP,
    CafeRules,
    CancelCheck,
    Canceller,
    ChangeStatus,
    DayAvailability,
    DayLoad,
    Kind,
    OrderRefused,
    Prep,
    StaffAction,
    Status,
    Timing,
)
from services.catering.models import CafeClosure, MenuItem, Order, OrderChangeRequest, OrderLineRow
from services.catering.store import Store
from shared.anonymise import ANONYMISED
from shared.auth import hash_token, new_token, token_matches
from shared.calendar import CAFE_HOURS, Calendar, Closure, check_whole_days, local_date
from shared.errors import NotFound
from shared.events import (
    Actor,
    CafeDayAffected,
    Contact,
    EventData,
    Language,
    OrderAccepted,
    OrderCancelled,
    OrderChanged,
    OrderLine,
    OrderPickedUp,
    OrderPlaced,
    OrderReady,
    OrderRejected,
)
from shared.messaging.redact import Person
from shared.person_data import row
from shared.unit_of_work import UnitOfWork

log = logging.getLogger("knutepunkt.catering")

Uow = UnitOfWork[Store]
Rejecter = Literal["cafe", "system"]
ChangeKind = Literal["applied", "requested", "accepted", "rejected"]


async def _calendar(uow: Uow, hub: str) -> Calendar:
    closures = await uow.store.closures(hub, uow.now())
    return Calendar(CAFE_HOURS, [Closure(c.start_at, c.end_at, c.reason) for c in closures])


def _no_order() -> NotFound:
    return NotFound("no such order", code="order_not_found", nb="finner ikke bestillingen")


# --------------------------------------------------------------------------- placing


@dataclass(frozen=True)
class PlaceOrder:
    hub: str
    kind: Kind
    pickup_at: datetime
    lines: Sequence[tuple[str, int]]
    customer: Contact
    people: int | None = None
    note: str | None = None
    # The language the customer is answered in (the order's own `customer.language` is
    # what later messages are written in).
    reply_language: Language = "en"


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    manage_token: str  # shown once; only its hash is stored
    message: str


async def place_order(uow: Uow, cmd: PlaceOrder, *, rules: CafeRules) -> PlacedOrder:
    """A take-away or catering order; catering inside the lead time is a short-notice
    request for the café to decide. Refused (nothing written) when it cannot be taken."""
    token = new_token()
    order = await _place(uow, cmd, rules, manage_token_hash=hash_token(token))
    uow.record(_placed_event(order))
    message = domain.placed_message(
        order.short_notice, order.order_by, order.cancel_cutoff_at, cmd.reply_language
    )
    return PlacedOrder(order, token, message)


def _new_order(
    cmd: PlaceOrder,
    timing: Timing | None,
    now: datetime,
    status: Status,
    *,
    booking_id: str | None = None,
    manage_token_hash: str | None = None,
) -> Order:
    pickup_at = timing.pickup_at if timing else cmd.pickup_at
    return Order(
        id=str(uuid.uuid4()),
        hub=cmd.hub,
        kind=cmd.kind,
        status=status.value,
        short_notice=bool(timing and timing.short_notice),
        pickup_at=pickup_at,
        pickup_day=local_date(pickup_at),
        people=cmd.people,
        portions=0,
        total_ore=0,
        customer_name=cmd.customer.name,
        customer_email=cmd.customer.email,
        customer_phone=cmd.customer.phone,
        customer_language=cmd.customer.language,
        note=cmd.note,
        booking_id=booking_id,
        manage_token_hash=manage_token_hash,
        order_by=timing.order_by if timing else now,
        cancel_cutoff_at=timing.cancel_cutoff_at if timing else now,
        placed_at=now,
        updated_at=now,
    )


async def _place(
    uow: Uow,
    cmd: PlaceOrder,
    rules: CafeRules,
    *,
    booking_id: str | None = None,
    manage_token_hash: str | None = None,
) -> Order:
    now = uow.now()
    menu = await uow.store.menu_facts(cmd.hub, (i for i, _ in cmd.lines))
    priced = domain.price_lines(cmd.lines, menu, cmd.kind)
    calendar = await _calendar(uow, cmd.hub)
    timing = domain.check_timing(cmd.kind, cmd.pickup_at, now, calendar, rules)
    needed = domain.portions(priced)
    status = Status.PENDING_ACCEPTANCE if timing.short_notice else Status.PLACED
    order = _new_order(
        cmd, timing, now, status, booking_id=booking_id, manage_token_hash=manage_token_hash
    )
    order.portions = needed
    order.total_ore = domain.total_ore(priced)
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
    await uow.store.add_order(order)
    # The day's portions last: from the moment they are taken, every order for that day
    # waits for this transaction (PostgreSQL holds the day's row until it commits). After
    # them, only the flush: the order's rows with its event, one statement on PostgreSQL.
    await _reserve(uow, cmd.hub, timing.pickup_day, needed, calendar, rules.daily_capacity)
    return order


async def _reserve(
    uow: Uow, hub: str, day: date, portions: int, calendar: Calendar, default_capacity: int
) -> None:
    # Most orders fit: one statement takes their portions. A larger order than a fresh
    # day could hold, and one that does not fit, go the long way (read, then decide).
    if portions <= default_capacity and await uow.store.take_portions(
        hub, day, default_capacity, portions
    ):
        return
    load = await uow.store.locked_load(hub, day, default_capacity)
    if load.fits(portions):
        await uow.store.use_portions(hub, day, portions)
        return
    ahead = await uow.store.loads(
        hub, day + timedelta(days=1), day + timedelta(days=domain.ROOM_HORIZON_DAYS)
    )
    nxt = domain.next_day_with_room(calendar, day, portions, ahead, default_capacity)
    raise domain.capacity_full(day, load, portions, nxt)


# --------------------------------------------------------------------------- from bookings


@dataclass(frozen=True)
class PlaceBookingOrder:
    """A confirmed room booking's catering request."""

    booking_id: str
    hub: str
    serve_at: datetime
    lines: Sequence[tuple[str, int]]
    booker: Contact
    people: int
    note: str


async def place_booking_order(
    uow: Uow, cmd: PlaceBookingOrder, *, rules: CafeRules
) -> Order | None:
    """One order per booking, however often the confirm arrives, and none once the booking
    is cancelled. A request that cannot be met is never dropped silently: it is kept as a
    rejected order, and the booker and the café are told why."""
    if await uow.store.booking_cancelled(cmd.booking_id):
        log.info("booking %s was cancelled before its confirm arrived", cmd.booking_id)
        return None
    if await uow.store.booking_has_order(cmd.booking_id):
        return None  # the same booking confirmed again (a re-sent event): one order only
    draft = PlaceOrder(
        hub=cmd.hub,
        kind="catering",
        pickup_at=cmd.serve_at,
        lines=cmd.lines,
        customer=cmd.booker,
        people=cmd.people,
        note=cmd.note,
    )
    try:
        # A full day is found after the order's rows are made (_place): the attempt takes
        # them back before the rejected order, with the same booking, is kept in their
        # place.
        async with uow.attempt():
            order = await _place(uow, draft, rules, booking_id=cmd.booking_id)
    except OrderRefused as refusal:
        now = uow.now()
        order = _new_order(draft, None, now, Status.REJECTED, booking_id=cmd.booking_id)
        order.reason = refusal.reason
        order.rejected_at = now
        await uow.store.add_order(order)
        uow.record(_status_event(order, rejected_by="system"))
        log.info("catering for booking %s refused: %s", cmd.booking_id, refusal.code)
        return order
    uow.record(_placed_event(order))
    return order


@dataclass(frozen=True)
class CancelBookingOrder:
    booking_id: str
    reason: str | None = None


async def cancel_booking_order(uow: Uow, cmd: CancelBookingOrder) -> Order | None:
    """The cancellation is remembered, so that a confirm arriving after it places nothing."""
    await uow.store.remember_booking_cancelled(cmd.booking_id, uow.now())
    order = await uow.store.order_of_booking(cmd.booking_id, lock=True)
    if order is None or order.status not in HOLDS_CAPACITY:
        return None
    await _cancel(uow, order, "booking", domain.booking_cancel_reason(cmd.reason))
    return order


# --------------------------------------------------------------------------- one order


@dataclass(frozen=True)
class Caller:
    """Who asks about an order: café staff, other staff, or a manage-token holder."""

    cafe_staff: bool
    other_staff: bool = False
    token: str | None = None
    actor: Actor | None = None  # the café staff member, for the events they cause
    # The token was the order's manage link (shared/manage_links.py), checked at the door.
    link: bool = False


async def _order_for(uow: Uow, order_id: str, caller: Caller, *, lock: bool) -> Order:
    domain.check_caller(caller.cafe_staff, caller.token, caller.other_staff)
    order = await uow.store.order(order_id, lock=lock)
    if order is None:
        raise _no_order()
    if caller.cafe_staff:
        return order
    # An erased order (the customer gone, docs/privacy.md) opens to no link either.
    if caller.link and order.customer_name != ANONYMISED:
        return order
    if not token_matches(caller.token, order.manage_token_hash):
        raise domain.wrong_manage_token()
    return order


@dataclass(frozen=True)
class SeeOrder:
    order_id: str
    caller: Caller


async def get_order(uow: Uow, cmd: SeeOrder) -> Order:
    return await _order_for(uow, cmd.order_id, cmd.caller, lock=False)


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    caller: Caller
    reason: str | None = None


async def cancel_order(uow: Uow, cmd: CancelOrder) -> Order:
    """The customer (with the manage token) until the cut-off, or the café at any time
    before pick-up."""
    order = await _order_for(uow, cmd.order_id, cmd.caller, lock=True)
    if cmd.caller.cafe_staff:
        await _cancel(uow, order, "cafe", cmd.reason, cmd.caller.actor)
    else:
        await _cancel(uow, order, "customer", cmd.reason)
    return order


async def _cancel(
    uow: Uow, order: Order, by: Canceller, reason: str | None, actor: Actor | None = None
) -> None:
    now = uow.now()
    domain.check_cancel(order.status, CancelCheck(by, now, order.cancel_cutoff_at))
    await uow.store.use_portions(order.hub, order.pickup_day, -order.portions)
    await uow.store.end_pending_change(order.id, ChangeStatus.VOID, now)
    order.status = Status.CANCELLED.value
    order.cancelled_by = by
    order.cancelled_at = now
    order.reason = reason
    order.updated_at = now
    uow.record(_status_event(order, actor=actor))


@dataclass(frozen=True)
class AdvanceOrder:
    """A café step: accept, reject (with the reason), ready, picked up."""

    order_id: str
    action: StaffAction
    reason: str | None = None
    actor: Actor | None = None


async def advance_order(uow: Uow, cmd: AdvanceOrder) -> Order:
    order = await uow.store.order(cmd.order_id, lock=True)
    if order is None:
        raise _no_order()
    target = domain.next_status(order.status, cmd.action)
    now = uow.now()
    if target is Status.REJECTED:
        await uow.store.use_portions(order.hub, order.pickup_day, -order.portions)
    if target in (Status.REJECTED, Status.PICKED_UP):
        # A change still waiting has nothing left to change.
        await uow.store.end_pending_change(order.id, ChangeStatus.VOID, now)
    order.status = target.value
    setattr(order, STAMP[target], now)
    order.updated_at = now
    if cmd.reason is not None:
        order.reason = cmd.reason
    uow.record(_status_event(order, rejected_by="cafe", actor=cmd.actor))
    return order


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class ChangeOrder:
    """The order as the customer now wants it: all its lines, the pick-up time, people."""

    order_id: str
    token: str | None
    pickup_at: datetime
    lines: Sequence[tuple[str, int]]
    people: int | None = None
    link: bool = False  # the token was the order's manage link


@dataclass(frozen=True)
class ChangedOrder:
    order: Order
    change: OrderChangeRequest
    applied: bool  # False: a short-notice request, waiting for the café
    message: str


async def change_order(uow: Uow, cmd: ChangeOrder, *, rules: CafeRules) -> ChangedOrder:
    """The customer's change, with the manage token. Before the cut-off it applies at once,
    its portions re-checked under the same day locks as a new order; after it, it is kept as
    a request the café accepts or rejects, and the order stays as it was until then. A new
    request takes the place of one still waiting."""
    order = await _order_for(
        uow, cmd.order_id, Caller(cafe_staff=False, token=cmd.token, link=cmd.link), lock=True
    )
    now = uow.now()
    menu = await uow.store.menu_facts(order.hub, (i for i, _ in cmd.lines))
    priced = domain.price_lines(cmd.lines, menu, order.kind)
    calendar = await _calendar(uow, order.hub)
    timing = domain.check_timing(order.kind, cmd.pickup_at, now, calendar, rules)
    mode = domain.change_mode(order.status, now, order.cancel_cutoff_at, timing)
    needed = domain.portions(priced)
    # Checked for a request too, so the customer hears "full" now rather than from the café;
    # the request holds nothing, and is checked again when the café accepts it.
    await _move_portions(
        uow, order, timing.pickup_day, needed, calendar, rules.daily_capacity, write=mode == "apply"
    )
    await uow.store.end_pending_change(order.id, ChangeStatus.REPLACED, now)
    change = OrderChangeRequest(
        id=str(uuid.uuid4()),
        order_id=order.id,
        status=ChangeStatus.PENDING.value,
        pickup_at=timing.pickup_at,
        pickup_day=timing.pickup_day,
        people=(cmd.people or order.people) if order.kind == "catering" else None,
        lines=[
            {
                "item_id": p.item_id,
                "name": p.name,
                "quantity": p.quantity,
                "unit_price_ore": p.unit_price_ore,
                "allergens": list(p.allergens),
            }
            for p in priced
        ],
        portions=needed,
        total_ore=domain.total_ore(priced),
        short_notice=timing.short_notice,
        order_by=timing.order_by,
        cancel_cutoff_at=timing.cancel_cutoff_at,
        previous_pickup_at=order.pickup_at,
        requested_at=now,
    )
    if mode == "apply":
        change.status = ChangeStatus.ACCEPTED.value
        change.decided_at = now
        await uow.store.add_change(change)
        _apply_change(order, change, now)
        uow.record(_changed_event(order, change, "applied"))
    else:
        await uow.store.add_change(change)
        order.updated_at = now
        uow.record(_changed_event(order, change, "requested"))
    message = domain.changed_message(
        mode, order.status, order.cancel_cutoff_at, order.customer_language
    )
    return ChangedOrder(order, change, mode == "apply", message)


@dataclass(frozen=True)
class DecideChange:
    """The café's answer to a short-notice change: accept (applied then) or reject."""

    order_id: str
    accept: bool
    reason: str | None = None
    actor: Actor | None = None


async def decide_change(uow: Uow, cmd: DecideChange, *, daily_capacity: int) -> Order:
    order = await uow.store.order(cmd.order_id, lock=True)
    if order is None:
        raise _no_order()
    change = await uow.store.pending_change(order.id)
    if change is None:
        raise domain.no_change_pending()
    now = uow.now()
    if cmd.accept:
        calendar = await _calendar(uow, order.hub)
        domain.check_change_decidable(order.status, change.pickup_at, now, calendar)
        await _move_portions(
            uow, order, change.pickup_day, change.portions, calendar, daily_capacity
        )
        change.status = ChangeStatus.ACCEPTED.value
        _apply_change(order, change, now)
    else:
        change.status = ChangeStatus.REJECTED.value
        change.reason = cmd.reason
        order.updated_at = now
    change.decided_at = now
    answer: ChangeKind = "accepted" if cmd.accept else "rejected"
    uow.record(_changed_event(order, change, answer, actor=cmd.actor))
    return order


async def _move_portions(
    uow: Uow,
    order: Order,
    new_day: date,
    new_portions: int,
    calendar: Calendar,
    default_capacity: int,
    *,
    write: bool = True,
) -> None:
    """Give the order's portions back on its day and take the new ones on the new day, or
    refuse with capacity_full. Both days' counters are locked, in date order, so that two
    changes crossing the same two days queue instead of deadlocking."""
    old_day = order.pickup_day
    loads = {
        day: await uow.store.locked_load(order.hub, day, default_capacity)
        for day in sorted({old_day, new_day})
    }
    target = loads[new_day]
    if new_day == old_day:
        target = DayLoad(target.capacity, target.used - order.portions)
    if not target.fits(new_portions):
        ahead = await uow.store.loads(
            order.hub,
            new_day + timedelta(days=1),
            new_day + timedelta(days=domain.ROOM_HORIZON_DAYS),
        )
        nxt = domain.next_day_with_room(calendar, new_day, new_portions, ahead, default_capacity)
        raise domain.capacity_full(new_day, target, new_portions, nxt)
    if write:
        # Giving back first keeps the counter inside its CHECK when the day stays the same.
        await uow.store.use_portions(order.hub, old_day, -order.portions)
        await uow.store.use_portions(order.hub, new_day, new_portions)


def _apply_change(order: Order, change: OrderChangeRequest, now: datetime) -> None:
    order.pickup_at = change.pickup_at
    order.pickup_day = change.pickup_day
    order.people = change.people
    order.portions = change.portions
    order.total_ore = change.total_ore
    order.order_by = change.order_by
    order.cancel_cutoff_at = change.cancel_cutoff_at
    # A pending short-notice order keeps waiting for the café; its flag follows the new day.
    if order.status == Status.PENDING_ACCEPTANCE.value:
        order.short_notice = change.short_notice
    order.lines = [
        OrderLineRow(
            item_id=str(line["item_id"]),
            name=str(line["name"]),
            quantity=int(line["quantity"]),
            unit_price_ore=int(line["unit_price_ore"]),
            allergens=list(line["allergens"]),
        )
        for line in change.lines
    ]
    order.updated_at = now


# --------------------------------------------------------------------------- the café's day


async def export_person(uow: Uow, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Access (docs/privacy.md): the person's orders with their lines."""
    out: dict[str, list[dict[str, Any]]] = {"orders": []}
    for order in await uow.store.orders_of(person):
        out["orders"].append({**row(order), "lines": [row(line) for line in order.lines]})
    return out


async def erase_person(uow: Uow, person: Person) -> dict[str, int]:
    """Erasure (docs/privacy.md): the customer's name, contacts, note and the café's reason
    go; the order (lines, totals, day) stays, as the accounting rules keep a sale."""
    orders = await uow.store.orders_of(person)
    for order in orders:
        order.customer_name = ANONYMISED
        order.customer_email = None
        order.customer_phone = None
        order.note = None
        order.reason = None
        order.manage_token_hash = None
    return {"orders": len(orders)}


@dataclass(frozen=True)
class AnonymiseExpired:
    """Orders ended more than `retention` ago lose their personal data; `limit` per call."""

    retention: timedelta
    limit: int = 200


async def anonymise_expired(uow: Uow, cmd: AnonymiseExpired) -> int:
    return await uow.store.anonymise_orders(uow.now() - cmd.retention, cmd.limit)


@dataclass(frozen=True)
class OrdersQuery:
    hub: str
    day: date | None = None
    status: str | None = None


async def list_orders(uow: Uow, cmd: OrdersQuery) -> list[Order]:
    return await uow.store.orders(cmd.hub, day=cmd.day, status=cmd.status, limit=1000)


@dataclass(frozen=True)
class PendingChangesQuery:
    hub: str


async def pending_changes(
    uow: Uow, cmd: PendingChangesQuery
) -> list[tuple[OrderChangeRequest, Order]]:
    """The customers' short-notice changes the café has not answered, with their orders."""
    return await uow.store.pending_changes(cmd.hub)


@dataclass(frozen=True)
class PrepListQuery:
    hub: str
    day: date


@dataclass(frozen=True)
class DayPrep:
    hub: str
    day: date
    prep: Prep[Order]
    load: DayLoad


async def prep_list(uow: Uow, cmd: PrepListQuery, *, daily_capacity: int) -> DayPrep:
    """What to make for a day, who picks up when, and what waits for the café's decision."""
    orders = await uow.store.orders(cmd.hub, day=cmd.day)
    loads = await uow.store.loads(cmd.hub, cmd.day, cmd.day)
    load = loads.get(cmd.day, DayLoad(daily_capacity, 0))
    return DayPrep(cmd.hub, cmd.day, domain.prep_of(orders), load)


@dataclass(frozen=True)
class SetCapacity:
    hub: str
    day: date
    portions: int
    actor: Actor | None = None


async def set_capacity(uow: Uow, cmd: SetCapacity, *, daily_capacity: int) -> DayLoad:
    """Portions the café can make that day; never below what is already promised. A changed
    capacity on a day with orders is told to the café (CafeDayAffected)."""
    domain.check_capacity_day(cmd.day, local_date(uow.now()))
    load = await uow.store.locked_load(cmd.hub, cmd.day, daily_capacity)
    changed = domain.check_new_capacity(cmd.day, load, cmd.portions)
    await uow.store.set_day_capacity(cmd.hub, cmd.day, changed.capacity)
    if changed.capacity != load.capacity:
        per_day = await uow.store.orders_per_day(cmd.hub, cmd.day, cmd.day)
        if cmd.day in per_day:
            count, portions = per_day[cmd.day]
            uow.record(
                CafeDayAffected(
                    hub=cmd.hub,
                    day=cmd.day,
                    change="capacity",
                    orders=count,
                    portions=portions,
                    capacity=changed.capacity,
                    actor=cmd.actor,
                ),
                subject=f"{cmd.hub}:{cmd.day.isoformat()}",
            )
    return changed


@dataclass(frozen=True)
class AvailabilityQuery:
    hub: str
    first: date | None = None  # today when not given, and never before today
    days: int = 14


async def availability(
    uow: Uow, cmd: AvailabilityQuery, *, rules: CafeRules
) -> list[DayAvailability]:
    today = local_date(uow.now())
    first = max(cmd.first or today, today)
    calendar = await _calendar(uow, cmd.hub)
    loads = await uow.store.loads(cmd.hub, first, first + timedelta(days=cmd.days - 1))
    return domain.availability(calendar, first, cmd.days, loads, rules)


@dataclass(frozen=True)
class AddClosure:
    hub: str
    first_date: date
    last_date: date
    reason: str
    actor: Actor | None = None


async def add_closure(uow: Uow, cmd: AddClosure) -> CafeClosure:
    """Whole days without pick-ups, which do not count as working days in lead times."""
    check_whole_days(cmd.first_date, cmd.last_date, local_date(uow.now()))
    span = Closure.whole_days(cmd.first_date, cmd.last_date, cmd.reason)
    row = CafeClosure(
        hub=cmd.hub,
        start_at=span.start,
        end_at=span.end,
        reason=cmd.reason,
        created_at=uow.now(),
    )
    await uow.store.add_closure(row)
    # The orders on those days are not cancelled: the café decides (call, move, cancel), so
    # it is told of each day that has some.
    per_day = await uow.store.orders_per_day(cmd.hub, cmd.first_date, cmd.last_date)
    for day, (count, portions) in sorted(per_day.items()):
        uow.record(
            CafeDayAffected(
                hub=cmd.hub,
                day=day,
                change="closure",
                orders=count,
                portions=portions,
                reason=cmd.reason,
                actor=cmd.actor,
            ),
            subject=f"{cmd.hub}:{day.isoformat()}",
        )
    return row


@dataclass(frozen=True)
class ClosuresQuery:
    hub: str


async def list_closures(uow: Uow, cmd: ClosuresQuery) -> list[CafeClosure]:
    """Closures that have not ended yet."""
    return await uow.store.closures(cmd.hub, uow.now())


# --------------------------------------------------------------------------- the menu


@dataclass(frozen=True)
class MenuQuery:
    hub: str
    kind: Kind | None = None
    include_unavailable: bool = False


async def menu(uow: Uow, cmd: MenuQuery) -> list[MenuItem]:
    items = await uow.store.menu(cmd.hub, include_unavailable=cmd.include_unavailable)
    return [i for i in items if cmd.kind is None or cmd.kind in i.kinds]


@dataclass(frozen=True)
class NewMenuItem:
    id: str
    hub: str
    name_nb: str
    category: str
    unit: str
    price_ore: int
    name_en: str | None = None
    description_nb: str | None = None
    allergens: Sequence[str] = ()
    diet: Sequence[str] = ()
    kinds: Sequence[str] = ()
    available: bool = True


async def create_menu_item(uow: Uow, cmd: NewMenuItem) -> MenuItem:
    if await uow.store.menu_item(cmd.hub, cmd.id) is not None:
        raise domain.menu_item_exists(cmd.id)
    now = uow.now()
    item = MenuItem(
        hub=cmd.hub,
        id=cmd.id,
        name_nb=cmd.name_nb,
        name_en=cmd.name_en,
        description_nb=cmd.description_nb,
        category=cmd.category,
        unit=cmd.unit,
        price_ore=cmd.price_ore,
        allergens=domain.tag_list(cmd.allergens),
        diet=domain.tag_list(cmd.diet),
        kinds=domain.tag_list(cmd.kinds),
        available=cmd.available,
        created_at=now,
        updated_at=now,
    )
    await uow.store.add_menu_item(item)
    return item


@dataclass(frozen=True)
class ChangeMenuItem:
    hub: str
    item_id: str
    # Only the fields the staff member sent; None means "clear it".
    changes: Mapping[str, object] = field(default_factory=dict)


async def update_menu_item(uow: Uow, cmd: ChangeMenuItem) -> MenuItem:
    """Orders already placed keep the name and price they were placed with."""
    item = await uow.store.menu_item(cmd.hub, cmd.item_id)
    if item is None:
        raise NotFound(
            f"no menu item {cmd.item_id}",
            code="menu_item_not_found",
            nb=f"finner ikke {cmd.item_id} på menyen",
        )
    for key, value in domain.menu_changes(cmd.changes).items():
        setattr(item, key, value)
    item.updated_at = uow.now()
    await uow.store.flush()
    return item


# --------------------------------------------------------------------------- events


def _contact(order: Order) -> Contact:
    return Contact(
        name=order.customer_name,
        email=order.customer_email,
        phone=order.customer_phone,
        language=order.customer_language,  # a str column of nb/en
    )


def _facts(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "hub": order.hub,
        "kind": order.kind,
        "pickup_at": order.pickup_at,
        "customer": _contact(order),
        "booking_id": order.booking_id,
    }


def _placed_event(order: Order) -> OrderPlaced:
    return OrderPlaced(
        **_facts(order),
        status=order.status,  # a str column holding a Status
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


def _status_event(
    order: Order, rejected_by: Rejecter | None = None, actor: Actor | None = None
) -> EventData:
    facts = {**_facts(order), "actor": actor}
    status = Status(order.status)
    if status is Status.ACCEPTED:
        return OrderAccepted(**facts)
    if status is Status.REJECTED:
        return OrderRejected(**facts, reason=order.reason or "", rejected_by=rejected_by)
    if status is Status.READY:
        return OrderReady(**facts)
    if status is Status.PICKED_UP:
        return OrderPickedUp(**facts)
    if status is Status.CANCELLED:
        return OrderCancelled(
            **facts,
            cancelled_by=order.cancelled_by,  # a str column of Canceller
            reason=order.reason,
        )
    raise ValueError(f"no status event for {status}")


def _changed_event(
    order: Order,
    change: OrderChangeRequest,
    kind: ChangeKind,
    actor: Actor | None = None,
) -> OrderChanged:
    return OrderChanged(
        **_facts(order),
        change_id=change.id,
        change=kind,
        status=order.status,
        previous_pickup_at=change.previous_pickup_at,
        new_pickup_at=change.pickup_at,
        people=change.people,
        lines=[OrderLine.model_validate(line) for line in change.lines],
        total_ore=change.total_ore,
        reason=change.reason,
        actor=actor,
    )
