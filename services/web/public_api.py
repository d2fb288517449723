"""What the citizens' pages ask of the services, without a person's token: the public reads
and the public writes (a sign-up, an order, a reservation), each answered with the
service's own reason when it says no (clients.Refused). Apart from clients.py so that the
staff desk's calls and these change without touching each other; the activities and
closures the staff desk already reads come from its client (and the front's short cache)."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.web.clients import Services


async def menu(services: Services) -> list[dict[str, Any]]:
    """Only what is on sale now. Not cached: an item the café takes off sale goes at once."""
    return await services.call("catering", "GET", "/menu", None)


async def availability(services: Services, start: date, days: int) -> list[dict[str, Any]]:
    """The café's open days with the catering order-by deadline of each."""
    params = {"from": start, "days": days}
    return await services.call("catering", "GET", "/availability", None, params=params)


async def organisations(services: Services) -> list[dict[str, Any]]:
    return await services.call("booking", "GET", "/organisations", None)


async def items(services: Services) -> list[dict[str, Any]]:
    # Lending changes what is free without an event the front's cache follows: always asked.
    return await services.call("loans", "GET", "/items", None)


async def sign_up(services: Services, activity_id: str, body: dict[str, Any]) -> dict[str, Any]:
    path = f"/activities/{activity_id}/registrations"
    return await services.call("booking", "POST", path, None, json=body)


async def place_order(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    return await services.call("catering", "POST", "/orders", None, json=body)


async def reserve(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    return await services.call("loans", "POST", "/reservations", None, json=body)
