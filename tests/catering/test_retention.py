"""Retention (docs/privacy.md): an order CATERING_RETENTION_DAYS after its pick-up (or its
rejection, or a pick-up time long past) loses the customer's name, contacts and note once;
one inside it is untouched; the counts per dish and day survive; two replicas anonymise each
order once (SQLite and PostgreSQL, on the injected clock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.catering import usecases
from services.catering.app import SPEC
from services.catering.models import Order
from services.catering.seed import seed_menu
from shared.anonymise import ANONYMISED
from shared.unit_of_work import UnitsOfWork
from tests.catering.support import oslo
from tests.catering.test_usecases import place, takeaway
from tests.support.clock import TestClock
from tests.support.units import service_units

RETENTION = usecases.AnonymiseExpired(retention=timedelta(days=90), limit=2)


@pytest.fixture
def clock() -> TestClock:
    return TestClock(oslo("2026-06-01", "09:00"))  # a Monday


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[UnitsOfWork[Any]]:
    async with service_units(SPEC, database_url, clock) as units:
        await seed_menu(units.db, clock())
        yield units


async def step(
    units: UnitsOfWork[Any], order_id: str, action: str, reason: str | None = None
) -> None:
    cmd = usecases.AdvanceOrder(order_id, action, reason)  # type: ignore[arg-type]
    await units.run(lambda uow: usecases.advance_order(uow, cmd))


async def orders(units: UnitsOfWork[Any]) -> dict[str, Order]:
    async with units.db.read() as session:
        return {o.id: o for o in await session.scalars(select(Order))}


def statistics(rows: dict[str, Order]) -> Counter[tuple[str, str, str, int]]:
    """Orders per day, kind and status, with their portions."""
    return Counter((str(o.pickup_day), o.kind, o.status, o.portions) for o in rows.values())


async def anonymise(units: UnitsOfWork[Any]) -> int:
    return await units.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))


async def test_an_order_past_retention_is_anonymised_once(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    picked = (await place(units, takeaway("2026-06-04 11:00", kake=2))).order.id
    rejected = (await place(units, takeaway("2026-06-04 12:00", kake=1))).order.id
    later = (await place(units, takeaway("2026-06-25 11:00", kake=1))).order.id
    await step(units, rejected, "reject", "tomt for kake, ring Kari")
    clock.now = oslo("2026-06-04", "11:05")
    for action in ("accept", "ready", "picked_up"):
        await step(units, picked, action)
    counts = statistics(await orders(units))

    clock.now = oslo("2026-06-04", "11:05") + timedelta(days=90) - timedelta(seconds=1)
    assert await anonymise(units) == 1  # the rejection (on 1 June) is past; the pick-up not
    clock.now = oslo("2026-06-04", "11:05") + timedelta(days=90, seconds=1)
    assert await anonymise(units) == 1
    assert await anonymise(units) == 0

    rows = await orders(units)
    for gone in (rows[picked], rows[rejected]):
        assert (gone.customer_name, gone.customer_email, gone.customer_phone) == (
            ANONYMISED,
            None,
            None,
        )
        assert (gone.note, gone.reason, gone.manage_token_hash) == (None, None, None)
    assert rows[later].customer_name == "Kari Nordmann"
    assert rows[later].customer_email == "kari@example.org"
    assert statistics(rows) == counts
    assert [line.name for line in rows[picked].lines] and rows[picked].total_ore > 0


async def test_two_replicas_anonymise_each_order_once(
    units: UnitsOfWork[Any], clock: TestClock, database_url: str
) -> None:
    for hour in ("10:00", "11:00", "12:00", "13:00", "14:00"):
        await place(units, takeaway(f"2026-06-04 {hour}", kake=1))
    clock.now = oslo("2026-06-04", "15:00") + timedelta(days=91)
    async with service_units(SPEC, database_url, clock) as replica:

        async def run_all(on: UnitsOfWork[Any]) -> int:
            total = 0
            while True:
                done = await on.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))
                total += done
                if done < RETENTION.limit:
                    return total

        first, second = await asyncio.gather(run_all(units), run_all(replica))
        rest = await run_all(units)
    assert first + second + rest == 5
    assert all(o.customer_name == ANONYMISED for o in (await orders(units)).values())
