"""Composition root of the loans service."""

from __future__ import annotations

from fastapi import FastAPI

from services.loans import api
from services.loans.models import messaging, metadata
from shared.events import LOANS_STREAM
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

SPEC = ServiceSpec(
    name="loans",
    metadata=metadata,
    tables=messaging,
    produces=(LOANS_STREAM,),
    build_api=api.build_api,
)


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
