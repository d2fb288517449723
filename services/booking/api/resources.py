"""Resources, their availability and iCalendar feed, and staff closures."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from services.booking import usecases
from services.booking.api.schemas import (
    AvailabilityOut,
    ClosureIn,
    ClosureOut,
    ResourceIn,
    ResourceOut,
    ResourcePatch,
)
from services.booking.api.views import availability_out, closure_out, ics, resource_out
from shared.auth import Staff, require_staff
from shared.hubs import DEFAULT_HUB
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["resources"])


@router.get("/resources", response_model=list[ResourceOut])
async def list_resources(request: Request, hub: str = DEFAULT_HUB) -> list[dict[str, Any]]:
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.list_resources(uow, hub), read_only=True
    )
    return [resource_out(r) for r in found]


@router.get("/resources/{resource_id}", response_model=ResourceOut)
async def get_resource(request: Request, resource_id: str) -> dict[str, Any]:
    resource = await runtime_of(request).uow.run(
        lambda uow: usecases.get_resource(uow, resource_id), read_only=True
    )
    return resource_out(resource)


@router.post("/resources", status_code=201, response_model=ResourceOut)
async def create_resource(
    request: Request, body: ResourceIn, _staff: Staff = Depends(require_staff(Role.BOOKING))
) -> dict[str, Any]:
    cmd = usecases.AddResource(body.model_dump())
    resource = await runtime_of(request).uow.run(lambda uow: usecases.add_resource(uow, cmd))
    return resource_out(resource)


@router.patch("/resources/{resource_id}", response_model=ResourceOut)
async def update_resource(
    request: Request,
    resource_id: str,
    body: ResourcePatch,
    _staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> dict[str, Any]:
    """Staff edit a resource. New rules apply to new bookings; existing ones are kept."""
    cmd = usecases.EditResource(resource_id, body.model_dump(exclude_unset=True))
    resource = await runtime_of(request).uow.run(lambda uow: usecases.edit_resource(uow, cmd))
    return resource_out(resource)


@router.get("/resources/{resource_id}/availability", response_model=AvailabilityOut)
async def availability(
    request: Request,
    resource_id: str,
    date: date = Query(description="the Oslo date, YYYY-MM-DD"),
    slot_minutes: int = Query(default=60, ge=5, le=7 * 24 * 60),
) -> dict[str, Any]:
    """Free slots of one day: opening hours minus holidays, closures, bookings (with the
    buffer) and anything before now plus the minimum notice. Never offers a past slot."""
    query = usecases.DayQuery(resource_id, date, slot_minutes)
    day = await runtime_of(request).uow.run(
        lambda uow: usecases.availability(uow, query), read_only=True
    )
    return availability_out(day, slot_minutes)


@router.get(
    "/resources/{resource_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(request: Request, resource_id: str) -> Response:
    """Busy times of the resource as iCalendar: public titles only, no personal data."""
    feed = await runtime_of(request).uow.run(
        lambda uow: usecases.calendar_feed(uow, resource_id), read_only=True
    )
    return Response(ics(feed), media_type="text/calendar; charset=utf-8")


@router.post("/closures", status_code=201, response_model=ClosureOut)
async def add_closure(
    request: Request, body: ClosureIn, _staff: Staff = Depends(require_staff(Role.BOOKING))
) -> dict[str, Any]:
    """Staff close the hub (resource_id null) or one resource. Existing bookings are kept
    and listed in the answer (`affected_bookings`) for staff to handle."""
    cmd = body.command()
    added = await runtime_of(request).uow.run(lambda uow: usecases.add_closure(uow, cmd))
    return closure_out(added.closure, added.affected_bookings)


@router.get("/closures", response_model=list[ClosureOut])
async def list_closures(request: Request) -> list[dict[str, Any]]:
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.list_closures(uow, DEFAULT_HUB), read_only=True
    )
    return [closure_out(c) for c in found]
