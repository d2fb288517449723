"""The booking service's HTTP API, one router per subject."""

from __future__ import annotations

from fastapi import FastAPI

from services.booking import usecases
from services.booking.api import activities, bookings, resources, seasons
from shared.person_data import PersonData, mount


def build_api(app: FastAPI) -> None:
    app.include_router(resources.router)
    app.include_router(bookings.router)
    app.include_router(activities.router)
    app.include_router(seasons.router)
    mount(app, PersonData(usecases.export_person, usecases.erase_person))
