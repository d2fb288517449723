"""Café Jasmin's rules: menu facts, lead time and cut-off, pick-up hours, capacity, and the
order lifecycle. Pure: no I/O, and `now` is always a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from shared.calendar import Calendar, at_local, local, local_date, require_aware

# The 14 allergens EU 1169/2011 (and the Norwegian matinformasjonsforskriften) require
# shown, by a stable code, with the name a Norwegian menu uses.
ALLERGENS: dict[str, str] = {
    "gluten": "gluten",
    "crustaceans": "skalldyr",
    "eggs": "egg",
    "fish": "fisk",
    "peanuts": "peanøtter",
    "soybeans": "soya",
    "milk": "melk",
    "nuts": "nøtter",
    "celery": "selleri",
    "mustard": "sennep",
    "sesame": "sesamfrø",
    "sulphites": "svoveldioksid og sulfitter",
    "lupin": "lupin",
    "molluscs": "bløtdyr",
}
Allergen = Literal[
    "gluten",
    "crustaceans",
    "eggs",
    "fish",
    "peanuts",
    "soybeans",
    "milk",
    "nuts",
    "celery",
    "mustard",
    "sesame",
    "sulphites",
    "lupin",
    "molluscs",
]
DietTag = Literal["vegetarian", "vegan", "halal"]
Kind = Literal["takeaway", "catering"]
Unit = Literal["per_person", "piece", "platter"]


class Status(StrEnum):
    PENDING_ACCEPTANCE = "pending_acceptance"
    PLACED = "placed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    READY = "ready"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"


# Orders in these states hold their portions of the day's capacity.
HOLDS_CAPACITY = frozenset(
    {Status.PENDING_ACCEPTANCE, Status.PLACED, Status.ACCEPTED, Status.READY}
)
# What the prep list counts: the café has said yes.
TO_PREPARE = frozenset({Status.ACCEPTED, Status.READY})
AWAITING_DECISION = frozenset({Status.PENDING_ACCEPTANCE, Status.PLACED})


@dataclass(frozen=True)
class CafeRules:
    lead_working_days: int = 2
    cutoff: time = time(12, 0)
    takeaway_min_lead: timedelta = timedelta(minutes=30)
    max_days_ahead: int = 180
    daily_capacity: int = 120


class OrderRefused(Exception):
    """The order cannot be placed as asked; `code` is stable, `reason` is for people."""

    def __init__(self, code: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.extra = extra


class TransitionRefused(Exception):
    pass


# --------------------------------------------------------------------------- money


def format_nok(ore: int) -> str:
    """1234550 -> 'kr 12 345,50' (Norwegian style; integer arithmetic only)."""
    if not isinstance(ore, int) or isinstance(ore, bool):
        raise TypeError("amounts are integer øre")
    sign = "-" if ore < 0 else ""
    kroner, rest = divmod(abs(ore), 100)
    grouped = f"{kroner:,}".replace(",", "\u00a0")
    return f"kr {sign}{grouped},{rest:02d}"


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class MenuFacts:
    item_id: str
    name: str
    price_ore: int
    allergens: tuple[str, ...]
    available: bool
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class PricedLine:
    item_id: str
    name: str
    quantity: int
    unit_price_ore: int
    allergens: tuple[str, ...]

    @property
    def total_ore(self) -> int:
        return self.quantity * self.unit_price_ore


def merge_lines(lines: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The same item twice is one line with the summed quantity, in first-seen order."""
    merged: dict[str, int] = {}
    for item_id, quantity in lines:
        merged[item_id] = merged.get(item_id, 0) + quantity
    return list(merged.items())


def price_lines(
    lines: Iterable[tuple[str, int]], menu: Mapping[str, MenuFacts], kind: str
) -> list[PricedLine]:
    priced: list[PricedLine] = []
    unknown = [item_id for item_id, _ in lines if item_id not in menu]
    if unknown:
        raise OrderRefused(
            "unknown_item", f"unknown menu item(s): {', '.join(unknown)}", items=unknown
        )
    for item_id, quantity in merge_lines(lines):
        item = menu[item_id]
        if not item.available:
            raise OrderRefused(
                "unavailable_item", f"{item.name} ({item_id}) is not available", items=[item_id]
            )
        if kind not in item.kinds:
            raise OrderRefused(
                "wrong_kind",
                f"{item.name} ({item_id}) is not offered for {kind} orders",
                items=[item_id],
            )
        priced.append(PricedLine(item_id, item.name, quantity, item.price_ore, item.allergens))
    return priced


def total_ore(lines: Iterable[PricedLine]) -> int:
    return sum(line.total_ore for line in lines)


