"""What every service process is made of: the HTTP API, its subscribers, its outbox relay
and its timers on one event loop (DESIGN.md "Architecture"). Each service's app.py is its
composition root and hands a `ServiceSpec` to `create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from sqlalchemy import MetaData
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import migrations
from shared.calendar import utcnow
from shared.db import Database
from shared.messaging.consumer import Consumer, ConsumerConfig, Handler
from shared.messaging.outbox import OutboxRelay
from shared.messaging.redis import StreamNames, as_str, connect, reset_connections
from shared.messaging.tables import MessagingTables
from shared.observability import Metrics, configure_logging, correlation_id
from shared.settings import Settings, load_settings
from shared.tasks import cancelling, stop_tasks

log = logging.getLogger("knutepunkt.service")
VERSION = "0.1.0"


class ApiError(Exception):
    """A domain refusal with its HTTP status and a reason the client can act on."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclass
class Runtime:
    """The wired parts of one running service, reachable from routes as app.state.runtime."""

    spec: ServiceSpec
    settings: Settings
    db: Database
    redis: Redis
    names: StreamNames
    metrics: Metrics
    relay: OutboxRelay
    consumer: Consumer | None = None
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
    handlers: Callable[[Runtime], dict[str, Handler]] | None = None
    # Long-running loops (timers, senders); each is restarted after an error, and logged.
    tasks: list[Task] = field(default_factory=list)
    seed: Task | None = None
    setup: Task | None = None  # runs once after migrations, before anything else
    title: str = ""


def create_app(
    spec: ServiceSpec,
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    settings = settings or load_settings(spec.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = _build_runtime(spec, settings)
        if clock is not None:
            runtime.clock = clock
        app.state.runtime = runtime
        tasks: list[asyncio.Task[None]] = []
        await _migrate_with_retry(runtime)
        if spec.setup:
            await spec.setup(runtime)
        if spec.seed:
            await spec.seed(runtime)
        tasks.append(asyncio.create_task(_supervised(_relay, runtime), name="outbox-relay"))
        if runtime.consumer:
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
            await runtime.redis.aclose()
            await runtime.db.dispose()

    app = FastAPI(
        title=spec.title or f"Knutepunkt {spec.name}",
        version=VERSION,
        lifespan=lifespan,
    )
    _add_observability(app)
    _add_error_handlers(app)
    spec.build_api(app)
    return app


def _build_runtime(spec: ServiceSpec, settings: Settings) -> Runtime:
    db = Database(settings.database_url)
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
    )
    runtime = Runtime(spec, settings, db, redis, names, metrics, relay)
    if spec.handlers:
        runtime.consumer = Consumer(
            service=spec.name,
            db=db,
            tables=spec.tables,
            redis=redis,
            names=names,
            handlers=spec.handlers(runtime),
            metrics=metrics,
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


async def _migrate_with_retry(runtime: Runtime) -> None:
    if runtime.settings.migrate_on_start:
        await _upgrade_when_reachable(runtime.spec.name, runtime.db)


async def _upgrade_when_reachable(service: str, db: Database, attempts: int = 60) -> None:
    """The database may come up after us (compose has no start order we can rely on)."""
    delay = 0.2
    for attempt in range(attempts):
        try:
            await migrations.upgrade(service, db)
            return
        except (SQLAlchemyError, OSError) as exc:
            if not _unreachable(exc):
                raise  # a broken migration is not a database that is still starting
            log.warning("database not ready (attempt %d): %s", attempt + 1, type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    await migrations.upgrade(service, db)


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, OSError | OperationalError | InterfaceError):
        return True
    text = str(exc).lower()
    return any(w in text for w in ("connect", "starting up", "shutting down", "timeout"))


async def _relay(runtime: Runtime) -> None:
    await runtime.relay.run()


async def _consume(runtime: Runtime) -> None:
    assert runtime.consumer
    await runtime.consumer.run()


async def _supervised(task: Task, runtime: Runtime) -> None:
    delay = 0.5
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
            delay = 0.5
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def _add_observability(app: FastAPI) -> None:
    @app.middleware("http")
    async def correlate(request: Request, call_next: Callable[..., Any]) -> Response:
        cid = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        token = correlation_id.set(cid[:100])
        started = time.perf_counter()
        try:
            response: Response = await call_next(request)
        finally:
            correlation_id.reset(token)
        response.headers["x-correlation-id"] = cid[:100]
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            runtime.metrics.http_requests.labels(
                request.method, path, str(response.status_code)
            ).inc()
            runtime.metrics.http_latency.labels(request.method, path).observe(
                time.perf_counter() - started
            )
        return response

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next: Callable[..., Any]) -> Response:
        # PostgreSQL cannot store or even compare text holding NUL; a path or query
        # parameter with one is the client's error, never a 500 from the database.
        query = request.scope.get("query_string", b"")
        if "\x00" in request.scope.get("path", "") or b"%00" in query.lower() or b"\x00" in query:
            return JSONResponse(
                {"detail": "NUL characters are not allowed in the path or query"}, 422
            )
        response: Response = await call_next(request)
        return response

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks = {"database": "ok", "redis": "ok"}
        try:
            await asyncio.wait_for(runtime.db.ping(), 2)
        except Exception as exc:
            checks["database"] = f"down: {type(exc).__name__}"
        try:
            await asyncio.wait_for(runtime.redis.ping(), 2)
        except Exception as exc:
            checks["redis"] = f"down: {type(exc).__name__}"
            await reset_connections(runtime.redis)
        ok = all(v == "ok" for v in checks.values())
        body = {
            "status": "ready" if ok else "not ready",
            "service": runtime.spec.name,
            "version": VERSION,
            **checks,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"])
    async def metrics(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        with contextlib.suppress(Exception):
            await asyncio.wait_for(refresh_gauges(runtime), 2)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def refresh_gauges(runtime: Runtime) -> None:
    backlog, age = await runtime.relay.backlog()
    runtime.metrics.outbox_backlog.set(backlog)
    runtime.metrics.outbox_lag_seconds.set(age)
    if runtime.consumer:
        for stream in runtime.consumer.streams:
            for group in await runtime.redis.xinfo_groups(runtime.names(stream)):
                if as_str(group["name"]) != runtime.spec.name:
                    continue
                runtime.metrics.consumer_lag.labels(stream, runtime.spec.name).set(
                    int(group.get("lag") or 0)
                )
                runtime.metrics.consumer_pending.labels(stream, runtime.spec.name).set(
                    int(group.get("pending") or 0)
                )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.extra}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        reason = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5]
        )
        return JSONResponse({"detail": reason or "invalid request", "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )


def run(spec: ServiceSpec) -> None:
    """`python -m services.<name>` [serve | migrate]."""
    settings = load_settings(spec.name)
    configure_logging(settings.log_level, settings.log_format, spec.name)
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        db = Database(settings.database_url)

        async def _go() -> None:
            await _upgrade_when_reachable(spec.name, db)
            await db.dispose()

        asyncio.run(_go())
        log.info("%s migrated", spec.name)
        return
    if command != "serve":
        raise SystemExit(f"usage: python -m services.{spec.name} [serve|migrate]")
    uvicorn.run(
        create_app(spec, settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
