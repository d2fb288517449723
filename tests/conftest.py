"""Fixtures for every suite: a key prefix on the real Redis, a database on each backend
(each also without an event loop, for the schemathesis fuzz tests).

Which Redis and which PostgreSQL: the ones TEST_REDIS_URL / TEST_POSTGRES_URL name; else a
Redis answering on 127.0.0.1:6379; else servers of the run's own (tests/support/servers.py),
stopped at its end. The run prints its choice first."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from knutepunkt.launcher import LaunchError
from tests.support import databases
from tests.support.databases import postgres_database, postgres_database_sync, sqlite_url
from tests.support.prefixes import delete_prefixed
from tests.support.servers import (
    DEFAULT_REDIS_URL,
    POSTGRES_ENV,
    REDIS_ENV,
    ServerChoice,
    choose_postgres,
    choose_redis,
)

# Set by pytest_configure before any test module is imported (they may read it then).
REDIS_URL = os.environ.get(REDIS_ENV, DEFAULT_REDIS_URL)
_CHOICES: list[ServerChoice] = []


def pytest_configure(config: pytest.Config) -> None:
    """Choose the servers once for the run and put them in the environment, where the
    fixtures, the modules that read them at import and the services' processes find them."""
    global REDIS_URL
    try:
        redis_choice = choose_redis(os.environ)
    except LaunchError as exc:
        raise pytest.UsageError(f"no Redis for the tests ({exc}); or set {REDIS_ENV}") from exc
    config.add_cleanup(redis_choice.close)
    postgres_choice = choose_postgres(os.environ)
    config.add_cleanup(postgres_choice.close)
    _CHOICES[:] = [redis_choice, postgres_choice]
    REDIS_URL = os.environ[REDIS_ENV] = str(redis_choice.url)
    if postgres_choice.url:
        os.environ[POSTGRES_ENV] = postgres_choice.url
    else:
        databases.POSTGRES_SKIP_REASON = postgres_choice.why


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # Written, not a report header: it must show with -q too.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for choice in _CHOICES:
        line = f"servers: {choice.describe()}"
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)


def _new_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A stream/key prefix of this test's own; its keys are deleted afterwards."""
    value = _new_prefix()
    yield value
    await delete_prefixed(redis_url, value)


@pytest.fixture
def sync_prefix(redis_url: str) -> Iterator[str]:
    """As `prefix`, for tests that run no event loop of their own."""
    value = _new_prefix()
    yield value
    asyncio.run(delete_prefixed(redis_url, value))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each database test runs on SQLite and on PostgreSQL (the run's: skipped, with the
    reason, only when it has none)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def sync_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """As `database_url`, for tests that run no event loop of their own."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with postgres_database_sync() as url:
        yield url


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
async def postgres_database_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url
