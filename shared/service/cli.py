"""`python -m services.<name> [serve | migrate]`."""

from __future__ import annotations

import asyncio
import logging
import sys

from shared.db import Database
from shared.observability import configure_logging
from shared.service.lifecycle import create_app, upgrade_when_reachable
from shared.service.runtime import ServiceSpec
from shared.service.serving import serve
from shared.settings import load_settings

log = logging.getLogger("knutepunkt.service")


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
    serve(create_app(spec, settings), settings.host, settings.port, graceful_seconds=5)
