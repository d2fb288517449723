"""The booking use cases, each run inside the caller's one transaction: rules from domain.py,
rows from models.py, events into the outbox. They raise ApiError with the HTTP answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking import domain, facts, store
from services.booking.contacts import normalise_phone
from services.booking.models import Booking, Organisation, Resource, Series, messaging
from services.booking.schemas import BookingIn, ContactIn, OrganisationIn, SeriesIn
from shared.calendar import Calendar, local_date, require_aware
from shared.messaging.outbox import emit
from shared.service import ApiError, Runtime

T = TypeVar("T")
RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure


async def in_transaction(runtime: Runtime, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One transaction for the request; retried when PostgreSQL picked it as a deadlock
    victim (the advisory lock makes that rare, not impossible)."""
    attempts = runtime.state["config"].transaction_attempts
    for attempt in range(attempts):
        try:
            async with runtime.db.transaction() as session:
                return await work(session)
        except DBAPIError as exc:
            if _sqlstate(exc) in RETRYABLE and attempt + 1 < attempts:
                continue
            if _sqlstate(exc) in RETRYABLE:
                raise ApiError(503, "the database is busy, try again") from exc
            raise
    raise AssertionError("unreachable")


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_overlap_violation(exc: IntegrityError) -> bool:
    return _sqlstate(exc) == "23P01" or "booking_no_overlap" in str(exc.orig)


def conflict_error(other: domain.Busy) -> ApiError:
    return ApiError(
        409,
        f"the resource is already booked from {other.start.isoformat()} to "
        f"{other.end.isoformat()} (blocked until {other.blocked_until.isoformat()})",
        conflict={
            "booking_id": other.booking_id,
            "start": other.start.isoformat(),
            "end": other.end.isoformat(),
            "blocked_until": other.blocked_until.isoformat(),
        },
    )


@dataclass(frozen=True)
class Booker:
    type: str
    name: str
    email: str | None
    phone: str | None
    language: str
    org_number: str | None
    org_name: str | None


def contact_dict(contact: ContactIn) -> dict[str, Any]:
    return {
        "name": contact.name,
        "email": contact.email,
        "phone": normalise_phone(contact.phone),
        "language": contact.language,
    }


def booker_of(req: BookingIn | SeriesIn, *, is_staff: bool) -> Booker:
    try:
        contact = contact_dict(req.booker)
        if not contact["email"] and not contact["phone"]:
            raise domain.BookingRefused("booker needs an email or a phone number")
        org_number = None
        if req.booker_type == "organisation":
            if req.organisation is None:
                raise domain.BookingRefused("organisation is required for booker_type organisation")
            org_number = domain.normalise_org_number(req.organisation.number)
        elif req.organisation is not None:
            raise domain.BookingRefused("organisation is only for booker_type organisation")
    except domain.BookingRefused as exc:
        raise ApiError(422, str(exc)) from exc
    if req.booker_type == "staff" and not is_staff:
        raise ApiError(403, "booker_type staff needs a staff bearer token")
    return Booker(
        type=req.booker_type,
        org_number=org_number,
        org_name=req.organisation.name if req.organisation else None,
        **contact,
    )


async def upsert_organisation(
    session: AsyncSession, number: str, org: OrganisationIn, now: datetime
) -> None:
    """An insert-or-update in one statement: two first bookings of one club may race."""
    values = {
        "name": org.name,
        "listed": org.listed,
        "description": org.description,
        "website": org.website,
        "public_email": org.public_email,
        "public_phone": org.public_phone,
        "updated_at": now,
    }
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Organisation).values(org_number=number, created_at=now, **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[Organisation.org_number], set_=values)
    )


async def load_resource(session: AsyncSession, resource_id: str) -> Resource:
    resource = await session.get(Resource, resource_id)
    if resource is None or not resource.active:
        raise ApiError(404, f"no bookable resource {resource_id!r}")
    return resource


def _participants(req: BookingIn | SeriesIn) -> list[dict[str, Any]]:
    try:
        return [contact_dict(p) for p in req.participants]
    except domain.BookingRefused as exc:
        raise ApiError(422, f"participants: {exc}") from exc


