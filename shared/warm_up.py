"""What the first request after a start would otherwise load, loaded while the process
starts: measured with `python bench/first_request.py` (docs/bench.md, eighth pass)."""

from __future__ import annotations

from datetime import date

from fastapi import FastAPI
from starlette.types import Scope

from shared.calendar import load_holidays

# A path no route has: asking every route about it walks them all.
_NOWHERE: Scope = {
    "type": "http",
    "method": "GET",
    "path": "/\u2205",
    "root_path": "",
    "query_string": b"",
    "headers": [],
}


def build_routes(app: FastAPI) -> None:
    """FastAPI builds an included router's routes (their dependencies, body and response
    models) when a request first walks them, about 35 ms for a service's; asking each
    route whether it matches a path that none has builds them now."""
    for route in app.router.routes:
        route.matches(_NOWHERE)


def warm_up(app: FastAPI, today: date) -> None:
    """The app's routes built and this year's and next year's holidays looked up."""
    build_routes(app)
    load_holidays(today)
