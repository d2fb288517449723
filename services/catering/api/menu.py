"""The menu: public to read, staff-managed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.catering import usecases
from services.catering.api.schemas import HubKey, ItemId, MenuItemIn, MenuItemOut, MenuItemPatch
from services.catering.api.views import item_out
from services.catering.domain import Kind
from shared.auth import Staff, require_staff
from shared.hubs import DEFAULT_HUB
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["menu"])


@router.get("/menu", response_model=list[MenuItemOut])
async def get_menu(
    request: Request,
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
    kind: Annotated[Kind | None, Query(description="only items offered for this kind")] = None,
    include_unavailable: Annotated[bool, Query()] = False,
) -> list[MenuItemOut]:
    """The café's menu with prices in øre and the allergens of every item."""
    query = usecases.MenuQuery(hub, kind, include_unavailable)
    items = await runtime_of(request).uow.run(lambda uow: usecases.menu(uow, query))
    return [item_out(i) for i in items]


@router.post("/menu/items", response_model=MenuItemOut, status_code=201)
async def create_item(
    request: Request, body: MenuItemIn, _staff: Staff = Depends(require_staff(Role.CAFE))
) -> MenuItemOut:
    cmd = usecases.NewMenuItem(**body.model_dump())
    item = await runtime_of(request).uow.run(lambda uow: usecases.create_menu_item(uow, cmd))
    return item_out(item)


@router.patch("/menu/items/{item_id}", response_model=MenuItemOut)
async def update_item(
    request: Request,
    item_id: ItemId,
    body: MenuItemPatch,
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
    _staff: Staff = Depends(require_staff(Role.CAFE)),
) -> MenuItemOut:
    """Change an item; orders already placed keep the name and price they were placed with."""
    cmd = usecases.ChangeMenuItem(hub, item_id, body.model_dump(exclude_unset=True))
    item = await runtime_of(request).uow.run(lambda uow: usecases.update_menu_item(uow, cmd))
    return item_out(item)
