"""The loans service's use cases, each on one unit of work: check-out, return, renewal, the
waiting list, the stock, the book swap shelf, and the reminder scan.

A use case asks domain.py, reads and writes through `uow.store`, records its events with
`uow.record(...)` and reads the time from `uow.now()`. The settings a rule needs travel in
the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.loans import domain
from services.loans.domain import UNLENDABLE, ReservationStatus
from services.loans.models import Borrower, DeskClosure, Item, Loan, Reservation, ShelfBook
from services.loans.store import NoticeClaim, Store, contact_of, new_id
from shared.anonymise import ANONYMISED
from shared.auth import hash_token, new_token
from shared.calendar import Calendar, Closure, check_whole_days, local_date
from shared.events import (
    Actor,
    DueLoan,
    ItemOutOfService,
    LoanDueMoved,
    LoanDueSoon,
    LoanOverdue,
    LoanRenewed,
    LoanReturned,
    LoanStarted,
    ReservationReady,
)
from shared.messaging.redact import Person
from shared.person_data import row
from shared.unit_of_work import UnitOfWork

Uow = UnitOfWork[Store]


@dataclass(frozen=True)
class Caller:
    """Who asks: desk staff, or a borrower with the manage token they were given."""

    staff: bool
    token: str | None = None
    actor: Actor | None = None  # the staff member, for the events they cause


@dataclass(frozen=True)
class NoticeRules:
    """The reminder settings the lending rules need (from LoansSettings)."""

    due_soon: timedelta
    steps: tuple[int, ...]
    escalation_role: str  # the staff role told at the last level
    batch: int = 500


@dataclass(frozen=True)
class LoanView:
    loan: Loan
    item: Item
    borrower: Borrower
    now: datetime
    manage_token: str | None = None
    escalation_level: int = 0  # the overdue level reached (domain.escalation_level)
    escalation_last: bool = False  # the last level: the borrower is blocked until it is back


def _loan_view(
    loan: Loan,
    item: Item,
    borrower: Borrower,
    now: datetime,
    steps: tuple[int, ...],
    token: str | None = None,
) -> LoanView:
    level = domain.escalation_level(loan.due_at, loan.returned_at, now, steps)
    last = level > 0 and domain.is_last_level(level, steps)
    return LoanView(loan, item, borrower, now, token, level, last)


@dataclass(frozen=True)
class ItemView:
    item: Item
    available: bool


@dataclass(frozen=True)
class ReservationView:
    reservation: Reservation
    manage_token: str | None = None


async def _calendar(uow: Uow, hub: str) -> Calendar:
    """The desk's calendar: the hub's hours, Norwegian holidays and the desk's closures."""
    return await uow.store.calendar(hub, uow.now())


async def _policy(uow: Uow, hub: str, kind: str) -> domain.Policy:
    policy = await uow.store.policy(hub, kind)
    if policy is None:
        raise domain.no_policy(hub, kind)
    return policy


def _schedule_next(loan: Loan, rules: NoticeRules, now: datetime) -> None:
    schedule = domain.notice_schedule(loan.started_at, loan.due_at, rules.due_soon, rules.steps)
    loan.next_notice_at = domain.next_notice_at(schedule, now)


async def borrower_of(uow: Uow, caller: Caller) -> Borrower:
    """The borrower whose manage token the caller sent."""
    borrower = None
    if caller.token:
        borrower = await uow.store.borrower_by_token(hash_token(caller.token))
    if borrower is None:
        raise domain.unknown_borrower()
    return borrower


def _loan_facts(loan: Loan, item: Item, borrower: Borrower) -> dict[str, object]:
    return {
        "loan_id": loan.id,
        "hub": loan.hub,
        "item_id": item.id,
        "item_label": item.label,
        "item_kind": item.kind,
        "borrower_id": borrower.id,
        "borrower": contact_of(borrower),
    }


# --- check-out ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BorrowerDetails:
    name: str
    phone: str
    email: str | None = None
    language: str = "nb"


