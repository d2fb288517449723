"""A service's startup steps (migrations, setup, seed) wait for a database that does not
answer yet, and fail at once on anything else: under load a first connect can time out
right after PostgreSQL comes up, and the seed once killed catering's start for it. What the
first request would otherwise load is loaded while starting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import fastapi.routing
import pytest
from sqlalchemy.exc import ProgrammingError

from services.booking.app import SPEC as BOOKING
from shared.calendar import holidays, norwegian_holidays
from shared.service.lifecycle import when_reachable
from tests.support.apps import running_service


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


async def test_a_started_service_has_its_years_holidays_at_hand(
    sqlite_database_url: str, redis_url: str, prefix: str
) -> None:
    """The holidays library imports its countries on the first lookup (about 0.1 s); a
    service looks up this year's and next year's while it starts, so that the first
    booking after a deploy does not wait for it."""
    lookups = holidays._holidays_of_year
    lookups.cache_clear()
    # A year no other test asks about, on the service's own clock.
    clock = lambda: datetime(2043, 12, 31, 23, 30, tzinfo=UTC)  # noqa: E731 (1 January in Oslo)
    async with running_service(
        BOOKING, database_url=sqlite_database_url, redis_url=redis_url, prefix=prefix, clock=clock
    ):
        before = lookups.cache_info()
        for year in (2044, 2045):
            for language in ("nb", "en"):
                assert norwegian_holidays(year, language)
        after = lookups.cache_info()
    assert after.misses == before.misses  # all found, none made in the request's place
    assert after.hits == before.hits + 4


async def test_a_started_services_routes_are_built_before_its_first_request(
    sqlite_database_url: str, redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI builds an included router's routes when a request first walks them (about
    35 ms); a started service has built them, so its first request builds none."""
    built: list[object] = []
    real = fastapi.routing.get_dependant

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs.get("call"))
        return real(*args, **kwargs)

    async with running_service(
        BOOKING, database_url=sqlite_database_url, redis_url=redis_url, prefix=prefix
    ) as booking:
        monkeypatch.setattr(fastapi.routing, "get_dependant", counted)
        answer = await booking.client.get("/resources")
        assert answer.status_code == 200, answer.text
    assert built == []
