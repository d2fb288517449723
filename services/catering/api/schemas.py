"""Request and response bodies of the catering API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from services.catering.domain import ALLERGENS, Allergen, DietTag, Kind, Unit
from shared.contacts import e164
from shared.hubs import DEFAULT_HUB


def _printable(value: str) -> str:
    # PostgreSQL text cannot hold NUL; other control characters have no business here.
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ValueError("control characters are not allowed")
    return value


def _phone(value: str) -> str:
    number = e164(value)
    if number is None:
        raise ValueError("not a possible phone number")
    return number


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def _instant(value: datetime) -> datetime:
    # Bounded before any arithmetic: year 1 or 9999 with an offset overflows in conversion.
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value.astimezone(UTC)


def _day(value: date) -> date:
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
    AfterValidator(_printable),
]
Phone = Annotated[str, StringConstraints(max_length=30), AfterValidator(_phone)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
ItemId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
HubKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Instant = Annotated[AwareDatetime, AfterValidator(_instant)]
Day = Annotated[date, AfterValidator(_day)]
Quantity = Annotated[StrictInt, Field(ge=1, le=1000)]
PriceOre = Annotated[
    StrictInt, Field(ge=0, le=10_000_000, description="price in øre (1 NOK = 100)")
]

Status = Literal[
    "pending_acceptance", "placed", "accepted", "rejected", "ready", "picked_up", "cancelled"
]


# --------------------------------------------------------------------------- menu


class AllergenOut(BaseModel):
    code: Allergen
    name_nb: str


class MenuItemOut(BaseModel):
    id: str
    hub: str
    name_nb: str
    name_en: str | None
    description_nb: str | None
    category: str
    unit: Unit
    price_ore: int
    price_display: str
    allergens: list[AllergenOut]
    diet: list[DietTag]
    kinds: list[Kind]
    available: bool


class MenuItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ItemId
    hub: HubKey = DEFAULT_HUB
    name_nb: Name
    name_en: Name | None = None
    description_nb: ShortText | None = None
    category: Annotated[str, StringConstraints(pattern=r"^[a-zæøå0-9-]{1,40}$")]
    unit: Unit = "piece"
    price_ore: PriceOre
    allergens: list[Allergen] = Field(
        description="every one of the 14 EU allergens the item contains; [] when none",
        max_length=14,
    )
    diet: list[DietTag] = Field(default_factory=list, max_length=3)
    kinds: list[Kind] = Field(min_length=1, max_length=2)
    available: StrictBool = True


class MenuItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_nb: Name | None = None
    name_en: Name | None = None
    description_nb: ShortText | None = None
    category: Annotated[str, StringConstraints(pattern=r"^[a-zæøå0-9-]{1,40}$")] | None = None
    unit: Unit | None = None
    price_ore: PriceOre | None = None
    allergens: list[Allergen] | None = Field(default=None, max_length=14)
    diet: list[DietTag] | None = Field(default=None, max_length=3)
    kinds: list[Kind] | None = Field(default=None, min_length=1, max_length=2)
    available: StrictBool | None = None


def allergens_out(codes: list[str]) -> list[AllergenOut]:
    return [AllergenOut(code=c, name_nb=ALLERGENS[c]) for c in codes]


# --------------------------------------------------------------------------- orders


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email | None = None
    phone: Phone | None = Field(default=None, description="normalised to E.164; +47 assumed")
    language: Literal["nb", "en"] = "nb"

    @model_validator(mode="after")
    def _reachable(self) -> CustomerIn:
        if not self.email and not self.phone:
            raise ValueError("give an email address or a phone number, so the café can reach you")
        return self


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: ItemId
    quantity: Quantity


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hub: HubKey = DEFAULT_HUB
    kind: Kind
    pickup_at: Instant = Field(description="with a UTC offset; inside café hours")
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    people: Annotated[StrictInt, Field(ge=1, le=1000)] | None = Field(
        default=None, description="required for catering"
    )
    customer: CustomerIn
    note: ShortText | None = None

    @model_validator(mode="after")
    def _people(self) -> OrderIn:
        if self.kind == "catering" and self.people is None:
            raise ValueError("a catering order needs the number of people")
        return self


class OrderChangeIn(BaseModel):
    """The order as the customer now wants it: every line, the pick-up time and, for
    catering, the number of people."""

    model_config = ConfigDict(extra="forbid")

    pickup_at: Instant = Field(description="with a UTC offset; inside café hours")
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    people: Annotated[StrictInt, Field(ge=1, le=1000)] | None = Field(
        default=None, description="catering: the number of people (kept when left out)"
    )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShortText


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShortText | None = None


class ContactOut(BaseModel):
    name: str
    email: str | None
    phone: str | None
    language: str


class OrderLineOut(BaseModel):
    item_id: str
    name: str
    quantity: int
    unit_price_ore: int
    line_total_ore: int
    allergens: list[AllergenOut]


class OrderOut(BaseModel):
    id: str
    hub: str
    kind: Kind
    status: Status
    short_notice: bool
    pickup_at: datetime
    pickup_date: date
    people: int | None
    portions: int
    lines: list[OrderLineOut]
    total_ore: int
    total_display: str
    customer: ContactOut
    note: str | None
    booking_id: str | None
    reason: str | None
    cancelled_by: str | None
    order_by: datetime = Field(description="orders placed before this are not short notice")
    cancel_cutoff_at: datetime
    placed_at: datetime
    accepted_at: datetime | None
    rejected_at: datetime | None
    ready_at: datetime | None
    picked_up_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class OrderCreated(OrderOut):
    manage_token: str = Field(
        description="keep it: send it as the X-Manage-Token header to see or cancel the order"
    )
    message: str


class OrderChangedOut(OrderOut):
    change_id: str
    change_applied: bool = Field(
        description="false: the change came after the cut-off and waits for the café; the "
        "order is shown as it stands until then"
    )
    message: str


class ChangeLineOut(BaseModel):
    item_id: str
    name: str
    quantity: int
    unit_price_ore: int


class PendingChangeOut(BaseModel):
    """A customer's change waiting for the café: what the order would become."""

    change_id: str
    order: OrderOut = Field(description="the order as it stands until the café answers")
    pickup_at: datetime
    pickup_date: date
    people: int | None
    portions: int
    lines: list[ChangeLineOut]
    total_ore: int
    total_display: str
    requested_at: datetime


