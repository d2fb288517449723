"""The waiting list: a return offers the item to the next in line, once; holds and expiry;
a damaged item's offer goes back to the queue."""

from __future__ import annotations

from services.loans.timers import scan_once
from tests.loans.support import (
    CAFE,
    DESK,
    OPEN_TUESDAY,
    Clock,
    borrower,
    emitted,
    loans_service,
)


async def test_return_offers_the_next_in_queue_once(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        loans = []
        for n in range(4):
            r = await svc.client.post(
                "/loans", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
            loans.append(r.json())
        reservations = []
        for n in (7, 8):
            r = await svc.client.post(
                "/reservations", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
            assert r.status_code == 201 and r.json()["status"] == "waiting", r.text
            reservations.append(r.json())
        assert await emitted(svc, "ReservationReady") == []

        clock.advance(minutes=10)
        r = await svc.client.post(f"/loans/{loans[0]['id']}/return", json={}, headers=DESK)
        assert r.status_code == 200, r.text
        await scan_once(svc.runtime)  # a scan finds nothing more to offer
        ready = await emitted(svc, "ReservationReady")
        assert len(ready) == 1
        assert ready[0]["reservation_id"] == str(reservations[0]["id"])
        assert ready[0]["item_id"] == loans[0]["item_id"]
        assert ready[0]["borrower"]["phone"] == "+4740000007"

        # Held for borrower 7: borrower 9 cannot take it, even by its id.
        clock.advance(minutes=31)  # past the PC's wipe
        r = await svc.client.post(
            "/loans", json={"item_id": loans[0]["item_id"], "borrower": borrower(9)}, headers=DESK
        )
        assert r.status_code == 409 and "reservation" in r.json()["detail"]
        r = await svc.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(9)}, headers=DESK
        )
        assert r.status_code == 409
        # Borrower 7 takes the PC held for them.
        r = await svc.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(7)}, headers=DESK
        )
        assert r.status_code == 201, r.text
        assert r.json()["item_id"] == loans[0]["item_id"]
        assert r.json()["manage_token"] is None  # given with the reservation already
        token = reservations[0]["manage_token"]
        r = await svc.client.get("/reservations", headers={"X-Manage-Token": token})
        assert r.json() == []  # fulfilled, no longer open

        # The next return goes to borrower 8; not taken within the hold, it lapses.
        r = await svc.client.post(f"/loans/{loans[1]['id']}/return", json={}, headers=DESK)
        ready = await emitted(svc, "ReservationReady")
        assert [e["reservation_id"] for e in ready] == [str(r["id"]) for r in reservations]
        clock.advance(hours=25)
        await scan_once(svc.runtime)
        r = await svc.client.get("/reservations", params={"open_only": False}, headers=DESK)
        status = {x["id"]: x["status"] for x in r.json()}
        assert status[reservations[1]["id"]] == "expired"
        assert len(await emitted(svc, "ReservationReady")) == 2


async def test_damaged_item_returns_its_offer_to_the_queue(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        r = await svc.client.post("/items", json={"kind": "other", "label": "Drill"}, headers=DESK)
        item = r.json()
        r = await svc.client.post(
            "/reservations", json={"kind": "other", "borrower": borrower(5)}, headers=DESK
        )
        assert r.json()["status"] == "offered"  # free at once: offered and held
        assert len(await emitted(svc, "ReservationReady")) == 1
        r = await svc.client.patch(
            f"/items/{item['id']}", json={"condition": "damaged"}, headers=DESK
        )
        assert r.status_code == 200 and r.json()["available"] is False
        out = await emitted(svc, "ItemOutOfService")
        assert len(out) == 1 and out[0]["reservations_affected"] == 1
        assert out[0]["affected_borrowers"][0]["phone"] == "+4740000005"
        r = await svc.client.get("/reservations", headers=DESK)
        assert r.json()[0]["status"] == "waiting"
        # Repaired: offered again.
        r = await svc.client.patch(f"/items/{item['id']}", json={"condition": "ok"}, headers=DESK)
        assert len(await emitted(svc, "ReservationReady")) == 2


async def test_the_desk_reads_the_waiting_lists_over_http(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        for n in range(4):  # every PC out
            r = await svc.client.post(
                "/loans", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
            assert r.status_code == 201, r.text
        for n in (7, 8):
            r = await svc.client.post(
                "/reservations", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
            assert r.status_code == 201, r.text
        r = await svc.client.get("/waiting-lists", headers=DESK)
        assert r.status_code == 200, r.text
        [pcs] = r.json()
        assert pcs["kind"] == "pc"
        assert [(e["place"], e["borrower_name"], e["status"]) for e in pcs["entries"]] == [
            (1, "Låner 7", "waiting"),
            (2, "Låner 8", "waiting"),
        ]
        # Names are the desk's to see: not the café's, not a borrower's token.
        r = await svc.client.get("/waiting-lists", headers=CAFE)
        assert r.status_code == 403
        assert (await svc.client.get("/waiting-lists")).status_code == 401
