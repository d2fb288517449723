"""Bookings: create (one, or a series), read, cancel, and staff approval."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking import operations
from services.booking.api.common import ManageToken, booking_out, require_owner, runtime_of
from services.booking.models import Booking, Resource
from services.booking.schemas import (
    BookingCreated,
    BookingIn,
    BookingOut,
    CancelIn,
    RejectIn,
    SeriesCreated,
    SeriesIn,
)
from shared.auth import Staff, hash_token, new_token, optional_staff, require_staff
from shared.service import ApiError

router = APIRouter(tags=["bookings"])
BOOKING_ROLE = "booking"
_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "overlaps another booking (the conflicting time is in the body)"},
    422: {"description": "a rule is broken: closed, past, too long, short notice, capacity…"},
}


@router.post("/bookings", status_code=201, response_model=BookingCreated, responses=_ERRORS)
async def create_booking(
    request: Request,
    body: BookingIn,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    """Book a resource. Instant resources answer `confirmed`, approval resources `pending`.
    Keep the returned manage token: it is the only way to read or cancel the booking."""
    runtime = runtime_of(request)
    token = new_token()

    async def work(session: AsyncSession) -> dict[str, Any]:
        booking, resource = await operations.create_booking(
            session,
            body,
            is_staff=staff is not None,
            token_hash=hash_token(token),
            now=runtime.now(),
        )
        return booking_out(booking, resource)

    out = await operations.in_transaction(runtime, work)
    return {**out, "manage_token": token}


@router.post("/bookings/series", status_code=201, response_model=SeriesCreated, responses=_ERRORS)
async def create_series(
    request: Request,
    body: SeriesIn,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    """Book a recurring series in one request. Every occurrence is reported (booked,
    conflict, closed, refused, quota). `all_or_nothing` books nothing unless all are free;
    `skip_conflicts` books the free ones."""
    runtime = runtime_of(request)
    token = new_token()

    async def work(session: AsyncSession) -> dict[str, Any]:
        outcome = await operations.create_series(
            session,
            body,
            is_staff=staff is not None,
            token_hash=hash_token(token),
            now=runtime.now(),
        )
        return {
            "series_id": outcome.series_id,
            "manage_token": token,
            "mode": body.mode,
            "booked": [r for r in outcome.reports if r["status"] == "booked"],
            "skipped": [r for r in outcome.reports if r["status"] != "booked"],
        }

    return await operations.in_transaction(runtime, work)


@router.get("/bookings", response_model=list[BookingOut])
async def list_bookings(
    request: Request,
    resource_id: str | None = None,
    from_: AwareDatetime | None = Query(default=None, alias="from"),
    to: AwareDatetime | None = None,
    status: Literal["pending", "confirmed", "rejected", "cancelled"] | None = None,
    limit: int = Query(default=200, ge=1, le=1000),
    _staff: Staff = Depends(require_staff(BOOKING_ROLE)),
) -> list[dict[str, Any]]:
    """Staff: bookings overlapping [from, to), oldest first."""
    runtime = runtime_of(request)
    query = select(Booking, Resource).join(Resource, Resource.id == Booking.resource_id)
    if resource_id:
        query = query.where(Booking.resource_id == resource_id)
    if from_:
        query = query.where(Booking.end_at > from_)
    if to:
        query = query.where(Booking.start_at < to)
    if status:
        query = query.where(Booking.status == status)
    async with runtime.db.read() as session:
        rows = (await session.execute(query.order_by(Booking.start_at).limit(limit))).all()
        return [booking_out(b, r) for b, r in rows]


async def _owner_or_staff(
    request: Request, booking: Booking, token: str | None, staff: Staff | None
) -> str:
    if staff is not None:
        return "staff"
    require_owner(token, booking.manage_token_hash)
    return "owner"


@router.get("/bookings/{booking_id}", response_model=BookingOut)
async def get_booking(
    request: Request,
    booking_id: str,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff(BOOKING_ROLE)),
) -> dict[str, Any]:
    """The booker (X-Manage-Token) or staff with the booking role."""
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        row = (
            await session.execute(
                select(Booking, Resource)
                .join(Resource, Resource.id == Booking.resource_id)
                .where(Booking.id == booking_id)
            )
        ).first()
        if row is None:
            raise ApiError(404, f"no booking {booking_id!r}")
        booking, resource = row
        await _owner_or_staff(request, booking, x_manage_token, staff)
        return booking_out(booking, resource)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(
    request: Request,
    booking_id: str,
    body: CancelIn | None = Body(default=None),
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff(BOOKING_ROLE)),
) -> dict[str, Any]:
    """The booker cancels before the resource's deadline; staff at any time. The booking
    is kept, with status `cancelled`."""
    runtime = runtime_of(request)

    async def work(session: AsyncSession) -> dict[str, Any]:
        booking = await operations.load_for_update(session, booking_id)
        actor = await _owner_or_staff(request, booking, x_manage_token, staff)
        resource = await operations.cancel(
            session, booking, by=actor, reason=body.reason if body else None, now=runtime.now()
        )
        return booking_out(booking, resource)

    return await operations.in_transaction(runtime, work)


@router.post("/bookings/{booking_id}/approve", response_model=BookingOut)
async def approve_booking(
    request: Request,
    booking_id: str,
    _staff: Staff = Depends(require_staff(BOOKING_ROLE)),
) -> dict[str, Any]:
    runtime = runtime_of(request)

    async def work(session: AsyncSession) -> dict[str, Any]:
        booking = await operations.load_for_update(session, booking_id)
        resource = await operations.decide(
            session, booking, approve=True, reason=None, now=runtime.now()
        )
        return booking_out(booking, resource)

    return await operations.in_transaction(runtime, work)


@router.post("/bookings/{booking_id}/reject", response_model=BookingOut)
async def reject_booking(
    request: Request,
    booking_id: str,
    body: RejectIn,
    _staff: Staff = Depends(require_staff(BOOKING_ROLE)),
) -> dict[str, Any]:
    runtime = runtime_of(request)

    async def work(session: AsyncSession) -> dict[str, Any]:
        booking = await operations.load_for_update(session, booking_id)
        resource = await operations.decide(
            session, booking, approve=False, reason=body.reason, now=runtime.now()
        )
        return booking_out(booking, resource)

    return await operations.in_transaction(runtime, work)
