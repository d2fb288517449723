"""Composition root of the catering service."""

from __future__ import annotations

from fastapi import FastAPI

from services.catering import api
from services.catering.models import messaging, metadata
from shared.events import CATERING_STREAM
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

SPEC = ServiceSpec(
    name="catering",
    metadata=metadata,
    tables=messaging,
    produces=(CATERING_STREAM,),
    build_api=api.build_api,
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
