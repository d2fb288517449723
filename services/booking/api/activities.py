"""The hub's public side: what is on (activities), sign-ups with a waiting list, and the
directory of the clubs and associations that book here."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking import operations
from services.booking.api.common import ManageToken, require_owner, runtime_of
from services.booking.contacts import normalise_phone
from services.booking.domain import BookingRefused
from services.booking.models import Booking, Organisation, Registration, Resource
from services.booking.schemas import (
    ActivityOut,
    OrganisationOut,
    RegistrationCreated,
    RegistrationIn,
    RegistrationOut,
)
from shared.auth import hash_token, new_token
from shared.db import advisory_xact_lock
from shared.service import ApiError

router = APIRouter(tags=["activities"])


async def _counts(session: AsyncSession, booking_ids: list[str]) -> dict[tuple[str, str], int]:
    if not booking_ids:
        return {}
    rows = await session.execute(
        select(Registration.booking_id, Registration.status, func.count())
        .where(Registration.booking_id.in_(booking_ids))
        .group_by(Registration.booking_id, Registration.status)
    )
    return {(b, s): n for b, s, n in rows}


@router.get("/activities", response_model=list[ActivityOut])
async def list_activities(
    request: Request,
    from_: AwareDatetime | None = Query(default=None, alias="from"),
    to: AwareDatetime | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """The hub's calendar of public activities, from now (or `from`) on."""
    runtime = runtime_of(request)
    start = from_ or runtime.now()
    end = to or start + timedelta(days=365)
    async with runtime.db.read() as session:
        rows = (
            await session.execute(
                select(Booking, Resource.name, Organisation.name)
                .join(Resource, Resource.id == Booking.resource_id)
                .outerjoin(Organisation, Organisation.org_number == Booking.org_number)
                .where(
                    Booking.public.is_(True),
                    Booking.status == "confirmed",
                    Booking.end_at > start,
                    Booking.start_at < end,
                )
                .order_by(Booking.start_at)
                .limit(limit)
            )
        ).all()
        counts = await _counts(session, [b.id for b, _, _ in rows])
    result = []
    for booking, resource_name, org_name in rows:
        registered = counts.get((booking.id, "registered"), 0)
        cap = booking.signup_capacity
        result.append(
            ActivityOut(
                id=booking.id,
                title=booking.title or "",
                description=booking.description,
                resource_id=booking.resource_id,
                resource_name=resource_name,
                start=booking.start_at,
                end=booking.end_at,
                organiser=org_name or ("Knutepunkt" if booking.booker_type == "staff" else None),
                signup=cap is not None,
                capacity=cap,
                registered=registered,
                waitlisted=counts.get((booking.id, "waitlisted"), 0),
                places_left=None if cap is None else max(cap - registered, 0),
            ).model_dump(mode="json")
        )
    return result


async def _waitlist_position(session: AsyncSession, reg: Registration) -> int | None:
    if reg.status != "waitlisted":
        return None
    ahead = await session.scalar(
        select(func.count()).where(
            Registration.booking_id == reg.booking_id,
            Registration.status == "waitlisted",
            Registration.created_at <= reg.created_at,
            Registration.id != reg.id,
        )
    )
    return int(ahead or 0) + 1


@router.post(
    "/activities/{activity_id}/registrations",
    status_code=201,
    response_model=RegistrationCreated,
)
async def register(request: Request, activity_id: str, body: RegistrationIn) -> dict[str, Any]:
    """Sign up without an account. When full, you are put on the waiting list and move up
    when someone cancels. Keep the manage token to cancel."""
    runtime = runtime_of(request)
    token = new_token()
    try:
        phone = normalise_phone(body.phone)
    except BookingRefused as exc:
        raise ApiError(422, str(exc)) from exc
    if not body.email and not phone:
        raise ApiError(422, "an email or a phone number is required to sign up")

    async def work(session: AsyncSession) -> dict[str, Any]:
        # Sign-ups of one activity are serialised, so the capacity is never overshot.
        await advisory_xact_lock(session, f"booking:activity:{activity_id}")
        booking = await session.get(Booking, activity_id)
        if booking is None or not booking.public or booking.status != "confirmed":
            raise ApiError(404, f"no public activity {activity_id!r}")
        if booking.signup_capacity is None:
            raise ApiError(409, "this activity has no sign-up: just come")
        now = runtime.now()
        if booking.start_at <= now:
            raise ApiError(409, "the activity has already started")
        registered = await session.scalar(
            select(func.count()).where(
                Registration.booking_id == activity_id, Registration.status == "registered"
            )
        )
        status = "registered" if int(registered or 0) < booking.signup_capacity else "waitlisted"
        reg = Registration(
            id=str(uuid.uuid4()),
            booking_id=activity_id,
            status=status,
            name=body.name,
            email=body.email,
            phone=phone,
            token_hash=hash_token(token),
            created_at=now,
            updated_at=now,
        )
        session.add(reg)
        await session.flush()
        return {
            "id": reg.id,
            "activity_id": activity_id,
            "status": status,
            "waitlist_position": await _waitlist_position(session, reg),
            "manage_token": token,
        }

    return await operations.in_transaction(runtime, work)


@router.post(
    "/activities/{activity_id}/registrations/{registration_id}/cancel",
    response_model=RegistrationOut,
)
async def cancel_registration(
    request: Request,
    activity_id: str,
    registration_id: str,
    x_manage_token: str | None = ManageToken,
) -> dict[str, Any]:
    """Cancel a sign-up with its manage token; the first on the waiting list moves up."""
    runtime = runtime_of(request)

    async def work(session: AsyncSession) -> dict[str, Any]:
        await advisory_xact_lock(session, f"booking:activity:{activity_id}")
        reg = await session.get(Registration, registration_id)
        if reg is None or reg.booking_id != activity_id:
            raise ApiError(404, f"no registration {registration_id!r} for this activity")
        require_owner(x_manage_token, reg.token_hash)
        if reg.status == "cancelled":
            raise ApiError(409, "the registration is already cancelled")
        was_registered = reg.status == "registered"
        now = runtime.now()
        reg.status = "cancelled"
        reg.updated_at = now
        if was_registered:
            first = await session.scalar(
                select(Registration)
                .where(Registration.booking_id == activity_id, Registration.status == "waitlisted")
                .order_by(Registration.created_at, Registration.id)
                .limit(1)
            )
            if first is not None:
                first.status = "registered"
                first.updated_at = now
        return {
            "id": reg.id,
            "activity_id": activity_id,
            "status": "cancelled",
            "waitlist_position": None,
        }

    return await operations.in_transaction(runtime, work)


@router.get("/organisations", response_model=list[OrganisationOut], tags=["organisations"])
async def list_organisations(request: Request) -> list[dict[str, Any]]:
    """The hub's directory of local clubs and associations: only those that chose to be
    listed, with what they chose to show."""
    async with runtime_of(request).db.read() as session:
        rows = await session.scalars(
            select(Organisation).where(Organisation.listed.is_(True)).order_by(Organisation.name)
        )
        return [
            OrganisationOut(
                org_number=o.org_number,
                name=o.name,
                description=o.description,
                website=o.website,
                email=o.public_email,
                phone=o.public_phone,
            ).model_dump(mode="json")
            for o in rows
        ]
