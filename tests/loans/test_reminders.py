"""The reminder/overdue scanner with an injected clock: each notice exactly once per loan and
level, across a restart and with two scanners at once; one notice per borrower; blocking."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import update

from services.loans.models import Loan
from services.loans.timers import scan_once
from tests.loans.support import (
    DESK,
    OPEN_TUESDAY,
    Clock,
    borrower,
    emitted,
    loans_service,
    oslo,
)
from tests.support.apps import RunningService


async def _two_loans_for_one_borrower(svc: RunningService) -> list[str]:
    r = await svc.client.post(
        "/items", json={"kind": "other", "label": "Skjøteledning"}, headers=DESK
    )
    assert r.status_code == 201, r.text
    ids = []
    for body in ({"kind": "pc"}, {"item_id": r.json()["id"], "days": 1}):
        r = await svc.client.post("/loans", json={**body, "borrower": borrower(1)}, headers=DESK)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    # Someone else's loan, due later: never in borrower 1's notices.
    r = await svc.client.post(
        "/loans", json={"kind": "pc", "borrower": borrower(2), "days": 3}, headers=DESK
    )
    assert r.status_code == 201, r.text
    return ids


async def _notices(svc: RunningService) -> dict[str, list[dict[str, Any]]]:
    return {t: await emitted(svc, t) for t in ("LoanDueSoon", "LoanOverdue")}


# Borrower 1's loans are due Wednesday 13 May 2026 14:00; the steps are 0, 3 and 7 days.
STEPS = [
    (oslo(2026, 5, 13, 9, 0), "LoanDueSoon", None),
    (oslo(2026, 5, 13, 14, 0), "LoanOverdue", 1),
    (oslo(2026, 5, 16, 14, 5), "LoanOverdue", 2),
    (oslo(2026, 5, 20, 14, 0), "LoanOverdue", 3),
]


async def test_each_notice_once_per_borrower_across_restart(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        loan_ids = await _two_loans_for_one_borrower(svc)
        for at, kind, level in STEPS[:2]:
            clock.set(at)
            await scan_once(svc.runtime)
            await scan_once(svc.runtime)
            notices = await _notices(svc)
            mine = [n for n in notices[kind] if n["borrower"]["name"] == "Låner 1"]
            assert len(mine) == 1, notices
            assert sorted(ln["loan_id"] for ln in mine[-1]["loans"]) == sorted(loan_ids)
            if level is not None:
                assert mine[-1]["level"] == level
    # A restart (a new process on the same database) sends nothing again ...
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        before = await _notices(svc)
        await scan_once(svc.runtime)
        assert await _notices(svc) == before
        assert len(before["LoanOverdue"]) == 1
        # ... and goes on with the next levels.
        for at, _kind, level in STEPS[2:]:
            clock.set(at)
            await scan_once(svc.runtime)
            await scan_once(svc.runtime)
            overdue = await emitted(svc, "LoanOverdue")
            assert [n["level"] for n in overdue if n["borrower"]["name"] == "Låner 1"] == list(
                range(1, level + 1)
            )
        last = [n for n in await emitted(svc, "LoanOverdue") if n["level"] == 3]
        assert last[0]["blocked"] is True and last[0]["escalate_to_role"] == "desk"
        assert last[0]["days_overdue"] == 7
        assert last[0]["borrower"]["phone"] == "+4740000001"
        # Borrower 2's PC (due Friday 15 May) had its own notices, separately.
        other = [n for n in await emitted(svc, "LoanOverdue") if n["borrower"]["name"] != "Låner 1"]
        assert [n["level"] for n in other] == [1, 2]

        # Blocked: no new loan until the overdue ones come back.
        clock.set(oslo(2026, 5, 21, 10, 30))
        r = await svc.client.post(
            "/loans", json={"kind": "planter_box", "borrower": borrower(1)}, headers=DESK
        )
        assert r.status_code == 409 and "blocked" in r.json()["detail"]
        for loan_id in loan_ids:
            r = await svc.client.post(f"/loans/{loan_id}/return", json={}, headers=DESK)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "returned"
        returned = await emitted(svc, "LoanReturned")
        assert {e["days_overdue"] for e in returned} == {8}
        r = await svc.client.post(
            "/loans", json={"kind": "planter_box", "borrower": borrower(1)}, headers=DESK
        )
        assert r.status_code == 201, r.text
        # A season loan runs to 30 September.
        assert r.json()["due_at"] == oslo(2026, 9, 30, 14, 0).isoformat().replace("+00:00", "Z")


async def test_two_scanners_at_once_send_each_level_once(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with (
        loans_service(database_url, redis_url, prefix, clock) as one,
        loans_service(database_url, redis_url, prefix, clock) as two,
    ):
        await _two_loans_for_one_borrower(one)
        for at, kind, _level in STEPS:
            clock.set(at)
            for _ in range(3):
                await asyncio.gather(
                    scan_once(one.runtime), scan_once(two.runtime), scan_once(one.runtime)
                )
            counts = {
                t: len([n for n in ns if n["borrower"]["name"] == "Låner 1"])
                for t, ns in (await _notices(one)).items()
            }
            assert counts[kind] == (1 if kind == "LoanDueSoon" else _level)
        # Borrower 2's due-soon moment was jumped over (the clock went from Wednesday to
        # Saturday): a notice found late is the level reached, not every one on the way.
        assert len(await emitted(one, "LoanDueSoon")) == 1


async def test_renewal_starts_a_new_round_and_return_stops_notices(
    database_url: str, redis_url: str, prefix: str
) -> None:
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        r = await svc.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(3)}, headers=DESK
        )
        loan = r.json()
        clock.set(oslo(2026, 5, 13, 10, 0))
        await scan_once(svc.runtime)
        assert len(await emitted(svc, "LoanDueSoon")) == 1
        r = await svc.client.post(f"/loans/{loan['id']}/renew", headers=DESK)
        assert r.status_code == 200, r.text
        # Due Friday 15 May now (Thursday is Ascension Day): a new due-soon reminder Thursday.
        clock.set(oslo(2026, 5, 14, 15, 0))
        await scan_once(svc.runtime)
        assert len(await emitted(svc, "LoanDueSoon")) == 2
        clock.set(oslo(2026, 5, 15, 10, 0))
        r = await svc.client.post(f"/loans/{loan['id']}/return", json={}, headers=DESK)
        assert r.status_code == 200
        clock.set(oslo(2026, 6, 15, 10, 0))
        await scan_once(svc.runtime)
        assert await emitted(svc, "LoanOverdue") == []


async def test_stale_scanner_is_stopped_by_the_sent_key(
    database_url: str, redis_url: str, prefix: str
) -> None:
    """A scanner that read the loans before another one's commit (simulated by putting the
    pending-notice mark back) claims nothing: the unique key decides, not the read."""
    clock = Clock(OPEN_TUESDAY)
    async with loans_service(database_url, redis_url, prefix, clock) as svc:
        await _two_loans_for_one_borrower(svc)
        clock.set(oslo(2026, 5, 13, 14, 30))
        first = await scan_once(svc.runtime)
        assert (first.notices, first.loans) == (1, 2)  # one notice covering two loans
        async with svc.runtime.db.transaction() as session:
            await session.execute(update(Loan).values(next_notice_at=oslo(2026, 5, 12, 12, 0)))
        again = await scan_once(svc.runtime)
        assert again.notices == 0
        assert len(await emitted(svc, "LoanOverdue")) == 1
