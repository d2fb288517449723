"""The booking service's tables (its own database).

No double booking is guaranteed by the database itself, not only by the application's
check: on PostgreSQL an exclusion constraint over [start_at, blocked_until) per resource
(see migrations/versions/0002), on SQLite triggers that abort an overlapping write.
blocked_until is end_at plus the resource's buffer, stored because `end + interval` is
not allowed inside a constraint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP
from shared.messaging.tables import add_messaging_tables


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


metadata = Base.metadata
messaging = add_messaging_tables(metadata)


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hub: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer)
    # An OpeningHours spec ({"mon-fri": "16:00-22:00"}); None means the hub's hours.
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    free_for: Mapped[list[Any]] = mapped_column(JSON)
    min_notice_minutes: Mapped[int] = mapped_column(Integer)
    min_length_minutes: Mapped[int] = mapped_column(Integer)
    max_length_minutes: Mapped[int] = mapped_column(Integer)
    max_days_ahead: Mapped[int] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer)
    cancel_deadline_hours: Mapped[int] = mapped_column(Integer)
    weekly_free_hours: Mapped[float | None] = mapped_column(Float)
    price_per_hour_nok: Mapped[int] = mapped_column(Integer, default=0)
    # A confirmed booking not checked in this long after its start is released; None: never.
    release_after_minutes: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Closure(Base):
    """A staff closure of the whole hub (resource_id None) or of one resource."""

    __tablename__ = "closures"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hub: Mapped[str] = mapped_column(String(32), index=True)
    resource_id: Mapped[str | None] = mapped_column(ForeignKey("resources.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class ClosureBooking(Base):
    """An active booking a closure fell on, and what staff chose for it: `open` (kept
    until they choose), `kept` or `cancelled`."""

    __tablename__ = "closure_bookings"

    closure_id: Mapped[str] = mapped_column(ForeignKey("closures.id"), primary_key=True)
    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id"), primary_key=True, index=True)
    decision: Mapped[str] = mapped_column(String(16), default="open")
    decided_at: Mapped[datetime | None]


class Organisation(Base):
    """A club or association that booked; listed in GET /organisations if it chose to be."""

    __tablename__ = "organisations"

    org_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    listed: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(500))
    public_email: Mapped[str | None] = mapped_column(String(320))
    public_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Series(Base):
    __tablename__ = "series"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id"))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_resource_start", "resource_id", "start_at"),
        Index("ix_bookings_status_start", "status", "start_at"),
        Index("ix_bookings_org_resource_start", "org_number", "resource_id", "start_at"),
        # The day views over every resource (staff's I dag, public activities, closures):
        # a range on start_at, bounded below by the longest booking (store.py).
        Index("ix_bookings_start", "start_at"),
        # The no-show scan: a range on release_due_at, bounded below like start_at.
        Index("ix_bookings_release_due", "release_due_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hub: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id"))
    series_id: Mapped[str | None] = mapped_column(ForeignKey("series.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    blocked_until: Mapped[datetime]
    booker_type: Mapped[str] = mapped_column(String(16))
    booker_name: Mapped[str] = mapped_column(String(200))
    booker_email: Mapped[str | None] = mapped_column(String(320))
    booker_phone: Mapped[str | None] = mapped_column(String(32))
    booker_language: Mapped[str] = mapped_column(String(2), default="nb")
    org_number: Mapped[str | None] = mapped_column(ForeignKey("organisations.org_number"))
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    signup_capacity: Mapped[int | None] = mapped_column(Integer)
    attendees: Mapped[int | None] = mapped_column(Integer)
    catering: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    participants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    free_of_charge: Mapped[bool] = mapped_column(Boolean)
    price_nok: Mapped[int] = mapped_column(Integer, default=0)
    manage_token_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(1000))
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    reminder_sent_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    # When it is released unless checked in: the resource's rule when it was booked (new
    # rules apply to new bookings), None when the resource releases nothing.
    release_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BookingHistory(Base):
    """Every status change, kept: nothing about a booking is ever deleted."""

    __tablename__ = "booking_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id"), index=True)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(1000))


class Registration(Base):
    """A sign-up for a public activity (a booking with signup_capacity)."""

    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # registered | waitlisted | cancelled
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2), default="nb", server_default="nb")
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
