"""What the routers share: the runtime, the manage-token header, row-to-response mapping."""

from __future__ import annotations

from fastapi import Header, Request

from services.booking.models import Booking, Resource
from services.booking.schemas import BookingOut, ContactIn
from shared.auth import token_matches
from shared.events import CateringRequest
from shared.service import ApiError, Runtime

ManageToken = Header(
    default=None,
    alias="X-Manage-Token",
    description="the manage token returned when the booking was made",
)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def require_owner(token: str | None, digest: str) -> None:
    if not token:
        raise ApiError(401, "an X-Manage-Token header (or a staff bearer token) is required")
    if not token_matches(token, digest):
        raise ApiError(403, "the manage token does not match this booking")


def booking_out(booking: Booking, resource: Resource) -> dict[str, object]:
    return BookingOut(
        id=booking.id,
        resource_id=booking.resource_id,
        resource_name=resource.name,
        status=booking.status,  # type: ignore[arg-type]
        start=booking.start_at,
        end=booking.end_at,
        booker_type=booking.booker_type,
        booker=ContactIn.model_construct(
            name=booking.booker_name,
            email=booking.booker_email,
            phone=booking.booker_phone,
            language=booking.booker_language,
        ),
        organisation_number=booking.org_number,
        title=booking.title,
        description=booking.description,
        public=booking.public,
        signup_capacity=booking.signup_capacity,
        attendees=booking.attendees,
        catering=CateringRequest.model_validate(booking.catering) if booking.catering else None,
        participants=[ContactIn.model_construct(**p) for p in booking.participants or []],
        series_id=booking.series_id,
        free_of_charge=booking.free_of_charge,
        price_nok=booking.price_nok,
        reason=booking.reason,
        cancelled_by=booking.cancelled_by,
        created_at=booking.created_at,
    ).model_dump(mode="json")
