"""Items: the stock of PCs, planter boxes and other things lent (public list, desk edits)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans.api.common import desk_only, runtime_of, transaction
from services.loans.api.schemas import HUB_DEFAULT, ItemIn, ItemOut, ItemPatch, Kind, id_path
from services.loans.domain import UNLENDABLE
from services.loans.lending import take_out_of_service
from services.loans.models import Item, Loan, Reservation
from services.loans.reservations import offer_next
from services.loans.store import new_id, policy_for
from shared.service import ApiError

router = APIRouter(tags=["items"])


async def _busy_ids(session: AsyncSession, now: datetime) -> set[str]:
    lent = select(Loan.item_id).where(Loan.returned_at.is_(None))
    held = select(Reservation.offered_item_id).where(
        Reservation.status == "offered", Reservation.hold_until > now
    )
    rows = (await session.execute(lent.union(held))).scalars()
    return {r for r in rows if r}


def item_out(item: Item, busy: set[str], now: datetime) -> ItemOut:
    available = (
        item.retired_at is None
        and item.condition not in UNLENDABLE
        and item.id not in busy
        and (item.available_from is None or item.available_from <= now)
    )
    return ItemOut(
        id=item.id,
        hub=item.hub,
        kind=item.kind,  # type: ignore[arg-type]
        label=item.label,
        condition=item.condition,  # type: ignore[arg-type]
        notes=item.notes,
        retired=item.retired_at is not None,
        available=available,
        available_from=item.available_from,
    )


@router.get("/items", response_model=list[ItemOut])
async def list_items(
    request: Request,
    hub: str = Query(default=HUB_DEFAULT, max_length=50, pattern=r"^[a-z0-9_-]+$"),
    kind: Kind | None = None,
    available: bool | None = Query(default=None, description="only items free to lend now"),
    include_retired: bool = False,
) -> list[ItemOut]:
    runtime = runtime_of(request)
    now = runtime.now()
    async with runtime.db.read() as session:
        query = select(Item).where(Item.hub == hub).order_by(Item.kind, Item.label)
        if kind is not None:
            query = query.where(Item.kind == kind)
        if not include_retired:
            query = query.where(Item.retired_at.is_(None))
        items = (await session.execute(query)).scalars().all()
        busy = await _busy_ids(session, now)
    out = [item_out(i, busy, now) for i in items]
    return [i for i in out if available is None or i.available == available]


@router.get("/items/{item_id}", response_model=ItemOut)
async def get_item(request: Request, item_id: str = id_path()) -> ItemOut:
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        item = await session.get(Item, item_id)
        if item is None:
            raise ApiError(404, f"no item {item_id}")
        return item_out(item, await _busy_ids(session, runtime.now()), runtime.now())


@router.post("/items", status_code=201, response_model=ItemOut, dependencies=[Depends(desk_only)])
async def add_item(request: Request, body: ItemIn) -> ItemOut:
    runtime = runtime_of(request)
    now = runtime.now()
    async with transaction(runtime) as session:
        await policy_for(session, body.hub, body.kind)
        item = Item(
            id=new_id(),
            hub=body.hub,
            kind=body.kind,
            label=body.label,
            condition=body.condition,
            notes=body.notes,
            created_at=now,
        )
        session.add(item)
        await session.flush()
        if body.condition not in UNLENDABLE:
            await offer_next(session, body.hub, body.kind, now)
        return item_out(item, await _busy_ids(session, now), now)


@router.patch("/items/{item_id}", response_model=ItemOut, dependencies=[Depends(desk_only)])
async def edit_item(request: Request, body: ItemPatch, item_id: str = id_path()) -> ItemOut:
    runtime = runtime_of(request)
    now = runtime.now()
    async with transaction(runtime) as session:
        item = await session.get(Item, item_id, with_for_update=True)
        if item is None:
            raise ApiError(404, f"no item {item_id}")
        was_lendable = item.retired_at is None and item.condition not in UNLENDABLE
        if body.label is not None:
            item.label = body.label
        if body.notes is not None:
            item.notes = body.notes
        if body.condition is not None:
            item.condition = body.condition
        if body.retired is True and item.retired_at is None:
            lent = await session.execute(
                select(Loan.id).where(Loan.item_id == item.id, Loan.returned_at.is_(None))
            )
            if lent.first() is not None:
                raise ApiError(409, f"item {item.label} is on loan; return it before retiring")
            item.retired_at = now
        elif body.retired is False:
            item.retired_at = None
        await session.flush()
        lendable = item.retired_at is None and item.condition not in UNLENDABLE
        if was_lendable and not lendable:
            reason = "retired" if item.retired_at else f"marked {item.condition}"
            await take_out_of_service(session, item, reason)
        if lendable:
            await offer_next(session, item.hub, item.kind, now)
        return item_out(item, await _busy_ids(session, now), now)
