"""The loans service as a real process: a backfilled overdue loan is noticed by the timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis

from tests.loans.support import DESK, borrower
from tests.support.apps import STAFF_TOKENS
from tests.support.processes import service_process
from tests.support.streams import stream_entries
from tests.support.waiting import wait_for


async def test_backfilled_overdue_loan_gets_loan_overdue(
    database_url: str, redis_url: str, prefix: str, redis: Redis, tmp_path: Path
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": prefix,
        "LOANS_DATABASE_URL": database_url,
        "STAFF_TOKENS": STAFF_TOKENS,
        "LOANS_OVERDUE_SCAN_SECONDS": "0.3",
        "OUTBOX_POLL_SECONDS": "0.2",
    }
    with service_process("loans", env, tmp_path) as proc:
        started = datetime.now(UTC) - timedelta(days=20)
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            r = await client.post(
                "/loans",
                json={
                    "kind": "pc",
                    "borrower": borrower(4),
                    "started_at": started.isoformat(),
                    "days": 3,
                },
                headers=DESK,
            )
            assert r.status_code == 201, r.text
            loan = r.json()
            assert loan["backfilled"] is True and loan["status"] == "overdue"

        async def overdue() -> list[dict[str, object]]:
            entries = await stream_entries(redis, prefix + "loans.events")
            return [e["data"] for e in entries if e["type"] == "LoanOverdue"]

        notices = await wait_for(overdue, timeout=20, message="LoanOverdue on the stream")
        assert notices[0]["loans"][0]["loan_id"] == loan["id"]
        # Due about 17 days ago: past the last step (7 days), so blocked and the desk told.
        assert notices[0]["level"] == 3 and notices[0]["blocked"] is True
        assert proc.alive
