"""Bookings: create (one, or a series), read, cancel, and staff approval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel

from services.booking import usecases
from services.booking.api.etags import NOT_MODIFIED, answered
from services.booking.api.schemas import (
    BookingCreated,
    BookingIn,
    BookingOut,
    CancelIn,
    RejectIn,
    RequestOut,
    SeriesCancelIn,
    SeriesCancelOut,
    SeriesCreated,
    SeriesIn,
    Status,
)
from services.booking.api.views import (
    booking_out,
    listed_models,
    occurrence_out,
    request_models,
)
from shared.auth import Staff, hash_token, new_token, optional_staff, require_staff
from shared.manage_links import ManageLinks
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["bookings"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "overlaps another booking (the conflicting time is in the body)"},
    422: {"description": "a rule is broken: closed, past, too long, short notice, capacity…"},
}
ManageToken = Header(
    default=None,
    alias="X-Manage-Token",
    description="the manage token returned when the booking was made",
)


def _access(
    token: str | None, staff: Staff | None, request: Request | None = None, booking_id: str = ""
) -> usecases.Access:
    """`request` and `booking_id`: a single booking, whose manage link's token (from an email
    or SMS) is taken as the booker's own."""
    secret = runtime_of(request).settings.manage_link_secret if request else ""
    link = bool(token and secret and ManageLinks(secret).valid(token, "booking", booking_id))
    return usecases.Access(
        token=token, staff=staff is not None, actor=staff.actor() if staff else None, link=link
    )


