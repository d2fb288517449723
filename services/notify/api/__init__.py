"""The notify service's HTTP API: delivery status for staff, retry, preferences, and the
SMS gateway's delivery reports."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import usecases
from services.notify.api import notifications, preferences, reports
from shared.person_data import PersonData, mount


def build_api(app: FastAPI) -> None:
    app.include_router(notifications.router)
    app.include_router(preferences.router)
    app.include_router(reports.router)
    mount(app, PersonData(usecases.export_person, usecases.erase_person))
