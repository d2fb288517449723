"""Use-case results as the API's response bodies."""

from __future__ import annotations

from services.loans import usecases
from services.loans.api.schemas import (
    BookOut,
    ItemOut,
    LoanOut,
    LoanStatus,
    ReservationOut,
    Shelf,
    WaitingEntryOut,
    WaitingListOut,
)
from services.loans.models import ShelfBook


def item_out(view: usecases.ItemView) -> ItemOut:
    item = view.item
    return ItemOut(
        id=item.id,
        hub=item.hub,
        kind=item.kind,
        label=item.label,
        condition=item.condition,
        notes=item.notes,
        retired=item.retired_at is not None,
        available=view.available,
        available_from=item.available_from,
    )


def loan_out(view: usecases.LoanView) -> LoanOut:
    loan, item, borrower = view.loan, view.item, view.borrower
    status: LoanStatus = "returned"
    if loan.returned_at is None:
        status = "overdue" if loan.due_at <= view.now else "active"
    return LoanOut(
        id=loan.id,
        hub=loan.hub,
        item_id=item.id,
        item_label=item.label,
        item_kind=item.kind,
        borrower_id=borrower.id,
        borrower_name=borrower.name,
        started_at=loan.started_at,
        due_at=loan.due_at,
        returned_at=loan.returned_at,
        status=status,
        renewals=loan.renewals,
        condition_out=loan.condition_out,
        condition_in=loan.condition_in,
        backfilled=loan.backfilled,
        escalation_level=view.escalation_level,
        escalation_last=view.escalation_last,
        manage_token=view.manage_token,
    )


def reservation_out(view: usecases.ReservationView) -> ReservationOut:
    r = view.reservation
    return ReservationOut(
        id=r.id,
        hub=r.hub,
        kind=r.kind,
        borrower_id=r.borrower_id,
        status=r.status,
        wanted_from=r.wanted_from,
        offered_item_id=r.offered_item_id,
        hold_until=r.hold_until,
        manage_token=view.manage_token,
    )


def waiting_list_out(kind: str, entries: list[usecases.WaitingEntry]) -> WaitingListOut:
    return WaitingListOut(
        kind=kind,  # a str column holding a Kind
        entries=[
            WaitingEntryOut(
                reservation_id=e.reservation.id,
                place=e.place,
                status=e.reservation.status,  # an open reservation: waiting or offered
                borrower_id=e.borrower.id,
                borrower_name=e.borrower.name,
                wanted_from=e.reservation.wanted_from,
                offered_item_id=e.reservation.offered_item_id,
                offered_item_label=e.offered_item.label if e.offered_item else None,
                hold_until=e.reservation.hold_until,
            )
            for e in entries
        ],
    )


def book_out(b: ShelfBook) -> BookOut:
    return BookOut(
        id=b.id,
        hub=b.hub,
        title=b.title,
        author=b.author,
        language=b.language,
        brought_at=b.brought_at,
        taken_at=b.taken_at,
    )


def shelf_out(shelf: usecases.Shelf) -> Shelf:
    return Shelf(hub=shelf.hub, on_shelf=shelf.on_shelf, books=[book_out(b) for b in shelf.books])