@router.post("/bookings", status_code=201, response_model=BookingCreated, responses=_ERRORS)
async def create_booking(
    request: Request,
    body: BookingIn,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    """Book a resource. Instant resources answer `confirmed`, approval resources `pending`.
    Keep the returned manage token: it is the only way to read or cancel the booking."""
    token = new_token()
    cmd = body.command(actor=staff.actor() if staff else None, token_hash=hash_token(token))
    booked = await runtime_of(request).uow.run(lambda uow: usecases.make_booking(uow, cmd))
    return {**booking_out(booked), "manage_token": token}


@router.post("/bookings/series", status_code=201, response_model=SeriesCreated, responses=_ERRORS)
async def create_series(
    request: Request,
    body: SeriesIn,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    """Book a recurring series in one request. Every occurrence is reported (booked,
    conflict, closed, refused, quota). `all_or_nothing` books nothing unless all are free;
    `skip_conflicts` books the free ones."""
    token = new_token()
    cmd = body.command(actor=staff.actor() if staff else None, token_hash=hash_token(token))
    series = await runtime_of(request).uow.run(lambda uow: usecases.make_series(uow, cmd))
    reports = [occurrence_out(o) for o in series.occurrences]
    return {
        "series_id": series.series_id,
        "manage_token": token,
        "mode": body.mode,
        "booked": [r for r in reports if r.status == "booked"],
        "skipped": [r for r in reports if r.status != "booked"],
    }


@router.post("/bookings/series/{series_id}/cancel", response_model=SeriesCancelOut)
async def cancel_series(
    request: Request,
    series_id: str,
    body: SeriesCancelIn | None = Body(default=None),
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff(Role.BOOKING)),
) -> dict[str, Any]:
    """Cancel a series in one request with its manage token (or as staff): every
    occurrence not yet started, or those from `from_date` on. All or nothing: the booker
    past the deadline of any of them is refused. The booker is told once."""
    access = _access(x_manage_token, staff)
    cmd = usecases.CancelSeries(
        series_id,
        access,
        from_date=body.from_date if body else None,
        reason=body.reason if body else None,
    )
    done = await runtime_of(request).uow.run(lambda uow: usecases.cancel_series(uow, cmd))
    return {"series_id": done.series_id, "cancelled": [booking_out(b) for b in done.cancelled]}


@router.get(
    "/bookings", response_model=list[BookingOut], responses={304: {"description": NOT_MODIFIED}}
)
async def list_bookings(
    request: Request,
    response: Response,
    resource_id: str | None = None,
    from_: AwareDatetime | None = Query(default=None, alias="from"),
    to: AwareDatetime | None = None,
    status: Status | None = None,
    limit: int = Query(default=200, ge=1, le=1000),
    _staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> Sequence[BaseModel] | Response:
    """Staff: bookings overlapping [from, to), oldest first. With an ETag: send it back as
    If-None-Match, and an unchanged list is answered 304 without its body."""
    query = usecases.BookingQuery(resource_id, from_, to, status, limit)
    return await answered(
        request,
        response,
        BookingOut,
        lambda uow, known: usecases.list_bookings(uow, query, known),
        listed_models,
    )


# Before /bookings/{booking_id}, which would take "requests" for an id.
@router.get(
    "/bookings/requests",
    response_model=list[RequestOut],
    responses={304: {"description": NOT_MODIFIED}},
)
async def list_requests(
    request: Request,
    response: Response,
    limit: int = Query(default=200, ge=1, le=1000),
    _staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> Sequence[BaseModel] | Response:
    """Staff: the bookings waiting for approval, oldest request first, each with its
    organisation's weekly free hours on the resource (the quota) in the request's week.
    With an ETag, as `GET /bookings`."""
    query = usecases.RequestQuery(limit)
    return await answered(
        request,
        response,
        RequestOut,
        lambda uow, known: usecases.list_requests(uow, query, known),
        request_models,
    )


@router.get("/bookings/{booking_id}", response_model=BookingOut)
async def get_booking(
    request: Request,
    booking_id: str,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff(Role.BOOKING)),
) -> dict[str, Any]:
    """The booker (X-Manage-Token) or staff with the booking role."""
    cmd = usecases.ReadBooking(booking_id, _access(x_manage_token, staff, request, booking_id))
    booked = await runtime_of(request).uow.run(
        lambda uow: usecases.read_booking(uow, cmd), read_only=True
    )
    return booking_out(booked)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(
    request: Request,
    booking_id: str,
    body: CancelIn | None = Body(default=None),
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff(Role.BOOKING)),
) -> dict[str, Any]:
    """The booker cancels before the resource's deadline; staff at any time. The booking
    is kept, with status `cancelled`."""
    access = _access(x_manage_token, staff, request, booking_id)
    cmd = usecases.CancelBooking(booking_id, access, body.reason if body else None)
    booked = await runtime_of(request).uow.run(lambda uow: usecases.cancel_booking(uow, cmd))
    return booking_out(booked)


@router.post("/bookings/{booking_id}/approve", response_model=BookingOut)
async def approve_booking(
    request: Request,
    booking_id: str,
    staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> dict[str, Any]:
    cmd = usecases.DecideBooking(booking_id, approve=True, actor=staff.actor())
    booked = await runtime_of(request).uow.run(lambda uow: usecases.decide_booking(uow, cmd))
    return booking_out(booked)


@router.post("/bookings/{booking_id}/reject", response_model=BookingOut)
async def reject_booking(
    request: Request,
    booking_id: str,
    body: RejectIn,
    staff: Staff = Depends(require_staff(Role.BOOKING)),
) -> dict[str, Any]:
    cmd = usecases.DecideBooking(booking_id, approve=False, reason=body.reason, actor=staff.actor())
    booked = await runtime_of(request).uow.run(lambda uow: usecases.decide_booking(uow, cmd))
    return booking_out(booked)


@router.post("/bookings/{booking_id}/check-in", response_model=BookingOut)
async def check_in(
    request: Request,
    booking_id: str,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff(Role.BOOKING)),
) -> dict[str, Any]:
    """Say a confirmed booking is in use, so it is not released as a no-show: staff until
    its end, the booker (X-Manage-Token) from 15 minutes before the start until its end."""
    cmd = usecases.CheckIn(booking_id, _access(x_manage_token, staff, request, booking_id))
    booked = await runtime_of(request).uow.run(lambda uow: usecases.check_in(uow, cmd))
    return booking_out(booked)
