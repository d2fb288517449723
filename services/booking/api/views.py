"""What the routes answer: the use cases' rows and results shaped as the response bodies
(api/schemas.py), and the iCalendar feed."""

from __future__ import annotations

from typing import Any

from icalendar import Calendar as ICalendar
from icalendar import Event as IEvent

from services.booking import allocation, domain, usecases
from services.booking.api.schemas import (
    ActivityOut,
    AvailabilityOut,
    BookingOut,
    ClosureOut,
    FreeHoursOut,
    OccurrenceReport,
    OrganisationOut,
    OrganisationRecordOut,
    RequestOut,
    ResourceOut,
    SlotOut,
)
from services.booking.models import (
    Booking,
    Closure,
    Organisation,
    Resource,
    SeasonAllocation,
    SeasonApplication,
    SeasonOffer,
)


def booking_out(booked: usecases.Booked) -> dict[str, Any]:
    return booking_model(booked).model_dump(mode="json")


def booking_model(booked: usecases.Booked) -> BookingOut:
    """The model itself, for a route to return as it is: FastAPI takes an instance of its
    response model without validating it again, where a dict of it is parsed field by
    field (a list of bookings paid for that once more per row)."""
    return BookingOut(**_booking_fields(booked.booking, booked.resource.name))


def listed_models(listing: usecases.Listing) -> list[BookingOut]:
    return [BookingOut(**_booking_fields(row, row.resource_name)) for row in listing.rows]


def request_models(listing: usecases.Listing) -> list[RequestOut]:
    """Each request with its organisation's weekly free hours (null when no quota applies:
    not an organisation's, not free, or the resource has no limit)."""
    return [
        RequestOut(
            **_booking_fields(row, row.resource_name),
            free_hours=_free_hours(listing.free_hours.get(row.id)),
        )
        for row in listing.rows
    ]


def _free_hours(free: domain.FreeHours | None) -> FreeHoursOut | None:
    if free is None:
        return None
    return FreeHoursOut(limit=free.limit, used=free.used, with_this=free.with_this, over=free.over)


def _booking_fields(booking: Booking | usecases.ListedRow, resource_name: str) -> dict[str, Any]:
    """A booking's fields, from its ORM object or from a list's row (the same names)."""
    return dict(
        id=booking.id,
        resource_id=booking.resource_id,
        resource_name=resource_name,
        status=booking.status,
        start=booking.start_at,
        end=booking.end_at,
        booker_type=booking.booker_type,
        booker={
            "name": booking.booker_name,
            "email": booking.booker_email,
            "phone": booking.booker_phone,
            "language": booking.booker_language,
        },
        organisation_number=booking.org_number,
        title=booking.title,
        description=booking.description,
        public=booking.public,
        signup_capacity=booking.signup_capacity,
        attendees=booking.attendees,
        catering=booking.catering,
        participants=booking.participants or [],
        series_id=booking.series_id,
        free_of_charge=booking.free_of_charge,
        price_nok=booking.price_nok,
        reason=booking.reason,
        cancelled_by=booking.cancelled_by,
        checked_in_at=booking.checked_in_at,
        created_at=booking.created_at,
    )


def occurrence_out(o: domain.Occurrence) -> OccurrenceReport:
    return OccurrenceReport(
        date=o.date,
        start=o.slot.start,
        end=o.slot.end,
        status=o.status,
        reason=o.reason,
        booking_id=o.booking_id,
    )


def resource_out(r: Resource) -> ResourceOut:
    return ResourceOut(
        id=r.id,
        hub=r.hub,
        name=r.name,
        kind=r.kind,
        description=r.description,
        capacity=r.capacity,
        hours=domain.opening_hours(r.hours).to_spec(),
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
        release_after_minutes=r.release_after_minutes,
        active=r.active,
    )


def availability_out(a: usecases.Availability, slot_minutes: int) -> AvailabilityOut:
    day, resource = a.day, a.resource
    return AvailabilityOut(
        resource_id=resource.id,
        date=day.day,
        open=day.closed_reason is None,
        closed_reason=day.closed_reason,
        opening_hours=[SlotOut(start=s, end=e) for s, e in day.opening_hours],
        busy=[SlotOut(start=b.start, end=b.blocked_until) for b in a.busy],
        free_slots=[SlotOut(start=s, end=e) for s, e in day.free],
        slot_minutes=slot_minutes,
        bookable_from=day.bookable_from,
        max_length_minutes=resource.max_length_minutes,
        approval_required=resource.approval_required,
    )


