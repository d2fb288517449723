"""Fixtures for every suite: a key prefix on the real Redis, a database on each backend
(each also without an event loop, for the schemathesis fuzz tests)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from tests.support.databases import postgres_database, postgres_database_sync, sqlite_url

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{value}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def sync_prefix() -> Iterator[str]:
    """As `prefix`, for tests that run no event loop of their own."""
    value = _new_prefix()
    yield value
    client = sync_redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{value}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each database test runs on SQLite and on PostgreSQL (skipped, with the reason, when
    TEST_POSTGRES_URL is unset)."""
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
