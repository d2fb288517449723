"""The answer speaks the customer's language: an order from a Bokmål customer is answered
in Bokmål ("Kort varsel: …"), and refusals carry their Bokmål text (issue 20)."""

from __future__ import annotations

import pytest

from tests.catering.support import Clock, cafe_service, catering, oslo, takeaway

MONDAY = "2026-06-01"


@pytest.fixture
def clock() -> Clock:
    return Clock(oslo(MONDAY, "09:00"))


def in_language(body: dict, language: str) -> dict:
    return {**body, "customer": {**body["customer"], "language": language}}


async def test_the_order_is_answered_in_the_customers_language(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    # Tuesday's catering was due by Friday 12:00: short notice.
    late = catering(oslo("2026-06-02", "11:00"), 4, kake=4)
    regular = catering(oslo("2026-06-05", "11:00"), 4, kake=4)
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        nb = await c.post("/orders", json=in_language(late, "nb"))
        assert nb.status_code == 201, nb.text
        assert nb.json()["message"].startswith("Kort varsel: bestillingen kom etter fristen")
        assert "29.05.2026 kl. 12.00" in nb.json()["message"]
        assert nb.json()["customer"]["language"] == "nb"
        en = await c.post("/orders", json=in_language(late, "en"))
        assert en.json()["message"].startswith("Short notice: the order came after the cut-off")
        received = await c.post("/orders", json=in_language(regular, "nb"))
        assert received.json()["message"].startswith("Bestillingen er mottatt")
        # An order that does not say asks in the request's language.
        asked = await c.post("/orders", json=late, headers={"Accept-Language": "nb-NO"})
        assert asked.json()["message"].startswith("Kort varsel:")
        # The customer's own word wins over the request's.
        told = await c.post(
            "/orders", json=in_language(late, "en"), headers={"Accept-Language": "nb"}
        )
        assert told.json()["message"].startswith("Short notice:")


async def test_refusals_are_in_bokmal_when_asked(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    closed = in_language(takeaway(oslo(MONDAY, "16:00"), kake=1), "nb")
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        english = await c.post("/orders", json=closed)
        assert english.status_code == 422
        assert english.json()["detail"].startswith("the café is closed at the pick-up time")
        bokmal = await c.post("/orders", json=closed, headers={"Accept-Language": "nb"})
        assert bokmal.status_code == 422
        body = bokmal.json()
        assert body["code"] == "outside_hours" and "next_open_at" in body
        assert body["detail"].startswith("kafeen er stengt på hentetidspunktet")
