"""The live-update stream for the staff pages (Server-Sent Events)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from services.web.staff import actor_of

router = APIRouter()


@router.get("/ansatt/direkte", response_model=None)
async def events(request: Request) -> StreamingResponse | PlainTextResponse:
    if actor_of(request) is None:
        return PlainTextResponse("sign in first", status_code=401)
    store = request.app.state.session_store
    cookie_sid = request.scope.get("session.sid")

    async def still_signed_in() -> bool:
        return cookie_sid is not None and await store.load(cookie_sid) is not None

    return StreamingResponse(
        request.app.state.live.stream(still_signed_in),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
