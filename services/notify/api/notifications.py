"""Deliveries for staff: list, search by recipient, read one, send a failed one again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.notify import usecases
from services.notify.api.schemas import Notification, NotificationDetail, NotificationSearch
from services.notify.domain import Status
from shared.access_log import READS_ONLY
from shared.auth import require_staff
from shared.errors import Refused
from shared.roles import Role
from shared.service import runtime_of

router = APIRouter(tags=["notifications"], dependencies=[Depends(require_staff(*Role))])


@router.get("/notifications", response_model=list[Notification])
async def list_notifications(
    request: Request,
    event_id: Annotated[str | None, Query(max_length=100)] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[Notification]:
    """Deliveries, newest first; by recipient: `POST /notifications/search`."""
    if "recipient" in request.query_params:
        # Refused rather than ignored: an older client would get everyone's deliveries.
        raise Refused(
            "a recipient goes in the body of POST /notifications/search, never in a URL",
            nb="en mottaker sendes i innholdet til POST /notifications/search, aldri i en URL",
            code="recipient_in_url",
            field="recipient",
        )
    return await _listed(request, usecases.NotificationQuery(event_id, None, status, limit, offset))


@router.post("/notifications/search", response_model=list[Notification], openapi_extra=READS_ONLY)
async def search_notifications(request: Request, body: NotificationSearch) -> list[Notification]:
    """The deliveries to one recipient, newest first (a read: POST only so that the address
    is in the body, never in a URL)."""
    query = usecases.NotificationQuery(
        body.event_id, body.recipient, body.status, body.limit, body.offset
    )
    return await _listed(request, query)


async def _listed(request: Request, query: usecases.NotificationQuery) -> list[Notification]:
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
