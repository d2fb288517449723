"""The notify service's wired parts, made once at start (ServiceSpec.setup) and kept in
runtime.state: configuration, routing table, staff directory, templates."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.notify.config import DEFAULT_STAFF, NotifyConfig
from services.notify.domain import parse_hours
from services.notify.fanout import FanoutRules
from services.notify.models import KeyRow
from services.notify.rendering import LANGUAGES, Renderer
from services.notify.routing import load_routes
from services.notify.staff import load_staff
from shared.service import Runtime

STATE_KEY = "notify"
WAKE_FLAG = "notify.deliveries_queued"


@dataclass
class NotifyContext:
    config: NotifyConfig
    rules: FanoutRules
    wake: asyncio.Event = field(default_factory=asyncio.Event)


def notify_context(runtime: Runtime) -> NotifyContext:
    ctx: NotifyContext = runtime.state[STATE_KEY]
    return ctx


def check_templates(rules: FanoutRules) -> None:
    missing = [
        f"{route.template}/{channel}/{language}"
        for routes in rules.routes.routes.values()
        if routes != "silent"
        for route in routes
        for channel in route.channels
        for language in LANGUAGES
        if not rules.renderer.has(route.template, channel, language)
    ]
    if missing:
        raise ValueError(f"templates missing: {', '.join(sorted(set(missing)))}")


def build_rules(config: NotifyConfig, runtime: Runtime, key: bytes) -> FanoutRules:
    renderer = Renderer()
    routes = load_routes(config.notify_routes)
    routes.check(renderer.names())
    staff = load_staff(runtime.settings.staff_directory or DEFAULT_STAFF)
    rules = FanoutRules(
        routes=routes,
        staff=staff,
        renderer=renderer,
        quiet_hours=parse_hours(config.notify_quiet_hours),
        public_url=config.notify_public_url,
        preference_key=key,
    )
    check_templates(rules)
    return rules


async def preference_key(runtime: Runtime, config: NotifyConfig) -> bytes:
    if config.notify_preference_secret:
        return config.notify_preference_secret.encode()
    # One random key per installation, made by whichever replica starts first.
    async with runtime.db.transaction() as session:
        make = pg_insert if runtime.db.dialect == "postgresql" else sqlite_insert
        await session.execute(
            make(KeyRow)
            .values(name="preferences", value=secrets.token_hex(32))
            .on_conflict_do_nothing()
        )
        value = (
            await session.execute(select(KeyRow.value).where(KeyRow.name == "preferences"))
        ).scalar_one()
    return str(value).encode()


def make_setup(overrides: dict[str, object]):  # type: ignore[no-untyped-def]
    async def setup(runtime: Runtime) -> None:
        config = NotifyConfig(**overrides)  # type: ignore[arg-type]
        key = await preference_key(runtime, config)
        ctx = NotifyContext(config=config, rules=build_rules(config, runtime, key))
        runtime.state[STATE_KEY] = ctx

        def wake_sender(session: Session) -> None:
            if session.info.pop(WAKE_FLAG, False):
                ctx.wake.set()

        runtime.db.after_commit(wake_sender)

    return setup
