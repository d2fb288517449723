"""A service's startup steps (migrations, setup, seed) wait for a database that does not
answer yet, and fail at once on anything else: under load a first connect can time out
right after PostgreSQL comes up, and the seed once killed catering's start for it."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import ProgrammingError

from shared.service.lifecycle import when_reachable


async def test_a_step_meeting_a_database_that_does_not_answer_is_run_again() -> None:
    calls: list[int] = []

    async def seed() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError  # asyncpg's connect timeout

    await when_reachable(seed, "seed", attempts=5)
    assert len(calls) == 3


async def test_a_broken_step_fails_at_once() -> None:
    calls: list[int] = []

    async def seed() -> None:
        calls.append(1)
        raise ProgrammingError("INSERT INTO nowhere", {}, Exception("no such table"))

    with pytest.raises(ProgrammingError):
        await when_reachable(seed, "seed", attempts=5)
    assert len(calls) == 1


async def test_a_database_that_never_answers_fails_after_the_attempts() -> None:
    calls: list[int] = []

    async def seed() -> None:
        calls.append(1)
        raise ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        await when_reachable(seed, "seed", attempts=2)
    assert len(calls) == 3