@dataclass(frozen=True)
class CheckOut:
    hub: str
    borrower: BorrowerDetails
    rules: NoticeRules
    item_id: str | None = None
    kind: str | None = None
    days: int | None = None
    due_date: date | None = None
    condition: str | None = None
    # Backfill from paper records: the loan began earlier.
    started_at: datetime | None = None
    actor: Actor | None = None


async def _borrower_for(uow: Uow, details: BorrowerDetails) -> tuple[Borrower, str | None]:
    """The borrower (created if new, locked) and the manage token issued to them, shown
    once: a new borrower, or one who never had one, gets one."""
    phone = domain.normalise_phone(details.phone)
    token = new_token()
    digest = hash_token(token)
    borrower, _created = await uow.store.borrower_for_update(
        uow.now(),
        name=details.name,
        phone=phone,
        email=details.email,
        language=details.language,
        token_hash=digest,
    )
    return borrower, token if borrower.token_hash == digest else None


async def check_out(uow: Uow, cmd: CheckOut) -> LoanView:
    """Lend a given item, or any free item of a kind, to a borrower (created if new)."""
    now = uow.now()
    store = uow.store
    backfill = cmd.started_at is not None
    start = cmd.started_at or now
    domain.check_backfill(cmd.started_at, now)
    calendar = await _calendar(uow, cmd.hub)  # read once: opening now, and the due time
    if not backfill:
        domain.require_open(calendar, now, "check-out")
    domain.check_request_shape(cmd.condition, cmd.item_id, cmd.kind)

    item: Item | None = None
    if cmd.item_id is not None:
        item = await store.item(cmd.item_id, lock=True)
        if item is None:
            raise domain.item_not_found(cmd.item_id)
        if item.hub != cmd.hub:
            raise domain.item_not_found(cmd.item_id, cmd.hub)
        kind = item.kind
    else:
        assert cmd.kind is not None  # check_request_shape
        kind = cmd.kind
    policy = await _policy(uow, cmd.hub, kind)
    due = domain.due_date(policy, local_date(start), cmd.days, cmd.due_date)
    due_at = domain.closing_time(calendar, due)

    borrower, token = await _borrower_for(uow, cmd.borrower)
    active = await store.active_loans_of(borrower.id)
    overdue = [(loan_id, loan_due) for loan_id, loan_due, _ in active if loan_due <= now]
    blocker = domain.blocking_loan(overdue, now, cmd.rules.steps)
    of_kind = sum(1 for *_, loan_kind in active if loan_kind == kind)
    domain.check_may_borrow(blocker, of_kind, policy, kind)

    reservation = await store.open_reservation_of(cmd.hub, kind, borrower.id)
    if item is not None:
        held = await store.held_for_other(item.id, now, borrower.id)
        domain.check_item_free(item, now, held_for_other=held, backfill=backfill)
    elif (
        reservation is not None
        and reservation.status == ReservationStatus.OFFERED
        and reservation.offered_item_id is not None
    ):
        item = await store.item(reservation.offered_item_id, lock=True)
        assert item is not None  # an offer names an item that exists
        domain.check_offered_item(item, now)
    else:
        item = await store.free_item(cmd.hub, kind, now, borrower.id)
        if item is None:
            raise domain.none_free(kind)
    if reservation is not None:
        reservation.status = domain.next_status(reservation.id, reservation.status, "fulfil")
    if cmd.condition is not None:
        item.condition = cmd.condition
        if cmd.condition in UNLENDABLE:
            raise domain.unlendable(item.label, cmd.condition)

    loan = Loan(
        id=new_id(),
        hub=cmd.hub,
        item_id=item.id,
        borrower_id=borrower.id,
        started_at=start,
        due_at=due_at,
        renewals=0,
        condition_out=item.condition,
        backfilled=backfill,
    )
    _schedule_next(loan, cmd.rules, now)
    await store.lend(loan, item)  # the unique active-loan index speaks here (store.refusal_of)
    uow.record(
        LoanStarted(
            **_loan_facts(loan, item, borrower),
            started_at=loan.started_at,
            due_at=loan.due_at,
            backfilled=backfill,
            actor=cmd.actor,
        )
    )
    return _loan_view(loan, item, borrower, now, cmd.rules.steps, token)


