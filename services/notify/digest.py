"""The staff's daily digest, as pure rules: what each consumed event does to notify's small
per-item digest state, when a role's digest is due, and what goes in it.

Notify owns no other service's data. It keeps, from the events it consumes anyway, one row
per open loan, order and booking with only what a digest lists (an item's label, a time,
order lines; never a borrower's, customer's or booker's name or contact), and closes the
row when the thing is done. No I/O and no clock: callers pass `now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from shared.calendar import Calendar, at_local, local_date
from shared.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingRejected,
    BookingRequested,
    EventData,
    LoanDueSoon,
    LoanOverdue,
    LoanRenewed,
    LoanReturned,
    LoanStarted,
    OrderAccepted,
    OrderCancelled,
    OrderPickedUp,
    OrderPlaced,
    OrderReady,
    OrderRejected,
)

DigestRole = Literal["desk", "cafe", "booking"]
DIGEST_ROLES: tuple[DigestRole, ...] = ("desk", "cafe", "booking")
ItemKind = Literal["loan", "order", "booking", "request"]
DIGEST_EVENT_TYPE = "StaffDigest"


@dataclass(frozen=True)
class ItemChange:
    """One digest row to write (open) or to close, keyed "<kind>:<id>"."""

    key: str
    open: bool
    role: DigestRole | None = None
    kind: ItemKind | None = None
    hub: str | None = None
    at: datetime | None = None
    label: str = ""
    detail: str | None = None
    short_notice: bool = False


def _close(key: str) -> ItemChange:
    return ItemChange(key, open=False)


def changes_for(data: EventData) -> list[ItemChange]:
    """What the event does to the digest state; nothing for events it does not concern.

    Overdue and due-soon notices carry their loans too, so a loan started before notify
    kept this state still shows up once loans reminds of it."""
    match data:
        case LoanStarted() | LoanRenewed():
            return [
                ItemChange(
                    f"loan:{data.loan_id}", True, "desk", "loan", data.hub, data.due_at,
                    data.item_label,
                )
            ]  # fmt: skip
        case LoanDueSoon() | LoanOverdue():
            return [
                ItemChange(
                    f"loan:{loan.loan_id}", True, "desk", "loan", data.hub, loan.due_at,
                    loan.item_label,
                )
                for loan in data.loans
            ]  # fmt: skip
        case LoanReturned():
            return [_close(f"loan:{data.loan_id}")]
        case OrderPlaced():
            lines = ", ".join(f"{line.quantity} × {line.name}" for line in data.lines)
            # The head count as a number (the label): each language words it.
            people = str(data.people) if data.people else None
            waiting = data.short_notice and data.status == "pending_acceptance"
            change = ItemChange(
                f"order:{data.order_id}",
                open=True,
                role="cafe",
                kind="order",
                hub=data.hub,
                at=data.pickup_at,
                label=people or "",
                detail=lines[:1000],
                short_notice=waiting,
            )
            return [change]
        case OrderAccepted() | OrderReady():
            # Accepted: no longer waiting for the café's answer; still on the prep list.
            return [ItemChange(f"order:{data.order_id}", True, short_notice=False)]
        case OrderRejected() | OrderCancelled() | OrderPickedUp():
            return [_close(f"order:{data.order_id}")]
        case BookingRequested():
            return [_booking(data, "request")]
        case BookingConfirmed():
            return [_booking(data, "booking")]
        case BookingRejected() | BookingCancelled():
            return [_close(f"booking:{data.booking_id}")]
    return []


def _booking(
    data: BookingRequested | BookingConfirmed, kind: Literal["booking", "request"]
) -> ItemChange:
    # The organisation's name, never a private booker's: the row keeps no personal data.
    label = data.resource_name + (f" – {data.organisation_name}" if data.organisation_name else "")
    return ItemChange(
        f"booking:{data.booking_id}", True, "booking", kind, data.hub, data.start, label[:300],
        detail=f"{data.end.isoformat()}",
    )  # fmt: skip


# --- when ---------------------------------------------------------------------------------


def parse_wall_time(value: str) -> time:
    """ "07:30" as a wall time; refused at start when it is not one."""
    try:
        hours, minutes = (int(part) for part in value.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"a digest time must look like 07:30, got {value!r}") from None


@dataclass(frozen=True)
class DigestPlan:
    """A role's digest: on or off, and the Oslo wall time it goes out at."""

    role: DigestRole
    enabled: bool
    at: time


def is_open_day(day: date, calendar: Calendar) -> bool:
    """An open day of the hub: its weekday hours, not a Norwegian public holiday."""
    return bool(calendar.open_intervals(day))


def due_day(plan: DigestPlan, now: datetime, calendar: Calendar) -> date | None:
    """The Oslo day whose digest is due for the role at `now`, or None: off, a closed day,
    or not yet its time. A digest missed while notify was down goes out later the same day,
    never on the next."""
    day = local_date(now)
    if not plan.enabled or not is_open_day(day, calendar) or now < at_local(day, plan.at):
        return None
    return day


# --- what -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    at: datetime
    label: str
    detail: str | None = None
    short_notice: bool = False


@dataclass
class Digest:
    """What one role's digest lists for `day`; empty lists are left out of the text."""

    role: DigestRole
    day: date
    start: datetime  # the day's first moment (Oslo), for the template's date
    sections: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.sections.values())


def compose(role: DigestRole, day: date, items: Sequence[Item]) -> Digest:
    """Sorted by time: desk: loans due today, and overdue (due before today); café:
    today's orders (the prep list) and short-notice orders still waiting for an answer;
    booking officers: today's bookings and the requests waiting for approval."""
    start = at_local(day, time(0))
    end = at_local(day + timedelta(days=1), time(0))
    ordered = sorted(items, key=lambda item: (item.at, item.label))
    today = [item for item in ordered if start <= item.at < end]
    digest = Digest(role, day, start)
    if role == "desk":
        loans = [item for item in ordered if item.kind == "loan"]
        digest.sections["due_today"] = [item for item in loans if item in today]
        digest.sections["overdue"] = [item for item in loans if item.at < start]
    elif role == "cafe":
        digest.sections["prep"] = [item for item in today if item.kind == "order"]
        digest.sections["short_notice"] = [
            item for item in ordered if item.kind == "order" and item.short_notice
        ]
    else:
        digest.sections["bookings"] = [item for item in today if item.kind == "booking"]
        digest.sections["requests"] = [
            item for item in ordered if item.kind == "request" and item.at >= start
        ]
    return digest


def digest_event_id(role: DigestRole, day: date) -> str:
    """The digest's key: its deliveries are unique per (this, recipient, channel), and its
    run per (role, day), so two replicas at the same minute send it once."""
    return f"digest:{role}:{day.isoformat()}"
