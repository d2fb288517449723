"""Check-out, return and renewal through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from shared.auth import service_account_id
from tests.loans.support import (
    DESK,
    OPEN_TUESDAY,
    Clock,
    borrower,
    emitted,
    item_ids,
    loans_service,
    oslo,
)


async def test_check_out_return_and_events(database_url: str, redis_url: str, prefix: str) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        r = await svc.client.post(
            "/loans",
            json={"kind": "pc", "borrower": borrower(1, email="a@example.org")},
            headers=DESK,
        )
        assert r.status_code == 201, r.text
        loan = r.json()
        assert loan["item_label"] == "PC-01"
        assert loan["manage_token"]
        # One day, due at the desk's closing time the next day (Wednesday 14:00).
        assert loan["due_at"] == oslo(2026, 5, 13, 14, 0).isoformat().replace("+00:00", "Z")
        started = await emitted(svc, "LoanStarted")
        assert len(started) == 1
        assert started[0]["borrower"]["phone"] == "+4740000001"
        assert started[0]["borrower"]["language"] == "nb"

        r = await svc.client.post(
            f"/loans/{loan['id']}/return", json={"condition": "worn"}, headers=DESK
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "returned"
        returned = await emitted(svc, "LoanReturned")
        assert [e["condition"] for e in returned] == ["worn"]
        r = await svc.client.post(f"/loans/{loan['id']}/return", json={}, headers=DESK)
        assert r.status_code == 409

        # The PC is wiped for 30 minutes before it can be lent again.
        pcs = await item_ids(svc, "pc")
        r = await svc.client.post(
            "/loans", json={"item_id": pcs["PC-01"], "borrower": borrower(2)}, headers=DESK
        )
        assert r.status_code == 409 and "prepared" in r.json()["detail"]
        clock.advance(minutes=31)
        r = await svc.client.post(
            "/loans", json={"item_id": pcs["PC-01"], "borrower": borrower(2)}, headers=DESK
        )
        assert r.status_code == 201, r.text


async def test_refusals_are_clear(database_url: str, redis_url: str, prefix: str) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:

        async def post(body: dict[str, object]) -> tuple[int, str]:
            r = await svc.client.post("/loans", json=body, headers=DESK)
            return r.status_code, r.json().get("detail", "") if r.status_code >= 400 else ""

        assert (await post({"kind": "pc", "borrower": borrower(), "days": 4}))[0] == 422
        assert (await post({"kind": "pc", "borrower": borrower(), "days": 0}))[0] == 422
        code, why = await post({"kind": "book", "borrower": borrower()})
        assert code == 422
        code, why = await post({"kind": "pc", "borrower": {"name": "X", "phone": "abc"}})
        assert code == 422 and "phone" in why
        code, why = await post(
            {"kind": "pc", "borrower": borrower(), "started_at": "2026-05-01T10:00:00"}
        )
        assert code == 422
        assert (await post({"kind": "pc", "borrower": borrower()}))[0] == 201
        # One PC per borrower.
        code, why = await post({"kind": "pc", "borrower": borrower()})
        assert code == 409 and "most allowed" in why
        # The desk is closed on Saturday.
        clock.set(oslo(2026, 5, 16, 11, 0))
        code, why = await post({"kind": "pc", "borrower": borrower(2)})
        assert code == 422 and "closed on Saturdays" in why
        # ... and on Ascension Day (Thursday 14 May 2026).
        clock.set(oslo(2026, 5, 14, 11, 0))
        code, why = await post({"kind": "pc", "borrower": borrower(2)})
        assert code == 422 and "holiday" in why
        clock.set(OPEN_TUESDAY)
        r = await svc.client.post("/loans/nope/return", json={}, headers=DESK)
        assert r.status_code == 404


async def test_concurrent_check_outs_of_last_pc(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        for n in range(3):  # three of the four PCs go out first
            r = await svc.client.post(
                "/loans", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
            assert r.status_code == 201, r.text

        async def attempt(n: int) -> int:
            r = await svc.client.post(
                "/loans", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
            assert r.status_code in (201, 409), r.text
            return r.status_code

        codes = await asyncio.gather(*(attempt(n) for n in range(3, 10)))
        assert sorted(codes) == [201] + [409] * 6
        pcs = await item_ids(svc, "pc")

        async def by_item(n: int) -> int:
            r = await svc.client.post(
                "/loans", json={"item_id": pcs["PC-04"], "borrower": borrower(n)}, headers=DESK
            )
            return r.status_code

        assert set(await asyncio.gather(*(by_item(n) for n in range(3, 8)))) == {409}
        r = await svc.client.get("/loans", params={"status": "active"}, headers=DESK)
        assert len(r.json()) == 4
        assert len({ln["item_id"] for ln in r.json()}) == 4


async def test_renewal_rules(database_url: str, redis_url: str, prefix: str) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        r = await svc.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(1)}, headers=DESK
        )
        loan = r.json()
        token = loan["manage_token"]
        mine = {"X-Manage-Token": token}
        r = await svc.client.post(f"/loans/{loan['id']}/renew", headers=mine)
        assert r.status_code == 200, r.text
        assert r.json()["due_at"].startswith("2026-05-14") is False  # Ascension: moved on
        assert r.json()["due_at"] == oslo(2026, 5, 15, 14, 0).isoformat().replace("+00:00", "Z")
        # The borrower renewed it: no one on staff to name.
        assert [e["actor"] for e in await emitted(svc, "LoanRenewed")] == [None]
        # Someone else joins the queue for a PC: no more renewals.
        for n in range(2, 5):
            await svc.client.post(
                "/loans", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK
            )
        r = await svc.client.post(
            "/reservations", json={"kind": "pc", "borrower": borrower(7)}, headers=DESK
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "waiting"
        reservation_id = r.json()["id"]
        r = await svc.client.post(f"/loans/{loan['id']}/renew", headers=mine)
        assert r.status_code == 409 and "waiting" in r.json()["detail"]
        # A stranger's token does not renew it.
        r = await svc.client.post(f"/loans/{loan['id']}/renew", headers={"X-Manage-Token": "x"})
        assert r.status_code == 401
        # The queue empties again: now the policy's three days in all stop it.
        r = await svc.client.delete(f"/reservations/{reservation_id}", headers=DESK)
        assert r.status_code == 204
        r = await svc.client.post(f"/loans/{loan['id']}/renew", headers=mine)
        assert r.status_code == 409 and "at most 3 day" in r.json()["detail"]


async def test_desk_actions_name_the_actor_in_their_events(
    database_url: str, redis_url: str, prefix: str
) -> None:
    """Issue 16: lending, renewing, taking back (damaged: out of service) at the desk carry
    who did it (the static token `td`, named by its digest, never the token)."""
    td = {"kind": "service_account", "id": service_account_id("td"), "roles": ["desk"]}
    async with loans_service(database_url, redis_url, prefix, Clock(OPEN_TUESDAY)) as svc:
        r = await svc.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(1)}, headers=DESK
        )
        assert r.status_code == 201, r.text
        loan = r.json()
        r = await svc.client.post(f"/loans/{loan['id']}/renew", headers=DESK)
        assert r.status_code == 200, r.text
        r = await svc.client.post(
            f"/loans/{loan['id']}/return", json={"condition": "damaged"}, headers=DESK
        )
        assert r.status_code == 200, r.text

        actors = {
            kind: [e["actor"] for e in await emitted(svc, kind)]
            for kind in ("LoanStarted", "LoanRenewed", "LoanReturned", "ItemOutOfService")
        }
        assert actors == {
            "LoanStarted": [td],
            "LoanRenewed": [td],
            "LoanReturned": [td],
            "ItemOutOfService": [td],
        }
