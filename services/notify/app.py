"""Composition root of the notify service."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import api
from services.notify.models import messaging, metadata
from shared.events import NOTIFY_STREAM
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

SPEC = ServiceSpec(
    name="notify",
    metadata=metadata,
    tables=messaging,
    produces=(NOTIFY_STREAM,),
    build_api=api.build_api,
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
