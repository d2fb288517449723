"""Property: no sequence of create/cancel/approve/reject (some of them concurrent) ever
leaves two overlapping active bookings of one resource, on SQLite and on PostgreSQL.

Hypothesis drives a sync test, so the service runs on an event loop of this test's own and
stays up across examples; each example books in a week of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from sqlalchemy import select

from services.booking.app import SPEC
from services.booking.models import Booking
from shared.calendar import at_local
from tests.booking.conftest import (
    BOOKING_STAFF,
    START_OF_TESTS,
    Clock,
    org_booking,
    person_booking,
)
from tests.support.apps import RunningService, staffed_service
from tests.support.databases import (
    POSTGRES_SKIP_REASON,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)

FIRST_TUESDAY = date(2027, 3, 2)
RESOURCES = {"moterom-1": time(10, 0), "gymsalen": time(16, 0)}

create = st.fixed_dictionaries(
    {
        "op": st.just("create"),
        "resource": st.sampled_from(sorted(RESOURCES)),
        "day": st.integers(0, 2),
        "slot": st.integers(0, 7),
        "halves": st.integers(1, 4),
        "org": st.booleans(),
    }
)
decide = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["cancel_owner", "cancel_staff", "approve", "reject"]),
        "pick": st.integers(0, 50),
    }
)
burst = st.fixed_dictionaries(
    {"op": st.just("burst"), "creates": st.lists(create, min_size=2, max_size=5)}
)
operations = st.lists(st.one_of(create, create, decide, burst), min_size=1, max_size=14)


class Driver:
    def __init__(self, svc: RunningService) -> None:
        self.svc = svc
        self.weeks = itertools.count()
        self.known: list[tuple[str, str]] = []

    def _body(self, week: int, c: dict[str, Any]) -> dict[str, Any]:
        day = FIRST_TUESDAY + timedelta(weeks=week, days=c["day"])
        start = at_local(day, RESOURCES[c["resource"]]) + timedelta(minutes=30 * c["slot"])
        end = start + timedelta(minutes=30 * c["halves"])
        make = org_booking if c["org"] else person_booking
        return make(c["resource"], start.isoformat(), end.isoformat())

    async def _create(self, week: int, c: dict[str, Any]) -> None:
        r = await self.svc.client.post("/bookings", json=self._body(week, c))
        assert r.status_code in (201, 409, 422), r.text
        if r.status_code == 201:
            self.known.append((r.json()["id"], r.json()["manage_token"]))

    async def run(self, ops: list[dict[str, Any]]) -> None:
        week = next(self.weeks)
        for op in ops:
            if op["op"] == "create":
                await self._create(week, op)
            elif op["op"] == "burst":
                await asyncio.gather(*(self._create(week, c) for c in op["creates"]))
            elif self.known:
                booking_id, token = self.known[op["pick"] % len(self.known)]
                url = f"/bookings/{booking_id}"
                if op["op"] == "cancel_owner":
                    r = await self.svc.client.post(
                        f"{url}/cancel", headers={"X-Manage-Token": token}
                    )
                elif op["op"] == "cancel_staff":
                    r = await self.svc.client.post(f"{url}/cancel", headers=BOOKING_STAFF)
                elif op["op"] == "approve":
                    r = await self.svc.client.post(f"{url}/approve", headers=BOOKING_STAFF)
                else:
                    r = await self.svc.client.post(
                        f"{url}/reject", headers=BOOKING_STAFF, json={"reason": "nei"}
                    )
                assert r.status_code in (200, 409, 422), r.text

    async def overlapping_pairs(self) -> list[tuple[str, str]]:
        async with self.svc.runtime.db.read() as session:
            active = list(
                await session.scalars(
                    select(Booking).where(Booking.status.in_(("pending", "confirmed")))
                )
            )
        return [
            (a.id, b.id)
            for a, b in itertools.combinations(active, 2)
            if a.resource_id == b.resource_id
            and a.start_at < b.blocked_until
            and b.start_at < a.blocked_until
        ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_operation_sequence_leaves_overlapping_active_bookings(
    backend: str, tmp_path: Path, redis_url: str
) -> None:
    admin = postgres_admin_url()
    if backend == "postgres" and not admin:
        pytest.skip(POSTGRES_SKIP_REASON)
    loop = asyncio.new_event_loop()
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    pg_name = None
    if backend == "postgres":
        assert admin
        url, pg_name = loop.run_until_complete(create_postgres_database(admin))
    else:
        url = sqlite_url(tmp_path)
    context = staffed_service(
        SPEC, database_url=url, redis_url=redis_url, prefix=prefix, clock=Clock(START_OF_TESTS)
    )
    svc = loop.run_until_complete(context.__aenter__())
    driver = Driver(svc)
    checked = 0

    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(ops=operations)
    def check(ops: list[dict[str, Any]]) -> None:
        nonlocal checked
        loop.run_until_complete(driver.run(ops))
        assert loop.run_until_complete(driver.overlapping_pairs()) == []
        checked += 1

    try:
        check()
        assert checked >= 10
        assert driver.known, "no booking was ever made: the property would be vacuous"
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))

        async def cleanup() -> None:
            client = Redis.from_url(redis_url)
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
            if pg_name and admin:
                await drop_postgres_database(admin, pg_name)

        loop.run_until_complete(cleanup())
        loop.close()
