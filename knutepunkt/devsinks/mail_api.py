"""The mail catcher's read API over HTTP, plus its failure-mode controls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

from knutepunkt.devsinks.mail_modes import FailAt, MailMode

if TYPE_CHECKING:
    from knutepunkt.devsinks.mail import MailCatcher


class _ModeRequest(BaseModel):
    mode: MailMode
    attempts: int | None = Field(default=None, ge=1)
    at: FailAt = "rcpt"


def mail_api(catcher: MailCatcher) -> FastAPI:
    app = FastAPI(title="Knutepunkt mail catcher", docs_url="/docs", redoc_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/messages")
    async def list_messages() -> list[dict[str, Any]]:
        return [message.summary() for message in catcher.messages]

    @app.get("/messages/{message_id}")
    async def get_message(message_id: int) -> dict[str, Any]:
        try:
            return catcher.get(message_id).detail()
        except KeyError:
            raise HTTPException(404, f"no message {message_id}") from None

    @app.get("/messages/{message_id}/raw")
    async def get_raw(message_id: int) -> Response:
        try:
            raw = catcher.get(message_id).raw
        except KeyError:
            raise HTTPException(404, f"no message {message_id}") from None
        return Response(raw, media_type="message/rfc822")

    @app.delete("/messages", status_code=204)
    async def delete_messages() -> Response:
        catcher.clear()
        return Response(status_code=204)

    @app.get("/control/state")
    async def get_state() -> dict[str, Any]:
        return catcher.state()

    @app.post("/control/mode")
    async def set_mode(request: _ModeRequest) -> dict[str, Any]:
        catcher.set_mode(request.mode, attempts=request.attempts, at=request.at)
        return catcher.state()

    return app
