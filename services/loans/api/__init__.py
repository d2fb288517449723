"""The loans service's HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI

from services.loans import usecases
from services.loans.api import books, closures, items, loans, reservations
from shared.person_data import PersonData, mount


def build_api(app: FastAPI) -> None:
    for module in (items, loans, reservations, books, closures):
        app.include_router(module.router)
    mount(app, PersonData(usecases.export_person, usecases.erase_person))