def portions(lines: Iterable[PricedLine]) -> int:
    return sum(line.quantity for line in lines)


# --------------------------------------------------------------------------- time


def working_day_before(calendar: Calendar, d: date, n: int) -> date:
    """The n-th open day before `d` (`d` itself not counted)."""
    current, steps = d, 0
    while n > 0:
        current -= timedelta(days=1)
        steps += 1
        if steps > 400:
            raise ValueError(f"no open day within 400 days before {d}")
        if calendar.is_open_day(current):
            n -= 1
    return current


@dataclass(frozen=True)
class Timing:
    pickup_at: datetime
    pickup_day: date
    short_notice: bool
    order_by: datetime  # placed before this, the order is not short notice
    cancel_cutoff_at: datetime  # the customer may cancel until then


def check_timing(
    kind: str, pickup_at: datetime, now: datetime, calendar: Calendar, rules: CafeRules
) -> Timing:
    pickup_at, now = require_aware(pickup_at), require_aware(now)
    if pickup_at <= now:
        raise OrderRefused("past", "the pick-up time is in the past")
    if pickup_at > now + timedelta(days=rules.max_days_ahead):
        raise OrderRefused(
            "too_far_ahead", f"orders are taken at most {rules.max_days_ahead} days ahead"
        )
    closed = calendar.closed_reason(pickup_at, pickup_at + timedelta(minutes=1))
    if closed:
        raise OrderRefused(
            "outside_hours",
            f"the café is closed at the pick-up time ({closed}); pick-up is Monday–Friday "
            "10:00–15:00 on days the café is open",
            next_open_at=calendar.next_open_at(pickup_at).isoformat(),
        )
    day = local_date(pickup_at)
    if kind == "takeaway":
        earliest = now + rules.takeaway_min_lead
        if pickup_at < earliest:
            minutes = int(rules.takeaway_min_lead.total_seconds() // 60)
            raise OrderRefused(
                "too_soon",
                f"take-away needs at least {minutes} minutes' notice",
                earliest_pickup_at=calendar.next_open_at(earliest).isoformat(),
            )
        order_by = pickup_at - rules.takeaway_min_lead
        return Timing(pickup_at, day, False, order_by, order_by)
    order_by = at_local(working_day_before(calendar, day, rules.lead_working_days), rules.cutoff)
    # Short notice is flagged for the café to decide, never refused, never auto-accepted.
    return Timing(pickup_at, day, now >= order_by, order_by, order_by)


def describe_deadline(order_by: datetime) -> str:
    wall = local(order_by)
    return wall.strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True)
class DayLoad:
    capacity: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.used)


def next_day_with_room(
    calendar: Calendar,
    after: date,
    needed: int,
    loads: Mapping[date, DayLoad],
    default_capacity: int,
    horizon_days: int = 60,
) -> date | None:
    for offset in range(1, horizon_days + 1):
        d = after + timedelta(days=offset)
        if not calendar.is_open_day(d):
            continue
        load = loads.get(d, DayLoad(default_capacity, 0))
        if load.remaining >= needed:
            return d
    return None


# --------------------------------------------------------------------------- lifecycle

_STAFF_STEPS: dict[str, tuple[frozenset[Status], Status]] = {
    "accept": (AWAITING_DECISION, Status.ACCEPTED),
    "reject": (AWAITING_DECISION, Status.REJECTED),
    "ready": (frozenset({Status.ACCEPTED}), Status.READY),
    "picked_up": (frozenset({Status.READY}), Status.PICKED_UP),
}


def next_status(current: str, action: str) -> Status:
    allowed, target = _STAFF_STEPS[action]
    if Status(current) not in allowed:
        raise TransitionRefused(
            f"an order that is {current} cannot be marked {target.value}"
            f" (allowed from: {', '.join(sorted(s.value for s in allowed))})"
        )
    return target


@dataclass(frozen=True)
class CancelCheck:
    by: Literal["customer", "cafe", "booking"]
    now: datetime
    cancel_cutoff_at: datetime


def check_cancel(current: str, check: CancelCheck) -> None:
    status = Status(current)
    if status not in HOLDS_CAPACITY:
        raise TransitionRefused(f"an order that is {current} cannot be cancelled")
    if check.by != "customer":
        return
    if status is Status.PENDING_ACCEPTANCE:
        return  # the café has not committed to it yet
    if status is Status.READY:
        raise TransitionRefused("the order is ready for pick-up; contact the café to cancel it")
    if check.now >= check.cancel_cutoff_at:
        raise TransitionRefused(
            "the cut-off for cancelling was "
            f"{describe_deadline(check.cancel_cutoff_at)} (Oslo time); contact the café"
        )
