"""The notify service's HTTP API: delivery status for staff, retry, preferences, and the
SMS gateway's delivery reports."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify.api import notifications, preferences, reports


def build_api(app: FastAPI) -> None:
    app.include_router(notifications.router)
    app.include_router(preferences.router)
    app.include_router(reports.router)