# --------------------------------------------------------------------------- the café's day


class PrepItem(BaseModel):
    item_id: str
    name: str
    quantity: int
    allergens: list[AllergenOut]


class DayOrder(BaseModel):
    order_id: str
    kind: Kind
    status: Status
    short_notice: bool
    pickup_at: datetime
    customer_name: str
    people: int | None
    portions: int
    booking_id: str | None


class CapacityOut(BaseModel):
    date: date
    capacity: int
    used: int
    remaining: int


class PrepList(BaseModel):
    date: date
    hub: str
    items: list[PrepItem] = Field(description="summed over accepted and ready orders")
    people: int
    pickups: list[DayOrder] = Field(description="accepted and ready orders, by pick-up time")
    awaiting_decision: list[DayOrder]
    capacity: CapacityOut


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portions: Annotated[StrictInt, Field(ge=0, le=100_000)]


class AvailabilityDay(BaseModel):
    date: date
    open: bool
    closed_reason: str | None
    remaining_portions: int
    catering_order_by: datetime | None = Field(
        description="order catering before this for the day, or it is a short-notice request"
    )


class ClosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hub: HubKey = DEFAULT_HUB
    first_date: Day
    last_date: Day
    reason: Name

    @model_validator(mode="after")
    def _order(self) -> ClosureIn:
        if self.last_date < self.first_date:
            raise ValueError("last_date is before first_date")
        return self


class ClosureOut(BaseModel):
    id: int
    hub: str
    start_at: datetime
    end_at: datetime
    reason: str
