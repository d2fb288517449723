"""How a process serves HTTP: uvicorn's settings every server of the hub shares.

A client reuses an idle kept-alive connection until its own expiry (httpx: 5 s, the hub's
clients included). uvicorn's default closes an idle connection after 5 s as well, so a
request sent at that instant meets a connection the server is closing and fails with
"Server disconnected without sending a response"; httpx does not send a POST again. The
web front shows that as a service that is down. A server that keeps idle connections
longer than any of its clients leaves the closing to the client, which knows when it is
idle.
"""

from __future__ import annotations

from typing import Any

import uvicorn

# Longer than httpx's default keep-alive expiry (5 s), which the hub's clients use, with
# room for a client that keeps its connections a little longer.
KEEP_ALIVE_SECONDS = 30


def _options(graceful_seconds: int) -> dict[str, Any]:
    # No access log: query strings can carry personal data.
    return {
        "log_config": None,
        "access_log": False,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": graceful_seconds,
    }


def server_config(app: Any, *, graceful_seconds: int, **options: Any) -> uvicorn.Config:
    """uvicorn's config for a server run inside the caller's event loop."""
    return uvicorn.Config(app, **_options(graceful_seconds), **options)


def serve(app: Any, host: str, port: int, *, graceful_seconds: int) -> None:
    """Serve `app` until a signal stops the process; a failed start exits non-zero."""
    uvicorn.run(app, host=host, port=port, **_options(graceful_seconds))
