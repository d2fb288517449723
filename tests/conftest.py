"""Fixtures for every suite: a key prefix on the real Redis, a database on each backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.databases import (
    POSTGRES_SKIP_REASON,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A stream/key prefix of this test's own; its keys are deleted afterwards."""
    value = f"test-{uuid.uuid4().hex[:10]}:"
    yield value
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{value}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


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
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(POSTGRES_SKIP_REASON)
    url, name = await create_postgres_database(admin)
    try:
        yield url
    finally:
        await drop_postgres_database(admin, name)


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
async def postgres_database_url() -> AsyncIterator[str]:
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(POSTGRES_SKIP_REASON)
    url, name = await create_postgres_database(admin)
    try:
        yield url
    finally:
        await drop_postgres_database(admin, name)