def _new_row(
    req: BookingIn | SeriesIn,
    resource: Resource,
    policy: domain.Policy,
    booker: Booker,
    slot: domain.Slot,
    *,
    status: str,
    token_hash: str,
    now: datetime,
    series_id: str | None = None,
    catering: dict[str, Any] | None = None,
) -> Booking:
    if req.signup_capacity is not None and not req.public:
        raise ApiError(422, "signup_capacity is only for public activities (public: true)")
    if req.public and not req.title:
        raise ApiError(422, "a public activity needs a title")
    return Booking(
        id=str(uuid.uuid4()),
        hub=resource.hub,
        resource_id=resource.id,
        series_id=series_id,
        status=status,
        start_at=slot.start,
        end_at=slot.end,
        blocked_until=domain.blocked_until(slot.end, policy),
        booker_type=booker.type,
        booker_name=booker.name,
        booker_email=booker.email,
        booker_phone=booker.phone,
        booker_language=booker.language,
        org_number=booker.org_number,
        title=req.title,
        description=req.description,
        public=req.public,
        signup_capacity=req.signup_capacity,
        attendees=req.attendees,
        catering=catering,
        participants=_participants(req),
        free_of_charge=domain.is_free_of_charge(policy, booker.type),
        price_nok=domain.price_nok(policy, booker.type, slot.start, slot.end),
        manage_token_hash=token_hash,
        created_at=now,
        updated_at=now,
    )


async def _insert(session: AsyncSession, booking: Booking) -> None:
    session.add(booking)
    try:
        await session.flush()
    except IntegrityError as exc:
        # The database's own guard (exclusion constraint / trigger) caught an overlap the
        # check above could not see: a 409 all the same.
        if is_overlap_violation(exc):
            raise ApiError(409, "the resource is already booked at that time") from exc
        raise


async def _announce(
    session: AsyncSession, booking: Booking, resource: Resource, org: str | None
) -> None:
    if booking.status == "pending":
        await emit(session, messaging, facts.requested(booking, resource, org))
    else:
        await emit(session, messaging, facts.confirmed(booking, resource, org, auto_approved=True))


def _check_catering(req: BookingIn) -> dict[str, Any] | None:
    if req.catering is None:
        return None
    serve_at = req.catering.serve_at
    if not req.start - timedelta(hours=1) <= serve_at <= req.end:
        raise ApiError(422, "catering serve_at must lie within the booking (or an hour before)")
    return req.catering.model_dump(mode="json")


async def _quota_ledger(
    session: AsyncSession,
    resource: Resource,
    policy: domain.Policy,
    booker: Booker,
    slots: list[domain.Slot],
) -> domain.QuotaLedger | None:
    if (
        policy.weekly_free_hours is None
        or booker.org_number is None
        or not domain.is_free_of_charge(policy, booker.type)
    ):
        return None
    ledger = await store.free_hours_used(
        session, booker.org_number, resource.id, [domain.week_bounds(s.start) for s in slots]
    )
    ledger.limit_hours = policy.weekly_free_hours
    return ledger


async def create_booking(
    session: AsyncSession,
    req: BookingIn,
    *,
    is_staff: bool,
    token_hash: str,
    now: datetime,
) -> tuple[Booking, Resource]:
    booker = booker_of(req, is_staff=is_staff)
    catering = _check_catering(req)
    slot = domain.Slot(require_aware(req.start), require_aware(req.end))  # stored as UTC
    await store.lock_resource(session, req.resource_id)
    resource = await load_resource(session, req.resource_id)
    policy = store.policy_of(resource)
    calendar = await store.calendar_for(session, resource, slot.start, slot.end)
    if (refused := _refusal(policy, calendar, resource, slot, req, booker, now)) is not None:
        raise ApiError(422, refused)
    ledger = await _quota_ledger(session, resource, policy, booker, [slot])
    if ledger is not None and (refusal := ledger.refusal(slot.start, slot.end)):
        raise ApiError(422, refusal)
    block_end = domain.blocked_until(slot.end, policy)
    other = domain.first_conflict(
        slot.start,
        block_end,
        await store.active_overlapping(session, resource.id, slot.start, block_end),
    )
    if other is not None:
        raise conflict_error(other)
    if booker.org_number and req.organisation:
        await upsert_organisation(session, booker.org_number, req.organisation, now)
    status = "pending" if policy.approval_required and booker.type != "staff" else "confirmed"
    booking = _new_row(
        req,
        resource,
        policy,
        booker,
        slot,
        status=status,
        token_hash=token_hash,
        now=now,
        catering=catering,
    )
    await _insert(session, booking)
    store.record(session, booking, "owner", now)
    await _announce(session, booking, resource, booker.org_name)
    return booking, resource


