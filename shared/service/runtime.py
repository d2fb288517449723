"""What one running service is made of, and what its composition root (app.py) declares.

`ServiceSpec` is the service's declaration: its tables, what it produces, its routes, its
store, the handlers of what it consumes, its timers and seed. `Runtime` is the wired result,
reachable from routes as `runtime_of(request)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from redis.asyncio import Redis
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from shared.calendar import utcnow
from shared.clock import clock_from_settings
from shared.db import Database
from shared.messaging.consumer import Consumer, ConsumerConfig, Handler
from shared.messaging.outbox import OutboxRelay
from shared.messaging.redis import StreamNames, connect
from shared.messaging.tables import MessagingTables
from shared.observability import Metrics
from shared.settings import Settings
from shared.unit_of_work import IntegrityReading, UnitsOfWork

VERSION = "0.1.0"


def _no_store(_session: AsyncSession) -> None:
    return None


@dataclass
class Runtime:
    """The wired parts of one running service."""

    spec: ServiceSpec
    settings: Settings
    db: Database
    redis: Redis
    names: StreamNames
    metrics: Metrics
    relay: OutboxRelay
    uow: UnitsOfWork[Any]
    consumer: Consumer | None = None
    # The service's own typed settings (`<SERVICE>_` prefix), made by spec.service_settings.
    config: Any = None
    # Injected in tests that move time (reminders, overdue scans); aware UTC.
    clock: Callable[[], datetime] = utcnow
    state: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    @property
    def tables(self) -> MessagingTables:
        return self.spec.tables


Task = Callable[[Runtime], Awaitable[None]]


@dataclass
class ServiceSpec:
    name: str
    metadata: MetaData
    tables: MessagingTables
    produces: tuple[str, ...]
    build_api: Callable[[FastAPI], None]
    # The service's store on one session (store.py), handed to use cases as uow.store.
    store: Callable[[AsyncSession], Any] = _no_store
    # The service's reading of its own constraint violations (a refusal, or None).
    integrity: IntegrityReading | None = None
    # The typed settings class of the service (settings.py), instantiated at start.
    service_settings: Callable[[], Any] | None = None
    handlers: Callable[[Runtime], dict[str, Handler]] | None = None
    # Long-running loops (timers, senders); each is restarted after an error, and logged.
    tasks: list[Task] = field(default_factory=list)
    seed: Task | None = None
    setup: Task | None = None  # runs once after migrations, before anything else
    title: str = ""
    # PostgreSQL deadlock/serialization victims are run again this many times in all.
    transaction_attempts: int = 4
    # The outbox relay's pace (OutboxRelay.pace_seconds): 0 publishes every commit at once.
    relay_pace_seconds: float = 0.0


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def build_runtime(spec: ServiceSpec, settings: Settings) -> Runtime:
    clock = clock_from_settings(settings)  # refuses a demo clock outside the embedded mode
    db = Database(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout_seconds,
        command_timeout=settings.database_command_timeout_seconds,
    )
    redis = connect(settings.redis_url)
    names = StreamNames(settings.stream_prefix)
    metrics = Metrics()
    relay = OutboxRelay(
        service=spec.name,
        db=db,
        tables=spec.tables,
        redis=redis,
        names=names,
        metrics=metrics,
        streams=spec.produces,
        batch=settings.relay_batch,
        poll_seconds=settings.outbox_poll_seconds,
        keep_seconds=settings.outbox_keep_seconds,
        retention_seconds=settings.stream_retention_seconds,
        pace_seconds=spec.relay_pace_seconds,
    )
    holder: list[Runtime] = []
    uow: UnitsOfWork[Any] = UnitsOfWork(
        db,
        spec.tables,
        spec.store,
        # The runtime's clock may be replaced after start (tests, the demo clock).
        lambda: holder[0].clock(),
        attempts=spec.transaction_attempts,
        integrity=spec.integrity,
        # A request waits for PostgreSQL no longer than one connect and one command; on
        # SQLite the wait is for the write lock, which its busy timeout bounds.
        deadline=(
            settings.database_connect_timeout_seconds + settings.database_command_timeout_seconds
            if db.dialect == "postgresql"
            else None
        ),
    )
    runtime = Runtime(spec, settings, db, redis, names, metrics, relay, uow, clock=clock)
    holder.append(runtime)
    if spec.service_settings is not None:
        runtime.config = spec.service_settings()
    if spec.handlers:
        runtime.consumer = Consumer(
            service=spec.name,
            db=db,
            tables=spec.tables,
            redis=redis,
            names=names,
            handlers=spec.handlers(runtime),
            metrics=metrics,
            units=uow,
            config=ConsumerConfig(
                batch=settings.consumer_batch,
                block_ms=settings.consumer_block_ms,
                claim_idle_ms=settings.claim_idle_ms,
                max_deliveries=settings.max_deliveries,
                retry_backoff_ms=settings.retry_backoff_ms,
                retry_backoff_max_ms=settings.retry_backoff_max_ms,
                max_event_bytes=settings.max_event_bytes,
            ),
        )
    return runtime
