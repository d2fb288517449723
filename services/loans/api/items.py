"""Items: the stock of PCs, planter boxes and other things lent (public list, desk edits)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from services.loans import usecases
from services.loans.api.access import desk_only
from services.loans.api.schemas import (
    HUB_DEFAULT,
    ItemIn,
    ItemOut,
    ItemPatch,
    Kind,
    id_path,
)
from services.loans.api.views import item_out
from shared.auth import Staff
from shared.service import runtime_of

router = APIRouter(tags=["items"])


@router.get("/items", response_model=list[ItemOut])
async def list_items(
    request: Request,
    hub: str = Query(default=HUB_DEFAULT, max_length=50, pattern=r"^[a-z0-9_-]+$"),
    kind: Kind | None = None,
    available: bool | None = Query(default=None, description="only items free to lend now"),
    include_retired: bool = False,
) -> list[ItemOut]:
    cmd = usecases.ListItems(hub, kind, available, include_retired)
    views = await runtime_of(request).uow.run(
        lambda uow: usecases.list_items(uow, cmd), read_only=True
    )
    return [item_out(v) for v in views]


@router.get("/items/{item_id}", response_model=ItemOut)
async def get_item(request: Request, item_id: str = id_path()) -> ItemOut:
    cmd = usecases.GetItem(item_id)
    view = await runtime_of(request).uow.run(
        lambda uow: usecases.get_item(uow, cmd), read_only=True
    )
    return item_out(view)


@router.post("/items", status_code=201, response_model=ItemOut, dependencies=[Depends(desk_only)])
async def add_item(request: Request, body: ItemIn) -> ItemOut:
    cmd = usecases.AddItem(body.hub, body.kind, body.label, body.condition, body.notes)
    return item_out(await runtime_of(request).uow.run(lambda uow: usecases.add_item(uow, cmd)))


@router.patch("/items/{item_id}", response_model=ItemOut)
async def edit_item(
    request: Request, body: ItemPatch, item_id: str = id_path(), staff: Staff = Depends(desk_only)
) -> ItemOut:
    cmd = usecases.EditItem(
        item_id, body.label, body.condition, body.notes, body.retired, staff.actor()
    )
    return item_out(await runtime_of(request).uow.run(lambda uow: usecases.edit_item(uow, cmd)))
