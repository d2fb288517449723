"""Ops endpoints every service has, for staff with the admin role: today, sending the
outbox's kept window again after Redis lost its data (`knutepunkt outbox republish`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import AwareDatetime, Field, model_validator

from shared.auth import Staff, require_staff
from shared.calendar import utcnow
from shared.requests import RequestModel
from shared.roles import Role
from shared.service.runtime import runtime_of


class RepublishIn(RequestModel):
    since: AwareDatetime = Field(description="republish rows created at or after this instant")
    until: AwareDatetime | None = Field(
        default=None, description="and at or before this one (default: now)"
    )

    @model_validator(mode="after")
    def _window(self) -> RepublishIn:
        if self.until is not None and self.until < self.since:
            raise ValueError("until is before since")
        return self


def add_admin(app: FastAPI) -> None:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.post("/outbox/republish")
    async def republish(
        request: Request,
        body: RepublishIn,
        _staff: Staff = Depends(require_staff(Role.ADMIN)),
    ) -> dict[str, Any]:
        """Publish again the outbox rows created in the window that were already
        published (after Redis lost its data). Consumers apply each event once, so a
        window wider than needed only costs time. `complete` is false when `since` is
        older than the keep window (OUTBOX_KEEP_SECONDS): rows published before it may
        be gone."""
        runtime = runtime_of(request)
        done = await runtime.relay.republish(body.since, body.until)
        return {
            "service": runtime.spec.name,
            "since": _iso(done.since),
            "until": _iso(done.until or utcnow()),
            "republished": done.total,
            "streams": done.streams,
            "complete": done.complete,
            "oldest_kept": _iso(done.oldest_kept),
            "keep_seconds": runtime.settings.outbox_keep_seconds,
        }

    app.include_router(router)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
