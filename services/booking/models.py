"""The booking service's tables (its own database).

No double booking is guaranteed by the database itself, not only by the application's
check: on PostgreSQL an exclusion constraint over [start_at, blocked_until) per resource
(see migrations/versions/0002), on SQLite triggers that abort an overlapping write.
blocked_until is end_at plus the resource's buffer, stored because `end + interval` is
not allowed inside a constraint.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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


class ResourceVersion(Base):
    """How often a resource and its bookings have changed: counted by the database's own
    triggers on every insert, update and delete of either (migration 0008), so no writer
    can miss it. The staff's lists read these few rows to tell whether they changed
    (usecases.Listing) instead of reading the lists."""

    __tablename__ = "resource_versions"

    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


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


class Season(Base):
    """An allocation round of one resource: clubs apply for weekly slots of its frame time
    (allocation.py has the rules). status: drafted, open, closed, published; `running` is
    a published season from its first day (derived, not stored)."""

    __tablename__ = "seasons"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hub: Mapped[str] = mapped_column(String(32), index=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    applications_open_at: Mapped[datetime]
    applications_close_at: Mapped[datetime]
    # An OpeningHours spec ({"mon-fri": "17:00-22:00"}): the weekly frame time.
    frame: Mapped[dict[str, Any]] = mapped_column(JSON)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    # The last computed proposal: its decisions and the rules' order of applications (the
    # waiting list's order during the season).
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What publishing did, kept so that publishing again answers the same.
    published: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SeasonApplication(Base):
    __tablename__ = "season_applications"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    season_id: Mapped[str] = mapped_column(ForeignKey("seasons.id"), index=True)
    org_number: Mapped[str] = mapped_column(ForeignKey("organisations.org_number"), index=True)
    org_name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2), default="nb")
    target_group: Mapped[str] = mapped_column(String(16))
    activity: Mapped[str] = mapped_column(String(200))
    participants: Mapped[int] = mapped_column(Integer)
    local: Mapped[bool] = mapped_column(Boolean)
    # [{"weekday": "tue", "start": "18:00", "end": "19:00"}, ...] in order of preference.
    wishes: Mapped[list[Any]] = mapped_column(JSON)
    minimum: Mapped[int] = mapped_column(Integer)
    wanted: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # received | withdrawn
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SeasonAllocation(Base):
    """A weekly slot granted to an application: proposed by the rules or set by hand,
    then published as one series of bookings (series_id)."""

    __tablename__ = "season_allocations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    season_id: Mapped[str] = mapped_column(ForeignKey("seasons.id"), index=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("season_applications.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[str] = mapped_column(String(5))
    end_time: Mapped[str] = mapped_column(String(5))
    # granted | withdrawn (by the officer) | released (given back by the club)
    status: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    series_id: Mapped[str | None] = mapped_column(ForeignKey("series.id"), index=True)
    # The season's dates it does not book, with why: [{"date", "reason", "status"}].
    skipped: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SeasonOffer(Base):
    """Given-back time offered to the next on the season's waiting list; one offer per
    application and release, so nobody is offered the same time twice."""

    __tablename__ = "season_offers"
    __table_args__ = (UniqueConstraint("release_id", "application_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    season_id: Mapped[str] = mapped_column(ForeignKey("seasons.id"), index=True)
    release_id: Mapped[str] = mapped_column(String(64), index=True)
    allocation_id: Mapped[str] = mapped_column(ForeignKey("season_allocations.id"))
    application_id: Mapped[str] = mapped_column(ForeignKey("season_applications.id"))
    # [{"start", "end"}] of the given-back occurrences.
    occurrences: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # offered | accepted | declined | expired
    # Unanswered by then, it goes to the next on the waiting list.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
