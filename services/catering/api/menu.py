"""The menu: public to read, staff-managed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from services.catering.api.common import CAFE, refusals_as_http, runtime_of
from services.catering.api.schemas import (
    HubKey,
    ItemId,
    MenuItemIn,
    MenuItemOut,
    MenuItemPatch,
    allergens_out,
)
from services.catering.domain import Kind, format_nok
from services.catering.models import MenuItem
from shared.auth import Staff, require_staff
from shared.service import ApiError

router = APIRouter(tags=["menu"])


def item_out(item: MenuItem) -> MenuItemOut:
    return MenuItemOut(
        id=item.id,
        hub=item.hub,
        name_nb=item.name_nb,
        name_en=item.name_en,
        description_nb=item.description_nb,
        category=item.category,
        unit=item.unit,  # type: ignore[arg-type]
        price_ore=item.price_ore,
        price_display=format_nok(item.price_ore),
        allergens=allergens_out(item.allergens),
        diet=item.diet,  # type: ignore[arg-type]
        kinds=item.kinds,  # type: ignore[arg-type]
        available=item.available,
    )


@router.get("/menu", response_model=list[MenuItemOut])
async def get_menu(
    request: Request,
    hub: Annotated[HubKey, Query()] = "stromso",
    kind: Annotated[Kind | None, Query(description="only items offered for this kind")] = None,
    include_unavailable: Annotated[bool, Query()] = False,
) -> list[MenuItemOut]:
    """The café's menu with prices in øre and the allergens of every item."""
    async with runtime_of(request).db.read() as session:
        query = select(MenuItem).where(MenuItem.hub == hub).order_by(MenuItem.category, MenuItem.id)
        if not include_unavailable:
            query = query.where(MenuItem.available.is_(True))
        items = (await session.execute(query)).scalars().all()
    return [item_out(i) for i in items if kind is None or kind in i.kinds]


@router.post("/menu/items", response_model=MenuItemOut, status_code=201)
async def create_item(
    request: Request, body: MenuItemIn, _staff: Staff = Depends(require_staff(CAFE))
) -> MenuItemOut:
    runtime = runtime_of(request)
    now = runtime.now()
    async with refusals_as_http(), runtime.db.transaction() as session:
        if await session.get(MenuItem, (body.hub, body.id)) is not None:
            raise ApiError(409, f"menu item {body.id} already exists")
        data = body.model_dump()
        data["allergens"] = sorted(set(data["allergens"]))
        data["diet"] = sorted(set(data["diet"]))
        data["kinds"] = sorted(set(data["kinds"]))
        item = MenuItem(**data, created_at=now, updated_at=now)
        session.add(item)
        await session.flush()
        return item_out(item)


@router.patch("/menu/items/{item_id}", response_model=MenuItemOut)
async def update_item(
    request: Request,
    item_id: ItemId,
    body: MenuItemPatch,
    hub: Annotated[HubKey, Query()] = "stromso",
    _staff: Staff = Depends(require_staff(CAFE)),
) -> MenuItemOut:
    """Change an item; orders already placed keep the name and price they were placed with."""
    runtime = runtime_of(request)
    async with runtime.db.transaction() as session:
        item = await session.get(MenuItem, (hub, item_id))
        if item is None:
            raise ApiError(404, f"no menu item {item_id}")
        for key, value in body.model_dump(exclude_unset=True).items():
            if value is None and key in {
                "name_nb",
                "category",
                "unit",
                "price_ore",
                "allergens",
                "diet",
                "kinds",
                "available",
            }:
                raise ApiError(422, f"{key} cannot be null")
            if isinstance(value, list):
                value = sorted(set(value))
            setattr(item, key, value)
        item.updated_at = runtime.now()
        await session.flush()
        return item_out(item)
