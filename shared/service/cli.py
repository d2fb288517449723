"""`python -m services.<name> [serve | migrate]`."""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn
from fastapi import FastAPI

from shared.db import Database
from shared.observability import configure_logging
from shared.service.lifecycle import create_app, upgrade_when_reachable
from shared.service.runtime import ServiceSpec
from shared.settings import load_settings

log = logging.getLogger("knutepunkt.service")

# uvloop's event loop and httptools' HTTP parser, named rather than uvicorn's "auto" (which
# takes them only when they happen to be installed), so that every process runs the same
# server: they take a fixed cost off every request that asyncio's own loop and h11 do not
# (bench/web.py, docs/web.md). uvloop does not exist on Windows (pyproject.toml's marker).
LOOP = "asyncio" if sys.platform == "win32" else "uvloop"
HTTP = "httptools"


def serve(app: FastAPI, *, host: str, port: int, graceful_seconds: int) -> None:
    """Serve an ASGI app until a signal: the one place a service or the web front starts
    uvicorn (without its access log: the services log their own requests, scrubbed)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop=LOOP,
        http=HTTP,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
    )


def run(spec: ServiceSpec) -> None:
    """Serve the service, or migrate its database and exit."""
    settings = load_settings(spec.name)
    configure_logging(settings.log_level, settings.log_format, spec.name)
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        db = Database(settings.database_url)

        async def _go() -> None:
            await upgrade_when_reachable(spec.name, db)
            await db.dispose()

        asyncio.run(_go())
        log.info("%s migrated", spec.name)
        return
    if command != "serve":
        raise SystemExit(f"usage: python -m services.{spec.name} [serve|migrate]")
    serve(create_app(spec, settings), host=settings.host, port=settings.port, graceful_seconds=5)