@dataclass
class SeriesOutcome:
    series_id: str
    resource: Resource
    booked: list[tuple[domain.Slot, Booking]]
    reports: list[dict[str, Any]]


def _series_dates(req: SeriesIn) -> list[Any]:
    if req.dates:
        return list(req.dates)
    if req.first_date is None:
        raise domain.BookingRefused("a series needs dates, or first_date with count or until")
    return domain.weekly_dates(
        req.first_date, interval_weeks=req.interval_weeks, count=req.count, until=req.until
    )


def _refusal(
    policy: domain.Policy,
    calendar: Calendar,
    resource: Resource,
    slot: domain.Slot,
    req: BookingIn | SeriesIn,
    booker: Booker,
    now: datetime,
) -> str | None:
    """Why the resource's rules refuse this slot, or None."""
    try:
        domain.check_request(
            policy=policy,
            calendar=calendar,
            capacity=resource.capacity,
            start=slot.start,
            end=slot.end,
            attendees=req.attendees,
            now=now,
            staff_booking=booker.type == "staff",
        )
    except domain.BookingRefused as exc:
        return str(exc)
    return None


def _report(slot: domain.Slot, status: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "date": local_date(slot.start),
        "start": slot.start,
        "end": slot.end,
        "status": status,
        "reason": reason,
        "booking_id": None,
    }


def _judge(
    slot: domain.Slot,
    *,
    req: SeriesIn,
    resource: Resource,
    policy: domain.Policy,
    calendar: Calendar,
    booker: Booker,
    busy: list[domain.Busy],
    ledger: domain.QuotaLedger | None,
    now: datetime,
) -> dict[str, Any]:
    if slot.end <= slot.start:
        return _report(slot, "closed", "the time does not exist that day (DST change)")
    closed = calendar.closed_reason(slot.start, slot.end)
    if closed is not None:
        return _report(slot, "closed", closed)
    if (refused := _refusal(policy, calendar, resource, slot, req, booker, now)) is not None:
        return _report(slot, "refused", refused)
    block_end = domain.blocked_until(slot.end, policy)
    other = domain.first_conflict(slot.start, block_end, busy)
    if other is not None:
        return _report(
            slot,
            "conflict",
            f"already booked {other.start.isoformat()} to {other.end.isoformat()}",
        )
    if ledger is not None:
        refusal = ledger.refusal(slot.start, slot.end)
        if refusal:
            return _report(slot, "quota", refusal)
        ledger.add(slot.start, slot.end)
    return _report(slot, "ok")


