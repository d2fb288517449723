"""The café's day: prep list, capacity, availability and closures."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from services.catering import capacity, ordering
from services.catering.api.common import CAFE, refusals_as_http, rules_of, runtime_of
from services.catering.api.schemas import (
    AvailabilityDay,
    CapacityIn,
    CapacityOut,
    ClosureIn,
    ClosureOut,
    Day,
    DayOrder,
    HubKey,
    PrepItem,
    PrepList,
    allergens_out,
)
from services.catering.domain import (
    AWAITING_DECISION,
    TO_PREPARE,
    DayLoad,
    OrderRefused,
    working_day_before,
)
from services.catering.models import CafeClosure, Order
from shared.auth import Staff, require_staff
from shared.calendar import Closure, at_local, local_date
from shared.service import ApiError

router = APIRouter(tags=["the café's day"])


def _day_order(o: Order) -> DayOrder:
    return DayOrder(
        order_id=o.id,
        kind=o.kind,  # type: ignore[arg-type]
        status=o.status,  # type: ignore[arg-type]
        short_notice=o.short_notice,
        pickup_at=o.pickup_at,
        customer_name=o.customer_name,
        people=o.people,
        portions=o.portions,
        booking_id=o.booking_id,
    )


@router.get("/prep-list", response_model=PrepList)
async def prep_list(
    request: Request,
    date_: Annotated[Day, Query(alias="date", description="pick-up date (Oslo)")],
    hub: Annotated[HubKey, Query()] = "stromso",
    _staff: Staff = Depends(require_staff(CAFE)),
) -> PrepList:
    """What to make for a day (accepted and ready orders), who picks up when, and what still
    waits for the café's decision."""
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        orders = (
            (
                await session.execute(
                    select(Order)
                    .where(Order.hub == hub, Order.pickup_day == date_)
                    .order_by(Order.pickup_at, Order.id)
                )
            )
            .scalars()
            .all()
        )
        load = (await capacity.loads(session, hub, date_, date_)).get(
            date_, DayLoad(rules_of(runtime).daily_capacity, 0)
        )
    counts: dict[str, int] = defaultdict(int)
    names: dict[str, tuple[str, list[str]]] = {}
    people = 0
    for order in orders:
        if order.status not in TO_PREPARE:
            continue
        people += order.people or 0
        for line in order.lines:
            counts[line.item_id] += line.quantity
            names.setdefault(line.item_id, (line.name, line.allergens))
    return PrepList(
        date=date_,
        hub=hub,
        items=[
            PrepItem(item_id=i, name=names[i][0], quantity=q, allergens=allergens_out(names[i][1]))
            for i, q in sorted(counts.items())
        ],
        people=people,
        pickups=[_day_order(o) for o in orders if o.status in TO_PREPARE],
        awaiting_decision=[_day_order(o) for o in orders if o.status in AWAITING_DECISION],
        capacity=CapacityOut(
            date=date_, capacity=load.capacity, used=load.used, remaining=load.remaining
        ),
    )


@router.put("/capacity/{day}", response_model=CapacityOut)
async def set_capacity(
    request: Request,
    day: Annotated[Day, Path()],
    body: CapacityIn,
    hub: Annotated[HubKey, Query()] = "stromso",
    _staff: Staff = Depends(require_staff(CAFE)),
) -> CapacityOut:
    """Portions the café can make that day; never below what is already promised."""
    runtime = runtime_of(request)
    if day < local_date(runtime.now()):
        raise ApiError(422, "that day is in the past")
    async with refusals_as_http(), runtime.db.transaction() as session:
        try:
            load = await capacity.set_capacity(
                session,
                hub=hub,
                day=day,
                capacity=body.portions,
                default_capacity=rules_of(runtime).daily_capacity,
            )
        except OrderRefused as exc:
            raise ApiError(409, exc.reason, **exc.extra) from exc
    return CapacityOut(date=day, capacity=load.capacity, used=load.used, remaining=load.remaining)


@router.get("/availability", response_model=list[AvailabilityDay])
async def availability(
    request: Request,
    from_: Annotated[Day | None, Query(alias="from", description="default: today")] = None,
    days: Annotated[int, Query(ge=1, le=62)] = 14,
    hub: Annotated[HubKey, Query()] = "stromso",
) -> list[AvailabilityDay]:
    """Before ordering: which days are open, how many portions are left, and the catering
    order-by deadline of each day (after it, an order is a short-notice request)."""
    runtime = runtime_of(request)
    now = runtime.now()
    rules = rules_of(runtime)
    first = max(from_ or local_date(now), local_date(now))
    last = first + timedelta(days=days - 1)
    async with runtime.db.read() as session:
        calendar = await ordering.cafe_calendar(session, hub, now)
        loads = await capacity.loads(session, hub, first, last)
    out: list[AvailabilityDay] = []
    for offset in range(days):
        d = first + timedelta(days=offset)
        is_open = calendar.is_open_day(d)
        load = loads.get(d, DayLoad(rules.daily_capacity, 0))
        reason = None
        if not is_open:
            start = at_local(d, rules.cutoff)
            reason = calendar.closed_reason(start, start + timedelta(minutes=1))
        out.append(
            AvailabilityDay(
                date=d,
                open=is_open,
                closed_reason=reason,
                remaining_portions=load.remaining if is_open else 0,
                catering_order_by=(
                    at_local(working_day_before(calendar, d, rules.lead_working_days), rules.cutoff)
                    if is_open
                    else None
                ),
            )
        )
    return out


@router.post("/closures", response_model=ClosureOut, status_code=201)
async def add_closure(
    request: Request, body: ClosureIn, _staff: Staff = Depends(require_staff(CAFE))
) -> ClosureOut:
    """Close the café for whole days (staff training, a private event): no pick-ups, and
    those days do not count as working days in lead times."""
    runtime = runtime_of(request)
    if body.last_date < local_date(runtime.now()):
        raise ApiError(422, "the closure is wholly in the past")
    if (body.last_date - body.first_date).days > 366:
        raise ApiError(422, "a closure can be at most a year long")
    span = Closure.whole_days(body.first_date, body.last_date, body.reason)
    async with runtime.db.transaction() as session:
        row = CafeClosure(
            hub=body.hub,
            start_at=span.start,
            end_at=span.end,
            reason=body.reason,
            created_at=runtime.now(),
        )
        session.add(row)
        await session.flush()
        return ClosureOut(
            id=row.id, hub=row.hub, start_at=row.start_at, end_at=row.end_at, reason=row.reason
        )


@router.get("/closures", response_model=list[ClosureOut])
async def list_closures(
    request: Request, hub: Annotated[HubKey, Query()] = "stromso"
) -> list[ClosureOut]:
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        rows = (
            await session.execute(
                select(CafeClosure)
                .where(CafeClosure.hub == hub, CafeClosure.end_at > runtime.now())
                .order_by(CafeClosure.start_at)
            )
        ).scalars()
        return [
            ClosureOut(id=r.id, hub=r.hub, start_at=r.start_at, end_at=r.end_at, reason=r.reason)
            for r in rows
        ]
