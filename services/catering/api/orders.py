"""Orders: placed by anyone, managed with the manage token, run by the café's staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request

from services.catering import usecases
from services.catering.api.schemas import (
    CancelIn,
    CustomerIn,
    Day,
    HubKey,
    OrderChangedOut,
    OrderChangeIn,
    OrderCreated,
    OrderIn,
    OrderOut,
    PendingChangeOut,
    ReasonIn,
    Status,
)
from services.catering.api.views import order_out, pending_change_out
from services.catering.domain import StaffAction
from services.catering.settings import catering_settings
from shared.auth import Staff, optional_staff, require_staff
from shared.events import Contact, Language
from shared.hubs import DEFAULT_HUB
from shared.manage_links import ManageLinks
from shared.roles import Role
from shared.service import runtime_of
from shared.service.problems import language_of

router = APIRouter(tags=["orders"])
MANAGE_TOKEN_DOC = "the manage token returned when the order was placed"
ManageToken = Annotated[
    str | None, Header(alias="X-Manage-Token", description=MANAGE_TOKEN_DOC, max_length=200)
]


def _reply_language(request: Request, customer: CustomerIn) -> Language:
    """The customer's language when the order names it, else the request's."""
    if "language" in customer.model_fields_set:
        return customer.language
    return "nb" if language_of(request) == "nb" else "en"


def _link(request: Request, token: str | None, order_id: str) -> bool:
    """Whether the token is the order's manage link (from the customer's email or SMS),
    taken as the customer's own manage token."""
    secret = runtime_of(request).settings.manage_link_secret
    return bool(token and secret and ManageLinks(secret).valid(token, "order", order_id))


def _caller(
    staff: Staff | None,
    token: str | None,
    any_staff: Staff | None,
    request: Request,
    order_id: str,
) -> usecases.Caller:
    return usecases.Caller(
        cafe_staff=staff is not None,
        other_staff=any_staff is not None,
        token=token,
        actor=staff.actor() if staff else None,
        link=_link(request, token, order_id),
    )


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
    cmd = usecases.PlaceOrder(
        hub=body.hub,
        kind=body.kind,
        pickup_at=body.pickup_at,
        lines=[(line.item_id, line.quantity) for line in body.lines],
        customer=Contact(**body.customer.model_dump()),
        people=body.people,
        note=body.note,
        reply_language=_reply_language(request, body.customer),
    )
    rules = catering_settings(runtime).rules()
    placed = await runtime.uow.run(lambda uow: usecases.place_order(uow, cmd, rules=rules))
    return OrderCreated(
        **order_out(placed.order).model_dump(),
        manage_token=placed.manage_token,
        message=placed.message,
    )


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(
    request: Request,
    order_id: uuid.UUID,
    x_manage_token: ManageToken = None,
    staff: Staff | None = Depends(optional_staff(Role.CAFE)),
    any_staff: Staff | None = Depends(optional_staff()),
) -> OrderOut:
    caller = _caller(staff, x_manage_token, any_staff, request, str(order_id))
    cmd = usecases.SeeOrder(str(order_id), caller)
    order = await runtime_of(request).uow.run(lambda uow: usecases.get_order(uow, cmd))
    return order_out(order)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(
    request: Request,
    order_id: uuid.UUID,
    body: Annotated[CancelIn | None, Body()] = None,
    x_manage_token: ManageToken = None,
    staff: Staff | None = Depends(optional_staff(Role.CAFE)),
    any_staff: Staff | None = Depends(optional_staff()),
) -> OrderOut:
    """The customer (with the manage token) until the cut-off, or the café at any time
    before pick-up."""
    caller = _caller(staff, x_manage_token, any_staff, request, str(order_id))
    cmd = usecases.CancelOrder(str(order_id), caller, body.reason if body else None)
    order = await runtime_of(request).uow.run(lambda uow: usecases.cancel_order(uow, cmd))
    return order_out(order)


@router.post(
    "/orders/{order_id}/change",
    response_model=OrderChangedOut,
    responses={
        409: {"description": "ready, finished or cancelled: not changeable"},
        422: {"description": "as placing: hours, items, or the day is full"},
    },
)
async def change_order(
    request: Request, order_id: uuid.UUID, body: OrderChangeIn, x_manage_token: ManageToken = None
) -> OrderChangedOut:
    """The customer changes items, counts or the pick-up time with the manage token. Before
    the cut-off the change applies at once; after it, it is a short-notice request the café
    accepts or rejects, and the order keeps its old content until then."""
    runtime = runtime_of(request)
    cmd = usecases.ChangeOrder(
        order_id=str(order_id),
        token=x_manage_token,
        pickup_at=body.pickup_at,
        lines=[(line.item_id, line.quantity) for line in body.lines],
        people=body.people,
        link=_link(request, x_manage_token, str(order_id)),
    )
    rules = catering_settings(runtime).rules()
    changed = await runtime.uow.run(lambda uow: usecases.change_order(uow, cmd, rules=rules))
    return OrderChangedOut(
        **order_out(changed.order).model_dump(),
        change_id=changed.change.id,
        change_applied=changed.applied,
        message=changed.message,
    )


