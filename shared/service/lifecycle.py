"""A service's life: migrate (waiting for its database), seed, then run the HTTP API, the
outbox relay, its consumer and its timers on one event loop, supervised; stop them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from shared import access_log, migrations
from shared.backoff import Backoff
from shared.calendar import local_date
from shared.db import Database
from shared.db_errors import is_outage
from shared.events import typed_envelopes
from shared.ratelimit import Limit, parse_networks
from shared.service.admin import add_admin
from shared.service.http import add_observability
from shared.service.limits import PublicWriteLimit
from shared.service.problems import add_problem_handlers
from shared.service.runtime import VERSION, Runtime, ServiceSpec, Task, build_runtime
from shared.settings import Settings, load_settings
from shared.tasks import cancelling, stop_tasks
from shared.warm_up import warm_up

log = logging.getLogger("knutepunkt.service")


def create_app(
    spec: ServiceSpec,
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    settings = settings or load_settings(spec.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(spec, settings)
        if clock is not None:
            runtime.clock = clock
        app.state.runtime = runtime
        tasks: list[asyncio.Task[None]] = []
        await _migrate_with_retry(runtime)
        # Setup and seed are idempotent: a database that is slow to answer right after a
        # restart (a connect timeout) is waited for, as for the migrations, not a crash.
        if spec.setup:
            await when_reachable(partial(spec.setup, runtime), f"{spec.name} setup")
        if spec.seed:
            await when_reachable(partial(spec.seed, runtime), f"{spec.name} seed")
        warm_up(app, local_date(runtime.now()))
        tasks.append(asyncio.create_task(_supervised(_relay, runtime), name="outbox-relay"))
        if runtime.consumer:
            typed_envelopes()  # built now (17 ms), not at the first event consumed
            tasks.append(asyncio.create_task(_supervised(_consume, runtime), name="consumer"))
        for task in spec.tasks:
            tasks.append(asyncio.create_task(_supervised(task, runtime), name=task.__name__))
        log.info("%s ready on port %s", spec.name, settings.port)
        try:
            yield
        finally:
            if runtime.consumer:
                runtime.consumer.stop()
            await stop_tasks(tasks)
            if runtime.consumer:
                with contextlib.suppress(Exception):
                    await runtime.consumer.flush_acks()
            await access_log.drain()
            await runtime.redis.aclose()
            await runtime.db.dispose()

    app = FastAPI(
        title=spec.title or f"Knutepunkt {spec.name}",
        version=VERSION,
        lifespan=lifespan,
    )
    limit = Limit.parse(settings.public_write_limit)
    if limit is not None:
        # Added before the edge middleware, so it is inside it: a 429 is counted and logged.
        app.add_middleware(
            PublicWriteLimit, limit=limit, trusted=parse_networks(settings.trusted_proxies)
        )
    add_observability(app)
    add_admin(app)
    add_problem_handlers(app)
    spec.build_api(app)
    return app


async def _migrate_with_retry(runtime: Runtime) -> None:
    if not runtime.settings.migrate_on_start:
        return
    if runtime.db.dialect != "postgresql":
        await upgrade_when_reachable(runtime.spec.name, runtime.db)
        return
    # Not on the runtime's engine: its command timeout would cut short a replica that
    # waits for another's migration lock, or a long migration.
    db = Database(
        runtime.settings.database_url,
        connect_timeout=runtime.settings.database_connect_timeout_seconds,
    )
    try:
        await upgrade_when_reachable(runtime.spec.name, db)
    finally:
        await db.dispose()


async def upgrade_when_reachable(service: str, db: Database, attempts: int = 60) -> None:
    """The database may come up after us (compose has no start order we can rely on)."""
    await when_reachable(partial(migrations.upgrade, service, db), "migrations", attempts)


async def when_reachable(
    step: Callable[[], Awaitable[None]], what: str, attempts: int = 60
) -> None:
    """Run a startup step, again with backoff while the database does not answer."""
    backoff = Backoff(0.2, 5.0)
    for attempt in range(attempts):
        try:
            await step()
            return
        except (SQLAlchemyError, OSError) as exc:
            if not is_outage(exc):
                raise  # a broken migration or seed is not a database that is still starting
            log.warning(
                "database not ready for %s (attempt %d): %s",
                what,
                attempt + 1,
                type(exc).__name__,
            )
            await asyncio.sleep(backoff.next())
    await step()


async def _relay(runtime: Runtime) -> None:
    await runtime.relay.run()


async def _consume(runtime: Runtime) -> None:
    assert runtime.consumer
    await runtime.consumer.run()


async def _supervised(task: Task, runtime: Runtime) -> None:
    backoff = Backoff(0.5, 30.0)
    while True:
        started = time.monotonic()
        try:
            await task(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if cancelling():
                raise asyncio.CancelledError() from None
            log.exception("background task %s failed; restarting", task.__name__)
        if time.monotonic() - started > 60:
            backoff.reset()  # it ran a good while: a new failure, not the same one again
        await asyncio.sleep(backoff.next())
