"""The loans service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI


def build_api(app: FastAPI) -> None:
    pass
