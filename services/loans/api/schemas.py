"""Request and response bodies of the loans API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, Field

from shared.hubs import DEFAULT_HUB
from shared.requests import RequestModel

Kind = Literal["pc", "planter_box", "book", "other"]
LendKind = Literal["pc", "planter_box", "other"]
Condition = Literal["ok", "worn", "damaged", "out_of_service"]
LoanStatus = Literal["active", "overdue", "returned"]
HUB_DEFAULT = DEFAULT_HUB
Hub = Field(default=HUB_DEFAULT, min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$")


class _In(RequestModel):
    pass


def id_path() -> Any:
    """A path id (a fresh FastAPI parameter each time: one instance binds to one name)."""
    return Path(max_length=36, pattern=r"^[0-9A-Za-z-]+$", description="an id (UUID)")


class BorrowerIn(_In):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(
        min_length=3, max_length=30, description="Norwegian by default; stored as E.164"
    )
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    language: Literal["nb", "en"] = "nb"


class ItemIn(_In):
    hub: str = Hub
    kind: Kind
    label: str = Field(min_length=1, max_length=200)
    condition: Condition = "ok"
    notes: str | None = Field(default=None, max_length=2000)


class ItemPatch(_In):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    condition: Condition | None = None
    notes: str | None = Field(default=None, max_length=2000)
    retired: bool | None = None


class ItemOut(BaseModel):
    id: str
    hub: str
    kind: Kind
    label: str
    condition: Condition
    notes: str | None
    retired: bool
    available: bool
    available_from: datetime | None


class LoanIn(_In):
    hub: str = Hub
    item_id: str | None = Field(default=None, max_length=36, description="a given item, or")
    kind: LendKind | None = Field(default=None, description="any free item of this kind")
    borrower: BorrowerIn
    days: int | None = Field(default=None, ge=0, le=366)
    due_date: date | None = Field(
        default=None, description="local due date; moved to the next open day when closed"
    )
    condition: Condition | None = Field(default=None, description="condition at check-out")
    started_at: AwareDatetime | None = Field(
        default=None,
        description="backfill from paper records: when the loan began (with an offset)",
    )


class LoanOut(BaseModel):
    id: str
    hub: str
    item_id: str
    item_label: str
    item_kind: Kind
    borrower_id: str
    borrower_name: str
    started_at: datetime
    due_at: datetime
    returned_at: datetime | None
    status: LoanStatus
    renewals: int
    condition_out: str
    condition_in: str | None
    backfilled: bool
    escalation_level: int = Field(
        default=0,
        description="the overdue level a loan not returned has reached (0: none; 1.. the "
        "steps of LOANS_OVERDUE_STEPS_DAYS, as the LoanOverdue reminders count them)",
    )
    escalation_last: bool = Field(
        default=False,
        description="the last level is reached: the borrower gets no new loans until it is back",
    )
    manage_token: str | None = Field(
        default=None,
        description="only when the borrower is new: send it as X-Manage-Token to see "
        "and renew their own loans",
    )


class ReturnIn(_In):
    condition: Condition = "ok"
    notes: str | None = Field(default=None, max_length=2000)


class ReservationIn(_In):
    hub: str = Hub
    kind: LendKind
    wanted_from: AwareDatetime | None = Field(
        default=None, description="from when the item is wanted; now (join the queue) if absent"
    )
    borrower: BorrowerIn | None = Field(
        default=None,
        description="who reserves: staff say who; the public without a token, themself",
    )


class ReservationOut(BaseModel):
    id: int
    hub: str
    kind: Kind
    borrower_id: str
    status: str
    wanted_from: datetime
    offered_item_id: str | None
    hold_until: datetime | None
    manage_token: str | None = None


class WaitingEntryOut(BaseModel):
    reservation_id: int
    place: int | None = Field(description="1 is next; none for one offered an item")
    status: Literal["waiting", "offered"]
    borrower_id: str
    borrower_name: str
    wanted_from: datetime
    offered_item_id: str | None
    offered_item_label: str | None
    hold_until: datetime | None


class WaitingListOut(BaseModel):
    kind: Kind
    entries: list[WaitingEntryOut] = Field(description="in the order items are offered")


class BookIn(_In):
    hub: str = Hub
    title: str = Field(min_length=1, max_length=300)
    author: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=20)


class BookTake(_In):
    hub: str = Hub
    book_id: str | None = Field(default=None, max_length=36)
    title: str | None = Field(
        default=None, min_length=1, max_length=300, description="or any copy with this title"
    )


class BookOut(BaseModel):
    id: str
    hub: str
    title: str
    author: str | None
    language: str | None
    brought_at: datetime
    taken_at: datetime | None


class Shelf(BaseModel):
    hub: str
    on_shelf: int
    books: list[BookOut]


class TokenOut(BaseModel):
    borrower_id: str
    manage_token: str


class ClosureIn(_In):
    hub: str = Hub
    first_date: date
    last_date: date
    reason: str = Field(min_length=1, max_length=300)


class ClosureOut(BaseModel):
    id: int
    hub: str
    start_at: datetime
    end_at: datetime
    reason: str
    loans_moved: int | None = Field(
        default=None, description="when added: active loans whose due time was moved"
    )
    offers_extended: int | None = Field(
        default=None, description="when added: held offers that now run longer"
    )
