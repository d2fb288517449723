"""Composition root of the catering service."""

from __future__ import annotations

from fastapi import FastAPI

from services.catering import api, usecases
from services.catering.handlers import handlers
from services.catering.models import messaging, metadata
from services.catering.seed import seed
from services.catering.settings import CateringSettings
from services.catering.store import Store, refusal_of
from services.catering.timers import anonymise_loop
from shared.events import CATERING_STREAM
from shared.person_data import PersonData, erasure_task
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

# Erasure requests left for this service while it was down (docs/privacy.md).
ERASURES = erasure_task(PersonData(usecases.export_person, usecases.erase_person))


SPEC = ServiceSpec(
    name="catering",
    metadata=metadata,
    tables=messaging,
    produces=(CATERING_STREAM,),
    build_api=api.build_api,
    store=Store,
    integrity=refusal_of,
    service_settings=CateringSettings,
    handlers=handlers,
    tasks=[anonymise_loop, ERASURES],
    seed=seed,
    title="Knutepunkt catering (Café Jasmin)",
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
