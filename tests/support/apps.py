"""A service's app in-process, with its lifespan running, behind an httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from fastapi import FastAPI

from shared.service import Runtime, ServiceSpec, create_app
from shared.settings import load_settings


@dataclass
class RunningService:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def running_service(
    spec: ServiceSpec,
    *,
    database_url: str,
    redis_url: str,
    prefix: str,
    clock: Callable[[], datetime] | None = None,
    **overrides: object,
) -> AsyncIterator[RunningService]:
    overrides.setdefault("outbox_poll_seconds", 0.2)
    overrides.setdefault("consumer_block_ms", 200)
    settings = load_settings(
        spec.name,
        database_url=database_url,
        redis_url=redis_url,
        stream_prefix=prefix,
        **overrides,
    )
    app = create_app(spec, settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningService(app, client)


# The four staff roles of the hub, one token each (tb booking, td desk, tc café, ta admin).
STAFF_TOKENS = "tb:booking,td:desk,tc:cafe,ta:admin"


def staffed_service(
    spec: ServiceSpec,
    *,
    database_url: str,
    redis_url: str,
    prefix: str,
    clock: Callable[[], datetime] | None = None,
    **overrides: object,
) -> contextlib.AbstractAsyncContextManager[RunningService]:
    """`running_service` with the hub's staff tokens."""
    return running_service(
        spec,
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        clock=clock,
        staff_tokens=STAFF_TOKENS,
        **overrides,
    )
