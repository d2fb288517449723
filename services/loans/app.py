"""Composition root of the loans service."""

from __future__ import annotations

from fastapi import FastAPI

from services.loans import api
from services.loans.models import messaging, metadata
from services.loans.scanner import scanner
from services.loans.seed import seed
from services.loans.settings import LoansSettings
from shared.events import LOANS_STREAM
from shared.service import Runtime, ServiceSpec, create_app
from shared.settings import Settings


async def setup(runtime: Runtime) -> None:
    runtime.state["loans_settings"] = LoansSettings()


SPEC = ServiceSpec(
    name="loans",
    metadata=metadata,
    tables=messaging,
    produces=(LOANS_STREAM,),
    build_api=api.build_api,
    tasks=[scanner],
    seed=seed,
    setup=setup,
    title="Knutepunkt loans: PCs, planter boxes and the book swap",
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
