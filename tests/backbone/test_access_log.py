"""The access log's parts on a real Redis (shared/access_log.py): the people an answer names,
entries found by a person's email or phone and never holding them in clear, append-only
with its own retention (the oldest trimmed, nothing else)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import insert

from services.loans.models import Item
from shared import access_log
from shared.auth import Staff
from shared.hubs import DEFAULT_HUB
from shared.messaging.redis import StreamNames
from tests.loans.support import DESK as DESK_TOKEN
from tests.loans.support import OPEN_TUESDAY, TestClock, borrower, loans_service

DESK = Staff("td", frozenset({"desk"}), account="token-abc")


def test_the_people_an_answer_names() -> None:
    answer = {
        "items": [
            {"booker": {"name": "Kari", "email": "Kari@Example.org", "phone": "+47 000 00 010"}},
            {"customer_email": "per@example.org", "customer_phone": None},
            {"recipient": "+4700000020", "recipient_name": "Ola"},
            {"public_phone": "not a phone", "email": "not-an-email"},
            # Text that only looks like a contact, inside a string, names nobody.
            {"title": 'say "email": "x@example.org"', "notes": "C:\\", "phone": "+47 000 00 030"},
            {"email": "p\u00e5l@example.org"},
        ]
    }
    for ascii_only in (True, False):
        assert access_log.people_in(json.dumps(answer, ensure_ascii=ascii_only).encode()) == {
            "kari@example.org",
            "+4700000010",
            "per@example.org",
            "+4700000020",
            "+4700000030",
            "pål@example.org",
        }
    assert access_log.people_in(b"[]") == set()


async def test_entries_by_person_hashed_and_trimmed_by_age(redis: Redis, prefix: str) -> None:
    names = StreamNames(prefix)
    old = time.time() - 400 * 86_400
    kari = access_log.identifiers(["kari@example.org"], ["+47 000 00 010"])
    await redis.xadd(
        names(access_log.STREAM), {"at": "old", "people": ""}, id=f"{int(old * 1000)}-0"
    )
    writer = access_log.Writer(redis, names)
    now = time.time()
    writer.add(access_log.Entry(now, "loans", DESK, "read", "GET /loans", frozenset(kari)))
    writer.add(
        access_log.Entry(
            now, "loans", DESK, "change", "POST /loans", frozenset({"per@example.org"})
        )
    )
    await access_log.drain()
    # Asked with her phone alone: her entry, not Per's.
    [hers] = await access_log.entries(redis, names, access_log.identifiers([], ["00000010"]))
    assert (hers["action"], hers["what"], hers["actor"], hers["people"]) == (
        "read",
        "GET /loans",
        "service_account:token-abc",
        "2",
    )
    raw = b" ".join(
        b" ".join(f.values()) for _id, f in await redis.xrange(names(access_log.STREAM))
    )
    assert b"kari" not in raw.lower() and b"00000010" not in raw and b"per@" not in raw
    assert await access_log.trim(redis, names, retention_days=365) == 1
    assert len(await access_log.entries(redis, names)) == 2
    assert await access_log.trim(redis, names, retention_days=365) == 0


async def test_a_service_stopping_records_the_answers_it_sent_first(
    sqlite_database_url: str,
    redis_url: str,
    redis: Redis,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry is recorded after its answer is sent; a service told to stop right after
    (a deploy) still records it before it lets go of Redis, also when Redis is slow."""
    real_key = access_log.log_key

    async def slow_key(*args: Any) -> bytes:
        await asyncio.sleep(2)  # a slow round trip: longer than the service takes to stop
        return await real_key(*args)

    monkeypatch.setattr(access_log, "log_key", slow_key)
    clock = TestClock(OPEN_TUESDAY)
    async with loans_service(sqlite_database_url, redis_url, prefix, clock) as desk:
        added = await desk.client.post(
            "/items", json={"kind": "pc", "label": "PC 1"}, headers=DESK_TOKEN
        )
        assert added.status_code == 201, added.text
        lent = await desk.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(7)}, headers=DESK_TOKEN
        )
        assert lent.status_code == 201, lent.text
    names = StreamNames(prefix)
    [entry] = await access_log.entries(redis, names, access_log.identifiers([], ["40000007"]))
    assert (entry["action"], entry["what"], entry["service"]) == ("change", "POST /loans", "loans")


