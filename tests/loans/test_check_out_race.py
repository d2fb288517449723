"""Check-outs by kind at once, through two instances of the service on one database: each
succeeds while an item of the kind is free, and a 409 means that none is (issue 14)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.loans.support import DESK, OPEN_TUESDAY, Clock, loans_service
from tests.support.apps import STAFF_TOKENS, RunningService
from tests.support.databases import seeing_statements, sqlite_url
from tests.support.processes import service_process


async def _stock(svc: RunningService, count: int) -> None:
    for n in range(count):
        r = await svc.client.post(
            "/items", json={"kind": "other", "label": f"Ting {n:02d}"}, headers=DESK
        )
        assert r.status_code == 201, r.text


async def _rush(instances: list[RunningService], count: int) -> list[tuple[int, dict[str, object]]]:
    async def check_out(n: int) -> tuple[int, dict[str, object]]:
        svc = instances[n % len(instances)]
        body = {"kind": "other", "borrower": {"name": f"Låner {n}", "phone": f"4100{n:04d}"}}
        r = await svc.client.post("/loans", json=body, headers=DESK)
        return r.status_code, r.json()

    return await asyncio.gather(*(check_out(n) for n in range(count)))


@pytest.mark.parametrize(("free", "wanted"), [(60, 40), (30, 40)])
async def test_check_outs_by_kind_at_once_on_two_instances(
    database_url: str, redis_url: str, prefix: str, free: int, wanted: int
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with (
        loans_service(database_url, redis_url, prefix, clock) as one,
        loans_service(database_url, redis_url, prefix, clock) as two,
    ):
        await _stock(one, free)
        answers = await _rush([one, two], wanted)
        lent = [body for code, body in answers if code == 201]
        refused = [body for code, body in answers if code != 201]
        assert len(lent) == min(free, wanted), refused[:3]
        assert len({body["item_id"] for body in lent}) == len(lent)
        assert len(refused) == max(0, wanted - free)
        for body in refused:
            assert body["status"] == 409 and body["code"] == "no_item_free", body
            assert body["detail"] == "no other is free right now; a reservation joins the queue"
        r = await one.client.get("/loans", params={"status": "active"}, headers=DESK)
        assert len(r.json()) == len(lent)
        r = await two.client.get("/items", params={"kind": "other", "available": True})
        assert len(r.json()) == free - len(lent)


async def test_check_outs_by_kind_at_once_on_two_processes(
    postgres_database_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Two real processes on PostgreSQL (SQLite's BEGIN IMMEDIATE lets one writer in at a
    time, the test above covers it): the window in which a pick reads before a winner's
    commit and locks after it is real here. Each round adds stock, so the pick's scan
    grows and the window with it; every check-out must still get an item."""
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": prefix,
        "LOANS_DATABASE_URL": postgres_database_url,
        "STAFF_TOKENS": STAFF_TOKENS,
    }
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(service_process("loans", env, tmp_path)).url for _ in "12"]
        for round_ in range(4):
            async with httpx.AsyncClient(timeout=30) as client:
                adds = [
                    client.post(
                        f"{urls[n % 2]}/items",
                        json={"kind": "other", "label": f"Ting {round_}-{n:02d}"},
                        headers=DESK,
                    )
                    for n in range(60)
                ]
                assert {r.status_code for r in await asyncio.gather(*adds)} == {201}
            # Backfilled (begun an hour ago), so the real clock's desk hours do not matter.
            started = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            # A client of its own per round: no keep-alive connection the server has
            # closed while the other process was busy.
            async with httpx.AsyncClient(timeout=30) as client:

                async def check_out(n: int, round_: int = round_, started: str = started) -> int:
                    body = {
                        "kind": "other",
                        "started_at": started,
                        "days": 7,
                        "borrower": {"name": f"Låner {n}", "phone": f"42{round_:02d}{n:04d}"},
                    }
                    r = await client.post(f"{urls[n % 2]}/loans", json=body, headers=DESK)
                    assert r.status_code == 201, r.text
                    return r.status_code

                codes = await asyncio.gather(*(check_out(n) for n in range(40)))
                assert codes == [201] * 40


async def test_the_pick_follows_the_free_items_only(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    """A check-out's search for a free item steps over no item on loan, and reads no
    reservation but the item's own open offer: SQLite's plan for the very statement a
    check-out sent, with its values (PostgreSQL plans by table statistics, so only SQLite
    is asked). Before migration 0005: the (hub, label) index, past every item lent."""
    database_url = sqlite_url(tmp_path)
    async with loans_service(database_url, redis_url, prefix, Clock(OPEN_TUESDAY)) as svc:
        await _stock(svc, 5)
        sent: list[tuple[str, object]] = []

        def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
            if statement.startswith("SELECT items.") and "current_loan_id IS NULL" in statement:
                sent.append((statement, parameters))

        with seeing_statements(svc.runtime.db, keep):
            answers = await _rush([svc], 3)
        assert [code for code, _ in answers] == [201, 201, 201]
        assert len(sent) == 3
        statement, parameters = sent[-1]
        async with svc.runtime.db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            plan = [
                row[-1]
                for row in raw.driver_connection._conn.execute(  # type: ignore[union-attr]
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            ]
    assert any("USING INDEX ix_items_free" in step for step in plan), plan
    assert any("USING INDEX uq_reservations_offered_item" in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan
