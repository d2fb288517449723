"""The booking events, built from a booking row: what notify and catering need to act."""

from __future__ import annotations

from typing import Any

from services.booking.models import Booking, Resource
from shared.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingRejected,
    BookingReminder,
    BookingRequested,
    CateringRequest,
    Contact,
)


def booker_contact(booking: Booking) -> Contact:
    return Contact(
        name=booking.booker_name,
        email=booking.booker_email,
        phone=booking.booker_phone,
        language=booking.booker_language,  # type: ignore[arg-type]
    )


def participants(booking: Booking) -> list[Contact]:
    return [Contact.model_validate(p) for p in booking.participants or []]


def catering(booking: Booking) -> CateringRequest | None:
    return CateringRequest.model_validate(booking.catering) if booking.catering else None


def _common(booking: Booking, resource: Resource, organisation_name: str | None) -> dict[str, Any]:
    return {
        "booking_id": booking.id,
        "hub": booking.hub,
        "resource_id": resource.id,
        "resource_name": resource.name,
        "start": booking.start_at,
        "end": booking.end_at,
        "booker_type": booking.booker_type,
        "booker": booker_contact(booking),
        "organisation_name": organisation_name,
        "title": booking.title,
        "series_id": booking.series_id,
    }


def requested(booking: Booking, resource: Resource, org: str | None) -> BookingRequested:
    return BookingRequested(
        **_common(booking, resource, org), attendees=booking.attendees, catering=catering(booking)
    )


def confirmed(
    booking: Booking, resource: Resource, org: str | None, *, auto_approved: bool
) -> BookingConfirmed:
    return BookingConfirmed(
        **_common(booking, resource, org),
        attendees=booking.attendees,
        catering=catering(booking),
        auto_approved=auto_approved,
        participants=participants(booking),
    )


def rejected(booking: Booking, resource: Resource, org: str | None) -> BookingRejected:
    return BookingRejected(**_common(booking, resource, org), reason=booking.reason or "")


def cancelled(booking: Booking, resource: Resource, org: str | None) -> BookingCancelled:
    return BookingCancelled(
        **_common(booking, resource, org),
        cancelled_by=booking.cancelled_by,  # type: ignore[arg-type]
        reason=booking.reason,
        had_catering=bool(booking.catering),
        participants=participants(booking),
    )


def reminder(booking: Booking, resource: Resource, org: str | None) -> BookingReminder:
    return BookingReminder(**_common(booking, resource, org), participants=participants(booking))