async def _decide_change(
    request: Request, order_id: uuid.UUID, staff: Staff, accept: bool, reason: str | None
) -> OrderOut:
    runtime = runtime_of(request)
    cmd = usecases.DecideChange(str(order_id), accept, reason, staff.actor())
    default = catering_settings(runtime).daily_capacity
    order = await runtime.uow.run(
        lambda uow: usecases.decide_change(uow, cmd, daily_capacity=default)
    )
    return order_out(order)


@router.get("/order-changes", response_model=list[PendingChangeOut])
async def pending_changes(
    request: Request,
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
    _staff: Staff = Depends(require_staff(Role.CAFE)),
) -> list[PendingChangeOut]:
    """The customers' changes waiting for the café (after the cut-off), oldest first, each
    with its order as it stands: answer with `/orders/{id}/change/accept` or `/reject`."""
    query = usecases.PendingChangesQuery(hub)
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.pending_changes(uow, query), read_only=True
    )
    return [pending_change_out(change, order) for change, order in found]


@router.post("/orders/{order_id}/change/accept", response_model=OrderOut)
async def accept_change(
    request: Request, order_id: uuid.UUID, staff: Staff = Depends(require_staff(Role.CAFE))
) -> OrderOut:
    """Apply the change waiting for the café (409 `no_change_pending` if none; 422
    `capacity_full` if the day has no room for it any more)."""
    return await _decide_change(request, order_id, staff, True, None)


@router.post("/orders/{order_id}/change/reject", response_model=OrderOut)
async def reject_change(
    request: Request,
    order_id: uuid.UUID,
    body: Annotated[CancelIn | None, Body()] = None,
    staff: Staff = Depends(require_staff(Role.CAFE)),
) -> OrderOut:
    """Say no to the change waiting for the café; the order stays as it was."""
    return await _decide_change(request, order_id, staff, False, body.reason if body else None)


async def _advance(
    request: Request,
    order_id: uuid.UUID,
    action: StaffAction,
    staff: Staff,
    reason: str | None = None,
) -> OrderOut:
    cmd = usecases.AdvanceOrder(str(order_id), action, reason, staff.actor())
    order = await runtime_of(request).uow.run(lambda uow: usecases.advance_order(uow, cmd))
    return order_out(order)


@router.post("/orders/{order_id}/accept", response_model=OrderOut)
async def accept_order(
    request: Request, order_id: uuid.UUID, staff: Staff = Depends(require_staff(Role.CAFE))
) -> OrderOut:
    return await _advance(request, order_id, "accept", staff)


@router.post("/orders/{order_id}/reject", response_model=OrderOut)
async def reject_order(
    request: Request,
    order_id: uuid.UUID,
    body: ReasonIn,
    staff: Staff = Depends(require_staff(Role.CAFE)),
) -> OrderOut:
    return await _advance(request, order_id, "reject", staff, body.reason)


@router.post("/orders/{order_id}/ready", response_model=OrderOut)
async def order_ready(
    request: Request, order_id: uuid.UUID, staff: Staff = Depends(require_staff(Role.CAFE))
) -> OrderOut:
    return await _advance(request, order_id, "ready", staff)


@router.post("/orders/{order_id}/picked-up", response_model=OrderOut)
async def order_picked_up(
    request: Request, order_id: uuid.UUID, staff: Staff = Depends(require_staff(Role.CAFE))
) -> OrderOut:
    return await _advance(request, order_id, "picked_up", staff)


@router.get("/orders", response_model=list[OrderOut])
async def list_orders(
    request: Request,
    date_: Annotated[Day | None, Query(alias="date", description="pick-up date (Oslo)")] = None,
    status: Annotated[Status | None, Query()] = None,
    hub: Annotated[HubKey, Query()] = DEFAULT_HUB,
    _staff: Staff = Depends(require_staff(Role.CAFE)),
) -> list[OrderOut]:
    query = usecases.OrdersQuery(hub, date_, status)
    orders = await runtime_of(request).uow.run(lambda uow: usecases.list_orders(uow, query))
    return [order_out(o) for o in orders]
