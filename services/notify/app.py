"""Composition root of the notify service."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import api
from services.notify.context import make_setup
from services.notify.handlers import handlers
from services.notify.models import messaging, metadata
from services.notify.sender import sender_loop
from shared.events import NOTIFY_STREAM
from shared.service import ServiceSpec, create_app
from shared.settings import Settings


def make_spec(**config: object) -> ServiceSpec:
    """The service, with notify settings given here winning over the environment (tests)."""
    return ServiceSpec(
        name="notify",
        metadata=metadata,
        tables=messaging,
        produces=(NOTIFY_STREAM,),
        build_api=api.build_api,
        handlers=handlers,
        tasks=[sender_loop],
        setup=make_setup(dict(config)),
        title="Knutepunkt notify",
    )


SPEC = make_spec()


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
