"""Café Jasmin's rules: menu facts, lead time and cut-off, pick-up hours, capacity, the
order lifecycle, the prep list and the day's deadlines. Pure: no I/O, and `now` is always a
parameter. Every no is a shared.errors refusal with a stable code and a Bokmål text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Generic, Literal, Protocol, TypeVar

from shared.calendar import Calendar, at_local, local, local_date, require_aware
from shared.errors import Conflict, NotAllowed, NotAuthenticated, Refused

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


STATUS_NB: dict[Status, str] = {
    Status.PENDING_ACCEPTANCE: "venter på svar fra kafeen",
    Status.PLACED: "mottatt",
    Status.ACCEPTED: "bekreftet",
    Status.REJECTED: "avslått",
    Status.READY: "klar til henting",
    Status.PICKED_UP: "hentet",
    Status.CANCELLED: "avbestilt",
}
KIND_NB: dict[str, str] = {"takeaway": "take-away", "catering": "catering"}


class OrderRefused(Refused):
    """The order cannot be placed as asked (422): `code` is stable, `reason` is for people,
    the details (`extra`) are what a client can act on (the next open time, the next day
    with room)."""

    def __init__(self, code: str, reason: str, *, nb: str, **extra: Any) -> None:
        super().__init__(reason, code=code, nb=nb, **extra)

    @property
    def reason(self) -> str:
        return self.message

    @property
    def extra(self) -> dict[str, Any]:
        return self.details


class TransitionRefused(Conflict):
    """A lifecycle step the order's state does not allow (409)."""


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
            "unknown_item",
            f"unknown menu item(s): {', '.join(unknown)}",
            nb=f"finnes ikke på menyen: {', '.join(unknown)}",
            items=unknown,
        )
    for item_id, quantity in merge_lines(lines):
        item = menu[item_id]
        if not item.available:
            raise OrderRefused(
                "unavailable_item",
                f"{item.name} ({item_id}) is not available",
                nb=f"{item.name} ({item_id}) kan ikke bestilles nå",
                items=[item_id],
            )
        if kind not in item.kinds:
            raise OrderRefused(
                "wrong_kind",
                f"{item.name} ({item_id}) is not offered for {kind} orders",
                nb=f"{item.name} ({item_id}) kan ikke bestilles som {KIND_NB.get(kind, kind)}",
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
        raise OrderRefused(
            "past", "the pick-up time is in the past", nb="hentetidspunktet har allerede vært"
        )
    if pickup_at > now + timedelta(days=rules.max_days_ahead):
        raise OrderRefused(
            "too_far_ahead",
            f"orders are taken at most {rules.max_days_ahead} days ahead",
            nb=f"vi tar imot bestillinger høyst {rules.max_days_ahead} dager fram i tid",
        )
    closed = calendar.closed_reason(pickup_at, pickup_at + timedelta(minutes=1))
    if closed:
        raise OrderRefused(
            "outside_hours",
            f"the café is closed at the pick-up time ({closed}); pick-up is Monday–Friday "
            "10:00–15:00 on days the café is open",
            nb=f"kafeen er stengt på hentetidspunktet ({closed}); henting er mandag–fredag "
            "kl. 10.00–15.00 på dager kafeen er åpen",
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
                nb=f"take-away må bestilles minst {minutes} minutter før henting",
                earliest_pickup_at=calendar.next_open_at(earliest).isoformat(),
            )
        order_by = pickup_at - rules.takeaway_min_lead
        return Timing(pickup_at, day, False, order_by, order_by)
    order_by = catering_order_by(calendar, day, rules)
    # Short notice is flagged for the café to decide, never refused, never auto-accepted.
    return Timing(pickup_at, day, now >= order_by, order_by, order_by)


def catering_order_by(calendar: Calendar, day: date, rules: CafeRules) -> datetime:
    """Catering for `day` ordered before this is regular; later, it is short notice."""
    return at_local(working_day_before(calendar, day, rules.lead_working_days), rules.cutoff)


def describe_deadline(order_by: datetime, language: str = "en") -> str:
    wall = local(order_by)
    if language == "nb":
        return wall.strftime("%d.%m.%Y kl. %H.%M")
    return wall.strftime("%Y-%m-%d %H:%M")


def placed_message(
    short_notice: bool, order_by: datetime, cancel_cutoff_at: datetime, language: str
) -> str:
    """What the customer is told when the order is taken, in the customer's language."""
    if short_notice:
        if language == "nb":
            return (
                "Kort varsel: bestillingen kom etter fristen "
                f"({describe_deadline(order_by, 'nb')}). Kafeen sier ja eller nei til den, "
                "og du får beskjed."
            )
        return (
            "Short notice: the order came after the cut-off "
            f"({describe_deadline(order_by)}, Oslo time). The café will accept or "
            "reject it, and you will be told."
        )
    if language == "nb":
        return (
            "Bestillingen er mottatt. Du kan avbestille fram til "
            f"{describe_deadline(cancel_cutoff_at, 'nb')}."
        )
    return (
        f"Order received. You can cancel until {describe_deadline(cancel_cutoff_at)} (Oslo time)."
    )


# --------------------------------------------------------------------------- capacity

# How far ahead a full day's refusal looks for a day with room.
ROOM_HORIZON_DAYS = 60


@dataclass(frozen=True)
class DayLoad:
    capacity: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.used)

    def fits(self, portions: int) -> bool:
        return self.used + portions <= self.capacity


