"""The last portions of a day, fought over by concurrent orders: none oversold, on SQLite and
on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.catering.models import DayCapacity, Order
from tests.catering.support import CAFE, Clock, cafe_service, oslo, takeaway

DAY = "2026-06-04"


async def test_concurrent_orders_for_the_last_portions(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(oslo("2026-06-01", "09:00"))
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        assert (await c.put(f"/capacity/{DAY}", json={"portions": 10}, headers=CAFE)).is_success
        # 3 portions go first, leaving 7 for 20 customers who each want 1 portion, at once.
        assert (
            await c.post("/orders", json=takeaway(oslo(DAY, "11:00"), kake=3))
        ).status_code == 201

        async def one(i: int):  # type: ignore[no-untyped-def]
            return await c.post("/orders", json=takeaway(oslo(DAY, "12:00"), kake=1))

        responses = await asyncio.gather(*(one(i) for i in range(20)))
        codes = sorted(r.status_code for r in responses)
        assert codes.count(201) == 7, codes
        assert codes.count(422) == 13, codes
        assert all(r.json()["code"] == "capacity_full" for r in responses if r.status_code == 422)
        async with cafe.runtime.db.read() as session:
            used = (
                await session.execute(
                    select(DayCapacity.used).where(DayCapacity.day == date.fromisoformat(DAY))
                )
            ).scalar_one()
            promised = (
                await session.execute(
                    select(func.sum(Order.portions)).where(
                        Order.pickup_day == date.fromisoformat(DAY)
                    )
                )
            ).scalar_one()
        assert used == promised == 10
        # Cancelling gives a portion back, and exactly one more order fits.
        won = next(r.json() for r in responses if r.status_code == 201)
        cancel = await c.post(
            f"/orders/{won['id']}/cancel", headers={"X-Manage-Token": won["manage_token"]}
        )
        assert cancel.status_code == 200
        again = await asyncio.gather(*(one(i) for i in range(3)))
        assert sorted(r.status_code for r in again) == [201, 422, 422]


async def test_the_database_refuses_an_oversold_day(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(oslo("2026-06-01", "09:00"))
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        await cafe.client.put(f"/capacity/{DAY}", json={"portions": 2}, headers=CAFE)
        with pytest.raises(IntegrityError):
            async with cafe.runtime.db.transaction() as session:
                await session.execute(update(DayCapacity).values(used=3))


async def test_concurrent_changes_for_the_last_portions(
    database_url: str, redis_url: str, prefix: str
) -> None:
    """Changes take portions under the same day lock as new orders: six customers who each
    want their order to be two portions on the day, and two new orders, all at once, for six
    portions left: whoever wins, the day ends exactly full."""
    clock = Clock(oslo("2026-06-01", "09:00"))
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        c = cafe.client
        assert (await c.put(f"/capacity/{DAY}", json={"portions": 10}, headers=CAFE)).is_success
        # Four on the day (4 used, 6 left) and two on Friday that move to the day: 4 + 2·2
        # more wanted by the changes, 2 by new orders, 10 in all for the 6 left.
        placed = [
            (await c.post("/orders", json=takeaway(oslo(day, "11:00"), kake=1))).json()
            for day in (DAY,) * 4 + ("2026-06-05",) * 2
        ]
        assert all(p["status"] == "placed" for p in placed)

        async def more(p: dict):  # type: ignore[no-untyped-def]
            body = takeaway(oslo(DAY, "12:00"), kake=2)
            del body["kind"], body["customer"]
            return await c.post(
                f"/orders/{p['id']}/change",
                json=body,
                headers={"X-Manage-Token": p["manage_token"]},
            )

        async def new():  # type: ignore[no-untyped-def]
            return await c.post("/orders", json=takeaway(oslo(DAY, "13:00"), kake=1))

        answers = await asyncio.gather(*(more(p) for p in placed), new(), new())
        codes = [r.status_code for r in answers]
        assert all(code in (200, 201, 422) for code in codes), codes
        assert all(r.json()["code"] == "capacity_full" for r in answers if r.status_code == 422)
        async with cafe.runtime.db.read() as session:
            used = (
                await session.execute(
                    select(DayCapacity.used).where(DayCapacity.day == date.fromisoformat(DAY))
                )
            ).scalar_one()
            promised = (
                await session.execute(
                    select(func.sum(Order.portions)).where(
                        Order.pickup_day == date.fromisoformat(DAY),
                        Order.status == "placed",
                    )
                )
            ).scalar_one()
        assert used == promised == 10
        # A change on the day adds 1, a move from Friday 2, a new order 1: exactly 6 taken.
        taken = sum(
            1 if r.status_code == 201 else (1 if p["pickup_date"] == DAY else 2)
            for r, p in zip(answers, [*placed, {}, {}], strict=True)
            if r.is_success
        )
        assert taken == 6, codes
        (friday,) = (await c.get("/availability?from=2026-06-05&days=1")).json()
        moved = sum(
            1
            for r, p in zip(answers, placed, strict=False)
            if r.is_success and p["pickup_date"] != DAY
        )
        assert friday["remaining_portions"] == 120 - 2 + moved
