"""The notify service's HTTP API: delivery status for staff, retry, preferences, and the
SMS gateway's delivery reports."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update

from services.notify.context import WAKE_FLAG, notify_context
from services.notify.domain import normalise_address
from services.notify.fanout import preference_token
from services.notify.models import STATUSES, DeliveryRow, PreferenceRow
from services.notify.outcomes import failed_event
from shared.auth import optional_staff, require_staff
from shared.messaging.outbox import emit
from shared.requests import NoNulText
from shared.service import ApiError, Runtime

Status = Literal["queued", "sending", "sent", "delivered", "failed", "suppressed"]
assert set(STATUSES) == set(Status.__args__)  # type: ignore[attr-defined]

any_staff = require_staff("booking", "desk", "cafe", "admin")


class Notification(BaseModel):
    id: str
    event_id: str
    event_type: str
    template: str
    channel: Literal["email", "sms"]
    recipient: str
    recipient_kind: Literal["person", "staff"]
    recipient_role: str | None
    language: str
    urgent: bool
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_ref: str | None
    subject: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


class NotificationDetail(Notification):
    body_text: str
    has_html: bool
    has_invitation: bool


def _summary(row: DeliveryRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in Notification.model_fields}


def _detail(row: DeliveryRow) -> NotificationDetail:
    return NotificationDetail(
        **_summary(row),
        body_text=row.body_text,
        has_html=row.body_html is not None,
        has_invitation=row.ics is not None,
    )


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool = Field(default=True, description="Send email to this recipient")
    sms: bool = Field(default=True, description="Send SMS to this recipient")
    reminders: bool = Field(default=True, description="Send reminders (due dates, bookings)")


class PreferencesOut(Preferences):
    recipient: str
    updated_at: datetime | None


class DeliveryReport(NoNulText):
    """A gateway's delivery report. The generic shape (and the local sink's) is
    {id, reference, status}; LINK Mobility's {messageId|id, refId, resultCode} and Sveve's
    {id, ref, status} are read too."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = Field(default=None, max_length=200)
    messageId: str | None = Field(default=None, max_length=200)
    reference: str | None = Field(default=None, max_length=200)
    refId: str | None = Field(default=None, max_length=200)
    ref: str | None = Field(default=None, max_length=200)
    status: Annotated[str, StringConstraints(max_length=50)] | bool | None = None
    resultCode: int | None = None


class ReportAnswer(BaseModel):
    id: str
    status: Status


