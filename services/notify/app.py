"""Composition root of the notify service."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import timers, usecases
from services.notify.api import build_api
from services.notify.handlers import handlers
from services.notify.models import messaging, metadata
from services.notify.settings import RULES_KEY, NotifySettings, load_rules, notify_settings
from services.notify.store import Store
from shared.events import NOTIFY_STREAM
from shared.person_data import PersonData, erasure_task
from shared.service import Runtime, ServiceSpec, create_app
from shared.settings import Settings


async def setup(runtime: Runtime) -> None:
    """The preference key, the routing table, staff directory and templates (checked:
    a bad table fails the start), and the sender."""
    secret = notify_settings(runtime).preference_secret
    key = await runtime.uow.run(lambda uow: usecases.preference_key(uow, secret=secret))
    runtime.state[RULES_KEY] = load_rules(
        notify_settings(runtime), runtime.settings.staff_directory, key
    )
    timers.install(runtime)


# Erasure requests left for this service while it was down (docs/privacy.md).
ERASURES = erasure_task(PersonData(usecases.export_person, usecases.erase_person))


def make_spec(**config: object) -> ServiceSpec:
    """The service, with notify settings given here winning over the environment (tests)."""
    return ServiceSpec(
        name="notify",
        metadata=metadata,
        tables=messaging,
        produces=(NOTIFY_STREAM,),
        build_api=build_api,
        store=Store,
        # Overrides are checked by the settings' own validation, not by the type checker.
        service_settings=lambda: NotifySettings(**config),  # type: ignore[arg-type]
        handlers=handlers,
        tasks=[
            timers.sender_loop,
            timers.digest_loop,
            timers.anonymise_loop,
            ERASURES,
        ],
        setup=setup,
        title="Knutepunkt notify",
        # Its events (NotificationSent, NotificationFailed: one per delivery) are read by
        # ops, in no one's path to a message, and come a few per commit of outcomes: a
        # pass of the relay per commit was a fifth of its statements under load, and a
        # pass per 0.02 s still a fifth to a third of what was left (docs/bench.md,
        # twenty-fourth pass). A quarter of a second is nothing to a reader of them.
        relay_pace_seconds=0.25,
    )


SPEC = make_spec()


def app(settings: Settings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
