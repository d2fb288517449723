"""Request and response bodies of the booking API (they are the OpenAPI schema), and the
requests converted to the use cases' commands at the door."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.booking import allocation, usecases
from services.booking.domain import Contact
from shared.events import Actor, CateringRequest
from shared.requests import RequestModel

BookerTypeIn = Literal["organisation", "person", "staff"]
Status = Literal["pending", "confirmed", "rejected", "cancelled", "released"]
FREE_BY_DEFAULT: tuple[BookerTypeIn, ...] = ("organisation", "staff")


class _In(RequestModel):
    pass


class ContactIn(_In):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, description="any format; stored E.164")
    language: Literal["nb", "en"] = "nb"

    def contact(self) -> Contact:
        return Contact(self.name, self.email, self.phone, self.language)


class ContactOut(BaseModel):
    """A contact as stored: what was given, checked then (an erased one is blanked)."""

    name: str
    email: str | None = None
    phone: str | None = Field(default=None, description="E.164")
    language: Literal["nb", "en"] = "nb"


class OrganisationIn(_In):
    number: str = Field(min_length=9, max_length=15, description="organisasjonsnummer (MOD11)")
    name: str = Field(min_length=1, max_length=200)
    listed: bool = Field(default=False, description="show in GET /organisations")
    description: str | None = Field(default=None, max_length=2000)
    website: str | None = Field(default=None, max_length=500)
    public_email: str | None = Field(default=None, max_length=320)
    public_phone: str | None = Field(default=None, max_length=32)

    def details(self) -> usecases.OrganisationDetails:
        return usecases.OrganisationDetails(**self.model_dump())


class _BookingDetails(_In):
    resource_id: str = Field(min_length=1, max_length=64)
    booker_type: BookerTypeIn
    booker: ContactIn
    organisation: OrganisationIn | None = Field(
        default=None, description="required when booker_type is organisation"
    )
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    public: bool = Field(default=False, description="show in GET /activities")
    signup_capacity: int | None = Field(
        default=None, ge=1, le=10_000, description="public activities: sign-up places"
    )
    attendees: int | None = Field(default=None, ge=1, le=10_000)
    participants: list[ContactIn] = Field(
        default_factory=list, max_length=100, description="people who get the reminders"
    )

    def details(self, *, actor: Actor | None, token_hash: str) -> usecases.BookingDetails:
        return usecases.BookingDetails(
            resource_id=self.resource_id,
            booker_type=self.booker_type,
            booker=self.booker.contact(),
            token_hash=token_hash,
            by_staff=actor is not None,
            actor=actor,
            organisation=self.organisation.details() if self.organisation else None,
            title=self.title,
            description=self.description,
            public=self.public,
            signup_capacity=self.signup_capacity,
            attendees=self.attendees,
            participants=tuple(p.contact() for p in self.participants),
        )


class BookingIn(_BookingDetails):
    start: AwareDatetime
    end: AwareDatetime
    catering: CateringRequest | None = None

    def command(self, *, actor: Actor | None, token_hash: str) -> usecases.MakeBooking:
        return usecases.MakeBooking(
            details=self.details(actor=actor, token_hash=token_hash),
            start=self.start,
            end=self.end,
            catering=self.catering,
        )


class SeriesIn(_BookingDetails):
    start_time: time = Field(description="Oslo wall time, e.g. 18:00")
    end_time: time
    first_date: date | None = Field(default=None, description="weekly series: first date")
    interval_weeks: int = Field(default=1, ge=1, le=52)
    count: int | None = Field(default=None, ge=1, le=60)
    until: date | None = None
    dates: list[date] | None = Field(
        default=None, max_length=60, description="explicit dates instead of a weekly rule"
    )
    mode: Literal["all_or_nothing", "skip_conflicts"] = "all_or_nothing"

    def command(self, *, actor: Actor | None, token_hash: str) -> usecases.MakeSeries:
        return usecases.MakeSeries(
            details=self.details(actor=actor, token_hash=token_hash),
            start_time=self.start_time,
            end_time=self.end_time,
            first_date=self.first_date,
            interval_weeks=self.interval_weeks,
            count=self.count,
            until=self.until,
            dates=tuple(self.dates) if self.dates is not None else None,
            mode=self.mode,
        )


class CancelIn(_In):
    reason: str | None = Field(default=None, max_length=1000)


class SeriesCancelIn(_In):
    from_date: date | None = Field(
        default=None,
        description="cancel the occurrences on and after this date (Oslo); all when absent",
    )
    reason: str | None = Field(default=None, max_length=1000)


class RejectIn(_In):
    reason: str = Field(min_length=1, max_length=1000)


class BookingOut(BaseModel):
    id: str
    resource_id: str
    resource_name: str
    status: Status
    start: datetime
    end: datetime
    booker_type: str
    booker: ContactOut
    organisation_number: str | None
    title: str | None
    description: str | None
    public: bool
    signup_capacity: int | None
    attendees: int | None
    catering: CateringRequest | None
    participants: list[ContactOut]
    series_id: str | None
    free_of_charge: bool
    price_nok: int
    reason: str | None
    cancelled_by: str | None
    checked_in_at: datetime | None = Field(
        default=None, description="when staff or the booker checked in; never released then"
    )
    created_at: datetime


class FreeHoursOut(BaseModel):
    limit: float = Field(description="the resource's free hours per organisation and ISO week")
    used: float = Field(
        description="held by the organisation's other active free bookings of that Oslo week"
    )
    with_this: float = Field(description="used plus this request")
    over: bool = Field(description="approving it would go over the limit")


class RequestOut(BookingOut):
    free_hours: FreeHoursOut | None = Field(
        description="the organisation's weekly free hours on the resource in the request's "
        "week; null when no quota applies (not an organisation's, not free, no limit)"
    )


class BookingCreated(BookingOut):
    manage_token: str = Field(description="send back as header X-Manage-Token to read/cancel")


class Conflict(BaseModel):
    booking_id: str
    start: datetime
    end: datetime
    blocked_until: datetime


class OccurrenceReport(BaseModel):
    date: date
    start: datetime
    end: datetime
    status: Literal["ok", "booked", "conflict", "closed", "refused", "quota"]
    reason: str | None = None
    booking_id: str | None = None


class SeriesCreated(BaseModel):
    series_id: str
    manage_token: str
    mode: str
    booked: list[OccurrenceReport]
    skipped: list[OccurrenceReport]


class ResourceIn(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["meeting_room", "arena", "other"] = "meeting_room"
    description: str | None = Field(default=None, max_length=4000)
    capacity: int = Field(ge=1, le=10_000)
    hours: dict[str, str] | None = Field(
        default=None,
        description='own opening hours, e.g. {"mon-fri": "16:00-22:00"}; null = the hub\'s',
    )
    approval_required: bool = False
    free_for: list[BookerTypeIn] = Field(default_factory=lambda: list(FREE_BY_DEFAULT))
    min_notice_minutes: int = Field(default=120, ge=0, le=60 * 24 * 60)
    min_length_minutes: int = Field(default=30, ge=5, le=7 * 24 * 60)
    max_length_minutes: int = Field(default=240, ge=5, le=7 * 24 * 60)
    max_days_ahead: int = Field(default=180, ge=1, le=730)
    buffer_minutes: int = Field(default=0, ge=0, le=24 * 60)
    cancel_deadline_hours: int = Field(default=24, ge=0, le=24 * 60)
    weekly_free_hours: float | None = Field(default=None, ge=0, le=168)
    price_per_hour_nok: int = Field(default=0, ge=0, le=1_000_000)
    release_after_minutes: int | None = Field(
        default=None,
        ge=5,
        le=24 * 60,
        description="release a confirmed booking not checked in this long after its start "
        "(a no-show); null: never",
    )
    active: bool = True


class ResourcePatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    hours: dict[str, str] | None = None
    approval_required: bool | None = None
    free_for: list[BookerTypeIn] | None = None
    min_notice_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 60)
    min_length_minutes: int | None = Field(default=None, ge=5, le=7 * 24 * 60)
    max_length_minutes: int | None = Field(default=None, ge=5, le=7 * 24 * 60)
    max_days_ahead: int | None = Field(default=None, ge=1, le=730)
    buffer_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    cancel_deadline_hours: int | None = Field(default=None, ge=0, le=24 * 60)
    weekly_free_hours: float | None = Field(default=None, ge=0, le=168)
    price_per_hour_nok: int | None = Field(default=None, ge=0, le=1_000_000)
    release_after_minutes: int | None = Field(
        default=None,
        ge=5,
        le=24 * 60,
        description="release a confirmed booking not checked in this long after its start "
        "(a no-show); null: never",
    )
    active: bool | None = None


class ResourceOut(BaseModel):
    id: str
    hub: str
    name: str
    kind: str
    description: str | None
    capacity: int
    hours: dict[str, str]
    uses_hub_hours: bool
    approval_required: bool
    free_for: list[str]
    min_notice_minutes: int
    min_length_minutes: int
    max_length_minutes: int
    max_days_ahead: int
    buffer_minutes: int
    cancel_deadline_hours: int
    weekly_free_hours: float | None
    price_per_hour_nok: int
    release_after_minutes: int | None
    active: bool


class SlotOut(BaseModel):
    start: datetime
    end: datetime


class AvailabilityOut(BaseModel):
    resource_id: str
    date: date
    open: bool
    closed_reason: str | None
    opening_hours: list[SlotOut]
    busy: list[SlotOut]
    free_slots: list[SlotOut]
    slot_minutes: int
    bookable_from: datetime = Field(description="earliest start allowed now (min notice)")
    max_length_minutes: int
    approval_required: bool


class ClosureIn(_In):
    resource_id: str | None = Field(default=None, description="null closes the whole hub")
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(default="", max_length=500)

    def command(self, actor: Actor | None) -> usecases.AddClosure:
        return usecases.AddClosure(self.resource_id, self.start, self.end, self.reason, actor)


class ClosureOut(BaseModel):
    id: str
    hub: str
    resource_id: str | None
    start: datetime
    end: datetime
    reason: str
    affected_bookings: list[str] = Field(
        default_factory=list,
        description="active bookings inside the closure: their bookers are told, and each "
        "stands until staff cancel or keep it (/closures/{id}/bookings)",
    )


class AffectedBookingOut(BaseModel):
    decision: Literal["open", "kept", "cancelled"] = Field(
        description="open: staff have not chosen yet (the booking stands)"
    )
    decided_at: datetime | None
    booking: BookingOut


class ActivityOut(BaseModel):
    id: str
    title: str
    description: str | None
    resource_id: str
    resource_name: str
    start: datetime
    end: datetime
    organiser: str | None
    signup: bool
    capacity: int | None
    registered: int
    waitlisted: int
    places_left: int | None


class SeriesCancelOut(BaseModel):
    series_id: str
    cancelled: list[BookingOut]


class RegistrationIn(_In):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32)
    language: Literal["nb", "en"] = Field(default="nb", description="the language we write in")


class RegistrationOut(BaseModel):
    id: str
    activity_id: str
    status: Literal["registered", "waitlisted", "cancelled"]
    waitlist_position: int | None


class RegistrationCreated(RegistrationOut):
    manage_token: str


class RegistrationView(RegistrationOut):
    """A sign-up as its owner sees it: the activity it is for, and where it stands."""

    name: str
    title: str
    resource_name: str
    start: datetime
    end: datetime


class OrganisationOut(BaseModel):
    org_number: str
    name: str
    description: str | None
    website: str | None
    email: str | None
    phone: str | None


class OrganisationRecordOut(BaseModel):
    """An organisation as staff see it, listed or not."""

    org_number: str
    name: str
    listed: bool
    description: str | None
    website: str | None
    public_email: str | None
    public_phone: str | None
    no_shows: int = Field(description="its bookings released because nobody checked in")


# --------------------------------------------------------------------------- seasons

# A model with a field named `date` cannot annotate it with the type `date`.
Date = date
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TargetGroup = Literal["children", "youth", "adults", "seniors", "mixed"]


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


class WeeklySlotOut(BaseModel):
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
    wishes: list[WeeklySlotOut]
    minimum: int
    wanted: int


class ApplicationCreated(ApplicationOut):
    manage_token: str


class AllocationOut(WeeklySlotOut):
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
    slot: WeeklySlotOut
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
