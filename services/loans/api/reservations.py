"""Reservations and the waiting list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy import select

from services.loans.api.common import Caller, caller, runtime_of, transaction
from services.loans.api.schemas import ReservationIn, ReservationOut
from services.loans.models import Reservation
from services.loans.reservations import OPEN, offer_next, open_reservation_of
from services.loans.store import borrower_for_update, policy_for
from shared.auth import hash_token, new_token
from shared.service import ApiError

router = APIRouter(tags=["reservations"])


def reservation_out(r: Reservation, token: str | None = None) -> ReservationOut:
    return ReservationOut(
        id=r.id,
        hub=r.hub,
        kind=r.kind,  # type: ignore[arg-type]
        borrower_id=r.borrower_id,
        status=r.status,
        wanted_from=r.wanted_from,
        offered_item_id=r.offered_item_id,
        hold_until=r.hold_until,
        manage_token=token,
    )


@router.post("/reservations", status_code=201, response_model=ReservationOut)
async def reserve(
    request: Request, body: ReservationIn, who: Caller = Depends(caller)
) -> ReservationOut:
    """Reserve a kind of item from a date, or join the queue now. Desk staff reserve for a
    borrower given in the body; a borrower reserves for themself with X-Manage-Token. When
    an item is free (now, or when one comes back) it is offered (ReservationReady) and held."""
    runtime = runtime_of(request)
    now = runtime.now()
    token: str | None = None
    async with transaction(runtime) as session:
        policy = await policy_for(session, body.hub, body.kind)
        if not policy.lendable:
            raise ApiError(422, f"{body.kind} items are not lent")
        if who.staff is not None:
            if body.borrower is None:
                raise ApiError(422, "borrower: staff must say who the reservation is for")
            borrower, created = await borrower_for_update(
                session, now, **body.borrower.model_dump()
            )
            if created or borrower.token_hash is None:
                token = new_token()
                borrower.token_hash = hash_token(token)
        else:
            borrower = await who.require_borrower(session)
        if await open_reservation_of(session, body.hub, body.kind, borrower.id):
            raise ApiError(409, f"the borrower already has an open reservation of a {body.kind}")
        reservation = Reservation(
            hub=body.hub,
            kind=body.kind,
            borrower_id=borrower.id,
            status="waiting",
            wanted_from=max(body.wanted_from or now, now),
            created_at=now,
        )
        session.add(reservation)
        await session.flush()
        await offer_next(session, body.hub, body.kind, now)
        await session.refresh(reservation)
        return reservation_out(reservation, token)


@router.get("/reservations", response_model=list[ReservationOut])
async def list_reservations(
    request: Request, who: Caller = Depends(caller), open_only: bool = True
) -> list[ReservationOut]:
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        query = select(Reservation).order_by(Reservation.id).limit(1000)
        if who.staff is None:
            own = await who.require_borrower(session)
            query = query.where(Reservation.borrower_id == own.id)
        if open_only:
            query = query.where(Reservation.status.in_(OPEN))
        rows = (await session.execute(query)).scalars().all()
    return [reservation_out(r) for r in rows]


@router.delete("/reservations/{reservation_id}", status_code=204)
async def cancel_reservation(
    request: Request,
    reservation_id: int = Path(ge=1, le=2**31 - 1),
    who: Caller = Depends(caller),
) -> Response:
    """Desk staff, or the borrower with their X-Manage-Token. An item offered to them goes
    to the next in line."""
    runtime = runtime_of(request)
    now = runtime.now()
    async with transaction(runtime) as session:
        reservation = await session.get(Reservation, reservation_id, with_for_update=True)
        if who.staff is None:
            own = await who.require_borrower(session)
            if reservation is not None and reservation.borrower_id != own.id:
                reservation = None
        if reservation is None:
            raise ApiError(404, f"no reservation {reservation_id}")
        if reservation.status not in OPEN:
            raise ApiError(409, f"reservation {reservation_id} is already {reservation.status}")
        was_offered = reservation.status == "offered"
        reservation.status = "cancelled"
        await session.flush()
        if was_offered:
            await offer_next(session, reservation.hub, reservation.kind, now)
    return Response(status_code=204)