def next_day_with_room(
    calendar: Calendar,
    after: date,
    needed: int,
    loads: Mapping[date, DayLoad],
    default_capacity: int,
    horizon_days: int = ROOM_HORIZON_DAYS,
) -> date | None:
    for offset in range(1, horizon_days + 1):
        d = after + timedelta(days=offset)
        if not calendar.is_open_day(d):
            continue
        load = loads.get(d, DayLoad(default_capacity, 0))
        if load.remaining >= needed:
            return d
    return None


def capacity_full(day: date, load: DayLoad, portions: int, next_day: date | None) -> OrderRefused:
    """The refusal of an order the day has no room for, offering the next day with room."""
    reason = (
        f"the café is full on {day.isoformat()}: {load.remaining} portion(s) left, "
        f"{portions} asked for"
    )
    nb = (
        f"kafeen er fullbooket {day.isoformat()}: {load.remaining} porsjon(er) igjen, "
        f"{portions} bestilt"
    )
    if next_day:
        reason += f"; the next day with room is {next_day.isoformat()}"
        nb += f"; neste dag med plass er {next_day.isoformat()}"
    else:
        reason += f"; no day within the next {ROOM_HORIZON_DAYS} has room for that many"
        nb += f"; ingen dag de neste {ROOM_HORIZON_DAYS} dagene har plass til så mange"
    return OrderRefused(
        "capacity_full",
        reason,
        nb=nb,
        remaining=load.remaining,
        next_available_date=next_day.isoformat() if next_day else None,
    )


def check_capacity_day(day: date, today: date) -> None:
    if day < today:
        raise Refused(
            "that day is in the past",
            code="day_in_past",
            nb="den dagen har allerede vært",
            field="path.day",
        )


def check_new_capacity(day: date, load: DayLoad, capacity: int) -> DayLoad:
    """The day's load with the new capacity; never below what is already promised."""
    if capacity < load.used:
        raise Conflict(
            f"{load.used} portions are already promised on {day.isoformat()}; "
            "the capacity cannot go below that",
            code="below_used",
            nb=f"{load.used} porsjoner er allerede lovet bort {day.isoformat()}; "
            "kapasiteten kan ikke settes lavere enn det",
            field="body.portions",
            used=load.used,
        )
    return DayLoad(capacity, load.used)


# --------------------------------------------------------------------------- lifecycle

_STAFF_STEPS: dict[str, tuple[frozenset[Status], Status]] = {
    "accept": (AWAITING_DECISION, Status.ACCEPTED),
    "reject": (AWAITING_DECISION, Status.REJECTED),
    "ready": (frozenset({Status.ACCEPTED}), Status.READY),
    "picked_up": (frozenset({Status.READY}), Status.PICKED_UP),
}
StaffAction = Literal["accept", "reject", "ready", "picked_up"]
# The timestamp each status is reached at.
STAMP: dict[Status, str] = {
    Status.ACCEPTED: "accepted_at",
    Status.REJECTED: "rejected_at",
    Status.READY: "ready_at",
    Status.PICKED_UP: "picked_up_at",
}


def next_status(current: str, action: str) -> Status:
    allowed, target = _STAFF_STEPS[action]
    status = Status(current)
    if status not in allowed:
        raise TransitionRefused(
            f"an order that is {current} cannot be marked {target.value}"
            f" (allowed from: {', '.join(sorted(s.value for s in allowed))})",
            code="wrong_status",
            nb=f"en bestilling som er {STATUS_NB[status]}, kan ikke merkes «{STATUS_NB[target]}»",
            order_status=current,
        )
    return target


Canceller = Literal["customer", "cafe", "booking"]


@dataclass(frozen=True)
class CancelCheck:
    by: Canceller
    now: datetime
    cancel_cutoff_at: datetime


