"""The booker's manage link (shared/manage_links.py) opens and cancels its own booking only,
and public writes over PUBLIC_WRITE_LIMIT get 429 with Retry-After while staff do not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from services.booking.app import SPEC
from shared.manage_links import ManageLinks
from tests.booking.conftest import BOOKING_STAFF, Clock, org_booking, person_booking
from tests.support.apps import RunningService, staffed_service

SECRET = "booking-manage-link-secret"
ROOM = ("2027-03-02T10:00:00+01:00", "2027-03-02T11:00:00+01:00")
OTHER = ("2027-03-02T12:00:00+01:00", "2027-03-02T13:00:00+01:00")


@pytest.fixture
async def linked(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> AsyncIterator[RunningService]:
    async with staffed_service(
        SPEC,
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        clock=clock,
        manage_link_secret=SECRET,
        public_write_limit="4/600",
    ) as svc:
        yield svc


async def test_the_manage_link_opens_and_cancels_its_own_booking_only(
    linked: RunningService,
) -> None:
    first = (await linked.client.post("/bookings", json=person_booking("moterom-1", *ROOM))).json()
    other = (await linked.client.post("/bookings", json=person_booking("moterom-1", *OTHER))).json()
    token = ManageLinks(SECRET).token("booking", first["id"])
    seen = await linked.client.get(f"/bookings/{first['id']}", headers={"X-Manage-Token": token})
    assert seen.status_code == 200 and seen.json()["id"] == first["id"]
    elsewhere = await linked.client.get(
        f"/bookings/{other['id']}", headers={"X-Manage-Token": token}
    )
    assert elsewhere.status_code == 403
    forged = ManageLinks(SECRET + "-other").token("booking", first["id"])
    refused = await linked.client.get(
        f"/bookings/{first['id']}", headers={"X-Manage-Token": forged}
    )
    assert refused.status_code == 403
    cancelled = await linked.client.post(
        f"/bookings/{first['id']}/cancel", headers={"X-Manage-Token": token}
    )
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_by"] == "owner"


async def test_a_sign_ups_manage_link_reads_and_cancels_it_until_the_start(
    linked: RunningService, clock: Clock
) -> None:
    course = await linked.client.post(
        "/bookings",
        json=org_booking("moterom-1", *ROOM, title="Strikkekafé", public=True, signup_capacity=1),
        headers=BOOKING_STAFF,  # not a public write: the limit is for the four below
    )
    activity = course.json()["id"]
    url = f"/activities/{activity}/registrations"
    first = (await linked.client.post(url, json={"name": "Kari", "email": "k@example.org"})).json()
    second = (await linked.client.post(url, json={"name": "Ola", "phone": "+4791234567"})).json()
    links = ManageLinks(SECRET)

    async def seen(reg: dict[str, object], token: str) -> tuple[int, dict[str, object]]:
        r = await linked.client.get(f"{url}/{reg['id']}", headers={"X-Manage-Token": token})
        return r.status_code, r.json()

    status, body = await seen(first, links.token("registration", str(first["id"])))
    assert status == 200
    assert (body["status"], body["title"], body["name"]) == ("registered", "Strikkekafé", "Kari")
    assert body["resource_name"] and body["start"].startswith("2027-03-02T09:00")
    status, body = await seen(second, str(second["manage_token"]))  # the random token too
    assert (status, body["status"], body["waitlist_position"]) == (200, "waitlisted", 1)
    # A link names one sign-up: not the other one, not a booking's, not another secret's.
    assert (await seen(second, links.token("registration", str(first["id"]))))[0] == 403
    assert (await seen(first, links.token("booking", str(first["id"]))))[0] == 403
    forged = ManageLinks(SECRET + "-other").token("registration", str(first["id"]))
    assert (await seen(first, forged))[0] == 403
    assert (await linked.client.get(f"{url}/{first['id']}")).status_code == 401
    assert (await seen({"id": "nobody"}, "x" * 20))[0] == 404
    by_id = await linked.client.get(
        f"/registrations/{second['id']}", headers={"X-Manage-Token": str(second["manage_token"])}
    )
    assert by_id.status_code == 200 and by_id.json()["activity_id"] == activity
    assert (await linked.client.get(f"/registrations/{second['id']}")).status_code == 401
    cancelled = await linked.client.post(
        f"{url}/{first['id']}/cancel",
        headers={"X-Manage-Token": links.token("registration", str(first["id"]))},
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    status, body = await seen(second, str(second["manage_token"]))
    assert (status, body["status"], body["waitlist_position"]) == (200, "registered", None)
    # Once the participant is erased, the link opens nothing.
    erased = await linked.client.post(
        "/privacy/erase", json={"email": "k@example.org"}, headers={"Authorization": "Bearer ta"}
    )
    assert erased.status_code == 200, erased.text
    assert (await seen(first, links.token("registration", str(first["id"]))))[0] == 403
    clock.set(datetime.fromisoformat(ROOM[0]))
    late = await linked.client.post(
        f"{url}/{second['id']}/cancel", headers={"X-Manage-Token": str(second["manage_token"])}
    )
    assert late.status_code == 409 and late.json()["code"] == "activity_started"


async def test_public_writes_over_the_limit_are_refused_with_retry_after(
    linked: RunningService,
) -> None:
    for _ in range(4):
        assert (await linked.client.post("/bookings", json={})).status_code == 422
    over = await linked.client.post("/bookings", json={}, headers={"Accept-Language": "nb"})
    assert over.status_code == 429
    assert int(over.headers["retry-after"]) > 500
    assert over.headers["content-type"].startswith("application/problem+json")
    assert over.json()["code"] == "rate_limited" and "prøv igjen" in over.json()["detail"]
    # Staff are not the public; reading is not a write.
    staff = await linked.client.post("/bookings", json={}, headers=BOOKING_STAFF)
    assert staff.status_code == 422
    assert (await linked.client.get("/resources")).status_code == 200
