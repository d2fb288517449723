"""Deliveries for staff: list, read one, send a failed one again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.notify import usecases
from services.notify.api.schemas import Notification, NotificationDetail
from services.notify.domain import Status
from shared.auth import require_staff
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["notifications"], dependencies=[Depends(require_staff(*Role))])


@router.get("/notifications", response_model=list[Notification])
async def list_notifications(
    request: Request,
    event_id: Annotated[str | None, Query(max_length=100)] = None,
    recipient: Annotated[str | None, Query(max_length=254, description="email or phone")] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[Notification]:
    query = usecases.NotificationQuery(event_id, recipient, status, limit, offset)
    rows = await runtime_of(request).uow.run(
        lambda uow: usecases.list_notifications(uow, query), read_only=True
    )
    return [Notification.of(row) for row in rows]


@router.get("/notifications/{delivery_id}", response_model=NotificationDetail)
async def get_notification(request: Request, delivery_id: str) -> NotificationDetail:
    row = await runtime_of(request).uow.run(
        lambda uow: usecases.get_notification(uow, delivery_id), read_only=True
    )
    return NotificationDetail.of(row)


@router.post("/notifications/{delivery_id}/retry", response_model=NotificationDetail)
async def retry_notification(request: Request, delivery_id: str) -> NotificationDetail:
    """Send a failed notification again, now (a fresh round of attempts)."""
    row = await runtime_of(request).uow.run(
        lambda uow: usecases.retry_notification(uow, delivery_id)
    )
    return NotificationDetail.of(row)
