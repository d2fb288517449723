"""Seasons: the officer's allocation round (create, open, close, propose, adjust, publish,
report), organisations' applications (apply, change, withdraw; each with a manage token),
and during the season giving time back and answering waiting-list offers."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from services.booking import allocation, usecases
from services.booking.api.schemas import ContactIn, OrganisationIn
from services.booking.models import SeasonAllocation, SeasonApplication, SeasonOffer
from services.booking.settings import booking_settings
from shared.auth import Staff, hash_token, new_token, optional_staff, require_staff
from shared.hubs import DEFAULT_HUB
from shared.requests import RequestModel
from shared.roles import Role
from shared.service import runtime_of

# A model with a field named `date` cannot annotate it with the type `date`.
Date = date
router = APIRouter(tags=["seasons"])
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TargetGroup = Literal["children", "youth", "adults", "seniors", "mixed"]
ManageToken = Header(
    default=None,
    alias="X-Manage-Token",
    description="the manage token returned when the application was made",
)
_OFFICER = Depends(require_staff(Role.BOOKING))


class RulesIn(RequestModel):
    group_priority: dict[TargetGroup, int] | None = Field(
        default=None,
        description="lower is served first; default children/youth 1, mixed 2, adults/seniors 3",
    )
    local_first: bool = True
    max_hours_per_org: float | None = Field(
        default=allocation.DEFAULT_MAX_HOURS_PER_ORG,
        gt=0,
        le=168,
        description="weekly hours per organisation; null: no maximum",
    )


class SeasonIn(RequestModel):
    resource_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200, examples=["Høst 2027"])
    starts_on: date
    ends_on: date
    applications_open_at: AwareDatetime
    applications_close_at: AwareDatetime
    frame: dict[str, str] = Field(
        description="weekly frame time, e.g. {'mon-fri': '17:00-22:00', 'sat': '10:00-14:00'}"
    )
    slot_minutes: int = Field(ge=15, le=480)
    rules: RulesIn = Field(default_factory=RulesIn)


class SeasonOut(BaseModel):
    id: str
    hub: str
    resource_id: str
    resource_name: str
    name: str
    starts_on: date
    ends_on: date
    applications_open_at: AwareDatetime
    applications_close_at: AwareDatetime
    frame: dict[str, str]
    slot_minutes: int
    rules: dict[str, Any]
    status: Literal["drafted", "open", "closed", "published", "running"]
    published_at: AwareDatetime | None


class WishIn(RequestModel):
    weekday: Weekday
    start: time = Field(description="Oslo wall time of a slot of the frame, e.g. 18:00")


class ApplicationIn(RequestModel):
    organisation: OrganisationIn
    contact: ContactIn
    target_group: TargetGroup
    activity: str = Field(min_length=1, max_length=200)
    participants: int = Field(ge=1, le=10_000)
    local: bool = Field(default=True, description="a club of the municipality")
    wishes: list[WishIn] = Field(min_length=1, max_length=20, description="first preference first")
    minimum: int = Field(default=1, ge=1, le=20, description="fewest slots the club can use")
    wanted: int | None = Field(
        default=None, ge=1, le=20, description="slots wanted per week (default: every wish)"
    )

    def details(self) -> usecases.ApplicationDetails:
        return usecases.ApplicationDetails(
            organisation=self.organisation.details(),
            contact=self.contact.contact(),
            target_group=self.target_group,
            activity=self.activity,
            participants=self.participants,
            local=self.local,
            wishes=tuple((allocation.WEEKDAYS.index(w.weekday), w.start) for w in self.wishes),
            minimum=self.minimum,
            wanted=self.wanted,
        )


class SlotOut(BaseModel):
    weekday: Weekday
    start: str
    end: str


class ApplicationOut(BaseModel):
    id: str
    season_id: str
    status: Literal["received", "withdrawn"]
    organisation: dict[str, str]
    target_group: TargetGroup
    activity: str
    participants: int
    local: bool
    wishes: list[SlotOut]
    minimum: int
    wanted: int


class ApplicationCreated(ApplicationOut):
    manage_token: str


class AllocationOut(SlotOut):
    id: str
    application_id: str
    status: Literal["granted", "withdrawn", "released"]
    rule: str
    reason: str
    series_id: str | None
    skipped: list[dict[str, Any]]


class DecisionOut(BaseModel):
    application_id: str
    org_number: str
    wish: int
    slot: SlotOut
    outcome: Literal["granted", "declined"]
    rule: str
    reason: str
    reason_nb: str
    holder: str | None
    round: int | None


class ProposalOut(BaseModel):
    season: SeasonOut
    decisions: list[DecisionOut]
    allocations: list[AllocationOut]


class OverviewOut(BaseModel):
    season: SeasonOut
    applications: list[ApplicationOut]
    allocations: list[AllocationOut]
    conflicts: list[dict[str, Any]] = Field(description="slots wished by several applications")
    hours_per_organisation: dict[str, float]


class GrantIn(RequestModel):
    application_id: str = Field(min_length=1, max_length=64)
    weekday: Weekday
    start: time


class MoveIn(RequestModel):
    weekday: Weekday
    start: time


class PublishedOut(BaseModel):
    season: SeasonOut
    already_published: bool
    allocations: list[dict[str, Any]] = Field(
        description="per granted slot: series_id, occurrences booked, skipped dates with why"
    )


class ReleaseIn(RequestModel):
    date: Date | None = Field(
        default=None, description="the one occurrence to give back; none: the rest of the season"
    )
    reason: str | None = Field(default=None, max_length=1000)


class ReleasedOut(BaseModel):
    allocation: AllocationOut
    released: list[dict[str, Any]]
    offer_id: str | None


class OfferOut(BaseModel):
    id: str
    application_id: str
    status: Literal["offered", "accepted", "declined", "expired"]
    occurrences: list[dict[str, Any]]
    expires_at: AwareDatetime


# --------------------------------------------------------------------------- views


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
