"""Who may do what, and the book swap shelf."""

from __future__ import annotations

from tests.loans.support import ADMIN, CAFE, DESK, OPEN_TUESDAY, Clock, borrower, loans_service


async def test_access_rules(database_url: str, redis_url: str, prefix: str) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        c = svc.client
        body = {"kind": "pc", "borrower": borrower(1)}
        assert (await c.post("/loans", json=body)).status_code == 401
        assert (await c.post("/loans", json=body, headers=CAFE)).status_code == 403
        assert (await c.post("/items", json={"kind": "pc", "label": "X"})).status_code == 401
        assert (await c.post("/books/in", json={"title": "T"}, headers=CAFE)).status_code == 403
        r = await c.post("/loans", json=body, headers=ADMIN)  # admin passes everywhere
        assert r.status_code == 201
        mine = {"X-Manage-Token": r.json()["manage_token"]}
        r2 = await c.post("/loans", json={"kind": "pc", "borrower": borrower(2)}, headers=DESK)
        theirs = {"X-Manage-Token": r2.json()["manage_token"]}
        # The public sees the items, not the loans.
        assert (await c.get("/items")).status_code == 200
        assert (await c.get("/loans")).status_code == 401
        assert (await c.get("/loans", headers={"X-Manage-Token": "wrong"})).status_code == 401
        # A borrower sees only their own loans, and may not return them; another's loan is
        # 403, as booking and catering answer a token that is not the booking's or order's.
        own = (await c.get("/loans", headers=mine)).json()
        assert [ln["id"] for ln in own] == [r.json()["id"]]
        assert (await c.get(f"/loans/{r2.json()['id']}", headers=mine)).status_code == 403
        assert (await c.post(f"/loans/{r2.json()['id']}/renew", headers=mine)).status_code == 403
        assert (await c.post(f"/loans/{r.json()['id']}/return", headers=mine)).status_code == 401
        assert len((await c.get("/loans", headers=DESK)).json()) == 2
        # Reservations: their own, by token; nobody else may cancel them.
        res = await c.post("/reservations", json={"kind": "pc"}, headers=theirs)
        assert res.status_code == 201, res.text
        assert (
            await c.delete(f"/reservations/{res.json()['id']}", headers=mine)
        ).status_code == 404
        assert (await c.delete(f"/reservations/{res.json()['id']}")).status_code == 401
        assert (
            await c.delete(f"/reservations/{res.json()['id']}", headers=theirs)
        ).status_code == 204
        # A lost token is replaced by the desk; the old one stops working.
        b1 = r.json()["borrower_id"]
        assert (await c.post(f"/borrowers/{b1}/token")).status_code == 401
        new = await c.post(f"/borrowers/{b1}/token", headers=DESK)
        assert new.status_code == 200
        assert (await c.get("/loans", headers=mine)).status_code == 401
        fresh = {"X-Manage-Token": new.json()["manage_token"]}
        assert len((await c.get("/loans", headers=fresh)).json()) == 1


async def test_another_borrowers_loan_answers_as_booking_and_catering_do(
    database_url: str, redis_url: str, prefix: str
) -> None:
    """A token that is not the loan's borrower's: 403 "does not match" (as booking and
    catering answer for a booking or order); no token, or one that is nobody's: 401."""
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        c = svc.client
        mine = await c.post("/loans", json={"kind": "pc", "borrower": borrower(1)}, headers=DESK)
        theirs = await c.post("/loans", json={"kind": "pc", "borrower": borrower(2)}, headers=DESK)
        token = {"X-Manage-Token": mine.json()["manage_token"]}
        url = f"/loans/{theirs.json()['id']}"
        for r in (await c.get(url, headers=token), await c.post(f"{url}/renew", headers=token)):
            assert r.status_code == 403
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["detail"] == "the manage token does not match this loan"
            assert r.json()["code"] == "manage_token_mismatch"
        for headers in ({}, {"X-Manage-Token": "nobody's"}):
            r = await c.get(url, headers=headers)
            assert r.status_code == 401 and r.json()["code"] == "borrower_token_required"
        r = await c.get(url, headers={**token, "Accept-Language": "nb"})
        assert r.json()["detail"] == "tilgangskoden (X-Manage-Token) hører ikke til dette lånet"
        assert (await c.get(f"/loans/{mine.json()['id']}", headers=token)).status_code == 200
        assert (await c.get("/loans/nope", headers=token)).status_code == 404


async def test_book_swap_keeps_the_stock(database_url: str, redis_url: str, prefix: str) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        c = svc.client
        for title in ("Sult", "Kristin Lavransdatter", "Sult"):
            r = await c.post("/books/in", json={"title": title, "author": "?"}, headers=DESK)
            assert r.status_code == 201, r.text
        shelf = (await c.get("/books")).json()
        assert shelf["on_shelf"] == 3
        r = await c.post("/books/out", json={"title": "sult"}, headers=DESK)
        assert r.status_code == 200 and r.json()["taken_at"] is not None
        kristin = next(b for b in shelf["books"] if b["title"].startswith("Kristin"))
        assert (
            await c.post("/books/out", json={"book_id": kristin["id"]}, headers=DESK)
        ).is_success
        r = await c.post("/books/out", json={"book_id": kristin["id"]}, headers=DESK)
        assert r.status_code == 409
        assert (await c.post("/books/out", json={}, headers=DESK)).status_code == 422
        assert (await c.get("/books")).json()["on_shelf"] == 1
        # Books are swapped, not lent.
        r = await c.post("/loans", json={"kind": "book", "borrower": borrower()}, headers=DESK)
        assert r.status_code == 422


async def test_a_first_reservation_from_the_public_pages(
    database_url: str, redis_url: str, prefix: str
) -> None:
    """Without a token, a person reserves by name and phone: a new borrower gets a manage
    token once; the same phone again gets none (never another's token) and one open
    reservation per kind; no borrower at all is still 401."""
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        c = svc.client
        assert (await c.post("/reservations", json={"kind": "planter_box"})).status_code == 401
        body = {"kind": "planter_box", "borrower": borrower(7)}
        first = await c.post("/reservations", json=body)
        assert first.status_code == 201, first.text
        token = first.json()["manage_token"]
        assert token
        again = await c.post("/reservations", json=body)
        assert again.status_code == 409 and again.json()["code"] == "reservation_exists"
        pc = await c.post("/reservations", json={"kind": "pc", "borrower": borrower(7)})
        assert pc.status_code == 201 and pc.json()["manage_token"] is None
        mine = await c.get("/reservations", headers={"X-Manage-Token": token})
        assert {r["kind"] for r in mine.json()} == {"planter_box", "pc"}
