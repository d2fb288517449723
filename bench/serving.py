"""A service served the way clients reach it, for benches that compare a route with a
trivial one: uvicorn on a free local port in this process, and concurrent httpx clients.

    async with served(SPEC, settings, clock) as (base_url, app):
        rate, latencies, statuses = await run_clients(1000, request, base_url)
        seconds = await in_app(app, 1000, "POST", "/bookings", body_of)

Both the route and its baseline go through the same server and the same clients, so the
ratio is the route's own cost against what any request costs. `in_app` hands requests to
the app itself, one at a time, as the server would: the app's own time per request, with
no server, no client and no socket, so that a bench can say how much of a request is the
route and how much the HTTP around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import uvicorn

from bench.turns import Side
from shared.service import ServiceSpec, create_app
from shared.service.serving import server_config
from shared.settings import Settings
from tests.support.servers import free_port
from tests.support.waiting import wait_for

CLIENTS = 32
ClientPool = list[httpx.AsyncClient]
Request = Callable[[httpx.AsyncClient, int], Awaitable[int]]  # a request numbered i: its status


@contextlib.asynccontextmanager
async def served(
    spec: ServiceSpec, settings: Settings, clock: Callable[[], datetime]
) -> AsyncIterator[tuple[str, Any]]:
    """The service's app under uvicorn, lifespan running; yields its base URL and the app."""
    app = create_app(spec, settings, clock=clock)
    port = free_port()
    # The services' own settings (keep-alive included); graceful 5 s as `serve` gives them.
    server = uvicorn.Server(server_config(app, graceful_seconds=5, host="127.0.0.1", port=port))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, timeout=30, message="bench server started")
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def client_pool(base_url: str, clients: int = CLIENTS) -> AsyncIterator[ClientPool]:
    """`clients` clients of one kept-alive connection each, as separate callers would be:
    one pool of many connections costs httpx a scan of them all per request, so the clients
    would spend more than the server (docs/bench.md, fifth pass). Made once for a bench's
    turns: a client's making (its TLS context) costs milliseconds of CPU."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)
            )
            for _ in range(clients)
        ]


async def run_clients(
    n: int | range,
    request: Request,
    base_url: str | ClientPool,
    clients: int = CLIENTS,
) -> tuple[float, list[float], dict[int, int]]:
    """`n` requests (numbered 0 to n - 1, or those of a range) from concurrent clients over
    kept-alive connections (`clients` made for the call, or a `client_pool`'s): the rate
    per second, each request's latency in seconds, and the count of each status."""
    if isinstance(base_url, str):
        async with client_pool(base_url, clients) as pool:
            return await run_clients(n, request, pool)
    numbers = range(n) if isinstance(n, int) else n
    counter = iter(numbers)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker(client: httpx.AsyncClient) -> None:
        while (i := next(counter, None)) is not None:
            started = time.perf_counter()
            status = await request(client, i)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in base_url))
    return len(numbers) / (time.perf_counter() - started), latencies, statuses


def clients_side(
    name: str,
    n: int,
    request: Request,
    pool: ClientPool,
    latencies: list[float] | None = None,
    statuses: Counter[int] | None = None,
) -> Side:
    """A side of a bench's turns (bench/turns.py): `n` of `request` from the pool's clients,
    each request's latency and status kept where the bench asks for them."""

    async def run(numbers: range) -> float:
        rate, took, answered = await run_clients(numbers, request, pool)
        if latencies is not None:
            latencies.extend(took)
        if statuses is not None:
            statuses.update(answered)
        return len(numbers) / rate

    return Side(name, n, run)


async def in_app(
    app: Any,
    n: int,
    method: str,
    path: str,
    body_of: Callable[[int], Any] | None = None,
    headers: dict[str, str] | None = None,
) -> float:
    """Seconds per request for `n` requests given straight to the ASGI app, one after
    another, each with `body_of(i)` as its JSON body (and `headers`); a request answered
    with anything but 2xx stops the bench, since its time would measure a refusal."""
    # Encoded before the clock starts: a client's work, not the app's.
    payloads = [b"" if body_of is None else json.dumps(body_of(i)).encode() for i in range(n)]
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    started = time.perf_counter()
    for payload in payloads:
        status = await _asgi_request(app, method, path, payload, extra)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status} inside the app")
    return (time.perf_counter() - started) / n


async def _asgi_request(
    app: Any, method: str, path: str, payload: bytes, extra: list[tuple[bytes, bytes]]
) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *extra,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": payload, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        # As a server does for a request whose body was read: wait for a disconnect that
        # the app never waits for.
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]
