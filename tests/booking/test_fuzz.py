"""Fuzz the booking service's OpenAPI (schemathesis, in-process over ASGI with the lifespan
running), with and without staff credentials: whatever arrives, never a 5xx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis
from schemathesis.python import asgi

from services.booking.app import SPEC
from shared.service import create_app
from shared.settings import load_settings
from tests.booking.conftest import STAFF_TOKENS
from tests.conftest import REDIS_URL
from tests.support.databases import (
    POSTGRES_SKIP_REASON,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)

EXAMPLES = 15


@pytest.fixture(params=["sqlite", "postgres"])
def sync_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(POSTGRES_SKIP_REASON)
    url, name = asyncio.run(create_postgres_database(admin))
    try:
        yield url
    finally:
        asyncio.run(drop_postgres_database(admin, name))


@pytest.fixture
def sync_prefix() -> Iterator[str]:
    value = f"test-{uuid.uuid4().hex[:10]}:"
    yield value
    client = Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{value}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_no_5xx_anywhere(sync_database_url: str, sync_prefix: str) -> None:
    app = create_app(
        SPEC,
        load_settings(
            "booking",
            database_url=sync_database_url,
            redis_url=REDIS_URL,
            stream_prefix=sync_prefix,
            staff_tokens=STAFF_TOKENS,
            outbox_poll_seconds=0.2,
            consumer_block_ms=200,
        ),
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    calls = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(), as_staff=st.booleans())
            def fuzz(case: schemathesis.Case, as_staff: bool) -> None:
                nonlocal calls
                if as_staff:  # past the access checks, into the rules
                    case.headers = {**(case.headers or {}), "Authorization": "Bearer tb"}
                response = case.call()
                calls += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]} (body {case.body!r:.300})"
                    )

            fuzz()
    finally:
        asgi.shutdown_lifespans()
    assert calls > 100
    assert not failures, "\n".join(failures[:10])
