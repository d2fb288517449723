"""The sender's recorder on its own: outcomes committed as they come (what arrives during a
commit goes in the next one), grouped with the answers of the sends still under way but
never past a full window or the linger, at most `window` unrecorded, a database that is
busy waited for, and one outcome that cannot be written not holding up the rest."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from services.notify.timers import Recorder, Window
from shared.errors import Busy
from tests.support.waiting import wait_for


def outcome(name: str) -> Any:
    return SimpleNamespace(delivery=SimpleNamespace(id=name), result=None)


class Database:
    """Commits that finish when the test says so, and fail when it says so."""

    def __init__(self) -> None:
        self.commits: list[list[str]] = []
        self.release = asyncio.Event()
        self.busy = 0
        self.broken: set[str] = set()

    async def commit(self, group: list[Any]) -> None:
        names = [o.delivery.id for o in group]
        await self.release.wait()
        if self.busy:
            self.busy -= 1
            raise Busy("the database is busy, try again", code="database_busy")
        if self.broken & set(names):
            raise ValueError("cannot be written")
        self.commits.append(names)


async def test_what_arrives_during_a_commit_goes_in_the_next_one() -> None:
    db = Database()
    recorder = Recorder(db.commit, Window(10))
    for name in ("a", "b", "c"):
        await recorder.slot()
        recorder.add(outcome(name))
        await asyncio.sleep(0)  # the first commit starts with "a" alone
    db.release.set()
    await asyncio.wait_for(recorder.drain(), timeout=5)
    assert db.commits == [["a"], ["b", "c"]]


async def test_no_more_than_the_window_is_unrecorded() -> None:
    db = Database()
    recorder = Recorder(db.commit, Window(2))
    for name in ("a", "b"):
        await recorder.slot()
        recorder.add(outcome(name))
    third = asyncio.create_task(recorder.slot())
    for _ in range(3):
        await asyncio.sleep(0)  # let the third try (a yield, no waiting on time)
    assert not third.done()  # two answered, none committed: the third send waits
    db.release.set()
    await asyncio.wait_for(third, timeout=5)
    await asyncio.wait_for(recorder.drain(), timeout=5)
    assert db.commits == [["a"], ["b"]] or db.commits == [["a", "b"]]


async def test_a_busy_database_is_waited_for_and_nothing_is_lost() -> None:
    db = Database()
    db.busy = 2
    db.release.set()
    recorder = Recorder(db.commit, Window(10))
    for name in ("a", "b"):
        await recorder.slot()
        recorder.add(outcome(name))
    await wait_for(lambda: db.commits, timeout=5)
    await asyncio.wait_for(recorder.drain(), timeout=5)
    assert [n for commit in db.commits for n in commit] == ["a", "b"]


async def test_one_outcome_that_cannot_be_written_does_not_hold_up_the_others() -> None:
    db = Database()
    db.broken = {"b"}
    recorder = Recorder(db.commit, Window(3))
    for name in ("a", "b", "c"):
        await recorder.slot()
        recorder.add(outcome(name))
    db.release.set()
    await asyncio.wait_for(recorder.drain(), timeout=5)
    assert [n for commit in db.commits for n in commit] == ["a", "c"]
    # Every slot is free again: three more can go.
    for _ in range(3):
        await asyncio.wait_for(recorder.slot(), timeout=1)


async def test_answers_wait_for_the_sends_still_under_way_and_go_in_one_commit() -> None:
    db = Database()
    db.release.set()
    recorder = Recorder(db.commit, Window(10), linger=60)
    for _ in range(3):
        await recorder.slot()
    recorder.add(outcome("a"))
    recorder.add(outcome("b"))
    for _ in range(3):
        await asyncio.sleep(0)  # a yield: the recorder would commit now if it did not wait
    assert db.commits == []  # "c" is still on its way
    recorder.add(outcome("c"))
    await asyncio.wait_for(recorder.drain(), timeout=5)
    assert db.commits == [["a", "b", "c"]]


async def test_a_full_window_ends_the_wait() -> None:
    db = Database()
    db.release.set()
    recorder = Recorder(db.commit, Window(4), linger=60)
    for _ in range(3):
        await recorder.slot()
    recorder.add(outcome("a"))
    recorder.add(outcome("b"))  # "c" still on its way, so these two wait for it...
    for _ in range(3):
        await asyncio.sleep(0)
    assert db.commits == []
    # ...until a fourth send fills the window: then they go, and free their slots.
    await recorder.slot()
    await wait_for(lambda: db.commits, timeout=5)
    assert db.commits == [["a", "b"]]
    recorder.add(outcome("c"))
    recorder.add(outcome("d"))
    await asyncio.wait_for(recorder.drain(), timeout=5)
    assert db.commits == [["a", "b"], ["c", "d"]]


async def test_an_answer_waits_no_longer_than_the_linger() -> None:
    db = Database()
    db.release.set()
    recorder = Recorder(db.commit, Window(10), linger=0.05)
    for _ in range(2):
        await recorder.slot()
    recorder.add(outcome("a"))  # the other send never answers (a provider that hangs)
    await wait_for(lambda: db.commits, timeout=5)
    assert db.commits == [["a"]]
