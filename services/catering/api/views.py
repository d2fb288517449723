"""Rows and use-case results as the API's response bodies."""

from __future__ import annotations

from datetime import date

from services.catering.api.schemas import (
    AvailabilityDay,
    CapacityOut,
    ChangeLineOut,
    ClosureOut,
    ContactOut,
    DayOrder,
    MenuItemOut,
    OrderLineOut,
    OrderOut,
    PendingChangeOut,
    PrepItem,
    PrepList,
    allergens_out,
)
from services.catering.domain import DayAvailability, DayLoad, format_nok
from services.catering.models import CafeClosure, MenuItem, Order, OrderChangeRequest
from services.catering.usecases import DayPrep


def item_out(item: MenuItem) -> MenuItemOut:
    return MenuItemOut(
        id=item.id,
        hub=item.hub,
        name_nb=item.name_nb,
        name_en=item.name_en,
        description_nb=item.description_nb,
        category=item.category,
        unit=item.unit,  # a str column holding a Unit
        price_ore=item.price_ore,
        price_display=format_nok(item.price_ore),
        allergens=allergens_out(item.allergens),
        diet=item.diet,  # a JSON column of DietTag
        kinds=item.kinds,  # a JSON column of Kind
        available=item.available,
    )


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        hub=order.hub,
        kind=order.kind,  # a str column holding a Kind
        status=order.status,  # a str column holding a Status
        short_notice=order.short_notice,
        pickup_at=order.pickup_at,
        pickup_date=order.pickup_day,
        people=order.people,
        portions=order.portions,
        lines=[
            OrderLineOut(
                item_id=line.item_id,
                name=line.name,
                quantity=line.quantity,
                unit_price_ore=line.unit_price_ore,
                line_total_ore=line.quantity * line.unit_price_ore,
                allergens=allergens_out(line.allergens),
            )
            for line in order.lines
        ],
        total_ore=order.total_ore,
        total_display=format_nok(order.total_ore),
        customer=ContactOut(
            name=order.customer_name,
            email=order.customer_email,
            phone=order.customer_phone,
            language=order.customer_language,
        ),
        note=order.note,
        booking_id=order.booking_id,
        reason=order.reason,
        cancelled_by=order.cancelled_by,
        order_by=order.order_by,
        cancel_cutoff_at=order.cancel_cutoff_at,
        placed_at=order.placed_at,
        accepted_at=order.accepted_at,
        rejected_at=order.rejected_at,
        ready_at=order.ready_at,
        picked_up_at=order.picked_up_at,
        cancelled_at=order.cancelled_at,
        updated_at=order.updated_at,
    )


def capacity_out(day: date, load: DayLoad) -> CapacityOut:
    return CapacityOut(date=day, capacity=load.capacity, used=load.used, remaining=load.remaining)


def _day_order(o: Order) -> DayOrder:
    return DayOrder(
        order_id=o.id,
        kind=o.kind,  # a str column holding a Kind
        status=o.status,  # a str column holding a Status
        short_notice=o.short_notice,
        pickup_at=o.pickup_at,
        customer_name=o.customer_name,
        people=o.people,
        portions=o.portions,
        booking_id=o.booking_id,
    )


def prep_out(day: DayPrep) -> PrepList:
    return PrepList(
        date=day.day,
        hub=day.hub,
        items=[
            PrepItem(
                item_id=i.item_id,
                name=i.name,
                quantity=i.quantity,
                allergens=allergens_out(list(i.allergens)),
            )
            for i in day.prep.items
        ],
        people=day.prep.people,
        pickups=[_day_order(o) for o in day.prep.pickups],
        awaiting_decision=[_day_order(o) for o in day.prep.awaiting_decision],
        capacity=capacity_out(day.day, day.load),
    )


def availability_out(day: DayAvailability) -> AvailabilityDay:
    return AvailabilityDay(
        date=day.day,
        open=day.open,
        closed_reason=day.closed_reason,
        remaining_portions=day.remaining_portions,
        catering_order_by=day.catering_order_by,
    )


def closure_out(row: CafeClosure) -> ClosureOut:
    return ClosureOut(
        id=row.id, hub=row.hub, start_at=row.start_at, end_at=row.end_at, reason=row.reason
    )


def pending_change_out(change: OrderChangeRequest, order: Order) -> PendingChangeOut:
    return PendingChangeOut(
        change_id=change.id,
        order=order_out(order),
        pickup_at=change.pickup_at,
        pickup_date=change.pickup_day,
        people=change.people,
        portions=change.portions,
        lines=[
            ChangeLineOut(
                item_id=line["item_id"],
                name=line["name"],
                quantity=line["quantity"],
                unit_price_ore=line["unit_price_ore"],
            )
            for line in change.lines
        ],
        total_ore=change.total_ore,
        total_display=format_nok(change.total_ore),
        requested_at=change.requested_at,
    )
