"""The HTTP API in-process: placing orders, refusals with reasons, money, the lifecycle with
its events, the prep list and access rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from shared.auth import service_account_id
from tests.catering.support import (
    CAFE,
    DESK,
    Clock,
    cafe_service,
    catering,
    event_types,
    events,
    oslo,
    takeaway,
)
from tests.support.waiting import wait_for

MONDAY = "2026-06-01"


@pytest.fixture
def clock() -> Clock:
    return Clock(oslo(MONDAY, "09:00"))


async def test_menu_is_public_with_allergens_and_integer_prices(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        response = await cafe.client.get("/menu")
        assert response.status_code == 200
        menu = {item["id"]: item for item in response.json()}
        assert {"kaffe-te", "lunsj-baguette", "fruktfat", "kake"} <= set(menu)
        baguette = menu["lunsj-baguette"]
        assert isinstance(baguette["price_ore"], int)
        assert {"code": "gluten", "name_nb": "gluten"} in baguette["allergens"]
        assert {"code": "milk", "name_nb": "melk"} in baguette["allergens"]
        only_takeaway = (await cafe.client.get("/menu", params={"kind": "takeaway"})).json()
        assert "kaffe-te" not in {i["id"] for i in only_takeaway}


async def test_staff_manage_the_menu(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    new = {
        "id": "rundstykke",
        "name_nb": "Rundstykke med ost",
        "category": "bakst",
        "price_ore": 3250,
        "allergens": ["gluten", "milk"],
        "diet": ["vegetarian"],
        "kinds": ["takeaway"],
    }
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        assert (await c.post("/menu/items", json=new)).status_code == 401
        assert (await c.post("/menu/items", json=new, headers=DESK)).status_code == 403
        assert (await c.post("/menu/items", json=new, headers=CAFE)).status_code == 201
        assert (await c.post("/menu/items", json=new, headers=CAFE)).status_code == 409
        float_price = {**new, "id": "x", "price_ore": 32.5}
        assert (await c.post("/menu/items", json=float_price, headers=CAFE)).status_code == 422
        bad_allergen = {**new, "id": "y", "allergens": ["pollen"]}
        assert (await c.post("/menu/items", json=bad_allergen, headers=CAFE)).status_code == 422
        patched = await c.patch("/menu/items/rundstykke", json={"available": False}, headers=CAFE)
        assert patched.status_code == 200 and patched.json()["available"] is False
        ids = {i["id"] for i in (await c.get("/menu")).json()}
        assert "rundstykke" not in ids
        refused = await c.post("/orders", json=takeaway(oslo(MONDAY, "11:00"), rundstykke=1))
        assert refused.status_code == 422
        assert refused.json()["code"] == "unavailable_item"


async def test_order_total_is_exact_in_ore(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock, redis: Redis
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        body = catering(oslo("2026-06-04", "11:30"), 12, kaffe_te=12, lunsj_baguette=12, kake=5)
        response = await cafe.client.post("/orders", json=body)
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["status"] == "placed"
        assert order["short_notice"] is False
        assert order["total_ore"] == 12 * 3500 + 12 * 8900 + 5 * 4500 == 171300
        assert order["total_display"] == "kr 1\u00a0713,00"
        assert [line["line_total_ore"] for line in order["lines"]] == [42000, 106800, 22500]
        assert order["manage_token"]
        placed = await wait_for(lambda: events(redis, prefix), message="OrderPlaced")
        data = placed[0]["data"]
        assert placed[0]["type"] == "OrderPlaced"
        assert data["total_ore"] == 171300 and data["short_notice"] is False
        assert data["customer"]["phone"] == "+4700000000"
        assert sum(line["quantity"] for line in data["lines"]) == 29


@pytest.mark.parametrize(
    ("pickup", "code"),
    [
        (oslo("2026-05-29", "11:00"), "past"),
        (oslo(MONDAY, "16:00"), "outside_hours"),
        (oslo("2026-06-06", "11:00"), "outside_hours"),
        (oslo(MONDAY, "09:20"), "outside_hours"),
    ],
)
async def test_refusals_carry_a_reason(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock, pickup, code: str
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        response = await cafe.client.post("/orders", json=takeaway(pickup, kake=1))
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
        assert response.json()["detail"]


async def test_bad_input_is_422_not_500(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        naive = takeaway(oslo(MONDAY, "11:00"), kake=1)
        naive["pickup_at"] = "2026-06-01T11:00:00"
        assert (await c.post("/orders", json=naive)).status_code == 422
        unknown = takeaway(oslo(MONDAY, "11:00"), kake=1)
        unknown["lines"].append({"item_id": "pizza", "quantity": 1})
        response = await c.post("/orders", json=unknown)
        assert response.status_code == 422 and response.json()["code"] == "unknown_item"
        no_people = catering(oslo("2026-06-10", "11:00"), 1, kake=1)
        del no_people["people"]
        assert (await c.post("/orders", json=no_people)).status_code == 422
        bad_phone = takeaway(oslo(MONDAY, "11:00"), kake=1)
        bad_phone["customer"]["phone"] = "12"
        assert (await c.post("/orders", json=bad_phone)).status_code == 422
        nul = takeaway(oslo(MONDAY, "11:00"), kake=1)
        nul["customer"]["name"] = "Kari\x00"
        assert (await c.post("/orders", json=nul)).status_code == 422
        fractional = takeaway(oslo(MONDAY, "11:00"), kake=1)
        fractional["lines"][0]["quantity"] = 1.5
        assert (await c.post("/orders", json=fractional)).status_code == 422


async def test_short_notice_is_flagged_for_the_cafe_across_a_closure(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock, redis: Redis
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        closure = {"first_date": "2026-06-02", "last_date": "2026-06-02", "reason": "dugnad"}
        assert (await c.post("/closures", json=closure, headers=CAFE)).status_code == 201
        # Monday 09:00 for Thursday: Wednesday, then Tuesday is closed, so Monday 12:00
        # is the cut-off and this is in time.
        ok = await c.post("/orders", json=catering(oslo("2026-06-04", "11:00"), 4, kake=4))
        assert ok.json()["status"] == "placed", ok.text
        # For Wednesday: Tuesday closed, so the cut-off was Friday: short notice, accepted
        # as a request, neither refused nor silently confirmed.
        late = await c.post("/orders", json=catering(oslo("2026-06-03", "11:00"), 4, kake=4))
        assert late.status_code == 201
        assert late.json()["status"] == "pending_acceptance"
        assert late.json()["short_notice"] is True
        assert "Short notice" in late.json()["message"]
        closed = await c.post("/orders", json=takeaway(oslo("2026-06-02", "11:00"), kake=1))
        assert closed.status_code == 422 and "dugnad" in closed.json()["detail"]
        availability = (await c.get("/availability", params={"days": 5})).json()
        tuesday = next(d for d in availability if d["date"] == "2026-06-02")
        assert tuesday["open"] is False and "dugnad" in tuesday["closed_reason"]

        def placed() -> list[dict]:
            return [e for e in found if e["type"] == "OrderPlaced"]

        found: list[dict] = []

        async def two() -> bool:
            found[:] = await events(redis, prefix)
            return len(placed()) == 2

        await wait_for(two, message="two OrderPlaced")
        flags = {e["data"]["status"]: e["data"]["short_notice"] for e in placed()}
        assert flags == {"placed": False, "pending_acceptance": True}


async def test_lifecycle_events_and_prep_list(
    database_url: str, redis_url: str, prefix: str, clock: Clock, redis: Redis
) -> None:
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        first = (
            await c.post("/orders", json=catering(oslo("2026-06-04", "11:00"), 10, kaffe_te=10))
        ).json()
        second = (
            await c.post("/orders", json=takeaway(oslo("2026-06-04", "12:00"), kake=3))
        ).json()
        third = (await c.post("/orders", json=takeaway(oslo("2026-06-04", "13:00"), kake=2))).json()
        for order in (first, second):
            accepted = await c.post(f"/orders/{order['id']}/accept", headers=CAFE)
            assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
        rejected = await c.post(
            f"/orders/{third['id']}/reject", json={"reason": "tomt for kake"}, headers=CAFE
        )
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["reason"] == "tomt for kake"
        again = await c.post(f"/orders/{third['id']}/accept", headers=CAFE)
        assert again.status_code == 409

        prep = (await c.get("/prep-list", params={"date": "2026-06-04"}, headers=CAFE)).json()
        assert {i["item_id"]: i["quantity"] for i in prep["items"]} == {"kaffe-te": 10, "kake": 3}
        assert [p["order_id"] for p in prep["pickups"]] == [first["id"], second["id"]]
        assert prep["capacity"]["used"] == 13  # the rejected order gave its portions back

        clock.now = oslo("2026-06-04", "10:30")
        ready = await c.post(f"/orders/{second['id']}/ready", headers=CAFE)
        assert ready.json()["status"] == "ready"
        picked = await c.post(f"/orders/{second['id']}/picked-up", headers=CAFE)
        assert picked.json()["status"] == "picked_up"
        # Past the cut-off the customer cannot cancel; the café can.
        token = {"X-Manage-Token": first["manage_token"]}
        late = await c.post(f"/orders/{first['id']}/cancel", headers=token)
        assert late.status_code == 409 and "cut-off" in late.json()["detail"]
        by_cafe = await c.post(
            f"/orders/{first['id']}/cancel", json={"reason": "sykdom"}, headers=CAFE
        )
        assert by_cafe.json()["status"] == "cancelled"
        assert by_cafe.json()["cancelled_by"] == "cafe"
        listed = await c.get(
            "/orders", params={"date": "2026-06-04", "status": "cancelled"}, headers=CAFE
        )
        assert [o["id"] for o in listed.json()] == [first["id"]]

        expected = [
            "OrderPlaced",
            "OrderPlaced",
            "OrderPlaced",
            "OrderAccepted",
            "OrderAccepted",
            "OrderRejected",
            "OrderReady",
            "OrderPickedUp",
            "OrderCancelled",
        ]

        async def all_out() -> bool:
            return await event_types(redis, prefix) == expected

        await wait_for(all_out, message="lifecycle events in order")
        cancelled = (await events(redis, prefix))[-1]["data"]
        assert cancelled["cancelled_by"] == "cafe" and cancelled["order_id"] == first["id"]
        # Issue 16: each café step names who did it (the static token `tc` by its digest);
        # the customers' orders no one on staff.
        tc = {"kind": "service_account", "id": service_account_id("tc"), "roles": ["cafe"]}
        actors = [e["data"].get("actor") for e in await events(redis, prefix)]
        assert actors == [None] * 3 + [tc] * 6


async def test_customer_cancels_before_the_cutoff_with_the_token_only(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        order = (
            await c.post("/orders", json=catering(oslo("2026-06-05", "11:00"), 2, kake=2))
        ).json()
        url = f"/orders/{order['id']}"
        assert (await c.get(url)).status_code == 401
        assert (await c.get(url, headers={"X-Manage-Token": "wrong"})).status_code == 403
        assert (await c.get(url, headers=DESK)).status_code == 403  # desk is not the café
        assert (await c.get(url, headers=CAFE)).status_code == 200
        mine = {"X-Manage-Token": order["manage_token"]}
        assert (await c.get(url, headers=mine)).json()["id"] == order["id"]
        assert (await c.post(f"{url}/accept", headers=mine)).status_code == 401
        assert (await c.post(f"{url}/accept", headers=DESK)).status_code == 403
        assert (await c.get("/orders", headers=DESK)).status_code == 403
        assert (await c.get("/prep-list", params={"date": MONDAY})).status_code == 401
        cancelled = await c.post(f"{url}/cancel", headers=mine)
        assert cancelled.status_code == 200
        assert cancelled.json()["cancelled_by"] == "customer"
        assert (await c.post(f"{url}/cancel", headers=mine)).status_code == 409


async def test_a_full_day_says_so_and_offers_the_next_day_with_room(
    sqlite_database_url: str, redis_url: str, prefix: str, clock: Clock, tmp_path: Path
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        for day, portions in (("2026-06-04", 5), ("2026-06-05", 1)):
            r = await c.put(f"/capacity/{day}", json={"portions": portions}, headers=CAFE)
            assert r.status_code == 200
        assert (
            await c.post("/orders", json=takeaway(oslo("2026-06-04", "11:00"), kake=4))
        ).status_code == 201
        full = await c.post("/orders", json=takeaway(oslo("2026-06-04", "11:00"), kake=2))
        assert full.status_code == 422
        body = full.json()
        assert body["code"] == "capacity_full" and body["remaining"] == 1
        # Friday has room for 1 only, the weekend is closed: Monday 06-08 is offered.
        assert body["next_available_date"] == "2026-06-08"
        assert "full" in body["detail"]
        lower = await c.put("/capacity/2026-06-04", json={"portions": 3}, headers=CAFE)
        assert lower.status_code == 409


async def test_the_cafes_day_refusals_name_the_field_at_fault(
    database_url: str, redis_url: str, prefix: str, clock: Clock
) -> None:
    """The desk shows a refusal beside the field it is about: the portions of a day that
    has promised more, the last date of a closure in the past."""
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        day = "2026-06-04"
        placed = await c.post("/orders", json=takeaway(oslo(day, "11:00"), kake=3))
        assert placed.status_code == 201, placed.text
        lower = await c.put(f"/capacity/{day}", json={"portions": 2}, headers=CAFE)
        assert lower.status_code == 409, lower.text
        assert (lower.json()["code"], lower.json()["field"]) == ("below_used", "body.portions")
        past = await c.put("/capacity/2026-05-29", json={"portions": 20}, headers=CAFE)
        assert (past.json()["code"], past.json()["field"]) == ("day_in_past", "path.day")
        closure = {"first_date": "2026-05-20", "last_date": "2026-05-22", "reason": "ferie"}
        gone = await c.post("/closures", json=closure, headers=CAFE)
        assert gone.status_code == 422, gone.text
        assert (gone.json()["code"], gone.json()["field"]) == ("closure_in_past", "body.last_date")
        set_ = await c.put(f"/capacity/{day}", json={"portions": 3}, headers=CAFE)
        assert set_.json() == {"date": day, "capacity": 3, "used": 3, "remaining": 0}


async def test_a_customer_changes_an_order_and_the_cafe_answers_a_late_change(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis, clock: Clock
) -> None:
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        placed = (
            await c.post("/orders", json=catering(oslo("2026-06-04", "11:00"), 8, kake=8))
        ).json()
        body = {"pickup_at": oslo("2026-06-04", "12:00").isoformat(), "lines": [
            {"item_id": "kake", "quantity": 10}]}  # fmt: skip
        url = f"/orders/{placed['id']}/change"
        assert (await c.post(url, json=body)).status_code == 401
        other = (await c.post("/orders", json=takeaway(oslo("2026-06-04", "11:00"), kake=1))).json()
        wrong = await c.post(url, json=body, headers={"X-Manage-Token": other["manage_token"]})
        assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_manage_token")
        mine = {"X-Manage-Token": placed["manage_token"], "Accept-Language": "nb"}
        changed = await c.post(url, json=body, headers=mine)
        assert changed.status_code == 200, changed.text
        answer = changed.json()
        assert (answer["change_applied"], answer["portions"], answer["people"]) == (True, 10, 8)
        assert answer["pickup_at"].startswith("2026-06-04T10:00")

        clock.set(oslo("2026-06-03", "09:00"))  # past Tuesday 12:00: a late change
        body["lines"] = [{"item_id": "kake", "quantity": 12}]
        late = (await c.post(url, json=body, headers=mine)).json()
        assert (late["change_applied"], late["portions"]) == (False, 10)
        # The café's list of changes waiting for it: the café's, not the desk's or anyone's.
        assert (await c.get("/order-changes")).status_code == 401
        assert (await c.get("/order-changes", headers=DESK)).status_code == 403
        waiting = await c.get("/order-changes", headers=CAFE)
        assert waiting.status_code == 200
        [pending] = waiting.json()
        assert (pending["order"]["id"], pending["order"]["portions"]) == (placed["id"], 10)
        assert (pending["portions"], pending["lines"][0]["quantity"]) == (12, 12)
        assert pending["total_display"] and pending["pickup_date"] == "2026-06-04"
        accept = f"/orders/{placed['id']}/change/accept"
        assert (await c.post(accept, headers=DESK)).status_code == 403
        accepted = await c.post(accept, headers=CAFE)
        assert (accepted.status_code, accepted.json()["portions"]) == (200, 12)
        again = await c.post(f"/orders/{placed['id']}/change/reject", headers=CAFE)
        assert (again.status_code, again.json()["code"]) == (409, "no_change_pending")
        assert (await c.get("/order-changes", headers=CAFE)).json() == []

        async def changes() -> list[dict] | None:
            found = [e for e in await events(redis, prefix) if e["type"] == "OrderChanged"]
            return found if len(found) == 3 else None

        seen = await wait_for(changes, message="three OrderChanged")
        assert [e["data"]["change"] for e in seen] == ["applied", "requested", "accepted"]
        assert seen[-1]["data"]["actor"]["id"] == service_account_id("tc")
