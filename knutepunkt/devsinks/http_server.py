"""A uvicorn server run inside the caller's event loop, on a port it can release and re-take.

The sinks bind the listening socket themselves so that port 0 resolves to a real port before
the server starts (tests need the URL up front), and so that a stopped sink can come back on
the same port (the "gateway down, gateway back" failure tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from shared.service.serving import server_config

logger = logging.getLogger(__name__)

_POLL_INTERVAL = 0.005


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the owner decides when to stop.

    Stock `serve()` replaces SIGINT/SIGTERM handlers and re-raises the signal after
    shutdown, which would kill a test run or bypass the launcher's clean shutdown.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio turns on TCP_NODELAY for accepted connections only when
    # the socket's proto is IPPROTO_TCP (a plain socket.socket() has 0). Without it the
    # response's header and body writes meet Nagle and the client's delayed ACK, and every
    # request on a keep-alive connection waits ~40 ms (about 20 requests/s).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # Lets `up()` re-take the port while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening right away means connections made before uvicorn is serving queue
        # in the backlog instead of being refused.
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class HttpServer:
    """Serve an ASGI app on host:port in the running event loop; start/stop repeatable."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self.host = host
        self._port = port
        self._server: _EmbeddedUvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port once started (stays the same across stop/start)."""
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, ready_within: float = 10.0) -> None:
        if self.running:
            return
        sock = bind_socket(self.host, self._port)
        self._port = sock.getsockname()[1]
        # No access log (server_config): Sveve sends phone numbers and passwords as query
        # parameters.
        config = server_config(self._app, graceful_seconds=2, lifespan="off")
        server = _EmbeddedUvicorn(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http:{self._port}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_within
        while not server.started:
            if task.done():
                sock.close()
                task.result()  # re-raises the start-up error
                raise RuntimeError(f"HTTP server on port {self._port} exited during start-up")
            if loop.time() > deadline:
                server.should_exit = True
                await task
                raise TimeoutError(
                    f"HTTP server on port {self._port} did not start in {ready_within}s"
                )
            await asyncio.sleep(_POLL_INTERVAL)
        self._server, self._task = server, task

    async def stop(self) -> None:
        """Stop accepting and close connections; the port is released."""
        server, task = self._server, self._task
        self._server, self._task = None, None
        if server is None or task is None:
            return
        server.should_exit = True
        await task
