"""The loans service's HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI

from services.loans.api import books, closures, items, loans, reservations


def build_api(app: FastAPI) -> None:
    for module in (items, loans, reservations, books, closures):
        app.include_router(module.router)
