"""The HTTP edge's one error body: RFC 9457 problem details, for every service.

Every refusal (`shared.errors`), every validation error and every HTTP error leaves a service
as `application/problem+json` with `type`, `title`, `status`, `detail`, the stable reason
`code`, and the refusal's details (`conflict`, `field`, `errors`, ...). `detail` is the
reason in the caller's language: Bokmål when the request prefers `nb` (or `no`, `nn`) in
Accept-Language and the refusal has it, else English. A database that is away or a disk
that is full is a 503 with Retry-After, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import Busy, Kind, Refusal
from shared.unit_of_work import unavailable

log = logging.getLogger("knutepunkt.http")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:knutepunkt:problem:"

STATUS: dict[Kind, int] = {
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.REFUSED: 422,
    Kind.NOT_ALLOWED: 403,
    Kind.NOT_AUTHENTICATED: 401,
    Kind.BUSY: 503,
    Kind.UNAVAILABLE: 503,
}
_TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Refused",
    429: "Too many requests",
    503: "Service unavailable",
}
_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "not_allowed",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def language_of(request: Request) -> str:
    """'nb' when the caller prefers Norwegian, else 'en' (the API's default)."""
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].split(";")[0].strip().lower()
    return "nb" if first[:2] in {"nb", "no", "nn"} else "en"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": TYPE_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def refusal_response(request: Request, exc: Refusal) -> JSONResponse:
    status = STATUS[exc.kind]
    headers: dict[str, str] = {}
    if isinstance(exc, Busy):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    extra = dict(exc.details)
    if exc.field:
        extra["field"] = exc.field
    return problem(status, exc.code, exc.text(language_of(request)), headers=headers, **extra)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


def add_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        return refusal_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        reason = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5]
        )
        return problem(422, "invalid", reason or "invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Reached only by reads outside a unit of work; the unit of work already turns
        # these into refusals. Anything else is a bug and stays a 500 (logged).
        refusal = unavailable(exc)
        if refusal is None:
            log.error("unexpected database error: %s", type(exc).__name__)
            return problem(500, "internal", "an internal error; it has been logged")
        return refusal_response(request, refusal)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> JSONResponse:
        refusal = unavailable(exc)
        if refusal is None:  # pragma: no cover - is_outage takes every OSError
            return problem(500, "internal", "an internal error; it has been logged")
        return refusal_response(request, refusal)
