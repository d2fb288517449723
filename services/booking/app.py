"""Composition root of the booking service."""

from __future__ import annotations

from fastapi import FastAPI

from services.booking import api
from services.booking.models import messaging, metadata
from shared.events import BOOKING_STREAM
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

SPEC = ServiceSpec(
    name="booking",
    metadata=metadata,
    tables=messaging,
    produces=(BOOKING_STREAM,),
    build_api=api.build_api,
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
