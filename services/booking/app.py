"""Composition root of the booking service."""

from __future__ import annotations

from fastapi import FastAPI

from services.booking import api, usecases
from services.booking.models import messaging, metadata
from services.booking.seed import seed
from services.booking.settings import BookingSettings, booking_settings
from services.booking.store import Store, refusal_of
from services.booking.timers import anonymise_loop, offer_loop, release_loop, reminder_loop
from shared.events import BOOKING_STREAM
from shared.person_data import PersonData, erasure_task
from shared.service import Runtime, ServiceSpec, create_app
from shared.settings import Settings


async def setup(runtime: Runtime) -> None:
    # BOOKING_TRANSACTION_ATTEMPTS (docs/booking.md) bounds the unit of work's re-runs.
    runtime.uow.attempts = booking_settings(runtime).transaction_attempts


# Erasure requests left for this service while it was down (docs/privacy.md).
ERASURES = erasure_task(PersonData(usecases.export_person, usecases.erase_person))


SPEC = ServiceSpec(
    name="booking",
    metadata=metadata,
    tables=messaging,
    produces=(BOOKING_STREAM,),
    build_api=api.build_api,
    store=Store,
    integrity=refusal_of,
    service_settings=BookingSettings,
    tasks=[reminder_loop, release_loop, offer_loop, anonymise_loop, ERASURES],
    seed=seed,
    setup=setup,
    title="Knutepunkt booking",
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
