"""Composition root of the catering service."""

from __future__ import annotations

from fastapi import FastAPI

from services.catering import api
from services.catering.config import CateringSettings
from services.catering.handlers import handlers
from services.catering.menu_seed import seed_menu
from services.catering.models import messaging, metadata
from shared.events import CATERING_STREAM
from shared.service import Runtime, ServiceSpec, create_app
from shared.settings import Settings


async def setup(runtime: Runtime) -> None:
    runtime.state["catering"] = CateringSettings()


SPEC = ServiceSpec(
    name="catering",
    metadata=metadata,
    tables=messaging,
    produces=(CATERING_STREAM,),
    build_api=api.build_api,
    handlers=handlers,
    seed=seed_menu,
    setup=setup,
    title="Knutepunkt catering (Café Jasmin)",
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