async def test_a_burst_of_staff_answers_loses_no_entry(
    sqlite_database_url: str, redis_url: str, redis: Redis, prefix: str
) -> None:
    """Many staff changes at once, each naming a person, are each recorded: the entries of
    a burst share the service's Redis client with its relay and its consumer, and must not
    take a connection each (a pool of 100 emptied by 32 desks' check-outs lost some)."""
    clock = TestClock(OPEN_TUESDAY)
    burst = 300
    async with loans_service(sqlite_database_url, redis_url, prefix, clock) as desk:
        async with desk.runtime.db.transaction() as session:
            await session.execute(
                insert(Item),
                [
                    {
                        "id": f"pc{n}",
                        "hub": DEFAULT_HUB,
                        "kind": "pc",
                        "label": f"PC {n}",
                        "condition": "ok",
                        "created_at": clock(),
                    }
                    for n in range(burst)
                ],
            )
        lent = await asyncio.gather(
            *(
                desk.client.post(
                    "/loans",
                    json={"kind": "pc", "borrower": {"name": f"L {n}", "phone": f"4{n:07d}"}},
                    headers=DESK_TOKEN,
                )
                for n in range(burst)
            )
        )
        assert {r.status_code for r in lent} == {201}
    recorded = await access_log.entries(redis, StreamNames(prefix))
    assert [(e["action"], e["what"], e["people"]) for e in recorded] == [
        ("change", "POST /loans", "1")
    ] * burst
    one = await access_log.entries(redis, StreamNames(prefix), {"+4740000123"})
    assert len(one) == 1


async def test_entries_redis_refuses_are_counted_and_the_answers_still_go(
    sqlite_database_url: str,
    redis_url: str,
    redis: Redis,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A log Redis will not append to (here: its key holds a string, not a stream) loses
    the entries, each counted in the service's log without a person's data, and never the
    staff's answers; once it takes them again, the next are recorded."""
    names = StreamNames(prefix)
    await redis.set(names(access_log.STREAM), "not a stream")
    clock = TestClock(OPEN_TUESDAY)
    async with loans_service(sqlite_database_url, redis_url, prefix, clock) as desk:
        for n in range(3):
            added = await desk.client.post(
                "/items", json={"kind": "pc", "label": f"PC {n}"}, headers=DESK_TOKEN
            )
            assert added.status_code == 201, added.text
        lent = await asyncio.gather(
            *(
                desk.client.post(
                    "/loans", json={"kind": "pc", "borrower": borrower(n)}, headers=DESK_TOKEN
                )
                for n in (1, 2)
            )
        )
        assert [r.status_code for r in lent] == [201, 201]
        await access_log.drain()
        lost = [r.getMessage() for r in caplog.records if "entries lost" in r.getMessage()]
        assert sum(int(m.split()[2]) for m in lost) == 2, lost
        assert all("WRONGTYPE" not in m and "4000000" not in m for m in lost)
        await redis.delete(names(access_log.STREAM))
        third = await desk.client.post(
            "/loans", json={"kind": "pc", "borrower": borrower(3)}, headers=DESK_TOKEN
        )
        assert third.status_code == 201, third.text
    [entry] = await access_log.entries(redis, names)
    assert (entry["what"], entry["people"]) == ("POST /loans", "1")


def test_a_stopping_service_waits_for_its_own_loops_entries_only() -> None:
    """A process that ran other event loops (tests do) may hold their entries unfinished;
    a service stopping on its own loop waits for its own, and is not stopped by theirs."""

    async def never() -> None:
        await asyncio.Event().wait()

    async def leave_one_unfinished() -> asyncio.Task[None]:
        task = asyncio.create_task(never())
        access_log._tasks.add(task)
        await asyncio.sleep(0)  # started, and waiting for good
        return task

    other = asyncio.new_event_loop()
    task = other.run_until_complete(leave_one_unfinished())
    try:
        assert asyncio.run(access_log.drain(timeout=5)) == 0
    finally:
        access_log._tasks.discard(task)
        task.cancel()
        other.run_until_complete(asyncio.gather(task, return_exceptions=True))
        other.close()
