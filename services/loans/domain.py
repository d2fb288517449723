"""The lending rules, pure: no I/O, no clock (every function takes `now` when it needs one).

Each rule says no with a shared.errors refusal: NotFound, Conflict (the state forbids it:
taken, blocked, limits reached) or Refused (the request breaks a rule: dates, a closed desk).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol, TypeVar

from shared.calendar import Calendar, at_local, local, local_date
from shared.contacts import e164
from shared.errors import Conflict, NotAllowed, NotAuthenticated, NotFound, Refusal, Refused

__all__ = ["Refusal"]  # the base of every refusal raised here, for callers that catch them

KINDS = ("pc", "planter_box", "book", "other")
CONDITIONS = ("ok", "worn", "damaged", "out_of_service")
# An item in one of these conditions is not lent, and not offered to a reservation.
UNLENDABLE = frozenset({"damaged", "out_of_service"})
DUE_SOON = "due_soon"
OVERDUE = "overdue"


@dataclass(frozen=True)
class Policy:
    kind: str
    lendable: bool = True
    default_days: int = 1
    min_days: int = 1
    max_days: int = 1
    season_end: str | None = None  # "MM-DD"
    max_renewals: int = 0
    max_items_per_borrower: int = 1
    buffer_minutes: int = 0
    hold_hours: int = 48


class ItemState(Protocol):
    """What the rules read of an item (the stored row satisfies it)."""

    @property
    def label(self) -> str: ...
    @property
    def condition(self) -> str: ...
    @property
    def available_from(self) -> datetime | None: ...
    @property
    def retired_at(self) -> datetime | None: ...
    @property
    def current_loan_id(self) -> str | None: ...


# --- borrowers and access ----------------------------------------------------------------


def normalise_phone(raw: str, region: str = "NO") -> str:
    """E.164; Norwegian numbers by default (8 digits without +47)."""
    number = e164(raw, region)
    if number is None:
        raise Refused(
            "phone: not a phone number",
            code="invalid_phone",
            nb="telefon: ikke et telefonnummer",
            field="body.borrower.phone",
        )
    return number


def unknown_borrower() -> NotAuthenticated:
    return NotAuthenticated(
        "a desk staff bearer token or a valid X-Manage-Token is required",
        code="borrower_token_required",
        nb="krever innlogging som ansatt i skranken eller en gyldig X-Manage-Token",
    )


def check_own_loan(loan_borrower_id: str, borrower_id: str) -> None:
    """A borrower's token reads and renews their own loans only (as booking and catering
    answer a token that is not the booking's or order's: 403)."""
    if loan_borrower_id != borrower_id:
        raise NotAllowed(
            "the manage token does not match this loan",
            code="manage_token_mismatch",
            nb="tilgangskoden (X-Manage-Token) hører ikke til dette lånet",
        )


def item_not_found(item_id: str, hub: str | None = None) -> NotFound:
    where = f" at hub {hub}" if hub else ""
    return NotFound(
        f"no item {item_id}{where}",
        code="item_not_found",
        nb=f"fant ikke utstyret {item_id}" + (f" ved {hub}" if hub else ""),
    )


def loan_not_found(loan_id: str) -> NotFound:
    return NotFound(f"no loan {loan_id}", code="loan_not_found", nb=f"fant ikke lånet {loan_id}")


def borrower_not_found(borrower_id: str) -> NotFound:
    return NotFound(
        f"no borrower {borrower_id}",
        code="borrower_not_found",
        nb=f"fant ikke låneren {borrower_id}",
    )


def no_policy(hub: str, kind: str) -> Refused:
    return Refused(
        f"no loan policy for {kind} at hub {hub}",
        code="no_policy",
        nb=f"{hub} har ingen utlånsregler for {_nb(kind)}",
    )


# --- the desk's hours --------------------------------------------------------------------


def require_open(calendar: Calendar, now: datetime, what: str) -> None:
    """Check-out and return happen at the desk, while it is open."""
    if calendar.is_open_at(now):
        return
    reason = calendar.closed_reason(now, now + timedelta(minutes=1)) or "closed"
    opens = calendar.next_open_at(now).isoformat()
    raise Refused(
        f"{what} only while the desk is open ({reason}); it opens {opens}",
        code="desk_closed",
        nb=f"{_WHAT_NB.get(what, what)} bare når skranken er åpen ({reason}); den åpner {opens}",
        opens_at=opens,
    )


_WHAT_NB = {"check-out": "utlån", "return": "innlevering"}
# The kinds as a Norwegian reason names them (the API's own names stay in the English text).
_KIND_NB = {"pc": "PC", "planter_box": "pallekarm", "book": "bok", "other": "utstyr"}


def _nb(kind: str) -> str:
    return _KIND_NB.get(kind, kind)


# --- due dates ---------------------------------------------------------------------------


def closing_time(calendar: Calendar, d: date) -> datetime:
    """When a loan due on local date `d` is due: the desk's closing time on `d`, or on the
    next open day when `d` is closed (a loan may span closed days, but is returned on an
    open one)."""
    day = calendar.next_open_day(d)
    return calendar.open_intervals(day)[-1][1]


def season_end_date(season_end: str, start: date) -> date:
    month, day = (int(p) for p in season_end.split("-"))
    end = date(start.year, month, day)
    return end if end >= start else date(start.year + 1, month, day)


def check_lendable(policy: Policy) -> None:
    if not policy.lendable:
        raise Refused(
            f"{policy.kind} items are not lent (the book swap has no loans)",
            code="not_lendable",
            nb=f"{_nb(policy.kind)} lånes ikke ut (byttehylla har ingen lån)",
        )


def due_date(policy: Policy, start: date, days: int | None, wanted: date | None) -> date:
    """The local due date asked for (or the policy's default), checked against the policy."""
    check_lendable(policy)
    if days is not None and wanted is not None:
        raise Refused(
            "give either days or due_date, not both",
            code="days_or_due_date",
            nb="oppgi enten days eller due_date, ikke begge",
        )
    if policy.season_end:
        latest = season_end_date(policy.season_end, start)
        if wanted is None and days is None:
            return latest
        target = wanted if wanted is not None else start + timedelta(days=days or 0)
        if target <= start:
            raise Refused(
                "the due date must be after the start",
                code="due_before_start",
                nb="forfallsdatoen må være etter start",
            )
        if target > latest:
            raise Refused(
                f"{policy.kind} loans run at most to {latest.isoformat()}",
                code="past_season_end",
                nb=f"lån av {_nb(policy.kind)} varer høyst til {latest.isoformat()}",
            )
        return target
    if wanted is not None:
        days = (wanted - start).days
    if days is None:
        days = policy.default_days
    if days < policy.min_days:
        raise Refused(
            f"a {policy.kind} loan lasts at least {policy.min_days} day(s)",
            code="loan_too_short",
            nb=f"et lån av {_nb(policy.kind)} varer minst {policy.min_days} dag(er)",
        )
    if days > policy.max_days:
        raise Refused(
            f"a {policy.kind} loan lasts at most {policy.max_days} day(s)",
            code="loan_too_long",
            nb=f"et lån av {_nb(policy.kind)} varer høyst {policy.max_days} dag(er)",
        )
    return start + timedelta(days=days)


def renewed_due_date(policy: Policy, started: date, due: date, renewals: int) -> date:
    # The season first: it is the reason a season's loan is never extended.
    if policy.season_end:
        raise Conflict(
            f"{policy.kind} loans run to the end of the season",
            code="season_loan",
            nb=f"lån av {_nb(policy.kind)} varer sesongen ut",
        )
    if renewals >= policy.max_renewals:
        raise Conflict(
            f"no more renewals: {policy.max_renewals} allowed for {policy.kind}",
            code="renewals_used_up",
            nb=f"ingen flere forlengelser: {policy.max_renewals} tillatt for {_nb(policy.kind)}",
        )
    new_due = due + timedelta(days=policy.default_days)
    if (new_due - started).days > policy.max_days:
        raise Conflict(
            f"a {policy.kind} loan lasts at most {policy.max_days} day(s) in all",
            code="renewal_too_long",
            nb=f"et lån av {_nb(policy.kind)} varer høyst {policy.max_days} dag(er) til sammen",
        )
    return new_due


# --- check-out ---------------------------------------------------------------------------


def check_backfill(started_at: datetime | None, now: datetime) -> None:
    """A loan from paper records began in the past."""
    if started_at is not None and started_at > now:
        raise Refused(
            "started_at: a backfilled loan must have started in the past",
            code="backfill_in_future",
            nb="started_at: et etterregistrert lån må ha startet før nå",
            field="body.started_at",
        )


def check_request_shape(condition: str | None, item_id: str | None, kind: str | None) -> None:
    if condition is not None:
        check_condition(condition)
    if (item_id is None) == (kind is None):
        raise Refused(
            "give either item_id or kind",
            code="item_or_kind",
            nb="oppgi enten item_id eller kind",
        )


def check_condition(condition: str) -> None:
    if condition not in CONDITIONS:
        raise Refused(
            f"condition must be one of {', '.join(CONDITIONS)}",
            code="invalid_condition",
            nb=f"tilstand må være en av {', '.join(CONDITIONS)}",
        )


def blocking_loan(
    overdue: Iterable[tuple[str, datetime]], now: datetime, steps: tuple[int, ...]
) -> tuple[str, datetime] | None:
    """Of a borrower's active overdue loans (id, due_at), one past the last escalation step."""
    for loan_id, due_at in overdue:
        if blocked_since(due_at, steps) <= now:
            return loan_id, due_at
    return None


def check_may_borrow(
    blocker: tuple[str, datetime] | None, on_loan: int, policy: Policy, kind: str
) -> None:
    if blocker is not None:
        loan_id, due_at = blocker
        raise Conflict(
            f"the borrower is blocked: loan {loan_id} was due {due_at.isoformat()} "
            "and is overdue past the last reminder; it must be returned first",
            code="borrower_blocked",
            nb=f"låneren er sperret: lånet {loan_id} skulle vært levert {due_at.isoformat()} "
            "og er forfalt etter siste purring; det må leveres først",
            loan_id=loan_id,
        )
    if on_loan >= policy.max_items_per_borrower:
        raise Conflict(
            f"the borrower already has {policy.max_items_per_borrower} {kind} item(s) on "
            "loan, the most allowed",
            code="borrower_limit",
            nb=f"låneren har allerede lånt {policy.max_items_per_borrower} {_nb(kind)}, "
            "det meste som er tillatt",
        )


def _being_prepared(item: ItemState) -> Conflict:
    until = item.available_from.isoformat() if item.available_from else ""
    return Conflict(
        f"item {item.label} is being prepared until {until}",
        code="item_being_prepared",
        nb=f"{item.label} gjøres klar til {until}",
        available_from=until,
    )


def item_lent(label: str) -> Conflict:
    return Conflict(
        f"item {label} is already lent", code="item_lent", nb=f"{label} er allerede lånt ut"
    )


def check_item_free(
    item: ItemState, now: datetime, *, held_for_other: bool, backfill: bool
) -> None:
    """A given item may be lent: in service, not lent, ready (a backfill from paper records
    is not held back by the buffer) and not held for someone else's reservation."""
    if item.retired_at is not None:
        raise Conflict(
            f"item {item.label} is retired", code="item_retired", nb=f"{item.label} er utrangert"
        )
    if item.condition in UNLENDABLE:
        raise unlendable(item.label, item.condition)
    if item.current_loan_id is not None:
        raise item_lent(item.label)
    if not backfill and item.available_from is not None and item.available_from > now:
        raise _being_prepared(item)
    if held_for_other:
        raise Conflict(
            f"item {item.label} is held for a reservation",
            code="item_held",
            nb=f"{item.label} holdes av for en reservasjon",
        )


def check_offered_item(item: ItemState, now: datetime) -> None:
    """The item offered to the borrower's reservation is theirs once it is ready."""
    if item.current_loan_id is not None:
        raise item_lent(item.label)
    if item.available_from is not None and item.available_from > now:
        raise _being_prepared(item)


def none_free(kind: str) -> Conflict:
    return Conflict(
        f"no {kind} is free right now; a reservation joins the queue",
        code="no_item_free",
        nb=f"ingen {_nb(kind)} er ledig nå; en reservasjon stiller seg i køen",
    )


def unlendable(label: str, condition: str) -> Conflict:
    return Conflict(
        f"item {label} is {condition} and cannot be lent",
        code="item_unlendable",
        nb=f"{label} er {_CONDITION_NB.get(condition, condition)} og kan ikke lånes ut",
    )


_CONDITION_NB = {"damaged": "skadet", "out_of_service": "ute av drift", "worn": "slitt"}


# --- return and renewal ------------------------------------------------------------------


def check_returnable(loan_id: str, returned_at: datetime | None) -> None:
    if returned_at is not None:
        raise Conflict(
            f"loan {loan_id} was already returned",
            code="loan_returned",
            nb=f"lånet {loan_id} er allerede levert",
        )


def check_renewable(
    loan_id: str,
    returned_at: datetime | None,
    due_at: datetime,
    now: datetime,
    steps: tuple[int, ...],
    *,
    someone_waiting: bool,
    kind: str,
) -> None:
    if returned_at is not None:
        raise Conflict(
            f"loan {loan_id} was returned", code="loan_returned", nb=f"lånet {loan_id} er levert"
        )
    if blocked_since(due_at, steps) <= now:
        raise Conflict(
            "the loan is overdue past the last reminder and cannot be renewed",
            code="overdue_blocked",
            nb="lånet er forfalt etter siste purring og kan ikke forlenges",
        )
    if someone_waiting:
        raise Conflict(
            f"someone is waiting for a {kind}: it cannot be renewed",
            code="someone_waiting",
            nb=f"noen venter på {_nb(kind)}: lånet kan ikke forlenges",
        )


# --- items: condition and retirement -----------------------------------------------------


def is_lendable(retired_at: datetime | None, condition: str) -> bool:
    return retired_at is None and condition not in UNLENDABLE


def is_available(item: ItemState, now: datetime, *, held: bool) -> bool:
    """Free to lend now: in service, not lent, ready, and not held for a reservation."""
    return (
        is_lendable(item.retired_at, item.condition)
        and item.current_loan_id is None
        and not held
        and (item.available_from is None or item.available_from <= now)
    )


def check_retire(item: ItemState) -> None:
    if item.current_loan_id is not None:
        raise Conflict(
            f"item {item.label} is on loan; return it before retiring",
            code="item_on_loan",
            nb=f"{item.label} er utlånt; lever det inn før det utrangeres",
        )


def out_of_service_reason(retired_at: datetime | None, condition: str) -> str:
    return "retired" if retired_at else f"marked {condition}"


def ready_after_return(now: datetime, policy: Policy) -> datetime:
    """The buffer between loans (a PC is wiped) starts at the return."""
    return now + timedelta(minutes=policy.buffer_minutes)


# --- reservations: the waiting list ------------------------------------------------------


class ReservationStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN = (ReservationStatus.WAITING, ReservationStatus.OFFERED)
ReservationAction = Literal["offer", "fulfil", "cancel", "withdraw"]
_RESERVATION_STEPS: dict[str, tuple[frozenset[ReservationStatus], ReservationStatus]] = {
    "offer": (frozenset({ReservationStatus.WAITING}), ReservationStatus.OFFERED),
    "fulfil": (frozenset(OPEN), ReservationStatus.FULFILLED),
    "cancel": (frozenset(OPEN), ReservationStatus.CANCELLED),
    # The offered item can no longer be lent: back to the queue, keeping the place.
    "withdraw": (frozenset({ReservationStatus.OFFERED}), ReservationStatus.WAITING),
}


def next_status(reservation_id: int, current: str, action: ReservationAction) -> ReservationStatus:
    allowed, target = _RESERVATION_STEPS[action]
    if ReservationStatus(current) not in allowed:
        raise Conflict(
            f"reservation {reservation_id} is already {current}",
            code="reservation_closed",
            nb=f"reservasjon {reservation_id} er allerede {_STATUS_NB.get(current, current)}",
            status_now=current,
        )
    return target


_STATUS_NB = {
    "fulfilled": "innfridd",
    "cancelled": "avbestilt",
    "expired": "utløpt",
    "offered": "tilbudt",
    "waiting": "i kø",
}


def check_reservable(policy: Policy) -> None:
    if not policy.lendable:
        raise Refused(
            f"{policy.kind} items are not lent",
            code="not_lendable",
            nb=f"{_nb(policy.kind)} lånes ikke ut",
        )


def staff_must_name_borrower() -> Refused:
    return Refused(
        "borrower: staff must say who the reservation is for",
        code="borrower_required",
        nb="borrower: ansatte må oppgi hvem reservasjonen gjelder",
        field="body.borrower",
    )


def check_no_open_reservation(has_open: bool, kind: str) -> None:
    if has_open:
        raise Conflict(
            f"the borrower already has an open reservation of a {kind}",
            code="reservation_exists",
            nb=f"låneren har allerede en åpen reservasjon av {_nb(kind)}",
        )


def reservation_from(wanted_from: datetime | None, now: datetime) -> datetime:
    """A reservation wanted from the past (or from no date) joins the queue now."""
    return max(wanted_from or now, now)


def hold_until(ready_at: datetime, policy: Policy, calendar: Calendar) -> datetime:
    """An offer is held from when its item is ready (after the buffer), for the hold time;
    a hold that would end on a day the desk is closed (a weekend, a holiday, a staff
    closure) runs to closing time of the next open day, so it can still be picked up."""
    return open_day_end(calendar, ready_at + timedelta(hours=policy.hold_hours))


def open_day_end(calendar: Calendar, at: datetime) -> datetime:
    """`at` when the desk is open on its day, else closing time of the next open day: where
    a due time or the end of a hold lands when its day is closed. Never earlier than `at`."""
    day = local_date(at)
    if calendar.is_open_day(day):
        return at
    return closing_time(calendar, day)


class QueuedReservation(Protocol):
    """What the waiting line reads of an open reservation (the stored row satisfies it)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def wanted_from(self) -> datetime: ...


Q = TypeVar("Q", bound=QueuedReservation)


def waiting_lines(
    open_reservations: Iterable[Q], now: datetime
) -> dict[str, list[tuple[int | None, Q]]]:
    """Each kind's line in the order offers follow it: first those offered an item (it is
    held for them, so they have no place), then the waiting whose date has come in the order
    they came (by id, as the store's `next_waiting` picks them), then those wanting it from a
    later date, soonest first; the waiting numbered from 1. Kinds in KINDS order."""
    by_kind: dict[str, list[Q]] = {}
    for r in open_reservations:
        by_kind.setdefault(r.kind, []).append(r)
    lines: dict[str, list[tuple[int | None, Q]]] = {}
    for kind in sorted(by_kind, key=lambda k: (KINDS.index(k) if k in KINDS else len(KINDS), k)):
        queue = sorted(by_kind[kind], key=lambda r: r.id)
        offered = [r for r in queue if r.status == ReservationStatus.OFFERED]
        waiting = [r for r in queue if r.status == ReservationStatus.WAITING]
        due = [r for r in waiting if r.wanted_from <= now]
        later = sorted((r for r in waiting if r.wanted_from > now), key=lambda r: r.wanted_from)
        lines[kind] = [(None, r) for r in offered]
        lines[kind] += [(place, r) for place, r in enumerate(due + later, start=1)]
    return lines


def reservation_not_found(reservation_id: int) -> NotFound:
    return NotFound(
        f"no reservation {reservation_id}",
        code="reservation_not_found",
        nb=f"fant ikke reservasjon {reservation_id}",
    )


# --- the book swap -----------------------------------------------------------------------


def check_book_request(book_id: str | None, title: str | None) -> None:
    if (book_id is None) == (title is None):
        raise Refused(
            "give either book_id or title",
            code="book_or_title",
            nb="oppgi enten book_id eller title",
        )


def not_on_shelf() -> Conflict:
    return Conflict(
        "that book is not on the shelf", code="book_not_on_shelf", nb="den boka står ikke i hylla"
    )


# --- reminders and escalation ------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    kind: str  # due_soon | overdue
    level: int  # 0 for due_soon, 1.. for the overdue steps
    at: datetime


def plus_local_days(t: datetime, days: int) -> datetime:
    """The same Oslo wall time `days` calendar days later (DST-safe)."""
    wall = local(t)
    return at_local(wall.date() + timedelta(days=days), wall.time().replace(tzinfo=None))


def notice_schedule(
    started_at: datetime, due_at: datetime, due_soon: timedelta, steps_days: tuple[int, ...]
) -> list[Notice]:
    notices: list[Notice] = []
    soon = due_at - due_soon
    if soon > started_at:
        notices.append(Notice(DUE_SOON, 0, soon))
    for level, days in enumerate(steps_days, start=1):
        notices.append(Notice(OVERDUE, level, plus_local_days(due_at, days)))
    return notices


def notice_now(schedule: list[Notice], now: datetime) -> tuple[Notice | None, datetime | None]:
    """The notice to send at `now` (the latest one reached: a loan found late, e.g. one
    backfilled, gets the level it has reached, not every level on the way) and when the
    next one falls due (None when none is left)."""
    reached = [n for n in schedule if n.at <= now]
    upcoming = [n for n in schedule if n.at > now]
    return (reached[-1] if reached else None), (upcoming[0].at if upcoming else None)


def next_notice_at(schedule: list[Notice], now: datetime) -> datetime | None:
    """For a new or renewed loan: the first notice still ahead (or one already due)."""
    current, upcoming = notice_now(schedule, now)
    return current.at if current else upcoming


def days_overdue(due_at: datetime, now: datetime) -> int:
    if now <= due_at:
        return 0
    return max(0, (local_date(now) - local_date(due_at)).days)


def blocked_since(due_at: datetime, steps_days: tuple[int, ...]) -> datetime:
    """A borrower is blocked once a loan passes the last escalation step."""
    return plus_local_days(due_at, steps_days[-1] if steps_days else 0)


def escalation_level(
    due_at: datetime, returned_at: datetime | None, now: datetime, steps_days: Sequence[int]
) -> int:
    """The overdue level a loan not yet returned has reached at `now`, by the same steps the
    scan tells the borrower by (0: none reached, or back already). The desk sees where a loan
    stands even before the scan has run, and a loan found late has the level it reached."""
    if returned_at is not None:
        return 0
    return sum(1 for days in steps_days if plus_local_days(due_at, days) <= now)


def is_last_level(level: int, steps_days: Sequence[int]) -> bool:
    """The last overdue level blocks the borrower and tells the desk."""
    return level >= len(steps_days)


NoticeKey = tuple[str, str, int]  # (borrower id, kind, level)


def group_notices(claimed: Iterable[tuple[str, str, Notice]]) -> dict[NoticeKey, list[str]]:
    """One message per borrower and notice, covering all their loans that reached it:
    (loan id, borrower id, notice) -> {(borrower id, kind, level): [loan ids]}, in a
    stable order."""
    groups: dict[NoticeKey, list[str]] = {}
    for loan_id, borrower_id, notice in claimed:
        groups.setdefault((borrower_id, notice.kind, notice.level), []).append(loan_id)
    return dict(sorted(groups.items()))
