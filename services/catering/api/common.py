"""What every router of the catering API shares: rules, errors, access, the order view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from sqlalchemy.exc import IntegrityError

from services.catering.api.schemas import (
    ContactOut,
    OrderLineOut,
    OrderOut,
    allergens_out,
)
from services.catering.config import CateringSettings
from services.catering.domain import CafeRules, OrderRefused, TransitionRefused, format_nok
from services.catering.models import Order
from shared.auth import Staff, token_matches
from shared.service import ApiError, Runtime

MANAGE_TOKEN_DOC = "the manage token returned when the order was placed"
CAFE = "cafe"


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def rules_of(runtime: Runtime) -> CafeRules:
    settings = runtime.state.get("catering")
    if settings is None:
        settings = runtime.state["catering"] = CateringSettings()
    return settings.rules()  # type: ignore[no-any-return]


@asynccontextmanager
async def refusals_as_http() -> AsyncIterator[None]:
    """Domain refusals and expected constraint violations become 4xx, never a 500."""
    try:
        yield
    except OrderRefused as exc:
        raise ApiError(422, exc.reason, code=exc.code, **exc.extra) from exc
    except TransitionRefused as exc:
        raise ApiError(409, str(exc)) from exc
    except IntegrityError as exc:
        raise ApiError(409, "the change conflicts with the current state; try again") from exc


def check_access(order: Order, staff: Staff | None, token: str | None) -> None:
    if staff is not None:
        return
    if not token_matches(token, order.manage_token_hash):
        raise ApiError(403, "the manage token does not match this order")


def require_someone(staff: Staff | None, token: str | None, other_staff: Staff | None) -> None:
    if staff is None and not token:
        if other_staff is not None:
            raise ApiError(403, f"this needs the {CAFE} role or the order's X-Manage-Token")
        raise ApiError(401, "send the order's X-Manage-Token header, or a café staff bearer token")


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        hub=order.hub,
        kind=order.kind,  # type: ignore[arg-type]
        status=order.status,  # type: ignore[arg-type]
        short_notice=order.short_notice,
        pickup_at=order.pickup_at,
        pickup_date=order.pickup_day,
        people=order.people,
        portions=order.portions,
        lines=[
            OrderLineOut(
                item_id=line.item_id,
                name=line.name,
                quantity=line.quantity,
                unit_price_ore=line.unit_price_ore,
                line_total_ore=line.quantity * line.unit_price_ore,
                allergens=allergens_out(line.allergens),
            )
            for line in order.lines
        ],
        total_ore=order.total_ore,
        total_display=format_nok(order.total_ore),
        customer=ContactOut(
            name=order.customer_name,
            email=order.customer_email,
            phone=order.customer_phone,
            language=order.customer_language,
        ),
        note=order.note,
        booking_id=order.booking_id,
        reason=order.reason,
        cancelled_by=order.cancelled_by,
        order_by=order.order_by,
        cancel_cutoff_at=order.cancel_cutoff_at,
        placed_at=order.placed_at,
        accepted_at=order.accepted_at,
        rejected_at=order.rejected_at,
        ready_at=order.ready_at,
        picked_up_at=order.picked_up_at,
        cancelled_at=order.cancelled_at,
        updated_at=order.updated_at,
    )
