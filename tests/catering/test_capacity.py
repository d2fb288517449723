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
