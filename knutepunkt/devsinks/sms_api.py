"""The SMS sink's HTTP face: the providers' send endpoints, the message list and controls."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

import httpx
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from knutepunkt.devsinks import sms_providers as providers
from knutepunkt.devsinks.sms_providers import Provider, Refused
from knutepunkt.devsinks.sms_records import Fault, ReportStatus

if TYPE_CHECKING:
    from knutepunkt.devsinks.sms import SmsSink

logger = logging.getLogger("knutepunkt.devsinks.sms")


HttpStatus = Annotated[int, Field(ge=100, le=599)]


class _FaultSpec(BaseModel):
    status: HttpStatus
    retry_after: int | None = Field(default=None, ge=0)
    delay: float = Field(default=0.0, ge=0, le=300)
    message: str | None = Field(default=None, max_length=500)


class _FaultsRequest(BaseModel):
    responses: list[HttpStatus | _FaultSpec]


class _DeliverRequest(BaseModel):
    id: str | int
    status: ReportStatus = "delivered"
    callback_url: str | None = None


def _fault_headers(fault: Fault) -> dict[str, str] | None:
    return {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None


def _fault_response(fault: Fault, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=fault.status, headers=_fault_headers(fault))


async def _fault_message(fault: Fault, request: Request, field: str) -> str | None:
    """The fault's own error text, with the request's number in place of "{to}"."""
    if fault.message is None:
        return None
    try:
        to = json.loads(await request.body() or b"{}").get(field, "")
    except (ValueError, AttributeError):
        to = ""
    return fault.message.replace("{to}", str(to))


def _refused(provider: Provider, refusal: Refused) -> None:
    logger.info(
        "sms refused provider=%s status=%d reason=%s", provider, refusal.status, refusal.reason
    )


async def _sveve_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return params
        if isinstance(data, dict):
            params.update({k: str(v) for k, v in data.items() if v is not None})
        return params
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("latin-1")  # older Sveve clients send ISO-8859-1 forms
    params.update(parse_qsl(text, keep_blank_values=True))
    return params


def sms_api(sink: SmsSink) -> FastAPI:
    app = FastAPI(title="Knutepunkt SMS sink", docs_url="/docs", redoc_url=None)

    async def fault_or_none(provider: Provider) -> Fault | None:
        fault = sink.take_fault()
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status < 300:
            return None
        logger.info("sms fault injected provider=%s status=%d", provider, fault.status)
        return fault

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/sms")
    async def send_generic(request: Request) -> Response:
        fault = await fault_or_none("generic")
        if fault is not None:
            message = await _fault_message(fault, request, "to")
            return _fault_response(fault, providers.generic_fault(fault.status, message))
        try:
            parsed = providers.parse_generic(
                await request.body(), request.headers.get("authorization"), sink.auth
            )
        except Refused as refusal:
            _refused("generic", refusal)
            return JSONResponse(refusal.body, status_code=refusal.status)
        sms = sink.accept("generic", parsed, uuid.uuid4().hex)
        status, body = providers.generic_accepted(sms.id)
        return JSONResponse(
            body, status_code=status, background=BackgroundTask(sink.schedule_reports, [sms.id])
        )

    @app.post("/sms/send")
    async def send_linkmobility(request: Request) -> Response:
        fault = await fault_or_none("linkmobility")
        if fault is not None:
            message = await _fault_message(fault, request, "destination")
            return _fault_response(fault, providers.linkmobility_fault(fault.status, message))
        try:
            parsed = providers.parse_linkmobility(
                await request.body(), request.headers.get("authorization"), sink.auth
            )
        except Refused as refusal:
            _refused("linkmobility", refusal)
            return JSONResponse(refusal.body, status_code=refusal.status)
        sms = sink.accept("linkmobility", parsed, str(uuid.uuid4()))
        status, body = providers.linkmobility_accepted(sms.id)
        return JSONResponse(
            body, status_code=status, background=BackgroundTask(sink.schedule_reports, [sms.id])
        )

    @app.api_route("/SMS/SendMessage", methods=["GET", "POST"])
    async def send_sveve(request: Request) -> Response:
        params = await _sveve_params(request)
        as_json = params.get("f", "").lower() == "json"

        def answer(body: dict[str, Any], status: int = 200, **kw: Any) -> Response:
            if as_json:
                return JSONResponse(body, status_code=status, **kw)
            return Response(
                providers.sveve_xml(body), status_code=status, media_type="text/xml", **kw
            )

        fault = await fault_or_none("sveve")
        if fault is not None:
            return answer(
                providers.sveve_fault(fault.status), fault.status, headers=_fault_headers(fault)
            )
        try:
            parsed = providers.parse_sveve(params, sink.auth)
        except Refused as refusal:
            _refused("sveve", refusal)
            return answer(refusal.body, refusal.status)
        accepted = [sink.accept("sveve", m, str(next(sink.sveve_ids))) for m in parsed.messages]
        body = providers.sveve_body(
            ok_count=len(accepted),
            sms_count=sum(sms.parts for sms in accepted),
            ids=[int(sms.id) for sms in accepted],
            bad_numbers=parsed.bad_numbers,
        )
        reports = BackgroundTask(sink.schedule_reports, [sms.id for sms in accepted])
        return answer(body, background=reports)

    @app.get("/messages")
    async def list_messages() -> list[dict[str, Any]]:
        return [sms.as_dict() for sms in sink.messages]

    @app.get("/messages/{gateway_id}")
    async def get_message(gateway_id: str) -> dict[str, Any]:
        try:
            return sink.get(gateway_id).as_dict()
        except KeyError:
            raise HTTPException(404, f"no SMS {gateway_id}") from None

    @app.delete("/messages", status_code=204)
    async def delete_messages() -> Response:
        sink.clear()
        return Response(status_code=204)

    @app.get("/control/state")
    async def get_state() -> dict[str, Any]:
        return sink.state()

    @app.get("/control/faults")
    async def list_faults() -> dict[str, Any]:
        return {"pending": [fault.__dict__ for fault in sink.pending_faults]}

    @app.post("/control/faults")
    async def add_faults(request: _FaultsRequest) -> dict[str, Any]:
        sink.add_faults(
            *(
                r if isinstance(r, int) else Fault(r.status, r.retry_after, r.delay, r.message)
                for r in request.responses
            )
        )
        return {"pending": [fault.__dict__ for fault in sink.pending_faults]}

    @app.delete("/control/faults", status_code=204)
    async def clear_faults() -> Response:
        sink.clear_faults()
        return Response(status_code=204)

    @app.post("/control/deliver")
    async def deliver(request: _DeliverRequest) -> dict[str, Any]:
        try:
            callback_status = await sink.deliver(request.id, request.status, request.callback_url)
        except KeyError:
            raise HTTPException(404, f"no SMS {request.id}") from None
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        except httpx.HTTPError as error:
            raise HTTPException(502, f"callback not reachable: {type(error).__name__}") from None
        return {"id": str(request.id), "status": request.status, "callback_status": callback_status}

    return app
