"""The HTTP edge every service shares: correlation ids and request metrics, the NUL guard,
health (live, ready) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.messaging.lag import group_lag, redis_now_ms
from shared.messaging.redis import as_str, reset_connections
from shared.observability import correlation_id
from shared.service.problems import problem
from shared.service.runtime import VERSION, Runtime


class EdgeMiddleware:
    """Refuses NUL in the path or query, then sets the correlation id and counts the request
    (metrics). Plain ASGI rather than two `@app.middleware("http")` functions: each of those
    runs the request through its own task and memory streams, a large share of a small
    read's time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # PostgreSQL cannot store or even compare text holding NUL; a path or query
        # parameter with one is the client's error, never a 500 from the database.
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope.get("path", "") or b"%00" in query.lower() or b"\x00" in query:
            refusal = problem(
                422, "nul_text", "NUL characters are not allowed in the path or query"
            )
            await refusal(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        cid = (headers.get(b"x-correlation-id", b"").decode("latin-1") or str(uuid.uuid4()))[:100]
        token = correlation_id.set(cid)
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-correlation-id"] = cid
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            correlation_id.reset(token)
        runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
        if runtime:
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            runtime.metrics.http_requests.labels(method, path, str(status)).inc()
            runtime.metrics.http_latency.labels(method, path).observe(time.perf_counter() - started)


def add_observability(app: FastAPI) -> None:
    app.add_middleware(EdgeMiddleware)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        database, redis = await asyncio.gather(
            _probe(runtime.db.ping()), _probe(runtime.redis.ping())
        )
        checks = {"database": database, "redis": redis}
        if redis != "ok":
            await reset_connections(runtime.redis)
        ok = all(v == "ok" for v in checks.values())
        body = {
            "status": "ready" if ok else "not ready",
            "service": runtime.spec.name,
            "version": VERSION,
            "clock": runtime.now().isoformat(),  # a demo clock's too (knutepunkt demo reads it)
            **checks,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"])
    async def metrics(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        with contextlib.suppress(Exception):
            await asyncio.wait_for(refresh_gauges(runtime), 2)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_PROBE_SECONDS = 2.0
_abandoned: set[asyncio.Task[Any]] = set()


async def _probe(check: Awaitable[Any]) -> str:
    """'ok', or 'down: <why>' within _PROBE_SECONDS. A check that has not answered is left
    to finish on its own: cancelling a query on a server that does not answer waits for
    that server too (asyncpg sends it a cancel request), and readiness must not."""
    task = asyncio.ensure_future(check)
    done, _ = await asyncio.wait({task}, timeout=_PROBE_SECONDS)
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        return "down: TimeoutError"
    exc = task.exception()
    return "ok" if exc is None else f"down: {type(exc).__name__}"


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not log it as never retrieved


async def refresh_gauges(runtime: Runtime) -> None:
    backlog, age = await runtime.relay.backlog()
    runtime.metrics.outbox_backlog.set(backlog)
    runtime.metrics.outbox_lag_seconds.set(age)
    if runtime.consumer:
        now_ms = await redis_now_ms(runtime.redis)
        for stream in runtime.consumer.streams:
            key = runtime.names(stream)
            for info in await runtime.redis.xinfo_groups(key):
                if as_str(info["name"]) != runtime.spec.name:
                    continue
                lag = await group_lag(runtime.redis, key, info, now_ms)
                labels = (stream, runtime.spec.name)
                runtime.metrics.consumer_lag.labels(*labels).set(lag.lag or 0)
                runtime.metrics.consumer_pending.labels(*labels).set(lag.pending)
                runtime.metrics.consumer_lag_seconds.labels(*labels).set(
                    lag.oldest_unconsumed_age_seconds
                )
