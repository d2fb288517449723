"""The café's day: prep list, capacity, availability and closures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.catering import usecases
from services.catering.api.schemas import (
    AvailabilityDay,
    CapacityIn,
    CapacityOut,
    ClosureIn,
    ClosureOut,
    Day,
    HubKey,
    PrepList,
)
from services.catering.api.views import availability_out, capacity_out, closure_out, prep_out
from services.catering.settings import catering_settings
from shared.auth import Staff, require_staff
from shared.hubs import DEFAULT_HUB
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["the café's day"])


@router.get("/prep-list", response_model=PrepList)
async def prep_list(
    request: Request,
    date_: Annotated[Day, Query(alias="date", description="pick-up date (Oslo)")],
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
    _staff: Staff = Depends(require_staff(Role.CAFE)),
) -> PrepList:
    """What to make for a day (accepted and ready orders), who picks up when, and what still
    waits for the café's decision."""
    runtime = runtime_of(request)
    query = usecases.PrepListQuery(hub, date_)
    default = catering_settings(runtime).daily_capacity
    day = await runtime.uow.run(lambda uow: usecases.prep_list(uow, query, daily_capacity=default))
    return prep_out(day)


@router.put("/capacity/{day}", response_model=CapacityOut)
async def set_capacity(
    request: Request,
    day: Annotated[Day, Path()],
    body: CapacityIn,
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
    staff: Staff = Depends(require_staff(Role.CAFE)),
) -> CapacityOut:
    """Portions the café can make that day; never below what is already promised. On a day
    with orders the café is told (CafeDayAffected)."""
    runtime = runtime_of(request)
    cmd = usecases.SetCapacity(hub, day, body.portions, staff.actor())
    default = catering_settings(runtime).daily_capacity
    load = await runtime.uow.run(
        lambda uow: usecases.set_capacity(uow, cmd, daily_capacity=default)
    )
    return capacity_out(day, load)


@router.get("/availability", response_model=list[AvailabilityDay])
async def availability(
    request: Request,
    from_: Annotated[Day | None, Query(alias="from", description="default: today")] = None,
    days: Annotated[int, Query(ge=1, le=62)] = 14,
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
) -> list[AvailabilityDay]:
    """Before ordering: which days are open, how many portions are left, and the catering
    order-by deadline of each day (after it, an order is a short-notice request)."""
    runtime = runtime_of(request)
    query = usecases.AvailabilityQuery(hub, from_, days)
    rules = catering_settings(runtime).rules()
    found = await runtime.uow.run(lambda uow: usecases.availability(uow, query, rules=rules))
    return [availability_out(d) for d in found]


@router.post("/closures", response_model=ClosureOut, status_code=201)
async def add_closure(
    request: Request, body: ClosureIn, staff: Staff = Depends(require_staff(Role.CAFE))
) -> ClosureOut:
    """Close the café for whole days (staff training, a private event): no pick-ups, and
    those days do not count as working days in lead times. Orders already on those days
    stay; the café is told of each such day (CafeDayAffected) and decides."""
    cmd = usecases.AddClosure(body.hub, body.first_date, body.last_date, body.reason, staff.actor())
    row = await runtime_of(request).uow.run(lambda uow: usecases.add_closure(uow, cmd))
    return closure_out(row)


@router.get("/closures", response_model=list[ClosureOut])
async def list_closures(
    request: Request, hub: Annotated[HubKey, Query()] = DEFAULT_HUB
) -> list[ClosureOut]:
    query = usecases.ClosuresQuery(hub)
    rows = await runtime_of(request).uow.run(lambda uow: usecases.list_closures(uow, query))
    return [closure_out(r) for r in rows]
