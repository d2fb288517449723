"""Check-out, return and renewal: the rules applied inside one transaction, with their events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans import domain
from services.loans.domain import CONDITIONS, UNLENDABLE, Refusal
from services.loans.models import Borrower, Item, Loan, messaging
from services.loans.reservations import (
    offer_next,
    open_reservation_of,
    release_item_offers,
    someone_waiting,
)
from services.loans.settings import LoansSettings
from services.loans.store import (
    active_loan_exists,
    active_loans_of,
    blocking_loan,
    borrower_for_update,
    calendar_of,
    contact_of,
    for_update,
    free_item,
    held_for_other,
    new_id,
    policy_for,
)
from shared.auth import hash_token, new_token
from shared.calendar import local_date
from shared.events import ItemOutOfService, LoanRenewed, LoanReturned, LoanStarted
from shared.messaging.outbox import emit


@dataclass
class BorrowerDetails:
    name: str
    phone: str
    email: str | None = None
    language: str = "nb"


@dataclass
class CheckOutRequest:
    hub: str
    borrower: BorrowerDetails
    item_id: str | None = None
    kind: str | None = None
    days: int | None = None
    due_date: date | None = None
    condition: str | None = None
    # Backfill from paper records: the loan began earlier.
    started_at: datetime | None = None


@dataclass
class CheckedOut:
    loan: Loan
    item: Item
    borrower: Borrower
    manage_token: str | None


def require_open(hub: str, now: datetime, what: str) -> None:
    calendar = calendar_of(hub)
    if not calendar.is_open_at(now):
        reason = calendar.closed_reason(now, now + timedelta(minutes=1)) or "closed"
        opens = calendar.next_open_at(now)
        raise Refusal(
            422, f"{what} only while the desk is open ({reason}); it opens {opens.isoformat()}"
        )


def _facts(loan: Loan, item: Item, borrower: Borrower) -> dict[str, object]:
    return {
        "loan_id": loan.id,
        "hub": loan.hub,
        "item_id": item.id,
        "item_label": item.label,
        "item_kind": item.kind,
        "borrower_id": borrower.id,
        "borrower": contact_of(borrower),
    }


def schedule_next(loan: Loan, settings: LoansSettings, now: datetime) -> None:
    schedule = domain.notice_schedule(
        loan.started_at, loan.due_at, settings.due_soon, settings.steps
    )
    loan.next_notice_at = domain.next_notice_at(schedule, now)


async def _item_for_update(session: AsyncSession, item_id: str) -> Item:
    item = (
        await session.execute(for_update(session, select(Item).where(Item.id == item_id)))
    ).scalar_one_or_none()
    if item is None:
        raise Refusal(404, f"no item {item_id}")
    return item


async def check_out(
    session: AsyncSession, request: CheckOutRequest, now: datetime, settings: LoansSettings
) -> CheckedOut:
    hub = request.hub
    backfill = request.started_at is not None
    start = request.started_at or now
    if backfill and start > now:
        raise Refusal(422, "started_at: a backfilled loan must have started in the past")
    if not backfill:
        require_open(hub, now, "check-out")
    if request.condition is not None and request.condition not in CONDITIONS:
        raise Refusal(422, f"condition must be one of {', '.join(CONDITIONS)}")
    if (request.item_id is None) == (request.kind is None):
        raise Refusal(422, "give either item_id or kind")

    item: Item | None = None
    if request.item_id is not None:
        item = await _item_for_update(session, request.item_id)
        if item.hub != hub:
            raise Refusal(404, f"no item {request.item_id} at hub {hub}")
        kind = item.kind
    else:
        kind = request.kind  # type: ignore[assignment]
    policy = await policy_for(session, hub, kind)
    due = domain.due_date(policy, local_date(start), request.days, request.due_date)
    due_at = domain.closing_time(calendar_of(hub), due)

    details = request.borrower
    borrower, created = await borrower_for_update(
        session,
        now,
        name=details.name,
        phone=details.phone,
        email=details.email,
        language=details.language,
    )
    blocker = await blocking_loan(session, borrower.id, now, settings.steps)
    if blocker is not None:
        raise Refusal(
            409,
            f"the borrower is blocked: loan {blocker.id} was due {blocker.due_at.isoformat()} "
            "and is overdue past the last reminder; it must be returned first",
        )
    if await active_loans_of(session, borrower.id, kind) >= policy.max_items_per_borrower:
        raise Refusal(
            409,
            f"the borrower already has {policy.max_items_per_borrower} {kind} item(s) on "
            "loan, the most allowed",
        )

    reservation = await open_reservation_of(session, hub, kind, borrower.id)
    if item is not None:
        await _check_item_free(session, item, now, borrower.id, backfill)
    elif (
        reservation is not None
        and reservation.status == "offered"
        and reservation.offered_item_id is not None
    ):
        item = await _item_for_update(session, reservation.offered_item_id)
        if item.available_from is not None and item.available_from > now:
            raise Refusal(
                409, f"item {item.label} is being prepared until {item.available_from.isoformat()}"
            )
    else:
        item = await free_item(session, hub, kind, now, borrower.id)
        if item is None:
            raise Refusal(409, f"no {kind} is free right now; a reservation joins the queue")
    if reservation is not None:
        reservation.status = "fulfilled"
    if request.condition is not None:
        item.condition = request.condition
        if request.condition in UNLENDABLE:
            raise Refusal(409, f"item {item.label} is {request.condition} and cannot be lent")

    token = new_token() if created or borrower.token_hash is None else None
    if token:
        borrower.token_hash = hash_token(token)
    loan = Loan(
        id=new_id(),
        hub=hub,
        item_id=item.id,
        borrower_id=borrower.id,
        started_at=start,
        due_at=due_at,
        renewals=0,
        condition_out=item.condition,
        backfilled=backfill,
    )
    schedule_next(loan, settings, now)
    session.add(loan)
    await session.flush()  # the unique active-loan index speaks here (IntegrityError -> 409)
    await emit(
        session,
        messaging,
        LoanStarted(
            **_facts(loan, item, borrower),  # type: ignore[arg-type]
            started_at=loan.started_at,
            due_at=loan.due_at,
            backfilled=backfill,
        ),
    )
    return CheckedOut(loan, item, borrower, token)


async def _check_item_free(
    session: AsyncSession, item: Item, now: datetime, borrower_id: str, backfill: bool
) -> None:
    if item.retired_at is not None:
        raise Refusal(409, f"item {item.label} is retired")
    if item.condition in UNLENDABLE:
        raise Refusal(409, f"item {item.label} is {item.condition} and cannot be lent")
    taken = await session.execute(select(active_loan_exists(item.id)))
    if taken.scalar():
        raise Refusal(409, f"item {item.label} is already lent")
    if not backfill and item.available_from is not None and item.available_from > now:
        raise Refusal(
            409, f"item {item.label} is being prepared until {item.available_from.isoformat()}"
        )
    held = await session.execute(select(held_for_other(item.id, now, borrower_id)))
    if held.scalar():
        raise Refusal(409, f"item {item.label} is held for a reservation")


async def loan_for_update(session: AsyncSession, loan_id: str) -> tuple[Loan, Item, Borrower]:
    loan = (
        await session.execute(for_update(session, select(Loan).where(Loan.id == loan_id)))
    ).scalar_one_or_none()
    if loan is None:
        raise Refusal(404, f"no loan {loan_id}")
    item = await session.get(Item, loan.item_id)
    borrower = await session.get(Borrower, loan.borrower_id)
    assert item is not None and borrower is not None
    return loan, item, borrower


async def return_loan(
    session: AsyncSession, loan_id: str, condition: str, notes: str | None, now: datetime
) -> tuple[Loan, Item, Borrower]:
    if condition not in CONDITIONS:
        raise Refusal(422, f"condition must be one of {', '.join(CONDITIONS)}")
    loan, item, borrower = await loan_for_update(session, loan_id)
    if loan.returned_at is not None:
        raise Refusal(409, f"loan {loan_id} was already returned")
    require_open(loan.hub, now, "return")
    policy = await policy_for(session, loan.hub, item.kind)
    loan.returned_at = now
    loan.condition_in = condition
    loan.next_notice_at = None
    item.condition = condition
    if notes:
        item.notes = notes
    item.available_from = now + timedelta(minutes=policy.buffer_minutes)
    await session.flush()
    await emit(
        session,
        messaging,
        LoanReturned(
            **_facts(loan, item, borrower),  # type: ignore[arg-type]
            returned_at=now,
            condition=condition,
            days_overdue=domain.days_overdue(loan.due_at, now),
        ),
    )
    if condition in UNLENDABLE:
        await take_out_of_service(session, item, f"returned {condition}")
    else:
        await offer_next(session, loan.hub, item.kind, now)
    return loan, item, borrower


async def take_out_of_service(session: AsyncSession, item: Item, reason: str) -> None:
    """A damaged item can no longer be offered: open offers of it go back to the queue and
    their borrowers are told (ItemOutOfService); another item may be offered instead."""
    released = await release_item_offers(session, item.id)
    contacts = []
    for reservation in released:
        borrower = await session.get(Borrower, reservation.borrower_id)
        if borrower is not None:
            contacts.append(contact_of(borrower))
    await session.flush()
    await emit(
        session,
        messaging,
        ItemOutOfService(
            hub=item.hub,
            item_id=item.id,
            item_label=item.label,
            item_kind=item.kind,  # type: ignore[arg-type]
            reason=reason,
            reservations_affected=len(released),
            affected_borrowers=contacts,
        ),
    )


async def renew(
    session: AsyncSession, loan_id: str, now: datetime, settings: LoansSettings
) -> tuple[Loan, Item, Borrower]:
    loan, item, borrower = await loan_for_update(session, loan_id)
    if loan.returned_at is not None:
        raise Refusal(409, f"loan {loan_id} was returned")
    if domain.blocked_since(loan.due_at, settings.steps) <= now:
        raise Refusal(409, "the loan is overdue past the last reminder and cannot be renewed")
    if await someone_waiting(session, loan.hub, item.kind, loan.due_at):
        raise Refusal(409, f"someone is waiting for a {item.kind}: it cannot be renewed")
    policy = await policy_for(session, loan.hub, item.kind)
    new_due = domain.renewed_due_date(
        policy, local_date(loan.started_at), local_date(loan.due_at), loan.renewals
    )
    loan.due_at = domain.closing_time(calendar_of(loan.hub), new_due)
    loan.renewals += 1
    schedule_next(loan, settings, now)
    await session.flush()
    await emit(
        session,
        messaging,
        LoanRenewed(
            **_facts(loan, item, borrower),  # type: ignore[arg-type]
            due_at=loan.due_at,
            renewals=loan.renewals,
        ),
    )
    return loan, item, borrower
