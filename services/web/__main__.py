"""`python -m services.web`: the staff desk and the citizens' pages on WEB_PORT (8005)."""

from __future__ import annotations

import logging

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.observability import configure_logging
from shared.service.serving import serve


def main() -> None:
    settings = WebSettings()
    configure_logging(settings.log_level, settings.log_format, "web")
    # httpx logs every request's URL at INFO: noise, twice per page.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Open live-update streams must not hold a stop for long.
    serve(create_app(settings), settings.host, settings.port, graceful_seconds=3)


if __name__ == "__main__":
    main()
