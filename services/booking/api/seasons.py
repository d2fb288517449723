"""Seasons: the officer's allocation round (create, open, close, propose, adjust, publish,
report), organisations' applications (apply, change, withdraw; each with a manage token),
and during the season giving time back and answering waiting-list offers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.booking import allocation, usecases
from services.booking.api.schemas import (
    AllocationOut,
    ApplicationCreated,
    ApplicationIn,
    ApplicationOut,
    GrantIn,
    MoveIn,
    OfferOut,
    OverviewOut,
    ProposalOut,
    PublishedOut,
    ReleasedOut,
    ReleaseIn,
    SeasonIn,
    SeasonOut,
)
from services.booking.api.views import allocation_out, application_out, offer_out, season_out
from services.booking.settings import booking_settings
from shared.auth import Staff, hash_token, new_token, optional_staff, require_staff
from shared.hubs import DEFAULT_HUB
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["seasons"])
ManageToken = Header(
    default=None,
    alias="X-Manage-Token",
    description="the manage token returned when the application was made",
)
_OFFICER = Depends(require_staff(Role.BOOKING))


def _offer_window(request: Request) -> timedelta:
    return timedelta(hours=booking_settings(runtime_of(request)).offer_hours)


def _access(token: str | None, staff: Staff | None) -> usecases.Access:
    return usecases.Access(
        token=token, staff=staff is not None, actor=staff.actor() if staff else None
    )


# --------------------------------------------------------------------------- the officer


@router.post("/seasons", status_code=201, response_model=SeasonOut)
async def create_season(
    request: Request, body: SeasonIn, _staff: Staff = _OFFICER
) -> dict[str, Any]:
    """A booking officer drafts a season of a resource: dates, application window, weekly
    frame time, slot length and the rules (docs/booking.md, "Seasons")."""
    cmd = usecases.CreateSeason(
        resource_id=body.resource_id,
        name=body.name,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        opens_at=body.applications_open_at,
        closes_at=body.applications_close_at,
        frame=body.frame,
        slot_minutes=body.slot_minutes,
        rules=body.rules.model_dump(exclude_none=False),
    )
    view = await runtime_of(request).uow.run(lambda uow: usecases.create_season(uow, cmd))
    return season_out(view)


@router.get("/seasons", response_model=list[SeasonOut])
async def list_seasons(request: Request, hub: str = DEFAULT_HUB) -> list[dict[str, Any]]:
    views = await runtime_of(request).uow.run(
        lambda uow: usecases.list_seasons(uow, hub), read_only=True
    )
    return [season_out(v) for v in views]


@router.get("/seasons/{season_id}", response_model=SeasonOut)
async def get_season(request: Request, season_id: str) -> dict[str, Any]:
    view = await runtime_of(request).uow.run(
        lambda uow: usecases.get_season(uow, season_id), read_only=True
    )
    return season_out(view)


async def _change_status(
    request: Request, season_id: str, action: allocation.Transition
) -> dict[str, Any]:
    cmd = usecases.SeasonAction(season_id, action)
    view = await runtime_of(request).uow.run(lambda uow: usecases.change_season_status(uow, cmd))
    return season_out(view)


@router.post("/seasons/{season_id}/open", response_model=SeasonOut)
async def open_season(request: Request, season_id: str, _staff: Staff = _OFFICER) -> dict[str, Any]:
    """Open the season for applications (drafted → open); they are taken within its window."""
    return await _change_status(request, season_id, "open")


@router.post("/seasons/{season_id}/close", response_model=SeasonOut)
async def close_season(
    request: Request, season_id: str, _staff: Staff = _OFFICER
) -> dict[str, Any]:
    """Close the season for allocation (open → closed): no more applications or changes."""
    return await _change_status(request, season_id, "close")


@router.post("/seasons/{season_id}/proposal", response_model=ProposalOut)
async def propose(request: Request, season_id: str, _staff: Staff = _OFFICER) -> dict[str, Any]:
    """Compute the proposal by the season's rules; it becomes the allocations to adjust
    (replacing earlier ones). Each wish's decision names the rule that explains it."""
    made = await runtime_of(request).uow.run(
        lambda uow: usecases.propose_allocation(uow, season_id)
    )
    return {
        "season": season_out(made.view),
        "decisions": [d.to_json() for d in made.decisions],
        "allocations": [allocation_out(r) for r in made.allocations],
    }


@router.get("/seasons/{season_id}/allocations", response_model=OverviewOut)
async def overview(request: Request, season_id: str, _staff: Staff = _OFFICER) -> dict[str, Any]:
    """The officer's grid: applications, granted slots, contested slots, hours per club."""
    seen = await runtime_of(request).uow.run(
        lambda uow: usecases.season_overview(uow, season_id), read_only=True
    )
    return {
        "season": season_out(seen.view),
        "applications": [application_out(a) for a in seen.applications],
        "allocations": [allocation_out(r) for r in seen.allocations],
        "conflicts": seen.conflicts,
        "hours_per_organisation": seen.hours,
    }


@router.post("/seasons/{season_id}/allocations", status_code=201, response_model=AllocationOut)
async def grant(
    request: Request, season_id: str, body: GrantIn, _staff: Staff = _OFFICER
) -> dict[str, Any]:
    """Grant a slot by hand; 409 names the allocation holding it."""
    cmd = usecases.GrantSlot(
        season_id, body.application_id, allocation.WEEKDAYS.index(body.weekday), body.start
    )
    row = await runtime_of(request).uow.run(lambda uow: usecases.grant_slot(uow, cmd))
    return allocation_out(row)