# --- return and renewal ------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLoan:
    loan_id: str
    condition: str = "ok"
    notes: str | None = None
    actor: Actor | None = None


async def return_loan(uow: Uow, cmd: ReturnLoan) -> LoanView:
    """The item comes back in a condition; a damaged one goes out of service, any other is
    offered to the next in line once its buffer has passed."""
    now = uow.now()
    domain.check_condition(cmd.condition)
    found = await uow.store.loan_for_update(cmd.loan_id)
    if found is None:
        raise domain.loan_not_found(cmd.loan_id)
    loan, item, borrower = found
    domain.check_returnable(loan.id, loan.returned_at)
    domain.require_open(await _calendar(uow, loan.hub), now, "return")
    policy = await _policy(uow, loan.hub, item.kind)
    loan.returned_at = now
    loan.condition_in = cmd.condition
    loan.next_notice_at = None
    item.condition = cmd.condition
    item.current_loan_id = None
    if cmd.notes:
        item.notes = cmd.notes
    item.available_from = domain.ready_after_return(now, policy)
    await uow.store.flush()
    uow.record(
        LoanReturned(
            **_loan_facts(loan, item, borrower),
            returned_at=now,
            condition=cmd.condition,
            days_overdue=domain.days_overdue(loan.due_at, now),
            actor=cmd.actor,
        )
    )
    if cmd.condition in UNLENDABLE:
        await take_out_of_service(uow, item, f"returned {cmd.condition}", cmd.actor)
    else:
        await offer_free_items(uow, OfferFree(loan.hub, item.kind))
    return LoanView(loan, item, borrower, now)


@dataclass(frozen=True)
class RenewLoan:
    loan_id: str
    caller: Caller
    rules: NoticeRules


async def _check_access(uow: Uow, caller: Caller, loan_id: str) -> None:
    """Staff see every loan; a borrower's token only their own."""
    if caller.staff:
        return
    borrower = await borrower_of(uow, caller)
    owner = await uow.store.loan_owner(loan_id)
    if owner is None:
        raise domain.loan_not_found(loan_id)
    domain.check_own_loan(owner, borrower.id)


async def renew_loan(uow: Uow, cmd: RenewLoan) -> LoanView:
    """One more period, unless someone waits for the kind or the policy's limits are met."""
    now = uow.now()
    await _check_access(uow, cmd.caller, cmd.loan_id)
    found = await uow.store.loan_for_update(cmd.loan_id)
    if found is None:
        raise domain.loan_not_found(cmd.loan_id)
    loan, item, borrower = found
    domain.check_renewable(
        loan.id,
        loan.returned_at,
        loan.due_at,
        now,
        cmd.rules.steps,
        someone_waiting=await uow.store.someone_waiting(loan.hub, item.kind, loan.due_at),
        kind=item.kind,
    )
    policy = await _policy(uow, loan.hub, item.kind)
    new_due = domain.renewed_due_date(
        policy, local_date(loan.started_at), local_date(loan.due_at), loan.renewals
    )
    loan.due_at = domain.closing_time(await _calendar(uow, loan.hub), new_due)
    loan.renewals += 1
    _schedule_next(loan, cmd.rules, now)
    await uow.store.flush()
    uow.record(
        LoanRenewed(
            **_loan_facts(loan, item, borrower),
            due_at=loan.due_at,
            renewals=loan.renewals,
            actor=cmd.caller.actor,
        )
    )
    return _loan_view(loan, item, borrower, now, cmd.rules.steps)


@dataclass(frozen=True)
class GetLoan:
    loan_id: str
    caller: Caller
    steps: tuple[int, ...]  # the overdue steps (NoticeRules.steps), for the escalation level


async def get_loan(uow: Uow, cmd: GetLoan) -> LoanView:
    await _check_access(uow, cmd.caller, cmd.loan_id)
    row = await uow.store.loan_row(cmd.loan_id)
    if row is None:
        raise domain.loan_not_found(cmd.loan_id)
    return _loan_view(*row, uow.now(), cmd.steps)


