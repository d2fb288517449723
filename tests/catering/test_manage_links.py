"""The customer's manage link (shared/manage_links.py) in the café's order messages opens,
and cancels, that order only, as the manage token returned at ordering does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.catering.app import SPEC
from shared.manage_links import ManageLinks
from tests.catering.support import Clock, oslo, takeaway
from tests.support.apps import RunningService, staffed_service

SECRET = "catering-manage-link-secret"


@pytest.fixture
def clock() -> Clock:
    return Clock(oslo("2026-06-01", "09:00"))


@pytest.fixture
async def cafe(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AsyncIterator[RunningService]:
    async with staffed_service(
        SPEC,
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        clock=clock,
        manage_link_secret=SECRET,
    ) as svc:
        yield svc


async def test_the_manage_link_opens_and_cancels_its_own_order_only(cafe: RunningService) -> None:
    c = cafe.client
    pickup = oslo("2026-06-03", "12:00")
    first = (await c.post("/orders", json=takeaway(pickup, kake=2))).json()
    other = (await c.post("/orders", json=takeaway(pickup, kake=1))).json()
    token = {"X-Manage-Token": ManageLinks(SECRET).token("order", first["id"])}
    seen = await c.get(f"/orders/{first['id']}", headers=token)
    assert seen.status_code == 200 and seen.json()["id"] == first["id"]
    assert (await c.get(f"/orders/{other['id']}", headers=token)).status_code == 403
    for wrong in (
        ManageLinks(SECRET + "-other").token("order", first["id"]),
        ManageLinks(SECRET).token("booking", first["id"]),
        ManageLinks(SECRET).token("registration", first["id"]),
    ):
        refused = await c.get(f"/orders/{first['id']}", headers={"X-Manage-Token": wrong})
        assert refused.status_code == 403
    cancelled = await c.post(f"/orders/{first['id']}/cancel", headers=token)
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_by"] == "customer"
    assert (await c.get(f"/orders/{other['id']}")).status_code == 401
    # Once the customer is erased, the link opens nothing.
    erased = await c.post(
        "/privacy/erase", json={"email": "kari@example.org"}, headers={"Authorization": "Bearer ta"}
    )
    assert erased.status_code == 200, erased.text
    assert (await c.get(f"/orders/{first['id']}", headers=token)).status_code == 403
