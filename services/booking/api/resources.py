"""Resources, their availability and iCalendar feed, and staff closures."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.booking import usecases
from services.booking.api.schemas import (
    AffectedBookingOut,
    AvailabilityOut,
    ClosureIn,
    ClosureOut,
    ResourceIn,
    ResourceOut,
    ResourcePatch,
)
from services.booking.api.views import (
    affected_booking_out,
    availability_out,
    closure_out,
    ics,
    resource_out,
)
from shared.auth import Staff, require_staff
from shared.hubs import DEFAULT_HUB
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["resources"])


@router.get("/resources", response_model=list[ResourceOut])
async def list_resources(request: Request, hub: str = DEFAULT_HUB) -> list[ResourceOut]:
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.list_resources(uow, hub), read_only=True
    )
    return [resource_out(r) for r in found]


@router.get("/resources/{resource_id}", response_model=ResourceOut)
async def get_resource(request: Request, resource_id: str) -> ResourceOut:
    resource = await runtime_of(request).uow.run(
        lambda uow: usecases.get_resource(uow, resource_id), read_only=True
    )
    return resource_out(resource)


@router.post("/resources", status_code=201, response_model=ResourceOut)
async def create_resource(
    request: Request, body: ResourceIn, _staff: Staff = Depends(require_staff(Role.BOOKING))
) -> ResourceOut:
    cmd = usecases.AddResource(body.model_dump())
    resource = await runtime_of(request).uow.run(lambda uow: usecases.add_resource(uow, cmd))
    return resource_out(resource)


@router.patch("/resources/{resource_id}", response_model=ResourceOut)
async def update_resource(
    request: Request,
    resource_id: str,
    body: ResourcePatch,
    _staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> ResourceOut:
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
) -> AvailabilityOut:
    """Free slots of one day: opening hours minus holidays, closures, bookings (with the
    buffer) and anything before now plus the minimum notice. Never offers a past slot."""
    query = usecases.DayQuery(resource_id, date, slot_minutes)
    day = await runtime_of(request).uow.run(
        lambda uow: usecases.availability(uow, query), read_only=True
    )
    return availability_out(day, slot_minutes)


@router.get("/resources/{resource_id}/availability/days", response_model=list[AvailabilityOut])
async def availability_days(
    request: Request,
    resource_id: str,
    from_: date = Query(alias="from", description="the first Oslo date, YYYY-MM-DD"),
    days: int = Query(default=7, ge=1, le=42),
    slot_minutes: int = Query(default=60, ge=5, le=7 * 24 * 60),
) -> list[AvailabilityOut]:
    """`/availability` for `days` days from `from` in one answer (a week or a month view,
    up to six weeks): the same rules, one read of closures and bookings for all of them."""
    query = usecases.DaysQuery(resource_id, from_, days, slot_minutes)
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.availability_days(uow, query), read_only=True
    )
    return [availability_out(day, slot_minutes) for day in found]


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
    request: Request, body: ClosureIn, staff: Staff = Depends(require_staff(Role.BOOKING))
) -> ClosureOut:
    """Staff close the hub (resource_id null) or one resource. The active bookings inside
    are listed in the answer (`affected_bookings`) and their bookers told (email and SMS,
    with the reason); each booking stands until staff cancel or keep it."""
    cmd = body.command(staff.actor())
    added = await runtime_of(request).uow.run(lambda uow: usecases.add_closure(uow, cmd))
    return closure_out(added.closure, added.affected_bookings)


@router.get("/closures", response_model=list[ClosureOut])
async def list_closures(request: Request) -> list[ClosureOut]:
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.list_closures(uow, DEFAULT_HUB), read_only=True
    )
    return [closure_out(c) for c in found]


@router.get("/closures/{closure_id}/bookings", response_model=list[AffectedBookingOut])
async def closure_bookings(
    request: Request, closure_id: str, _staff: Staff = Depends(require_staff(Role.BOOKING))
) -> list[dict[str, Any]]:
    """The bookings the closure fell on, each with staff's choice (`open` until made)."""
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.closure_bookings(uow, closure_id), read_only=True
    )
    return [affected_booking_out(a) for a in found]


@router.post(
    "/closures/{closure_id}/bookings/{booking_id}/{action}", response_model=AffectedBookingOut
)
async def decide_closure_booking(
    request: Request,
    closure_id: str,
    booking_id: str,
    action: Literal["cancel", "keep"],
    staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> dict[str, Any]:
    """Cancel the booking because of the closure (as a staff cancellation, with the
    closure's reason: the booker is told, its catering order is cancelled), or keep it
    (nothing is sent). A kept booking may be cancelled later; a cancelled one stays so."""
    cmd = usecases.DecideClosureBooking(closure_id, booking_id, action, staff.actor())
    decided = await runtime_of(request).uow.run(
        lambda uow: usecases.decide_closure_booking(uow, cmd)
    )
    return affected_booking_out(decided)