def check_cancel(current: str, check: CancelCheck) -> None:
    status = Status(current)
    if status not in HOLDS_CAPACITY:
        raise TransitionRefused(
            f"an order that is {current} cannot be cancelled",
            code="not_cancellable",
            nb=f"en bestilling som er {STATUS_NB[status]}, kan ikke avbestilles",
            order_status=current,
        )
    if check.by != "customer":
        return
    if status is Status.PENDING_ACCEPTANCE:
        return  # the café has not committed to it yet
    if status is Status.READY:
        raise TransitionRefused(
            "the order is ready for pick-up; contact the café to cancel it",
            code="ready_for_pickup",
            nb="bestillingen er klar til henting; kontakt kafeen for å avbestille",
        )
    if check.now >= check.cancel_cutoff_at:
        raise TransitionRefused(
            "the cut-off for cancelling was "
            f"{describe_deadline(check.cancel_cutoff_at)} (Oslo time); contact the café",
            code="cancel_cutoff_passed",
            nb="fristen for å avbestille var "
            f"{describe_deadline(check.cancel_cutoff_at, 'nb')}; kontakt kafeen",
        )


# --------------------------------------------------------------------------- changes

# What a customer may still change: the café has not started on it.
CHANGEABLE = frozenset({Status.PENDING_ACCEPTANCE, Status.PLACED, Status.ACCEPTED})
ChangeMode = Literal["apply", "request"]


class ChangeStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    # Another request by the customer took its place, or the order ended first.
    REPLACED = "replaced"
    VOID = "void"


def change_mode(current: str, now: datetime, cancel_cutoff_at: datetime, new: Timing) -> ChangeMode:
    """Whether a customer's change takes effect at once or waits for the café.

    Before the order's cut-off a change that is itself in time applies at once; after it, or
    when the change moves the order inside the new day's lead time, it is a short-notice
    request. A short-notice order the café has not answered yet changes in place: the café
    decides on what it then says."""
    status = Status(current)
    if status is Status.READY:
        raise TransitionRefused(
            "the order is ready for pick-up; contact the café to change it",
            code="ready_for_pickup",
            nb="bestillingen er klar til henting; kontakt kafeen for å endre den",
        )
    if status not in CHANGEABLE:
        raise TransitionRefused(
            f"an order that is {current} cannot be changed",
            code="not_changeable",
            nb=f"en bestilling som er {STATUS_NB[status]}, kan ikke endres",
            order_status=current,
        )
    if status is Status.PENDING_ACCEPTANCE:
        return "apply"
    if now >= cancel_cutoff_at or new.short_notice:
        return "request"
    return "apply"


def check_change_decidable(
    order_status: str, pickup_at: datetime, now: datetime, calendar: Calendar
) -> None:
    """Accepting a short-notice change: the order still runs, and the asked-for pick-up time
    has not passed nor been closed since it was asked for."""
    if Status(order_status) not in HOLDS_CAPACITY:
        raise TransitionRefused(
            f"the order is {order_status}; its change request has lapsed",
            code="not_changeable",
            nb=f"bestillingen er {STATUS_NB[Status(order_status)]}; "
            "endringsønsket gjelder ikke lenger",
            order_status=order_status,
        )
    if pickup_at <= now:
        raise OrderRefused(
            "past",
            "the asked-for pick-up time has passed",
            nb="det ønskede hentetidspunktet har vært",
        )
    closed = calendar.closed_reason(pickup_at, pickup_at + timedelta(minutes=1))
    if closed:
        raise OrderRefused(
            "outside_hours",
            f"the café is closed at the asked-for pick-up time ({closed})",
            nb=f"kafeen er stengt på det ønskede hentetidspunktet ({closed})",
        )


def no_change_pending() -> Conflict:
    return Conflict(
        "the order has no change waiting for the café",
        code="no_change_pending",
        nb="bestillingen har ingen endring som venter på svar fra kafeen",
    )


def changed_message(
    mode: ChangeMode, status: str, cancel_cutoff_at: datetime, language: str
) -> str:
    """What the customer is told when they change an order, in their language."""
    if Status(status) is Status.PENDING_ACCEPTANCE:
        if language == "nb":
            return (
                "Bestillingen er endret. Den er på kort varsel, så kafeen sier ja eller nei "
                "til den, og du får beskjed."
            )
        return (
            "Order changed. It is short notice, so the café will accept or reject it, and "
            "you will be told."
        )
    if mode == "request":
        if language == "nb":
            return (
                "Endringen kom etter fristen. Kafeen sier ja eller nei til den, og du får "
                "beskjed. Til da gjelder bestillingen slik den var."
            )
        return (
            "The change came after the cut-off. The café will accept or reject it, and you "
            "will be told. Until then the order stands as it was."
        )
    if language == "nb":
        return (
            "Bestillingen er endret. Du kan endre eller avbestille fram til "
            f"{describe_deadline(cancel_cutoff_at, 'nb')}."
        )
    return (
        "Order changed. You can change or cancel it until "
        f"{describe_deadline(cancel_cutoff_at)} (Oslo time)."
    )


def booking_cancel_reason(reason: str | None) -> str:
    text = "the room booking was cancelled"
    if reason:
        text += f": {reason}"
    return text[:1000]