def ics(feed: usecases.Feed) -> bytes:
    cal = ICalendar()
    cal.add("prodid", "-//Knutepunkt//booking//NO")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{feed.resource_name} – Knutepunkt")
    for entry in feed.entries:
        event = IEvent()
        event.add("uid", entry.uid)
        event.add("dtstamp", entry.stamp)
        event.add("dtstart", entry.start)
        event.add("dtend", entry.end)
        event.add("summary", entry.summary)
        event.add("status", "CONFIRMED" if entry.confirmed else "TENTATIVE")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return bytes(cal.to_ical())


def closure_out(c: Closure, affected_bookings: list[str] | None = None) -> ClosureOut:
    return ClosureOut(
        id=c.id,
        hub=c.hub,
        resource_id=c.resource_id,
        start=c.start_at,
        end=c.end_at,
        reason=c.reason,
        affected_bookings=affected_bookings or [],
    )


def affected_booking_out(a: usecases.AffectedBooking) -> dict[str, Any]:
    return {
        "decision": a.decision,
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "booking": booking_out(a.booked),
    }


def activity_out(a: usecases.ActivityView) -> dict[str, Any]:
    booking = a.booking
    return ActivityOut(
        id=booking.id,
        title=booking.title or "",
        description=booking.description,
        resource_id=booking.resource_id,
        resource_name=a.resource_name,
        start=booking.start_at,
        end=booking.end_at,
        organiser=a.organiser,
        signup=booking.signup_capacity is not None,
        capacity=booking.signup_capacity,
        registered=a.registered,
        waitlisted=a.waitlisted,
        places_left=a.places_left,
    ).model_dump(mode="json")


def organisation_out(o: Organisation) -> dict[str, Any]:
    return OrganisationOut(
        org_number=o.org_number,
        name=o.name,
        description=o.description,
        website=o.website,
        email=o.public_email,
        phone=o.public_phone,
    ).model_dump(mode="json")


def organisation_record_out(record: usecases.OrganisationRecord) -> dict[str, Any]:
    o = record.organisation
    return OrganisationRecordOut(
        org_number=o.org_number,
        name=o.name,
        listed=o.listed,
        description=o.description,
        website=o.website,
        public_email=o.public_email,
        public_phone=o.public_phone,
        no_shows=record.no_shows,
    ).model_dump(mode="json")


# --------------------------------------------------------------------------- seasons


def season_out(view: usecases.SeasonView) -> dict[str, Any]:
    s = view.season
    return {
        "id": s.id,
        "hub": s.hub,
        "resource_id": s.resource_id,
        "resource_name": view.resource.name,
        "name": s.name,
        "starts_on": s.starts_on,
        "ends_on": s.ends_on,
        "applications_open_at": s.applications_open_at,
        "applications_close_at": s.applications_close_at,
        "frame": s.frame,
        "slot_minutes": s.slot_minutes,
        "rules": s.rules,
        "status": view.status,
        "published_at": s.published_at,
    }


def application_out(a: SeasonApplication) -> dict[str, Any]:
    return {
        "id": a.id,
        "season_id": a.season_id,
        "status": a.status,
        "organisation": {"number": a.org_number, "name": a.org_name},
        "target_group": a.target_group,
        "activity": a.activity,
        "participants": a.participants,
        "local": a.local,
        "wishes": a.wishes,
        "minimum": a.minimum,
        "wanted": a.wanted,
    }


def allocation_out(r: SeasonAllocation) -> dict[str, Any]:
    return {
        "id": r.id,
        "application_id": r.application_id,
        "weekday": allocation.WEEKDAYS[r.weekday],
        "start": r.start_time,
        "end": r.end_time,
        "status": r.status,
        "rule": r.rule,
        "reason": r.reason,
        "series_id": r.series_id,
        "skipped": r.skipped,
    }


def offer_out(o: SeasonOffer) -> dict[str, Any]:
    return {
        "id": o.id,
        "application_id": o.application_id,
        "status": o.status,
        "occurrences": o.occurrences,
        "expires_at": o.expires_at,
    }
