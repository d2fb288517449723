"""A service served the way clients reach it, for benches that compare a route with a
trivial one: uvicorn on a free local port in this process, and concurrent httpx clients.

    async with served(SPEC, settings, clock) as (base_url, app):
        rate, latencies, statuses = await run_clients(1000, request, base_url)

Both the route and its baseline go through the same server and the same clients, so the
ratio is the route's own cost against what any request costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import uvicorn

from shared.service import ServiceSpec, create_app
from shared.settings import Settings
from tests.support.servers import free_port
from tests.support.waiting import wait_for

CLIENTS = 32


@contextlib.asynccontextmanager
async def served(
    spec: ServiceSpec, settings: Settings, clock: Callable[[], datetime]
) -> AsyncIterator[tuple[str, Any]]:
    """The service's app under uvicorn, lifespan running; yields its base URL and the app."""
    app = create_app(spec, settings, clock=clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, timeout=30, message="bench server started")
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


async def run_clients(
    n: int,
    request: Callable[[httpx.AsyncClient, int], Awaitable[int]],
    base_url: str,
    clients: int = CLIENTS,
) -> tuple[float, list[float], dict[int, int]]:
    """`n` requests from `clients` concurrent clients over kept-alive connections: the
    rate per second, each request's latency in seconds, and the count of each status."""
    counter = itertools.count()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    # A client (one kept-alive connection) per worker, as separate callers would be: one
    # pool of many connections costs httpx a scan of them all per request, so the clients
    # would spend more than the server (docs/bench.md, fifth pass).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)
            )
            for _ in range(clients)
        ]

        async def worker(client: httpx.AsyncClient) -> None:
            while (i := next(counter)) < n:
                started = time.perf_counter()
                status = await request(client, i)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in pool))
        elapsed = time.perf_counter() - started
    return n / elapsed, latencies, statuses