@dataclass(frozen=True)
class ListLoans:
    caller: Caller
    steps: tuple[int, ...]  # the overdue steps (NoticeRules.steps), for the escalation level
    status: str | None = None
    borrower_id: str | None = None
    limit: int = 100
    offset: int = 0


async def list_loans(uow: Uow, cmd: ListLoans) -> list[LoanView]:
    """Desk staff see every loan; a borrower (by token) their own."""
    now = uow.now()
    ids: list[str] = []
    if not cmd.caller.staff:
        ids.append((await borrower_of(uow, cmd.caller)).id)
    if cmd.borrower_id is not None:
        ids.append(cmd.borrower_id)
    rows = await uow.store.loans(
        now, borrower_ids=ids, status=cmd.status, limit=cmd.limit, offset=cmd.offset
    )
    return [_loan_view(loan, item, b, now, cmd.steps) for loan, item, b in rows]


@dataclass(frozen=True)
class ReissueToken:
    borrower_id: str


async def reissue_token(uow: Uow, cmd: ReissueToken) -> str:
    """A new manage token for a borrower who lost theirs (the old one stops working)."""
    borrower = await uow.store.borrower(cmd.borrower_id, lock=True)
    if borrower is None:
        raise domain.borrower_not_found(cmd.borrower_id)
    token = new_token()
    borrower.token_hash = hash_token(token)
    return token


# --- the waiting list --------------------------------------------------------------------


