"""The SMS gateway's delivery reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from services.notify import usecases
from services.notify.api.schemas import DeliveryReport, ReportAnswer
from services.notify.settings import notify_settings
from shared.service import runtime_of

router = APIRouter(tags=["sms"])


@router.post("/sms/delivery-reports", response_model=ReportAnswer)
async def delivery_report(
    request: Request,
    report: DeliveryReport,
    x_report_token: Annotated[str | None, Header(alias="X-Report-Token", max_length=200)] = None,
    token: Annotated[str | None, Query(alias="token", max_length=200)] = None,
) -> ReportAnswer:
    """The SMS gateway tells us whether a message reached the phone."""
    runtime = runtime_of(request)
    command = usecases.DeliveryReport(
        reference=report.reference or report.refId or report.ref,
        provider_ref=report.messageId or report.id,
        status=report.status,
        result_code=report.resultCode,
        token=x_report_token or token,
    )
    expected = notify_settings(runtime).report_token
    delivery_id, status = await runtime.uow.run(
        lambda uow: usecases.record_delivery_report(uow, command, token=expected)
    )
    return ReportAnswer(id=delivery_id, status=status)