@router.patch("/season-allocations/{allocation_id}", response_model=AllocationOut)
async def move(
    request: Request, allocation_id: str, body: MoveIn, staff: Staff = _OFFICER
) -> dict[str, Any]:
    """Move a slot (409 when the new one is held). In a published season the rest of the
    old time is given back and the new one booked: the answer is the new allocation."""
    cmd = usecases.MoveAllocation(
        allocation_id,
        allocation.WEEKDAYS.index(body.weekday),
        body.start,
        _access(None, staff),
        _offer_window(request),
    )
    row = await runtime_of(request).uow.run(lambda uow: usecases.move_allocation(uow, cmd))
    return allocation_out(row)


@router.post("/season-allocations/{allocation_id}/withdraw", response_model=AllocationOut)
async def withdraw_allocation(
    request: Request, allocation_id: str, staff: Staff = _OFFICER
) -> dict[str, Any]:
    """Before publishing: the slot is not granted. In a published season: the rest of its
    bookings are cancelled and the club is told (AllocationReleased)."""
    access, window = _access(None, staff), _offer_window(request)
    row = await runtime_of(request).uow.run(
        lambda uow: usecases.withdraw_allocation(uow, allocation_id, access, window)
    )
    return allocation_out(row)


@router.post("/seasons/{season_id}/publish", response_model=PublishedOut)
async def publish(request: Request, season_id: str, _staff: Staff = _OFFICER) -> dict[str, Any]:
    """Book every granted slot as a series over the season (holidays, closures and taken
    times skipped and listed) and tell each club. Publishing again changes nothing."""
    done = await runtime_of(request).uow.run(lambda uow: usecases.publish_season(uow, season_id))
    return {
        "season": season_out(done.view),
        "already_published": done.again,
        "allocations": done.allocations,
    }


@router.get(
    "/seasons/{season_id}/report",
    responses={200: {"content": {"text/csv": {}}}},
)
async def report(
    request: Request,
    season_id: str,
    format: Literal["json", "csv"] = Query(default="json"),
    _staff: Staff = _OFFICER,
) -> Any:
    """Hours booked per organisation and per target group, for the municipality."""
    body = await runtime_of(request).uow.run(
        lambda uow: usecases.season_report(uow, season_id), read_only=True
    )
    if format == "json":
        return body
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "key", "name", "hours"])
    for org in body["organisations"]:
        writer.writerow(["organisation", org["org_number"], org["name"], f"{org['hours']:.2f}"])
    for group in body["target_groups"]:
        writer.writerow(["target_group", group["target_group"], "", f"{group['hours']:.2f}"])
    writer.writerow(["total", "", "", f"{body['total_hours']:.2f}"])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


# --------------------------------------------------------------------------- organisations


@router.post(
    "/seasons/{season_id}/applications", status_code=201, response_model=ApplicationCreated
)
async def apply(request: Request, season_id: str, body: ApplicationIn) -> dict[str, Any]:
    """An organisation applies for weekly slots while the window is open. Keep the manage
    token: it changes or withdraws the application, and gives time back in the season."""
    token = new_token()
    cmd = usecases.Apply(season_id, body.details(), hash_token(token))
    app = await runtime_of(request).uow.run(lambda uow: usecases.apply_for_season(uow, cmd))
    return {**application_out(app), "manage_token": token}


@router.get("/season-applications/{application_id}", response_model=ApplicationOut)
async def read_application(
    request: Request,
    application_id: str,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    access = _access(x_manage_token, staff)
    app = await runtime_of(request).uow.run(
        lambda uow: usecases.read_application(uow, application_id, access), read_only=True
    )
    return application_out(app)


@router.put("/season-applications/{application_id}", response_model=ApplicationOut)
async def change_application(
    request: Request,
    application_id: str,
    body: ApplicationIn,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    cmd = usecases.ChangeApplication(application_id, _access(x_manage_token, staff), body.details())
    app = await runtime_of(request).uow.run(lambda uow: usecases.change_application(uow, cmd))
    return application_out(app)


@router.post("/season-applications/{application_id}/withdraw", response_model=ApplicationOut)
async def withdraw_application(
    request: Request,
    application_id: str,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    cmd = usecases.WithdrawApplication(application_id, _access(x_manage_token, staff))
    app = await runtime_of(request).uow.run(lambda uow: usecases.withdraw_application(uow, cmd))
    return application_out(app)


@router.post("/season-allocations/{allocation_id}/release", response_model=ReleasedOut)
async def release(
    request: Request,
    allocation_id: str,
    body: ReleaseIn,
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    """The club gives back one occurrence (`date`) or the rest of the season; the first on
    the waiting list for that slot is offered it."""
    cmd = usecases.ReleaseAllocation(
        allocation_id,
        _access(x_manage_token, staff),
        body.date,
        body.reason,
        _offer_window(request),
    )
    done = await runtime_of(request).uow.run(lambda uow: usecases.release_allocation(uow, cmd))
    return {
        "allocation": allocation_out(done.allocation),
        "released": [
            {"booking_id": b.id, "start": b.start_at, "end": b.end_at} for b in done.occurrences
        ],
        "offer_id": done.offer.id if done.offer else None,
    }


@router.post("/season-offers/{offer_id}/{answer}", response_model=OfferOut)
async def answer_offer(
    request: Request,
    offer_id: str,
    answer: Literal["accept", "decline"],
    x_manage_token: str | None = ManageToken,
    staff: Staff | None = Depends(optional_staff()),
) -> dict[str, Any]:
    """The club offered given-back time takes it or says no (then the next is offered)."""
    cmd = usecases.AnswerOffer(
        offer_id, _access(x_manage_token, staff), answer == "accept", _offer_window(request)
    )
    offer = await runtime_of(request).uow.run(lambda uow: usecases.answer_offer(uow, cmd))
    return offer_out(offer)
