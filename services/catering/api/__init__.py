"""The catering service's HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI

from services.catering import usecases
from services.catering.api import cafe_day, menu, orders
from shared.person_data import PersonData, mount


def build_api(app: FastAPI) -> None:
    app.include_router(menu.router)
    app.include_router(orders.router)
    app.include_router(cafe_day.router)
    mount(app, PersonData(usecases.export_person, usecases.erase_person))
