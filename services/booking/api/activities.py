"""The hub's public side: what is on (activities), sign-ups with a waiting list, and the
directory of the clubs and associations that book here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from services.booking import usecases
from services.booking.api.bookings import ManageToken
from services.booking.api.schemas import (
    ActivityOut,
    OrganisationOut,
    OrganisationRecordOut,
    RegistrationCreated,
    RegistrationIn,
    RegistrationOut,
    RegistrationView,
)
from services.booking.api.views import activity_out, organisation_out, organisation_record_out
from services.booking.settings import booking_settings
from shared.auth import Staff, hash_token, new_token, require_staff
from shared.manage_links import ManageLinks
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["activities"])


@router.get("/activities", response_model=list[ActivityOut])
async def list_activities(
    request: Request,
    from_: AwareDatetime | None = Query(default=None, alias="from"),
    to: AwareDatetime | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """The hub's calendar of public activities, from now (or `from`) on."""
    query = usecases.ActivityQuery(from_, to, limit)
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.list_activities(uow, query), read_only=True
    )
    return [activity_out(a) for a in found]


@router.post(
    "/activities/{activity_id}/registrations",
    status_code=201,
    response_model=RegistrationCreated,
)
async def register(request: Request, activity_id: str, body: RegistrationIn) -> dict[str, Any]:
    """Sign up without an account. When full, you are put on the waiting list and move up
    when someone cancels. Keep the manage token to cancel."""
    token = new_token()
    cmd = usecases.SignUp(
        activity_id, body.name, body.email, body.phone, hash_token(token), body.language
    )
    signed = await runtime_of(request).uow.run(lambda uow: usecases.sign_up(uow, cmd))
    return {
        "id": signed.registration.id,
        "activity_id": activity_id,
        "status": signed.registration.status,
        "waitlist_position": signed.waitlist_position,
        "manage_token": token,
    }


def _link(request: Request, token: str | None, registration_id: str) -> bool:
    """Whether the token is the sign-up's manage link (from an email or SMS), taken as the
    participant's own manage token."""
    secret = runtime_of(request).settings.manage_link_secret
    return bool(
        token and secret and ManageLinks(secret).valid(token, "registration", registration_id)
    )


_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no X-Manage-Token"},
    403: {"description": "not this sign-up's token"},
    404: {"description": "no such sign-up (for this activity)"},
}


async def _registration(
    request: Request, activity_id: str | None, registration_id: str, token: str | None
) -> dict[str, Any]:
    link = _link(request, token, registration_id)
    query = usecases.RegistrationQuery(activity_id, registration_id, token, link)
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.registration_for_owner(uow, query), read_only=True
    )
    return RegistrationView(
        id=found.registration.id,
        activity_id=found.registration.booking_id,
        status=found.registration.status,
        waitlist_position=found.waitlist_position,
        name=found.registration.name,
        title=found.title,
        resource_name=found.resource_name,
        start=found.start,
        end=found.end,
    ).model_dump(mode="json")


@router.get(
    "/activities/{activity_id}/registrations/{registration_id}",
    response_model=RegistrationView,
    responses=_READ_ERRORS,
)
async def get_registration(
    request: Request,
    activity_id: str,
    registration_id: str,
    x_manage_token: str | None = ManageToken,
) -> dict[str, Any]:
    """One sign-up, with its manage token (or its manage link's): the activity, the status,
    and the place on the waiting list."""
    return await _registration(request, activity_id, registration_id, x_manage_token)


@router.get(
    "/registrations/{registration_id}", response_model=RegistrationView, responses=_READ_ERRORS
)
async def get_registration_by_id(
    request: Request, registration_id: str, x_manage_token: str | None = ManageToken
) -> dict[str, Any]:
    """The same, by the sign-up's id alone, as its manage link names it
    (`/mine/pamelding/<id>/<token>`)."""
    return await _registration(request, None, registration_id, x_manage_token)


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
    """Cancel a sign-up with its manage token (or its manage link's) until the activity
    starts; the first on the waiting list moves up."""
    runtime = runtime_of(request)
    window = timedelta(hours=booking_settings(runtime).promotion_sms_hours)
    link = _link(request, x_manage_token, registration_id)
    cmd = usecases.CancelSignUp(activity_id, registration_id, x_manage_token, window, link)
    registration = await runtime.uow.run(lambda uow: usecases.cancel_sign_up(uow, cmd))
    return {
        "id": registration.id,
        "activity_id": activity_id,
        "status": registration.status,
        "waitlist_position": None,
    }


@router.get("/organisations", response_model=list[OrganisationOut], tags=["organisations"])
async def list_organisations(request: Request) -> list[dict[str, Any]]:
    """The hub's directory of local clubs and associations: only those that chose to be
    listed, with what they chose to show."""
    found = await runtime_of(request).uow.run(usecases.list_organisations, read_only=True)
    return [organisation_out(o) for o in found]


@router.get(
    "/organisations/{org_number}", response_model=OrganisationRecordOut, tags=["organisations"]
)
async def get_organisation(
    request: Request, org_number: str, _staff: Staff = Depends(require_staff(Role.BOOKING))
) -> dict[str, Any]:
    """Staff: one organisation, listed or not, with its no-shows (bookings released
    because nobody checked in)."""
    record = await runtime_of(request).uow.run(
        lambda uow: usecases.organisation_record(uow, org_number), read_only=True
    )
    return organisation_record_out(record)