async def export_person(uow: Uow, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Access (docs/privacy.md): the borrower records with the person's phone or email, and
    their loans and reservations."""
    out: dict[str, list[dict[str, Any]]] = {"borrowers": [], "loans": [], "reservations": []}
    for borrower in await uow.store.borrowers_of(person):
        out["borrowers"].append(row(borrower))
        out["loans"] += [row(loan) for loan in await uow.store.loans_of_borrower(borrower.id)]
        out["reservations"] += [
            row(r) for r in await uow.store.reservations_of_borrower(borrower.id)
        ]
    return out


async def erase_person(uow: Uow, person: Person) -> dict[str, int]:
    """Erasure (docs/privacy.md): the borrower's name, phone and email go, as retention
    does; their loans stay under the anonymous borrower (an item still out is still the
    desk's to get back: the loan and its item say which), with no more reminders."""
    borrowers = 0
    open_loans = 0
    for borrower in await uow.store.borrowers_of(person):
        for loan in await uow.store.loans_of_borrower(borrower.id):
            if loan.returned_at is None:
                open_loans += 1
                # Nobody left to remind: the desk follows the item up from its loan.
                loan.next_notice_at = None
        borrower.name = ANONYMISED
        borrower.phone = "anon-" + borrower.id.replace("-", "")[:15]
        borrower.email = None
        borrower.token_hash = None
        borrowers += 1
    return {"borrowers": borrowers, "open_loans_kept_without_contact": open_loans}


@dataclass(frozen=True)
class AnonymiseExpired:
    """Borrowers whose last loan was returned more than `retention` ago, with nothing lent
    or reserved since, lose their personal data; at most `limit` per call."""

    retention: timedelta
    limit: int = 200


async def anonymise_expired(uow: Uow, cmd: AnonymiseExpired) -> int:
    ended_before = uow.now() - cmd.retention
    done = 0
    for borrower_id in await uow.store.borrowers_past_retention(ended_before, cmd.limit):
        if await uow.store.anonymise_borrower(borrower_id, ended_before):
            done += 1
    return done


@dataclass(frozen=True)
class OfferFree:
    hub: str
    kind: str


async def offer_free_items(uow: Uow, cmd: OfferFree) -> int:
    """Offer free items of the kind to the waiting reservations, first come first served
    (lapsed offers first go back); each offer is one ReservationReady. Returns how many."""
    now = uow.now()
    store = uow.store
    await store.expire_offers(cmd.hub, cmd.kind, now)
    policy = await _policy(uow, cmd.hub, cmd.kind)
    calendar = await _calendar(uow, cmd.hub)
    offered = 0
    while True:
        reservation = await store.next_waiting(cmd.hub, cmd.kind, now)
        if reservation is None:
            return offered
        item = await store.offerable_item(cmd.hub, cmd.kind, now)
        if item is None:
            return offered
        reservation.status = domain.next_status(reservation.id, reservation.status, "offer")
        reservation.offered_item_id = item.id
        reservation.hold_until = domain.hold_until(
            max(now, item.available_from or now), policy, calendar
        )
        borrower = await store.borrower(reservation.borrower_id)
        assert borrower is not None  # a foreign key
        await store.flush()  # the next pick must see this offer
        uow.record(
            ReservationReady(
                hub=cmd.hub,
                reservation_id=str(reservation.id),
                item_id=item.id,
                item_label=item.label,
                item_kind=item.kind,
                borrower_id=borrower.id,
                borrower=contact_of(borrower),
                hold_until=reservation.hold_until,
            )
        )
        offered += 1


async def take_out_of_service(
    uow: Uow, item: Item, reason: str, actor: Actor | None = None
) -> None:
    """A damaged or retired item can no longer be offered: its open offers go back to the
    queue (keeping their place) and their borrowers are told (ItemOutOfService)."""
    released = list(await uow.store.offers_of_item(item.id))
    for reservation in released:
        reservation.status = domain.next_status(reservation.id, reservation.status, "withdraw")
        reservation.offered_item_id = None
        reservation.hold_until = None
    borrowers = await uow.store.borrowers({r.borrower_id for r in released})
    await uow.store.flush()
    uow.record(
        ItemOutOfService(
            hub=item.hub,
            item_id=item.id,
            item_label=item.label,
            item_kind=item.kind,
            reason=reason,
            reservations_affected=len(released),
            affected_borrowers=[
                contact_of(borrowers[r.borrower_id]) for r in released if r.borrower_id in borrowers
            ],
            actor=actor,
        )
    )


@dataclass(frozen=True)
class Reserve:
    hub: str
    kind: str
    caller: Caller
    wanted_from: datetime | None = None
    # Staff reserve for a borrower they name; a borrower (by token) for themself.
    borrower: BorrowerDetails | None = None


async def reserve(uow: Uow, cmd: Reserve) -> ReservationView:
    """Reserve a kind from a date, or join the queue now; offered at once when one is free."""
    now = uow.now()
    domain.check_reservable(await _policy(uow, cmd.hub, cmd.kind))
    token: str | None = None
    if cmd.caller.staff:
        if cmd.borrower is None:
            raise domain.staff_must_name_borrower()
        borrower, token = await _borrower_for(uow, cmd.borrower)
    elif cmd.caller.token is None and cmd.borrower is not None:
        # A first reservation from the public pages, known by phone as at the desk. A token
        # is issued only to a new borrower (or one who never had one), never one's again.
        borrower, token = await _borrower_for(uow, cmd.borrower)
    else:
        borrower = await borrower_of(uow, cmd.caller)
    domain.check_no_open_reservation(
        await uow.store.open_reservation_of(cmd.hub, cmd.kind, borrower.id) is not None, cmd.kind
    )
    reservation = Reservation(
        hub=cmd.hub,
        kind=cmd.kind,
        borrower_id=borrower.id,
        status=ReservationStatus.WAITING,
        wanted_from=domain.reservation_from(cmd.wanted_from, now),
        created_at=now,
    )
    uow.store.add(reservation)
    await uow.store.flush()
    await offer_free_items(uow, OfferFree(cmd.hub, cmd.kind))
    return ReservationView(reservation, token)


@dataclass(frozen=True)
class ListReservations:
    caller: Caller
    open_only: bool = True


async def list_reservations(uow: Uow, cmd: ListReservations) -> list[ReservationView]:
    own = None if cmd.caller.staff else (await borrower_of(uow, cmd.caller)).id
    return [ReservationView(r) for r in await uow.store.reservations(own, cmd.open_only)]


@dataclass(frozen=True)
class CancelReservation:
    reservation_id: int
    caller: Caller


async def cancel_reservation(uow: Uow, cmd: CancelReservation) -> None:
    """An item offered to the reservation goes to the next in line."""
    reservation = await uow.store.reservation(cmd.reservation_id, lock=True)
    if not cmd.caller.staff:
        own = await borrower_of(uow, cmd.caller)
        if reservation is not None and reservation.borrower_id != own.id:
            reservation = None
    if reservation is None:
        raise domain.reservation_not_found(cmd.reservation_id)
    was_offered = reservation.status == ReservationStatus.OFFERED
    reservation.status = domain.next_status(reservation.id, reservation.status, "cancel")
    await uow.store.flush()
    if was_offered:
        await offer_free_items(uow, OfferFree(reservation.hub, reservation.kind))


@dataclass(frozen=True)
class WaitingEntry:
    place: int | None  # None for one offered an item (held for them)
    reservation: Reservation
    borrower: Borrower
    offered_item: Item | None


@dataclass(frozen=True)
class WaitingLists:
    hub: str


async def waiting_lists(uow: Uow, cmd: WaitingLists) -> dict[str, list[WaitingEntry]]:
    """Per kind, the open reservations in the order items will be offered to them."""
    rows = await uow.store.open_queue(cmd.hub)
    found = {r.id: (b, i) for r, b, i in rows}
    lines = domain.waiting_lines((r for r, _b, _i in rows), uow.now())
    return {
        kind: [WaitingEntry(place, r, *found[r.id]) for place, r in line]
        for kind, line in lines.items()
    }


async def reservations_to_offer(uow: Uow) -> list[OfferFree]:
    """The kinds with a reservation whose date has come, or an offer that lapsed."""
    return [OfferFree(hub, kind) for hub, kind in await uow.store.kinds_with_offers_due(uow.now())]


# --- the stock ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListItems:
    hub: str
    kind: str | None = None
    available: bool | None = None
    include_retired: bool = False


async def list_items(uow: Uow, cmd: ListItems) -> list[ItemView]:
    now = uow.now()
    items = await uow.store.items(cmd.hub, cmd.kind, cmd.include_retired)
    held = await uow.store.held_item_ids(now)
    views = [ItemView(i, domain.is_available(i, now, held=i.id in held)) for i in items]
    return [v for v in views if cmd.available is None or v.available == cmd.available]


async def _item_view(uow: Uow, item: Item) -> ItemView:
    now = uow.now()
    held = item.id in await uow.store.held_item_ids(now)
    return ItemView(item, domain.is_available(item, now, held=held))


@dataclass(frozen=True)
class GetItem:
    item_id: str


async def get_item(uow: Uow, cmd: GetItem) -> ItemView:
    item = await uow.store.item(cmd.item_id)
    if item is None:
        raise domain.item_not_found(cmd.item_id)
    return await _item_view(uow, item)


@dataclass(frozen=True)
class AddItem:
    hub: str
    kind: str
    label: str
    condition: str = "ok"
    notes: str | None = None


async def add_item(uow: Uow, cmd: AddItem) -> ItemView:
    """A new item in stock; a lendable one is offered to the waiting list at once."""
    now = uow.now()
    await _policy(uow, cmd.hub, cmd.kind)
    item = Item(
        id=new_id(),
        hub=cmd.hub,
        kind=cmd.kind,
        label=cmd.label,
        condition=cmd.condition,
        notes=cmd.notes,
        created_at=now,
    )
    uow.store.add(item)
    await uow.store.flush()  # a label taken at the hub speaks here
    if cmd.condition not in UNLENDABLE:
        await offer_free_items(uow, OfferFree(cmd.hub, cmd.kind))
    return await _item_view(uow, item)


@dataclass(frozen=True)
class EditItem:
    item_id: str
    label: str | None = None
    condition: str | None = None
    notes: str | None = None
    retired: bool | None = None
    actor: Actor | None = None


async def edit_item(uow: Uow, cmd: EditItem) -> ItemView:
    """Relabel, note, change the condition, retire or bring back. An item that stops being
    lendable goes out of service (its offers back to the queue); a lendable one is offered."""
    now = uow.now()
    item = await uow.store.item(cmd.item_id, lock=True)
    if item is None:
        raise domain.item_not_found(cmd.item_id)
    was_lendable = domain.is_lendable(item.retired_at, item.condition)
    if cmd.label is not None:
        item.label = cmd.label
    if cmd.notes is not None:
        item.notes = cmd.notes
    if cmd.condition is not None:
        domain.check_condition(cmd.condition)
        item.condition = cmd.condition
    if cmd.retired is True and item.retired_at is None:
        domain.check_retire(item)
        item.retired_at = now
    elif cmd.retired is False:
        item.retired_at = None
    await uow.store.flush()
    lendable = domain.is_lendable(item.retired_at, item.condition)
    if was_lendable and not lendable:
        await take_out_of_service(
            uow, item, domain.out_of_service_reason(item.retired_at, item.condition), cmd.actor
        )
    if lendable:
        await offer_free_items(uow, OfferFree(item.hub, item.kind))
    return await _item_view(uow, item)


# --- the book swap -----------------------------------------------------------------------


@dataclass(frozen=True)
class BringBook:
    hub: str
    title: str
    author: str | None = None
    language: str | None = None


async def bring_book(uow: Uow, cmd: BringBook) -> ShelfBook:
    book = ShelfBook(
        id=new_id(),
        hub=cmd.hub,
        title=cmd.title,
        author=cmd.author,
        language=cmd.language,
        brought_at=uow.now(),
    )
    uow.store.add(book)
    await uow.store.flush()
    return book


@dataclass(frozen=True)
class TakeBook:
    hub: str
    book_id: str | None = None
    title: str | None = None


async def take_book(uow: Uow, cmd: TakeBook) -> ShelfBook:
    domain.check_book_request(cmd.book_id, cmd.title)
    book = await uow.store.book_on_shelf(cmd.hub, cmd.book_id, cmd.title)
    if book is None:
        raise domain.not_on_shelf()
    book.taken_at = uow.now()
    return book


@dataclass(frozen=True)
class Shelf:
    hub: str
    on_shelf: int
    books: list[ShelfBook] = field(default_factory=list)


@dataclass(frozen=True)
class ShowShelf:
    hub: str
    limit: int = 200


async def show_shelf(uow: Uow, cmd: ShowShelf) -> Shelf:
    count, books = await uow.store.shelf(cmd.hub, cmd.limit)
    return Shelf(cmd.hub, count, list(books))


# --- reminders and escalation ------------------------------------------------------------


@dataclass(frozen=True)
class NoticeBatch:
    read: int = 0  # loans read (a full batch means: scan again)
    notices: int = 0  # events recorded
    loans: int = 0  # loans covered by them


async def send_due_notices(uow: Uow, rules: NoticeRules) -> NoticeBatch:
    """One batch of the scan: every loan whose next notice has come, with its item and
    borrower in one read; each notice claimed by its key in one insert (a second scanner
    claims nothing); one event per borrower and notice, covering all their loans."""
    if not await uow.store.take_the_scan():
        return NoticeBatch()  # another replica is scanning: it sends these
    now = uow.now()
    rows = await uow.store.due_for_notice(now, rules.batch)
    wanted: dict[str, tuple[domain.Notice, Loan, Item, Borrower]] = {}
    for loan, item, borrower in rows:
        schedule = domain.notice_schedule(loan.started_at, loan.due_at, rules.due_soon, rules.steps)
        notice, following = domain.notice_now(schedule, now)
        loan.next_notice_at = following
        if loan.returned_at is None and notice is not None:
            wanted[loan.id] = (notice, loan, item, borrower)
    claims = {
        loan_id: NoticeClaim(loan_id, loan.renewals, notice.kind, notice.level, loan.borrower_id)
        for loan_id, (notice, loan, _item, _borrower) in wanted.items()
    }
    claimed = await uow.store.claim_notices(list(claims.values()), now)
    groups = domain.group_notices(
        (loan_id, wanted[loan_id][1].borrower_id, wanted[loan_id][0])
        for loan_id in wanted
        if loan_id in claimed
    )
    sent: list[tuple[NoticeClaim, str]] = []
    for (_borrower_id, kind, level), loan_ids in groups.items():
        envelope = uow.record(_notice_event(rules, now, kind, level, [wanted[i] for i in loan_ids]))
        sent.extend((claims[i], envelope.id) for i in loan_ids)
    await uow.store.note_notice_events(sent)
    return NoticeBatch(len(rows), len(groups), len(sent))


def _notice_event(
    rules: NoticeRules,
    now: datetime,
    kind: str,
    level: int,
    loans: list[tuple[domain.Notice, Loan, Item, Borrower]],
) -> LoanDueSoon | LoanOverdue:
    listed = [
        DueLoan(
            loan_id=loan.id,
            item_label=item.label,
            item_kind=item.kind,
            due_at=loan.due_at,
            days_overdue=domain.days_overdue(loan.due_at, now),
        )
        for _notice, loan, item, _b in sorted(loans, key=lambda w: (w[1].due_at, w[1].id))
    ]
    borrower = loans[0][3]
    hub = loans[0][1].hub
    if kind == domain.DUE_SOON:
        return LoanDueSoon(
            hub=hub, borrower_id=borrower.id, borrower=contact_of(borrower), loans=listed
        )
    last = domain.is_last_level(level, rules.steps)
    return LoanOverdue(
        hub=hub,
        borrower_id=borrower.id,
        borrower=contact_of(borrower),
        level=level,
        days_overdue=max(d.days_overdue for d in listed),
        loans=listed,
        blocked=last,
        escalate_to_role=rules.escalation_role if last else None,
    )


# --- the desk's closures -----------------------------------------------------------------


@dataclass(frozen=True)
class AddClosure:
    hub: str
    first_date: date
    last_date: date
    reason: str
    rules: NoticeRules


@dataclass(frozen=True)
class ClosureAdded:
    closure: DeskClosure
    loans_moved: int
    offers_extended: int


async def add_closure(uow: Uow, cmd: AddClosure) -> ClosureAdded:
    """Close the desk for whole days. Like a holiday: no check-out or return, and loans due
    and offers held until then run to closing time of the next open day, both those made
    from now on and those already out (moved here, their reminders rescheduled)."""
    now = uow.now()
    check_whole_days(cmd.first_date, cmd.last_date, local_date(now))
    span = Closure.whole_days(cmd.first_date, cmd.last_date, cmd.reason)
    row = DeskClosure(
        hub=cmd.hub, start_at=span.start, end_at=span.end, reason=cmd.reason, created_at=now
    )
    await uow.store.add_closure(row)
    calendar = await _calendar(uow, row.hub)
    loans = await uow.store.loans_due_within(row.hub, row.start_at, row.end_at)
    moved = 0
    for loan in loans:
        previous = loan.due_at
        loan.due_at = domain.open_day_end(calendar, loan.due_at)
        if loan.due_at == previous:
            continue  # its day still has open hours: still due then
        _schedule_next(loan, cmd.rules, now)
        moved += 1
        item = await uow.store.item(loan.item_id)
        borrower = await uow.store.borrower(loan.borrower_id)
        assert item is not None and borrower is not None  # foreign keys
        uow.record(
            LoanDueMoved(
                **_loan_facts(loan, item, borrower),
                due_at=loan.due_at,
                previous_due_at=previous,
                reason=row.reason,
            )
        )
    offers = await uow.store.offers_ending_within(row.hub, row.start_at, row.end_at)
    for reservation in offers:
        assert reservation.hold_until is not None  # the query's condition
        reservation.hold_until = domain.open_day_end(calendar, reservation.hold_until)
    await uow.store.flush()
    return ClosureAdded(row, moved, len(offers))


@dataclass(frozen=True)
class ClosuresQuery:
    hub: str


async def list_closures(uow: Uow, cmd: ClosuresQuery) -> list[DeskClosure]:
    """Closures that have not ended yet."""
    return list(await uow.store.closures(cmd.hub, uow.now()))
