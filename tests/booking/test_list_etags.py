"""Staff's lists with ETags (api/etags.py): an unchanged list is answered 304 Not Modified
without its body, and still logged as a look at the people in it; any change to what the
list shows gives a full answer with another tag, whoever writes it (the database's own
triggers count each resource's changes: migration 0008); a tag this process does not know
the readers of is answered in full."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from shared import access_log
from tests.booking.conftest import BOOKING_STAFF, org_booking
from tests.support.apps import RunningService
from tests.support.waiting import wait_for

ADMIN = {"Authorization": "Bearer ta"}
KARI = {"email": "kari@example.org"}
ROOM = ("2027-03-02T10:00:00+01:00", "2027-03-02T12:00:00+01:00")
GYM = ("2027-03-05T17:00:00+01:00", "2027-03-05T19:00:00+01:00")
DAY = {"from": "2027-03-02T00:00:00+01:00", "to": "2027-03-03T00:00:00+01:00"}


async def _full(service: RunningService, path: str, **params: Any) -> httpx.Response:
    """A full answer, once the access log knows whom its tag names (it learns that just
    after the answer is sent)."""
    answer = await service.client.get(path, params=params, headers=BOOKING_STAFF)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private, no-cache"
    tag = answer.headers["etag"]
    await wait_for(lambda: access_log.readers_of(tag) is not None, 5, message="tag known")
    return answer


async def _again(service: RunningService, path: str, tag: str, **params: Any) -> httpx.Response:
    headers = {**BOOKING_STAFF, "If-None-Match": tag}
    return await service.client.get(path, params=params, headers=headers)


async def test_an_unchanged_day_is_answered_304_and_the_look_is_logged(
    service: RunningService,
) -> None:
    made = await service.client.post("/bookings", json=org_booking("moterom-1", *ROOM))
    assert made.status_code == 201, made.text
    first = await _full(service, "/bookings", **DAY)
    tag = first.headers["etag"]
    assert [b["id"] for b in first.json()] == [made.json()["id"]]

    unchanged = await _again(service, "/bookings", tag, **DAY)
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["etag"] == tag
    # Another day is another list: its own tag, not this one's.
    other = await _again(service, "/bookings", tag, **{"from": "2027-03-04T00:00:00+01:00"})
    assert other.status_code == 200 and other.headers["etag"] != tag

    async def reads() -> list[dict[str, Any]]:
        answer = await service.client.post("/privacy/access-log", json=KARI, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        return [e for e in answer.json() if e["what"] == "GET /bookings"]

    # The full answer and the 304 are both a look at Kari (the other day did not name her).
    await wait_for(lambda: _at_least(reads, 2), 10, message="two reads logged")
    assert [e["action"] for e in await reads()] == ["read", "read"]

    cancelled = await service.client.post(
        f"/bookings/{made.json()['id']}/cancel", json={"reason": "flyttet"}, headers=BOOKING_STAFF
    )
    assert cancelled.status_code == 200, cancelled.text
    changed = await _again(service, "/bookings", tag, **DAY)
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert [b["status"] for b in changed.json()] == ["cancelled"]


async def test_a_tag_whose_readers_are_not_known_gets_the_full_answer(
    service: RunningService,
) -> None:
    made = await service.client.post("/bookings", json=org_booking("moterom-1", *ROOM))
    assert made.status_code == 201, made.text
    tag = (await _full(service, "/bookings", **DAY)).headers["etag"]
    access_log._readers.pop(tag)  # as if another replica had sent it, or long ago
    answer = await _again(service, "/bookings", tag, **DAY)
    assert answer.status_code == 200 and answer.headers["etag"] == tag
    assert [b["id"] for b in answer.json()] == [made.json()["id"]]
    # Not staff with the booking role: no list, tag or not.
    refused = await service.client.get("/bookings", params=DAY, headers={"If-None-Match": tag})
    assert refused.status_code == 401


async def test_the_requests_tag_follows_the_requests_and_their_quota(
    service: RunningService,
) -> None:
    asked = await service.client.post("/bookings", json=org_booking("gymsalen", *GYM))
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    first = await _full(service, "/bookings/requests")
    tag = first.headers["etag"]
    [request] = first.json()
    assert request["id"] == asked.json()["id"]
    assert (await _again(service, "/bookings/requests", tag)).status_code == 304

    # The same club's free booking of the same week changes the request's quota, not the
    # list of requests: the tag still changes.
    held = await service.client.post(
        "/bookings",
        json=org_booking("gymsalen", "2027-03-04T17:00:00+01:00", "2027-03-04T18:00:00+01:00"),
    )
    assert held.status_code == 201, held.text
    approved = await service.client.post(
        f"/bookings/{held.json()['id']}/approve", headers=BOOKING_STAFF
    )
    assert approved.status_code == 200, approved.text
    changed = await _again(service, "/bookings/requests", tag)
    assert changed.status_code == 200, changed.text
    assert [r["id"] for r in changed.json()] == [asked.json()["id"]]
    assert changed.json()[0]["free_hours"] != request["free_hours"]


async def _at_least(fetch: Any, count: int) -> bool:
    return len(await fetch()) >= count


async def test_any_writer_changes_the_tag_even_past_the_service(service: RunningService) -> None:
    made = await service.client.post("/bookings", json=org_booking("moterom-1", *ROOM))
    assert made.status_code == 201, made.text
    booking_id = made.json()["id"]
    tag = (await _full(service, "/bookings", **DAY)).headers["etag"]

    async def write(sql: str, **values: Any) -> None:
        async with service.runtime.db.engine.begin() as connection:
            await connection.execute(text(sql), values)

    async def versions() -> dict[str, int]:
        async with service.runtime.db.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT resource_id, version FROM resource_versions")
            )
            return {r.resource_id: r.version for r in rows}

    # A booking changed with plain SQL, as an operator or another tool might.
    await write("UPDATE bookings SET title = 'Endret' WHERE id = :id", id=booking_id)
    changed = await _again(service, "/bookings", tag, **DAY)
    assert changed.status_code == 200, changed.text
    assert [b["title"] for b in changed.json()] == ["Endret"]
    # The resource's own change: its name on the list.
    tag = changed.headers["etag"]
    await write("UPDATE resources SET name = 'Møterom 1 (nytt navn)' WHERE id = 'moterom-1'")
    renamed = await _again(service, "/bookings", tag, **DAY)
    assert renamed.status_code == 200, renamed.text
    assert [b["resource_name"] for b in renamed.json()] == ["Møterom 1 (nytt navn)"]

    # Moved to another resource: both resources count it; removed: its resource counts it.
    before = await versions()
    await write("UPDATE bookings SET resource_id = 'moterom-2' WHERE id = :id", id=booking_id)
    moved = await versions()
    assert moved["moterom-1"] == before["moterom-1"] + 1
    assert moved["moterom-2"] == before.get("moterom-2", 0) + 1
    await write("DELETE FROM booking_history WHERE booking_id = :id", id=booking_id)
    await write("DELETE FROM bookings WHERE id = :id", id=booking_id)
    assert (await versions())["moterom-2"] == moved["moterom-2"] + 1
