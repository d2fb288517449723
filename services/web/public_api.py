"""What the citizens' pages ask of the services, without a person's token: the public reads
(from the front's short cache where the staff desk already keeps them) and the public
writes (a sign-up, an order, a reservation), each answered with the service's own reason
when it says no (clients.Refused)."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.web.clients import Services


async def menu(services: Services) -> list[dict[str, Any]]:
    """Only what is on sale now. Not cached: an item the café takes off sale goes at once."""
    return await services.catering._get("/menu", None)


async def organisations(services: Services) -> list[dict[str, Any]]:
    return await services.booking._public(60, "/organisations")


async def items(services: Services) -> list[dict[str, Any]]:
    # Lending changes what is free without an event the cache follows: always asked.
    return await services.loans._get("/items", None)


async def sign_up(services: Services, activity_id: str, body: dict[str, Any]) -> dict[str, Any]:
    made = await services.booking._post(f"/activities/{activity_id}/registrations", None, body)
    if services.cache is not None:
        services.cache.drop("booking")  # the places left change at once on the pages
    return made


async def place_order(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    return await services.catering._post("/orders", None, body)


async def reserve(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    return await services.loans._post("/reservations", None, body)


async def availability(services: Services, start: date, days: int) -> list[dict[str, Any]]:
    """The café's open days with the catering order-by deadline of each."""
    return await services.catering._get("/availability", None, **{"from": start, "days": days})
