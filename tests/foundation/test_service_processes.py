"""The four services as real processes on a Redis of the test's own: ready follows Redis
down and up again, and nobody dies of it."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import SERVICES
from tests.support.processes import ServiceProcess, service_process
from tests.support.servers import redis_server
from tests.support.waiting import wait_for_sync

pytestmark = pytest.mark.slow


def _statuses(services: list[ServiceProcess]) -> dict[str, int | None]:
    return {s.service: s.ready_status() for s in services}


def test_ready_turns_503_while_redis_is_down_and_back_to_200(tmp_path: Path) -> None:
    with redis_server() as redis, contextlib.ExitStack() as stack:
        prefix = f"test-{uuid.uuid4().hex[:10]}:"
        services = [
            stack.enter_context(
                service_process(
                    name,
                    env={
                        "REDIS_URL": redis.url,
                        "STREAM_PREFIX": prefix,
                        f"{name.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
                        "STAFF_TOKENS": "tb:booking,td:desk,tc:cafe,ta:admin",
                    },
                    log_dir=tmp_path,
                    wait=False,
                )
            )
            for name in SERVICES
        ]
        for service in services:
            service.wait_ready(timeout=90)

        for service in services:
            response = httpx.get(f"{service.url}/metrics", timeout=5)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            families = {f.name for f in text_string_to_metric_families(response.text)}
            assert {"http_requests", "outbox_backlog", "outbox_lag_seconds"} <= families

        redis.stop()
        wait_for_sync(
            lambda: set(_statuses(services).values()) == {503},
            30,
            interval=0.2,
            message="every service not ready without Redis",
        )
        for service in services:
            body = httpx.get(f"{service.url}/health/ready", timeout=5).json()
            assert body["redis"].startswith("down"), body
            assert body["database"] == "ok", body
        # Still serving, just not ready: no process gave up.
        assert all(s.alive for s in services), [s.log_tail() for s in services if not s.alive]
        assert all(httpx.get(f"{s.url}/health/live").status_code == 200 for s in services)

        redis.start()
        wait_for_sync(
            lambda: set(_statuses(services).values()) == {200},
            30,
            interval=0.2,
            message="every service ready again with Redis back",
        )
        assert all(s.alive for s in services)
