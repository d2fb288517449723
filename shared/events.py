"""The event catalog: the contract between the services.

Every event is a CloudEvents 1.0 envelope (id, source, type, time, subject, data, plus the
extension attributes `schemaversion` and `correlationid`) whose `data` is one of the models
below. Each model names its stream and producing service once, here. The wire format (one
stream entry, field `__data__`, the envelope as plain JSON) is described in docs/events.md.

Changing a published model: adding an optional field is compatible; removing or retyping a
field, or adding a required one, needs a new `version` (tests/contract enforce this).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

import uuid_utils
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

# --- streams and who produces / consumes them -------------------------------------------

BOOKING_STREAM = "booking.events"
LOANS_STREAM = "loans.events"
CATERING_STREAM = "catering.events"
NOTIFY_STREAM = "notify.events"

PRODUCERS: dict[str, str] = {
    BOOKING_STREAM: "booking",
    LOANS_STREAM: "loans",
    CATERING_STREAM: "catering",
    NOTIFY_STREAM: "notify",
}
# The consumer groups of each stream, named after the consuming service. Producers create
# these groups too (at the stream's start), so retention never trims what a group that has
# not started yet still needs.
CONSUMERS: dict[str, tuple[str, ...]] = {
    BOOKING_STREAM: ("notify", "catering"),
    LOANS_STREAM: ("notify",),
    CATERING_STREAM: ("notify",),
    NOTIFY_STREAM: (),
}
WIRE_FIELD = "__data__"
REPLAY_GROUP_FIELD = "replay_group"


def dlq_stream(stream: str) -> str:
    return f"{stream}.dlq"


# --- envelope ---------------------------------------------------------------------------


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes, JSON event format."""

    model_config = ConfigDict(extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    schemaversion: int = Field(ge=1)
    correlationid: str = Field(min_length=1, max_length=100)
    data: dict[str, Any]

    def to_json(self) -> str:
        return self.model_dump_json()


class EventData(BaseModel):
    """Base of every event's data. Consumers ignore fields they do not know (forward
    compatibility); producers fill every required field."""

    model_config = ConfigDict(extra="ignore")

    event_type: ClassVar[str]
    stream: ClassVar[str]
    version: ClassVar[int] = 1
    subject_field: ClassVar[str | None] = None


CATALOG: dict[str, type[EventData]] = {}
E = TypeVar("E", bound=EventData)


def event(
    stream: str, subject: str | None = None, version: int = 1
) -> Callable[[type[E]], type[E]]:
    """Register an event model in the catalog."""

    def register(cls: type[E]) -> type[E]:
        cls.event_type = cls.__name__
        cls.stream = stream
        cls.version = version
        cls.subject_field = subject
        if cls.__name__ in CATALOG:
            raise RuntimeError(f"duplicate event type {cls.__name__}")
        CATALOG[cls.__name__] = cls
        return cls

    return register


def new_event(
    data: EventData,
    *,
    correlation_id: str | None = None,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Wrap one event's data in its envelope."""
    cls = type(data)
    if subject is None and cls.subject_field:
        subject = str(getattr(data, cls.subject_field))
    # Time-ordered (UUID version 7): each outbox and inbox adds its ids at the end of
    # their index, where random ones touched a page of it each, and those pages were
    # written again at every commit (docs/bench.md, eighteenth pass).
    eid = event_id or str(uuid_utils.uuid7())
    return Envelope(
        id=eid,
        source=f"/knutepunkt/{PRODUCERS[cls.stream]}",
        type=cls.event_type,
        subject=subject,
        time=time or datetime.now(UTC),
        schemaversion=cls.version,
        correlationid=correlation_id or eid,
        data=data.model_dump(mode="json"),
    )


class PoisonEvent(Exception):
    """An entry that can never be handled: not JSON, unknown type, wrong schema, too big."""


_WIRE_KEY = WIRE_FIELD.encode()


def _wire_json(fields: Mapping[Any, bytes | str], max_bytes: int) -> bytes | str:
    raw = fields.get(_WIRE_KEY) or fields.get(WIRE_FIELD)
    if raw is None:
        raise PoisonEvent(f"entry has no {WIRE_FIELD} field")
    if len(raw) > max_bytes:
        raise PoisonEvent(f"entry of {len(raw)} bytes is over the limit of {max_bytes}")
    return raw


def decode_entry(fields: Mapping[Any, bytes | str], max_bytes: int) -> Envelope:
    """An entry's envelope; its fields' keys are bytes or str, as the connection decodes."""
    raw = _wire_json(fields, max_bytes)
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise PoisonEvent(f"not a valid envelope: {_short(exc)}") from exc
    if envelope.type not in CATALOG:
        raise PoisonEvent(f"unknown event type {envelope.type!r}")
    return envelope


def parse_data(envelope: Envelope) -> EventData:
    cls = CATALOG[envelope.type]
    if envelope.schemaversion > cls.version:
        raise PoisonEvent(
            f"{envelope.type} schema version {envelope.schemaversion} is newer than "
            f"this consumer's {cls.version}"
        )
    try:
        return cls.model_validate(envelope.data)
    except ValidationError as exc:
        raise PoisonEvent(f"{envelope.type} data invalid: {_short(exc)}") from exc


def decode_event(
    fields: Mapping[Any, bytes | str], max_bytes: int
) -> tuple[Envelope, EventData] | None:
    """An entry's envelope and its data, read in one pass; None when either is not valid
    or the data's schema version is newer than the catalog's, and then `decode_entry` and
    `parse_data` say why (or the consumer acks a type it does not handle, whatever its
    data). The envelope's `data` is the typed model here.

    Why: reading the envelope and then validating its data again took 7.2 µs an event
    against 4.2 for one pass over the JSON (docs/bench.md, eighteenth pass)."""
    raw = _wire_json(fields, max_bytes)
    try:
        envelope = typed_envelopes().validate_json(raw)
    except ValidationError:
        return None
    if envelope.schemaversion > CATALOG[envelope.type].version:
        return None
    return envelope, envelope.data


@functools.cache
def typed_envelopes() -> TypeAdapter[Any]:
    """Every catalog type's envelope with its data's model, told apart by `type`."""
    typed: tuple[Any, ...] = tuple(
        create_model(
            f"{name}Envelope",
            __base__=Envelope,
            type=(Literal[name], ...),  # type: ignore[arg-type]  # a name known at run time
            data=(model, ...),
        )
        for name, model in CATALOG.items()
    )
    union: Any = Union[typed]  # noqa: UP007  # the union of a tuple built at run time
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def encode_entry(envelope: Envelope) -> dict[str, str]:
    return {WIRE_FIELD: envelope.to_json()}


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )


# --- shared value types -----------------------------------------------------------------

Language = Literal["nb", "en"]


class Contact(BaseModel):
    """Who to tell. Personal data: never logged."""

    model_config = ConfigDict(extra="ignore")

    name: str
    email: str | None = None
    phone: str | None = None  # E.164
    language: Language = "nb"


class CateringLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    item_id: str
    quantity: int = Field(ge=1)


class Actor(BaseModel):
    """The staff member or service account whose action caused an event: the events of
    staff actions carry it as `actor`, None when a booker, a citizen or the service itself
    acted. Pseudonymous on purpose: events are kept and copied to every consumer, so they
    hold the identity provider's subject id, never a name or contact; who that is, the
    provider tells those allowed to ask."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["person", "service_account"]
    # A person: the OIDC `sub` of their access token. A service account (a static
    # STAFF_TOKENS entry): "token-" and the first 12 hex digits of the token's SHA-256,
    # never the token itself.
    id: str = Field(min_length=1, max_length=255)
    roles: list[str] = Field(default_factory=list)


class CateringRequest(BaseModel):
    """Food from Café Jasmin for a booking: carried by BookingConfirmed to catering."""

    model_config = ConfigDict(extra="ignore")

    lines: list[CateringLine] = Field(min_length=1)
    people: int = Field(ge=1)
    serve_at: AwareDatetime
    note: str | None = None


# --- booking.events ---------------------------------------------------------------------

BookerType = Literal["organisation", "person", "staff"]


class _BookingFacts(EventData):
    booking_id: str
    hub: str
    resource_id: str
    resource_name: str
    start: AwareDatetime
    end: AwareDatetime
    booker_type: BookerType
    booker: Contact
    organisation_name: str | None = None
    title: str | None = None
    series_id: str | None = None


@event(BOOKING_STREAM, subject="booking_id")
class BookingRequested(_BookingFacts):
    """A booking waits for staff approval."""

    attendees: int | None = None
    catering: CateringRequest | None = None
    actor: Actor | None = None


@event(BOOKING_STREAM, subject="booking_id")
class BookingConfirmed(_BookingFacts):
    """Confirmed at once (instant policy) or approved by staff."""

    attendees: int | None = None
    catering: CateringRequest | None = None
    auto_approved: bool = True
    participants: list[Contact] = Field(default_factory=list)
    actor: Actor | None = None


@event(BOOKING_STREAM, subject="booking_id")
class BookingRejected(_BookingFacts):
    reason: str
    actor: Actor | None = None


@event(BOOKING_STREAM, subject="booking_id")
class BookingCancelled(_BookingFacts):
    cancelled_by: Literal["owner", "staff"]
    reason: str | None = None
    had_catering: bool = False
    # Added by booking: the people listed on the booking, told of the cancellation too.
    participants: list[Contact] = Field(default_factory=list)
    actor: Actor | None = None
    # One occurrence of a series cancelled as a whole (or from a date on) in one request:
    # consumers act on each as usual (catering cancels its order), but the people are told
    # once, by the SeriesCancelled that comes with them.
    series_cancellation: bool = False


@event(BOOKING_STREAM, subject="booking_id")
class BookingReminder(_BookingFacts):
    participants: list[Contact] = Field(default_factory=list)


@event(BOOKING_STREAM, subject="booking_id")
class BookingAffectedByClosure(_BookingFacts):
    """Staff closed the hub or the booking's resource over an active booking. The booking
    stands until staff cancel it (BookingCancelled) or keep it (no event)."""

    closure_id: str
    # None: the whole hub is closed; else the one resource that is.
    closure_resource_id: str | None = None
    closure_start: AwareDatetime
    closure_end: AwareDatetime
    closure_reason: str = ""
    actor: Actor | None = None


@event(BOOKING_STREAM, subject="booking_id")
class BookingReleased(_BookingFacts):
    """Nobody checked in within the resource's release time after the start: the booking
    is released (a no-show) and its time is free to book again."""

    release_after_minutes: int
    released_at: AwareDatetime


class CancelledOccurrence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    booking_id: str
    start: AwareDatetime
    end: AwareDatetime
    had_catering: bool = False


@event(BOOKING_STREAM, subject="series_id")
class SeriesCancelled(EventData):
    """A series cancelled in one request, whole or from a date on: the one message to its
    booker. Each occurrence also has its BookingCancelled (series_cancellation: true)."""

    series_id: str
    hub: str
    resource_id: str
    resource_name: str
    booker_type: BookerType
    booker: Contact
    organisation_name: str | None = None
    title: str | None = None
    cancelled_by: Literal["owner", "staff"]
    reason: str | None = None
    occurrences: list[CancelledOccurrence] = Field(min_length=1)
    participants: list[Contact] = Field(default_factory=list)
    actor: Actor | None = None


class _RegistrationFacts(EventData):
    """A sign-up for a public activity (a booking with sign-up places)."""

    registration_id: str
    activity_id: str  # the booking's id
    hub: str
    resource_name: str
    title: str
    start: AwareDatetime
    end: AwareDatetime
    participant: Contact


@event(BOOKING_STREAM, subject="registration_id")
class RegistrationConfirmed(_RegistrationFacts):
    """Signed up with a place."""


@event(BOOKING_STREAM, subject="registration_id")
class RegistrationWaitlisted(_RegistrationFacts):
    """Signed up when the activity was full: on the waiting list, at this position."""

    waitlist_position: int = Field(ge=1)


@event(BOOKING_STREAM, subject="registration_id")
class RegistrationPromoted(_RegistrationFacts):
    """Moved up from the waiting list to a place, because someone cancelled."""

    # The activity starts within BOOKING_PROMOTION_SMS_HOURS: the participant may not read
    # an email in time, so notify sends an SMS as well.
    short_notice: bool = False


@event(BOOKING_STREAM, subject="registration_id")
class RegistrationCancelled(_RegistrationFacts):
    """The participant cancelled their sign-up (or their place on the waiting list)."""

    was_waitlisted: bool = False


# A model with a field named `date` cannot annotate another with the type `date`.
date_ = date

# The season's allocation round (docs/booking.md, "Seasons"): an organisation applies for
# weekly slots of a resource, the booking officer allocates and publishes, and each
# granted slot becomes a series of bookings. `booker` is the application's contact.

TargetGroup = Literal["children", "youth", "adults", "seniors", "mixed"]


class WeeklySlot(BaseModel):
    model_config = ConfigDict(extra="ignore")

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start_time: str  # HH:MM, Oslo wall time
    end_time: str


class SkippedDate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    date: date_
    reason: str


class GrantedSlot(WeeklySlot):
    allocation_id: str
    series_id: str | None = None
    occurrences: int = 0
    first: AwareDatetime | None = None
    last: AwareDatetime | None = None
    # Holidays, closures (and times already booked) the series does not book.
    skipped: list[SkippedDate] = Field(default_factory=list)


class DeclinedWish(WeeklySlot):
    reason: str  # the rule's explanation, in the application's language


class _SeasonFacts(EventData):
    season_id: str
    season_name: str
    hub: str
    resource_id: str
    resource_name: str
    application_id: str
    organisation_name: str
    activity: str
    booker: Contact


@event(BOOKING_STREAM, subject="application_id")
class ApplicationReceived(_SeasonFacts):
    """The receipt of an application for a season's weekly time (made or changed)."""

    target_group: TargetGroup
    wishes: list[WeeklySlot]
    minimum: int
    applications_close_at: AwareDatetime
    changed: bool = False


@event(BOOKING_STREAM, subject="application_id")
class AllocationGranted(_SeasonFacts):
    """A published season: what the application got (one series per slot), and which of
    its wishes it did not get."""

    starts_on: date_
    ends_on: date_
    slots: list[GrantedSlot] = Field(min_length=1)
    declined: list[DeclinedWish] = Field(default_factory=list)


@event(BOOKING_STREAM, subject="application_id")
class AllocationDeclined(_SeasonFacts):
    """A published season in which the application got nothing, with the reasons."""

    declined: list[DeclinedWish] = Field(default_factory=list)


class ReleasedOccurrence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    booking_id: str
    start: AwareDatetime
    end: AwareDatetime


@event(BOOKING_STREAM, subject="allocation_id")
class AllocationReleased(_SeasonFacts):
    """Time of an allocation given back by the club (owner) or withdrawn by the officer
    (staff): one occurrence or the rest of the season; the bookings are cancelled."""

    allocation_id: str
    released_by: Literal["owner", "staff"]
    whole: bool  # the rest of the season, not one occurrence
    occurrences: list[ReleasedOccurrence] = Field(min_length=1)
    reason: str | None = None
    actor: Actor | None = None


@event(BOOKING_STREAM, subject="offer_id")
class AllocationOffered(_SeasonFacts):
    """Given-back time offered to the next on the season's waiting list (once each)."""

    offer_id: str
    occurrences: list[ReleasedOccurrence] = Field(min_length=1)


# --- loans.events -----------------------------------------------------------------------

ItemKind = Literal["pc", "planter_box", "book", "other"]


class _LoanFacts(EventData):
    loan_id: str
    hub: str
    item_id: str
    item_label: str
    item_kind: ItemKind
    borrower_id: str
    borrower: Contact


@event(LOANS_STREAM, subject="loan_id")
class LoanStarted(_LoanFacts):
    started_at: AwareDatetime
    due_at: AwareDatetime
    backfilled: bool = False
    actor: Actor | None = None


@event(LOANS_STREAM, subject="loan_id")
class LoanReturned(_LoanFacts):
    returned_at: AwareDatetime
    condition: str
    days_overdue: int = 0
    actor: Actor | None = None


@event(LOANS_STREAM, subject="loan_id")
class LoanRenewed(_LoanFacts):
    due_at: AwareDatetime
    renewals: int
    actor: Actor | None = None


@event(LOANS_STREAM, subject="loan_id")
class LoanDueMoved(_LoanFacts):
    """The desk closed on the loan's due date: it is now due on the next open day."""

    due_at: AwareDatetime
    previous_due_at: AwareDatetime
    reason: str = ""


class DueLoan(BaseModel):
    model_config = ConfigDict(extra="ignore")

    loan_id: str
    item_label: str
    item_kind: ItemKind
    due_at: AwareDatetime
    days_overdue: int = 0


@event(LOANS_STREAM, subject="borrower_id")
class LoanDueSoon(EventData):
    """One reminder per borrower, covering every loan of theirs due soon."""

    hub: str
    borrower_id: str
    borrower: Contact
    loans: list[DueLoan] = Field(min_length=1)


@event(LOANS_STREAM, subject="borrower_id")
class LoanOverdue(EventData):
    """One notice per borrower and escalation level, covering their overdue loans."""

    hub: str
    borrower_id: str
    borrower: Contact
    level: int = Field(ge=1)
    days_overdue: int = Field(ge=0)
    loans: list[DueLoan] = Field(min_length=1)
    blocked: bool = False
    # The staff role to tell as well (set at the last escalation step, e.g. "desk").
    escalate_to_role: str | None = None


@event(LOANS_STREAM, subject="reservation_id")
class ReservationReady(EventData):
    hub: str
    reservation_id: str
    item_id: str
    item_label: str
    item_kind: ItemKind
    borrower_id: str
    borrower: Contact
    hold_until: AwareDatetime


@event(LOANS_STREAM, subject="item_id")
class ItemOutOfService(EventData):
    hub: str
    item_id: str
    item_label: str
    item_kind: ItemKind
    reason: str
    reservations_affected: int = 0
    # The borrowers whose offer of this item was withdrawn (they are back in the queue).
    affected_borrowers: list[Contact] = Field(default_factory=list)
    actor: Actor | None = None


# --- catering.events --------------------------------------------------------------------

OrderKind = Literal["takeaway", "catering"]


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    item_id: str
    name: str
    quantity: int = Field(ge=1)
    unit_price_ore: int = Field(ge=0)
    allergens: list[str] = Field(default_factory=list)


class _OrderFacts(EventData):
    order_id: str
    hub: str
    kind: OrderKind
    pickup_at: AwareDatetime
    customer: Contact
    booking_id: str | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderPlaced(_OrderFacts):
    status: Literal["placed", "pending_acceptance"]
    short_notice: bool
    people: int | None = None
    lines: list[OrderLine] = Field(min_length=1)
    total_ore: int = Field(ge=0)
    note: str | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderAccepted(_OrderFacts):
    actor: Actor | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderRejected(_OrderFacts):
    reason: str
    # "system": a booking's catering request refused on arrival (unknown item, outside café
    # hours, day full); the café should be told as well as the booker. None/"cafe": staff.
    rejected_by: Literal["cafe", "system"] | None = None
    actor: Actor | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderReady(_OrderFacts):
    actor: Actor | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderCancelled(_OrderFacts):
    cancelled_by: Literal["customer", "cafe", "booking"]
    reason: str | None = None
    actor: Actor | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderPickedUp(_OrderFacts):
    actor: Actor | None = None


@event(CATERING_STREAM, subject="order_id")
class OrderChanged(_OrderFacts):
    """The customer changed an order (items, counts, pick-up time) with its manage token.

    `change`: `applied` took effect at once (before the cut-off); `requested` came after the
    cut-off and waits for the café, the order keeping its old content meanwhile; `accepted`
    and `rejected` are the café's answer to such a request. `pickup_at` is the order's
    pick-up time after this event; `lines`, `people`, `total_ore` and `new_pickup_at` are
    the content the change asks for."""

    change_id: str
    change: Literal["applied", "requested", "accepted", "rejected"]
    status: str
    previous_pickup_at: AwareDatetime
    new_pickup_at: AwareDatetime
    people: int | None = None
    lines: list[OrderLine] = Field(min_length=1)
    total_ore: int = Field(ge=0)
    reason: str | None = None
    actor: Actor | None = None


@event(CATERING_STREAM, subject="hub")
class CafeDayAffected(EventData):
    """A café closure or a capacity change landed on a day that already has orders: the
    café decides what to do with them (call the customers, cancel, move). One per day."""

    hub: str
    day: date
    change: Literal["closure", "capacity"]
    orders: int = Field(ge=1)
    portions: int = Field(ge=0)
    reason: str | None = None
    capacity: int | None = None
    actor: Actor | None = None


# --- notify.events ----------------------------------------------------------------------

Channel = Literal["email", "sms"]


class _DeliveryFacts(EventData):
    delivery_id: str
    source_event_id: str
    source_event_type: str
    channel: Channel
    recipient_kind: Literal["person", "staff"]
    recipient_role: str | None = None
    attempts: int = Field(ge=0)


@event(NOTIFY_STREAM, subject="delivery_id")
class NotificationSent(_DeliveryFacts):
    provider_ref: str | None = None


@event(NOTIFY_STREAM, subject="delivery_id")
class NotificationFailed(_DeliveryFacts):
    reason: str
    permanent: bool