router = APIRouter()


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get(
    "/notifications",
    response_model=list[Notification],
    tags=["notifications"],
    dependencies=[Depends(any_staff)],
)
async def list_notifications(
    request: Request,
    event_id: Annotated[str | None, Query(max_length=100)] = None,
    recipient: Annotated[str | None, Query(max_length=254, description="email or phone")] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    runtime = _runtime(request)
    query = select(DeliveryRow).order_by(DeliveryRow.created_at.desc(), DeliveryRow.id)
    if event_id is not None:
        query = query.where(DeliveryRow.event_id == event_id)
    if recipient is not None:
        found = normalise_address(recipient)
        query = query.where(DeliveryRow.recipient == (found[1] if found else recipient))
    if status is not None:
        query = query.where(DeliveryRow.status == status)
    async with runtime.db.read() as session:
        rows = (await session.execute(query.limit(limit).offset(offset))).scalars()
        return [_summary(row) for row in rows]


@router.get(
    "/notifications/{delivery_id}",
    response_model=NotificationDetail,
    tags=["notifications"],
    dependencies=[Depends(any_staff)],
)
async def get_notification(request: Request, delivery_id: str) -> NotificationDetail:
    async with _runtime(request).db.read() as session:
        row = await session.get(DeliveryRow, delivery_id)
        if row is None:
            raise ApiError(404, "no such notification")
        return _detail(row)


@router.post(
    "/notifications/{delivery_id}/retry",
    response_model=NotificationDetail,
    tags=["notifications"],
    dependencies=[Depends(any_staff)],
)
async def retry_notification(request: Request, delivery_id: str) -> NotificationDetail:
    """Send a failed notification again, now (a fresh round of attempts)."""
    runtime = _runtime(request)
    now = runtime.now()
    async with runtime.db.transaction() as session:
        row = await session.get(DeliveryRow, delivery_id)
        if row is None:
            raise ApiError(404, "no such notification")
        if row.status != "failed":
            raise ApiError(
                409, f"only a failed notification can be retried; this one is {row.status}"
            )
        if row.recipient.startswith("invalid:"):
            raise ApiError(409, "the address is invalid; retrying cannot help")
        row.status, row.attempts, row.next_attempt_at = "queued", 0, now
        row.failed_at, row.updated_at = None, now
        session.info[WAKE_FLAG] = True
        await session.flush()
        return _detail(row)


# --- preferences ---------------------------------------------------------------------------


def _recipient_key(recipient: str) -> str:
    found = normalise_address(recipient)
    if found is None:
        raise ApiError(422, "recipient must be an email address or a phone number")
    return found[1]


def _may_manage(request: Request, key: str, token: str | None, staff: object | None) -> None:
    if staff is not None:
        return
    rules = notify_context(_runtime(request)).rules
    expected = preference_token(rules.preference_key, key)
    if not token or not hmac.compare_digest(token, expected):
        raise ApiError(
            401, "a staff bearer token, or the recipient's token (X-Preference-Token), is required"
        )


TokenHeader = Annotated[
    str | None,
    Header(
        alias="X-Preference-Token",
        description="The recipient's token, from the link in their messages",
        max_length=200,
    ),
]
TokenQuery = Annotated[str | None, Query(alias="token", max_length=200)]


@router.get("/preferences/{recipient}", response_model=PreferencesOut, tags=["preferences"])
async def get_preferences(
    request: Request,
    recipient: str,
    x_preference_token: TokenHeader = None,
    token: TokenQuery = None,
    staff: object | None = Depends(optional_staff()),
) -> PreferencesOut:
    key = _recipient_key(recipient)
    _may_manage(request, key, x_preference_token or token, staff)
    async with _runtime(request).db.read() as session:
        row = await session.get(PreferenceRow, key)
    if row is None:
        return PreferencesOut(recipient=key, updated_at=None)
    return PreferencesOut(
        recipient=key,
        email=row.email,
        sms=row.sms,
        reminders=row.reminders,
        updated_at=row.updated_at,
    )


@router.put("/preferences/{recipient}", response_model=PreferencesOut, tags=["preferences"])
async def put_preferences(
    request: Request,
    recipient: str,
    body: Preferences,
    x_preference_token: TokenHeader = None,
    token: TokenQuery = None,
    staff: object | None = Depends(optional_staff()),
) -> PreferencesOut:
    key = _recipient_key(recipient)
    _may_manage(request, key, x_preference_token or token, staff)
    runtime = _runtime(request)
    now = runtime.now()
    async with runtime.db.transaction() as session:
        row = await session.get(PreferenceRow, key)
        if row is None:
            row = PreferenceRow(recipient=key, updated_at=now)
            session.add(row)
        row.email, row.sms, row.reminders, row.updated_at = (
            body.email,
            body.sms,
            body.reminders,
            now,
        )
    return PreferencesOut(recipient=key, updated_at=now, **body.model_dump())


# --- delivery reports ------------------------------------------------------------------------

_DELIVERED = {"delivered", "delivrd", "true", "1", "ok", "success"}


def _report_delivered(report: DeliveryReport) -> bool:
    if report.status is not None:
        return str(report.status).strip().lower() in _DELIVERED
    # LINK Mobility: 1001 is "delivered"; other result codes are final failures.
    return report.resultCode == 1001


@router.post("/sms/delivery-reports", response_model=ReportAnswer, tags=["sms"])
async def delivery_report(
    request: Request,
    report: DeliveryReport,
    x_report_token: Annotated[str | None, Header(alias="X-Report-Token", max_length=200)] = None,
    token: TokenQuery = None,
) -> ReportAnswer:
    """The SMS gateway tells us whether a message reached the phone."""
    runtime = _runtime(request)
    expected = notify_context(runtime).config.notify_report_token
    given = x_report_token or token
    if expected and not (given and hmac.compare_digest(given, expected)):
        raise ApiError(401, "a valid report token is required")
    if report.status is None and report.resultCode is None:
        raise ApiError(422, "a report needs a status or a resultCode")
    reference = report.reference or report.refId or report.ref
    provider_ref = report.messageId or report.id
    if not reference and not provider_ref:
        raise ApiError(422, "a report needs our reference or the gateway's message id")
    now = runtime.now()
    async with runtime.db.transaction() as session:
        row = await session.get(DeliveryRow, reference) if reference else None
        if row is None and provider_ref:
            row = (
                await session.execute(
                    select(DeliveryRow).where(
                        DeliveryRow.provider_ref == provider_ref, DeliveryRow.channel == "sms"
                    )
                )
            ).scalar_one_or_none()
        if row is None or row.channel != "sms":
            raise ApiError(404, "no SMS with that reference")
        if row.status in ("delivered", "failed"):
            return ReportAnswer(id=row.id, status=row.status)  # type: ignore[arg-type]
        if row.status != "sent":
            raise ApiError(409, f"the SMS is {row.status}, not sent; report ignored")
        if _report_delivered(report):
            await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == row.id)
                .values(status="delivered", delivered_at=now, updated_at=now)
            )
            return ReportAnswer(id=row.id, status="delivered")
        reason = f"gateway reports not delivered ({report.status or report.resultCode})"
        await session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == row.id)
            .values(status="failed", failed_at=now, updated_at=now, last_error=reason)
        )
        await emit(
            session,
            runtime.tables,
            failed_event(row, reason, permanent=True),
            correlation=row.correlation_id,
        )
        return ReportAnswer(id=row.id, status="failed")


def build_api(app: FastAPI) -> None:
    app.include_router(router)