# --------------------------------------------------------------------------- who may see it


def check_caller(cafe_staff: bool, token: str | None, other_staff: bool) -> None:
    """An order is seen and changed by the café's staff or by whoever holds its manage
    token; staff of another role are told which role it takes."""
    if cafe_staff or token:
        return
    if other_staff:
        raise NotAllowed(
            "this needs the cafe role or the order's X-Manage-Token",
            code="cafe_or_manage_token",
            nb="dette krever rollen cafe eller bestillingens X-Manage-Token",
        )
    raise NotAuthenticated(
        "send the order's X-Manage-Token header, or a café staff bearer token",
        code="manage_token_required",
        nb="send bestillingens X-Manage-Token, eller en bearer-token for kafeens ansatte",
    )


def wrong_manage_token() -> NotAllowed:
    return NotAllowed(
        "the manage token does not match this order",
        code="wrong_manage_token",
        nb="administrasjonsnøkkelen passer ikke til denne bestillingen",
    )


# --------------------------------------------------------------------------- the café's day


class PrepLine(Protocol):
    @property
    def item_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def allergens(self) -> list[str]: ...


class PrepOrder(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def people(self) -> int | None: ...
    @property
    def lines(self) -> Sequence[PrepLine]: ...


OrderT = TypeVar("OrderT", bound=PrepOrder)
Entry = TypeVar("Entry")  # what prep_of was given: the rows themselves


@dataclass(frozen=True)
class PrepCount:
    item_id: str
    name: str
    quantity: int
    allergens: tuple[str, ...]


@dataclass(frozen=True)
class Prep(Generic[Entry]):
    items: list[PrepCount]  # by item id
    people: int
    pickups: list[Entry]  # what the café has said yes to, in the given (pick-up) order
    awaiting_decision: list[Entry]


def prep_of(orders: Sequence[OrderT]) -> Prep[OrderT]:
    """What to make for a day: the lines of accepted and ready orders summed per item."""
    counts: dict[str, int] = defaultdict(int)
    names: dict[str, tuple[str, tuple[str, ...]]] = {}
    people = 0
    pickups = [o for o in orders if o.status in TO_PREPARE]
    for order in pickups:
        people += order.people or 0
        for line in order.lines:
            counts[line.item_id] += line.quantity
            names.setdefault(line.item_id, (line.name, tuple(line.allergens)))
    return Prep(
        items=[PrepCount(i, names[i][0], q, names[i][1]) for i, q in sorted(counts.items())],
        people=people,
        pickups=pickups,
        awaiting_decision=[o for o in orders if o.status in AWAITING_DECISION],
    )


@dataclass(frozen=True)
class DayAvailability:
    day: date
    open: bool
    closed_reason: str | None
    remaining_portions: int
    catering_order_by: datetime | None


def availability(
    calendar: Calendar,
    first: date,
    days: int,
    loads: Mapping[date, DayLoad],
    rules: CafeRules,
) -> list[DayAvailability]:
    """Per day: open or why not, portions left, and the catering order-by deadline."""
    out: list[DayAvailability] = []
    for offset in range(days):
        d = first + timedelta(days=offset)
        is_open = calendar.is_open_day(d)
        load = loads.get(d, DayLoad(rules.daily_capacity, 0))
        reason = None
        if not is_open:
            start = at_local(d, rules.cutoff)
            reason = calendar.closed_reason(start, start + timedelta(minutes=1))
        out.append(
            DayAvailability(
                day=d,
                open=is_open,
                closed_reason=reason,
                remaining_portions=load.remaining if is_open else 0,
                catering_order_by=catering_order_by(calendar, d, rules) if is_open else None,
            )
        )
    return out


# --------------------------------------------------------------------------- the menu

# What a menu item cannot be without.
REQUIRED_MENU_FIELDS = frozenset(
    {"name_nb", "category", "unit", "price_ore", "allergens", "diet", "kinds", "available"}
)


def tag_list(values: Iterable[str]) -> list[str]:
    """Allergens, diet tags and kinds are kept sorted and without repeats."""
    return sorted(set(values))


def menu_changes(changes: Mapping[str, object]) -> dict[str, object]:
    """A staff edit of an item, checked: required fields stay set."""
    out: dict[str, object] = {}
    for key, value in changes.items():
        if value is None and key in REQUIRED_MENU_FIELDS:
            raise Refused(
                f"{key} cannot be null",
                code="required_field",
                nb=f"{key} kan ikke være tom",
                field=f"body.{key}",
            )
        out[key] = tag_list(value) if isinstance(value, list) else value
    return out


def menu_item_exists(item_id: str) -> Conflict:
    return Conflict(
        f"menu item {item_id} already exists",
        code="menu_item_exists",
        nb=f"{item_id} finnes allerede på menyen",
    )
