"""Orders: placed by anyone, managed with the manage token, run by the café's staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from sqlalchemy import select

from services.catering import ordering
from services.catering.api.common import (
    CAFE,
    MANAGE_TOKEN_DOC,
    check_access,
    order_out,
    refusals_as_http,
    require_someone,
    rules_of,
    runtime_of,
)
from services.catering.api.schemas import (
    CancelIn,
    Day,
    HubKey,
    OrderCreated,
    OrderIn,
    OrderOut,
    ReasonIn,
    Status,
)
from services.catering.domain import describe_deadline
from services.catering.models import Order, messaging
from shared.auth import Staff, hash_token, new_token, optional_staff, require_staff
from shared.events import Contact
from shared.messaging.outbox import emit
from shared.service import ApiError

router = APIRouter(tags=["orders"])
ManageToken = Annotated[
    str | None, Header(alias="X-Manage-Token", description=MANAGE_TOKEN_DOC, max_length=200)
]


@router.post(
    "/orders",
    response_model=OrderCreated,
    status_code=201,
    responses={
        422: {
            "description": "outside café hours, past, unknown or unavailable "
            "item, or the day is full (with next_available_date)"
        }
    },
)
async def place_order(request: Request, body: OrderIn) -> OrderCreated:
    """Place a take-away or catering order. Catering inside the lead time is taken as a
    short-notice request (status `pending_acceptance`) that the café accepts or rejects."""
    runtime = runtime_of(request)
    now = runtime.now()
    token = new_token()
    draft = ordering.Draft(
        hub=body.hub,
        kind=body.kind,
        pickup_at=body.pickup_at,
        lines=[(line.item_id, line.quantity) for line in body.lines],
        customer=Contact(**body.customer.model_dump()),
        people=body.people,
        note=body.note,
        manage_token_hash=hash_token(token),
    )
    async with refusals_as_http(), runtime.db.transaction() as session:
        order = await ordering.place(session, draft, now, rules_of(runtime))
        await emit(session, messaging, ordering.placed_event(order))
        view = order_out(order)
    if order.short_notice:
        message = (
            "Short notice: the order came after the cut-off "
            f"({describe_deadline(order.order_by)}, Oslo time). The café will accept or "
            "reject it, and you will be told."
        )
    else:
        message = (
            f"Order received. You can cancel until {describe_deadline(order.cancel_cutoff_at)} "
            "(Oslo time)."
        )
    return OrderCreated(**view.model_dump(), manage_token=token, message=message)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(
    request: Request,
    order_id: uuid.UUID,
    x_manage_token: ManageToken = None,
    staff: Staff | None = Depends(optional_staff(CAFE)),
    any_staff: Staff | None = Depends(optional_staff()),
) -> OrderOut:
    require_someone(staff, x_manage_token, any_staff)
    async with runtime_of(request).db.read() as session:
        order = await ordering.load(session, str(order_id))
        if order is None:
            raise ApiError(404, "no such order")
        check_access(order, staff, x_manage_token)
        return order_out(order)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(
    request: Request,
    order_id: uuid.UUID,
    body: Annotated[CancelIn | None, Body()] = None,
    x_manage_token: ManageToken = None,
    staff: Staff | None = Depends(optional_staff(CAFE)),
    any_staff: Staff | None = Depends(optional_staff()),
) -> OrderOut:
    """The customer (with the manage token) until the cut-off, or the café at any time
    before pick-up."""
    require_someone(staff, x_manage_token, any_staff)
    runtime = runtime_of(request)
    async with refusals_as_http(), runtime.db.transaction() as session:
        order = await ordering.load(session, str(order_id), lock=True)
        if order is None:
            raise ApiError(404, "no such order")
        check_access(order, staff, x_manage_token)
        by = "cafe" if staff is not None else "customer"
        await ordering.cancel(session, order, by, runtime.now(), body.reason if body else None)
        await emit(session, messaging, ordering.status_event(order))
        return order_out(order)


async def _advance(
    request: Request, order_id: uuid.UUID, action: str, reason: str | None = None
) -> OrderOut:
    runtime = runtime_of(request)
    async with refusals_as_http(), runtime.db.transaction() as session:
        order = await ordering.load(session, str(order_id), lock=True)
        if order is None:
            raise ApiError(404, "no such order")
        await ordering.advance(session, order, action, runtime.now())
        if reason is not None:
            order.reason = reason
        await emit(session, messaging, ordering.status_event(order, rejected_by="cafe"))
        return order_out(order)


@router.post("/orders/{order_id}/accept", response_model=OrderOut)
async def accept_order(
    request: Request, order_id: uuid.UUID, _staff: Staff = Depends(require_staff(CAFE))
) -> OrderOut:
    return await _advance(request, order_id, "accept")


@router.post("/orders/{order_id}/reject", response_model=OrderOut)
async def reject_order(
    request: Request,
    order_id: uuid.UUID,
    body: ReasonIn,
    _staff: Staff = Depends(require_staff(CAFE)),
) -> OrderOut:
    return await _advance(request, order_id, "reject", body.reason)


@router.post("/orders/{order_id}/ready", response_model=OrderOut)
async def order_ready(
    request: Request, order_id: uuid.UUID, _staff: Staff = Depends(require_staff(CAFE))
) -> OrderOut:
    return await _advance(request, order_id, "ready")


@router.post("/orders/{order_id}/picked-up", response_model=OrderOut)
async def order_picked_up(
    request: Request, order_id: uuid.UUID, _staff: Staff = Depends(require_staff(CAFE))
) -> OrderOut:
    return await _advance(request, order_id, "picked_up")


@router.get("/orders", response_model=list[OrderOut])
async def list_orders(
    request: Request,
    date_: Annotated[Day | None, Query(alias="date", description="pick-up date (Oslo)")] = None,
    status: Annotated[Status | None, Query()] = None,
    hub: Annotated[HubKey, Query()] = "stromso",
    _staff: Staff = Depends(require_staff(CAFE)),
) -> list[OrderOut]:
    query = select(Order).where(Order.hub == hub).order_by(Order.pickup_at, Order.id).limit(1000)
    if date_ is not None:
        query = query.where(Order.pickup_day == date_)
    if status is not None:
        query = query.where(Order.status == status)
    async with runtime_of(request).db.read() as session:
        return [order_out(o) for o in (await session.execute(query)).scalars()]