async def create_series(
    session: AsyncSession,
    req: SeriesIn,
    *,
    is_staff: bool,
    token_hash: str,
    now: datetime,
) -> SeriesOutcome:
    booker = booker_of(req, is_staff=is_staff)
    try:
        slots = domain.occurrences(_series_dates(req), req.start_time, req.end_time)
    except domain.BookingRefused as exc:
        raise ApiError(422, str(exc)) from exc
    await store.lock_resource(session, req.resource_id)
    resource = await load_resource(session, req.resource_id)
    policy = store.policy_of(resource)
    calendar = await store.calendar_for(session, resource, slots[0].start, slots[-1].end)
    ledger = await _quota_ledger(session, resource, policy, booker, slots)
    reports = []
    for slot in slots:
        block_end = domain.blocked_until(slot.end, policy)
        busy = await store.active_overlapping(session, resource.id, slot.start, block_end)
        reports.append(
            _judge(
                slot,
                req=req,
                resource=resource,
                policy=policy,
                calendar=calendar,
                booker=booker,
                busy=busy,
                ledger=ledger,
                now=now,
            )
        )
    problems = [r for r in reports if r["status"] != "ok"]
    ok = [s for s, r in zip(slots, reports, strict=True) if r["status"] == "ok"]
    if (problems and req.mode == "all_or_nothing") or not ok:
        status = 409 if any(r["status"] == "conflict" for r in problems) else 422
        raise ApiError(
            status,
            f"{len(problems)} of {len(reports)} occurrences cannot be booked; nothing was booked"
            + ("" if req.mode == "all_or_nothing" else " (no occurrence is free)"),
            occurrences=[_jsonable(r) for r in reports],
        )
    if booker.org_number and req.organisation:
        await upsert_organisation(session, booker.org_number, req.organisation, now)
    series = Series(
        id=str(uuid.uuid4()),
        resource_id=resource.id,
        rule=req.model_dump(
            mode="json",
            include={
                "start_time",
                "end_time",
                "first_date",
                "interval_weeks",
                "count",
                "until",
                "dates",
                "mode",
            },
        ),
        created_at=now,
    )
    session.add(series)
    await session.flush()
    status = "pending" if policy.approval_required and booker.type != "staff" else "confirmed"
    booked = []
    for slot, report in zip(slots, reports, strict=True):
        if report["status"] != "ok":
            continue
        booking = _new_row(
            req,
            resource,
            policy,
            booker,
            slot,
            status=status,
            token_hash=token_hash,
            now=now,
            series_id=series.id,
        )
        await _insert(session, booking)
        store.record(session, booking, "owner", now)
        await _announce(session, booking, resource, booker.org_name)
        report["status"] = "booked"
        report["booking_id"] = booking.id
        booked.append((slot, booking))
    return SeriesOutcome(series.id, resource, booked, reports)


def _jsonable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in report.items()}


# --------------------------------------------------------------------------- decisions


async def load_for_update(session: AsyncSession, booking_id: str) -> Booking:
    booking = await session.scalar(
        select(Booking).where(Booking.id == booking_id).with_for_update()
    )
    if booking is None:
        raise ApiError(404, f"no booking {booking_id!r}")
    return booking


async def organisation_name(session: AsyncSession, booking: Booking) -> str | None:
    if booking.org_number is None:
        return None
    org = await session.get(Organisation, booking.org_number)
    return org.name if org else None


async def cancel(
    session: AsyncSession, booking: Booking, *, by: str, reason: str | None, now: datetime
) -> Resource:
    if booking.status not in domain.ACTIVE:
        raise ApiError(409, f"the booking is already {booking.status}")
    resource = await session.get(Resource, booking.resource_id)
    assert resource is not None
    if by == "owner":
        refusal = domain.owner_may_cancel(store.policy_of(resource), booking.start_at, now)
        if refusal:
            raise ApiError(422, refusal)
    booking.status = "cancelled"
    booking.cancelled_by = by
    booking.reason = reason
    booking.updated_at = now
    store.record(session, booking, by, now, reason)
    await emit(
        session,
        messaging,
        facts.cancelled(booking, resource, await organisation_name(session, booking)),
    )
    return resource


async def decide(
    session: AsyncSession, booking: Booking, *, approve: bool, reason: str | None, now: datetime
) -> Resource:
    if booking.status != "pending":
        raise ApiError(409, f"only a pending booking can be decided; this one is {booking.status}")
    resource = await session.get(Resource, booking.resource_id)
    assert resource is not None
    org = await organisation_name(session, booking)
    booking.updated_at = now
    if approve:
        booking.status = "confirmed"
        store.record(session, booking, "staff", now, reason)
        await emit(session, messaging, facts.confirmed(booking, resource, org, auto_approved=False))
    else:
        booking.status = "rejected"
        booking.reason = reason
        store.record(session, booking, "staff", now, reason)
        await emit(session, messaging, facts.rejected(booking, resource, org))
    return resource
