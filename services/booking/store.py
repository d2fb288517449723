"""Reads and small writes the booking operations share: locks, overlaps, quotas, closures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking import domain
from services.booking.models import Booking, BookingHistory, Closure, Resource
from shared.calendar import HUB_HOURS, Calendar, OpeningHours
from shared.calendar import Closure as CalendarClosure
from shared.db import advisory_xact_lock


def policy_of(resource: Resource) -> domain.Policy:
    return domain.Policy(
        approval_required=resource.approval_required,
        free_for=frozenset(resource.free_for),
        min_notice=timedelta(minutes=resource.min_notice_minutes),
        min_length=timedelta(minutes=resource.min_length_minutes),
        max_length=timedelta(minutes=resource.max_length_minutes),
        max_days_ahead=resource.max_days_ahead,
        buffer=timedelta(minutes=resource.buffer_minutes),
        cancel_deadline=timedelta(hours=resource.cancel_deadline_hours),
        weekly_free_hours=resource.weekly_free_hours,
        price_per_hour_nok=resource.price_per_hour_nok,
    )


def hours_of(resource: Resource) -> OpeningHours:
    return OpeningHours.parse(resource.hours) if resource.hours else HUB_HOURS


async def lock_resource(session: AsyncSession, resource_id: str) -> None:
    """Serialise writers of one resource (PostgreSQL): without it, bursts on one slot
    deadlock on the exclusion constraint's index. SQLite's BEGIN IMMEDIATE already does."""
    await advisory_xact_lock(session, f"booking:resource:{resource_id}")


async def calendar_for(
    session: AsyncSession, resource: Resource, start: datetime, end: datetime
) -> Calendar:
    """The resource's calendar with the hub's and its own closures around [start, end)."""
    margin = timedelta(days=2)
    rows = await session.scalars(
        select(Closure).where(
            Closure.hub == resource.hub,
            or_(Closure.resource_id.is_(None), Closure.resource_id == resource.id),
            Closure.start_at < end + margin,
            Closure.end_at > start - margin,
        )
    )
    closures = [CalendarClosure(c.start_at, c.end_at, c.reason) for c in rows]
    return Calendar(hours_of(resource), closures)


async def active_overlapping(
    session: AsyncSession, resource_id: str, start: datetime, block_end: datetime
) -> list[domain.Busy]:
    """Active bookings whose blocked range meets [start, block_end).

    The lower bound on start_at (MAX_SPAN) keeps this an index range however many
    bookings the resource has had."""
    rows = await session.execute(
        select(Booking.id, Booking.start_at, Booking.end_at, Booking.blocked_until).where(
            Booking.resource_id == resource_id,
            Booking.status.in_(domain.ACTIVE),
            Booking.start_at < block_end,
            Booking.start_at > start - domain.MAX_SPAN,
            Booking.blocked_until > start,
        )
    )
    return [domain.Busy(r.id, r.start_at, r.end_at, r.blocked_until) for r in rows]


async def free_hours_used(
    session: AsyncSession,
    org_number: str,
    resource_id: str,
    weeks: Sequence[tuple[datetime, datetime]],
) -> domain.QuotaLedger:
    """Free hours the organisation already holds on the resource in the given weeks."""
    ledger = domain.QuotaLedger(limit_hours=None)
    for week_start, week_end in sorted(set(weeks)):
        rows = await session.execute(
            select(Booking.start_at, Booking.end_at).where(
                Booking.org_number == org_number,
                Booking.resource_id == resource_id,
                Booking.status.in_(domain.ACTIVE),
                Booking.free_of_charge.is_(True),
                Booking.start_at >= week_start,
                Booking.start_at < week_end,
            )
        )
        for r in rows:
            ledger.add(r.start_at, r.end_at)
    return ledger


def record(
    session: AsyncSession, booking: Booking, actor: str, at: datetime, note: str | None = None
) -> None:
    session.add(
        BookingHistory(booking_id=booking.id, at=at, status=booking.status, actor=actor, note=note)
    )


async def count_bookings(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Booking)) or 0)
