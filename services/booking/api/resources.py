"""Resources, their availability and iCalendar feed, and staff closures."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from icalendar import Calendar as ICalendar
from icalendar import Event as IEvent
from sqlalchemy import select

from services.booking import domain, store
from services.booking.api.common import runtime_of
from services.booking.config import HUB
from services.booking.models import Booking, Closure, Resource
from services.booking.schemas import (
    AvailabilityOut,
    ClosureIn,
    ClosureOut,
    ResourceIn,
    ResourceOut,
    ResourcePatch,
)
from shared.auth import Staff, require_staff
from shared.calendar import Calendar, OpeningHours, at_local, local_date, local_midnight
from shared.service import ApiError

router = APIRouter(tags=["resources"])
BOOKING_ROLE = "booking"


def resource_out(r: Resource) -> dict[str, Any]:
    return ResourceOut(
        id=r.id,
        hub=r.hub,
        name=r.name,
        kind=r.kind,
        description=r.description,
        capacity=r.capacity,
        hours=store.hours_of(r).to_spec(),
        uses_hub_hours=r.hours is None,
        approval_required=r.approval_required,
        free_for=list(r.free_for),
        min_notice_minutes=r.min_notice_minutes,
        min_length_minutes=r.min_length_minutes,
        max_length_minutes=r.max_length_minutes,
        max_days_ahead=r.max_days_ahead,
        buffer_minutes=r.buffer_minutes,
        cancel_deadline_hours=r.cancel_deadline_hours,
        weekly_free_hours=r.weekly_free_hours,
        price_per_hour_nok=r.price_per_hour_nok,
        active=r.active,
    ).model_dump(mode="json")


def _validate(resource: Resource) -> None:
    """Reject a resource whose hours or policy would not make sense, with the reason."""
    try:
        if resource.hours is not None:
            OpeningHours.parse(resource.hours)
        store.policy_of(resource)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc


@router.get("/resources", response_model=list[ResourceOut])
async def list_resources(request: Request, hub: str = HUB) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        rows = await session.scalars(
            select(Resource)
            .where(Resource.hub == hub, Resource.active.is_(True))
            .order_by(Resource.name)
        )
        return [resource_out(r) for r in rows]


@router.get("/resources/{resource_id}", response_model=ResourceOut)
async def get_resource(request: Request, resource_id: str) -> dict[str, Any]:
    async with runtime_of(request).db.read() as session:
        resource = await session.get(Resource, resource_id)
        if resource is None:
            raise ApiError(404, f"no resource {resource_id!r}")
        return resource_out(resource)


@router.post("/resources", status_code=201, response_model=ResourceOut)
async def create_resource(
    request: Request, body: ResourceIn, _staff: Staff = Depends(require_staff(BOOKING_ROLE))
) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.now()
    resource = Resource(
        id=uuid.uuid4().hex[:12], hub=HUB, created_at=now, updated_at=now, **body.model_dump()
    )
    _validate(resource)
    async with runtime.db.transaction() as session:
        session.add(resource)
    return resource_out(resource)


@router.patch("/resources/{resource_id}", response_model=ResourceOut)
async def update_resource(
    request: Request,
    resource_id: str,
    body: ResourcePatch,
    _staff: Staff = Depends(require_staff(BOOKING_ROLE)),
) -> dict[str, Any]:
    """Staff edit a resource. New rules apply to new bookings; existing ones are kept."""
    runtime = runtime_of(request)
    async with runtime.db.transaction() as session:
        resource = await session.get(Resource, resource_id)
        if resource is None:
            raise ApiError(404, f"no resource {resource_id!r}")
        for key, value in body.model_dump(exclude_unset=True).items():
            if value is None and key not in ("hours", "weekly_free_hours", "description"):
                continue
            setattr(resource, key, value)
        resource.updated_at = runtime.now()
        _validate(resource)
        return resource_out(resource)


def _closed_reason(calendar: Calendar, d: date) -> str | None:
    if calendar.is_open_day(d):
        return None
    regular = calendar.hours.intervals(d.weekday())
    if not regular:
        return calendar.closed_reason(local_midnight(d), local_midnight(d) + timedelta(hours=1))
    start, end = at_local(d, regular[0][0]), at_local(d, regular[0][1])
    if end <= start:
        end = local_midnight(d + timedelta(days=1))
    return calendar.closed_reason(start, end)


@router.get("/resources/{resource_id}/availability", response_model=AvailabilityOut)
async def availability(
    request: Request,
    resource_id: str,
    date: date = Query(description="the Oslo date, YYYY-MM-DD"),
    slot_minutes: int = Query(default=60, ge=5, le=7 * 24 * 60),
) -> dict[str, Any]:
    """Free slots of one day: opening hours minus holidays, closures, bookings (with the
    buffer) and anything before now plus the minimum notice. Never offers a past slot."""
    runtime = runtime_of(request)
    now = runtime.now()
    async with runtime.db.read() as session:
        resource = await session.get(Resource, resource_id)
        if resource is None or not resource.active:
            raise ApiError(404, f"no bookable resource {resource_id!r}")
        policy = store.policy_of(resource)
        length = timedelta(minutes=slot_minutes)
        if not policy.min_length <= length <= policy.max_length:
            raise ApiError(
                422,
                f"slot_minutes must be between {resource.min_length_minutes} and "
                f"{resource.max_length_minutes} for this resource",
            )
        day_start, day_end = local_midnight(date), local_midnight(date + timedelta(days=1))
        calendar = await store.calendar_for(session, resource, day_start, day_end)
        busy = await store.active_overlapping(session, resource.id, day_start, day_end)
    open_ = calendar.open_intervals(date)
    reason = _closed_reason(calendar, date)
    bookable_from = now + policy.min_notice
    horizon = local_date(now) + timedelta(days=policy.max_days_ahead)
    if reason is None and date > horizon:
        reason = f"too far ahead: at most {policy.max_days_ahead} days before the date"
    free: list[dict[str, Any]] = []
    if reason is None:
        step = min(length, timedelta(minutes=30))
        for start, end in calendar.slots(date, length, step, not_before=bookable_from):
            if domain.first_conflict(start, end + policy.buffer, busy) is None:
                free.append({"start": start, "end": end})
    return AvailabilityOut(
        resource_id=resource.id,
        date=date,
        open=reason is None,
        closed_reason=reason,
        opening_hours=[{"start": s, "end": e} for s, e in open_],  # type: ignore[misc]
        busy=[{"start": b.start, "end": b.blocked_until} for b in busy],  # type: ignore[misc]
        free_slots=free,  # type: ignore[arg-type]
        slot_minutes=slot_minutes,
        bookable_from=bookable_from,
        max_length_minutes=resource.max_length_minutes,
        approval_required=resource.approval_required,
    ).model_dump(mode="json")


@router.get(
    "/resources/{resource_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(request: Request, resource_id: str) -> Response:
    """Busy times of the resource as iCalendar: public titles only, no personal data."""
    runtime = runtime_of(request)
    now = runtime.now()
    async with runtime.db.read() as session:
        resource = await session.get(Resource, resource_id)
        if resource is None:
            raise ApiError(404, f"no resource {resource_id!r}")
        bookings = await session.scalars(
            select(Booking)
            .where(
                Booking.resource_id == resource_id,
                Booking.status.in_(domain.ACTIVE),
                Booking.start_at >= now - timedelta(days=30),
                Booking.start_at < now + timedelta(days=400),
            )
            .order_by(Booking.start_at)
            .limit(5000)
        )
        cal = ICalendar()
        cal.add("prodid", "-//Knutepunkt//booking//NO")
        cal.add("version", "2.0")
        cal.add("x-wr-calname", f"{resource.name} – Knutepunkt")
        for b in bookings:
            event = IEvent()
            event.add("uid", f"{b.id}@knutepunkt")
            event.add("dtstamp", b.updated_at)
            event.add("dtstart", b.start_at)
            event.add("dtend", b.end_at)
            title = b.title if b.public and b.title else "Opptatt"
            if b.status == "pending":
                title += " (venter på godkjenning)"
            event.add("summary", title)
            event.add("status", "CONFIRMED" if b.status == "confirmed" else "TENTATIVE")
            event.add("transp", "OPAQUE")
            cal.add_component(event)
    return Response(cal.to_ical(), media_type="text/calendar; charset=utf-8")


@router.post("/closures", status_code=201, response_model=ClosureOut)
async def add_closure(
    request: Request, body: ClosureIn, _staff: Staff = Depends(require_staff(BOOKING_ROLE))
) -> dict[str, Any]:
    """Staff close the hub (resource_id null) or one resource. Existing bookings are kept
    and listed in the answer (`affected_bookings`) for staff to handle."""
    if body.end <= body.start:
        raise ApiError(422, "a closure must end after it starts")
    runtime = runtime_of(request)
    async with runtime.db.transaction() as session:
        if body.resource_id is not None and await session.get(Resource, body.resource_id) is None:
            raise ApiError(404, f"no resource {body.resource_id!r}")
        closure = Closure(
            id=uuid.uuid4().hex[:12],
            hub=HUB,
            resource_id=body.resource_id,
            start_at=body.start,
            end_at=body.end,
            reason=body.reason,
            created_at=runtime.now(),
        )
        session.add(closure)
        affected = select(Booking.id).where(
            Booking.status.in_(domain.ACTIVE),
            Booking.start_at < body.end,
            Booking.end_at > body.start,
        )
        if body.resource_id is not None:
            affected = affected.where(Booking.resource_id == body.resource_id)
        ids = list(await session.scalars(affected.limit(500)))
    return {
        **ClosureOut(
            id=closure.id,
            hub=closure.hub,
            resource_id=closure.resource_id,
            start=closure.start_at,
            end=closure.end_at,
            reason=closure.reason,
        ).model_dump(mode="json"),
        "affected_bookings": ids,
    }


@router.get("/closures", response_model=list[ClosureOut])
async def list_closures(request: Request) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        rows = await session.scalars(
            select(Closure)
            .where(Closure.hub == HUB, Closure.end_at > runtime.now())
            .order_by(Closure.start_at)
        )
        return [
            ClosureOut(
                id=c.id,
                hub=c.hub,
                resource_id=c.resource_id,
                start=c.start_at,
                end=c.end_at,
                reason=c.reason,
            ).model_dump(mode="json")
            for c in rows
        ]
