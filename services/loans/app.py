"""Composition root of the loans service."""

from __future__ import annotations

from fastapi import FastAPI

from services.loans import api, usecases
from services.loans.models import messaging, metadata
from services.loans.seed import seed
from services.loans.settings import LoansSettings
from services.loans.store import Store, refusal_of
from services.loans.timers import anonymise_loop, scanner
from shared.events import LOANS_STREAM
from shared.person_data import PersonData, erasure_task
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

# Erasure requests left for this service while it was down (docs/privacy.md).
ERASURES = erasure_task(PersonData(usecases.export_person, usecases.erase_person))


SPEC = ServiceSpec(
    name="loans",
    metadata=metadata,
    tables=messaging,
    produces=(LOANS_STREAM,),
    build_api=api.build_api,
    store=Store,
    integrity=refusal_of,
    service_settings=LoansSettings,
    tasks=[scanner, anonymise_loop, ERASURES],
    seed=seed,
    title="Knutepunkt loans: PCs, planter boxes and the book swap",
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
