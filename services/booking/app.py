"""Composition root of the booking service."""

from __future__ import annotations

from fastapi import FastAPI

from services.booking import api
from services.booking.config import BookingSettings
from services.booking.models import messaging, metadata
from services.booking.reminders import reminder_loop
from services.booking.seed import seed
from shared.events import BOOKING_STREAM
from shared.service import Runtime, ServiceSpec, create_app
from shared.settings import Settings


async def setup(runtime: Runtime) -> None:
    runtime.state["config"] = BookingSettings()


SPEC = ServiceSpec(
    name="booking",
    metadata=metadata,
    tables=messaging,
    produces=(BOOKING_STREAM,),
    build_api=api.build_api,
    tasks=[reminder_loop],
    seed=seed,
    setup=setup,
    title="Knutepunkt booking",
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
