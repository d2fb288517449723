"""Reservations and the waiting list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.loans import usecases
from services.loans.api.access import caller, desk_only
from services.loans.api.schemas import HUB_DEFAULT, ReservationIn, ReservationOut, WaitingListOut
from services.loans.api.views import reservation_out, waiting_list_out
from services.loans.usecases import BorrowerDetails, Caller
from shared.service import runtime_of

router = APIRouter(tags=["reservations"])


@router.post("/reservations", status_code=201, response_model=ReservationOut)
async def reserve(
    request: Request, body: ReservationIn, who: Caller = Depends(caller)
) -> ReservationOut:
    """Reserve a kind of item from a date, or join the queue now. Desk staff reserve for a
    borrower given in the body; a borrower reserves for themself with X-Manage-Token, or, the
    first time, by giving their name and phone in the body (the answer then carries a new
    manage token, unless the phone is a borrower's who already has one). When
    an item is free (now, or when one comes back) it is offered (ReservationReady) and held."""
    details = BorrowerDetails(**body.borrower.model_dump()) if body.borrower else None
    cmd = usecases.Reserve(body.hub, body.kind, who, body.wanted_from, details)
    view = await runtime_of(request).uow.run(lambda uow: usecases.reserve(uow, cmd))
    return reservation_out(view)


@router.get("/reservations", response_model=list[ReservationOut])
async def list_reservations(
    request: Request, who: Caller = Depends(caller), open_only: bool = True
) -> list[ReservationOut]:
    cmd = usecases.ListReservations(who, open_only)
    views = await runtime_of(request).uow.run(
        lambda uow: usecases.list_reservations(uow, cmd), read_only=True
    )
    return [reservation_out(v) for v in views]


@router.delete("/reservations/{reservation_id}", status_code=204)
async def cancel_reservation(
    request: Request,
    reservation_id: int = Path(ge=1, le=2**31 - 1),
    who: Caller = Depends(caller),
) -> Response:
    """Desk staff, or the borrower with their X-Manage-Token. An item offered to them goes
    to the next in line."""
    cmd = usecases.CancelReservation(reservation_id, who)
    await runtime_of(request).uow.run(lambda uow: usecases.cancel_reservation(uow, cmd))
    return Response(status_code=204)


@router.get(
    "/waiting-lists", response_model=list[WaitingListOut], dependencies=[Depends(desk_only)]
)
async def waiting_lists(
    request: Request,
    hub: str = Query(default=HUB_DEFAULT, min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$"),
) -> list[WaitingListOut]:
    """Desk staff: each kind's waiting list, in the order items will be offered (those
    offered one first, then the waiting, numbered); kinds nobody waits for are left out."""
    cmd = usecases.WaitingLists(hub)
    lines = await runtime_of(request).uow.run(
        lambda uow: usecases.waiting_lists(uow, cmd), read_only=True
    )
    return [waiting_list_out(kind, entries) for kind, entries in lines.items()]
