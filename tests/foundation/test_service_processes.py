"""The four services as real processes on a Redis of the test's own: ready follows Redis
down and up again, and nobody dies of it."""

from __future__ import annotations

import contextlib
import http.client
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import SERVICES
from tests.foundation.hub_process import printed_child
from tests.support.processes import ROOT, ServiceProcess, service_process
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


_SERVICE_STARTER = """
import sys, threading
from pathlib import Path
from tests.support.processes import ServiceProcess

service = ServiceProcess("booking", {
    "REDIS_URL": sys.argv[1], "STREAM_PREFIX": sys.argv[2],
    "BOOKING_DATABASE_URL": "sqlite+aiosqlite:///" + sys.argv[3] + "/booking.db",
}, Path(sys.argv[3])).start()
print("child", service.proc.pid, flush=True)
threading.Event().wait()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_service_goes_when_the_run_that_started_it_is_killed(
    tmp_path: Path, redis_url: str, sync_prefix: str
) -> None:
    """A test run or bench killed outright cleans nothing up: its services must not go on
    consuming (and writing) beside the next run."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _SERVICE_STARTER, redis_url, sync_prefix, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    with printed_child(parent) as child:
        parent.kill()
        parent.wait(10)
        wait_for_sync(lambda: not child.alive, 30, message="service gone with its starter")


def test_a_service_keeps_an_idle_connection_longer_than_its_clients_do(
    tmp_path: Path, redis_url: str, sync_prefix: str
) -> None:
    """A client reuses an idle connection until its own expiry (httpx's, which the hub's
    clients use). Were the service to close it at the same moment, a POST sent then would
    fail with "Server disconnected without sending a response"."""
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": sync_prefix,
        "BOOKING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/booking.db",
    }
    client_expiry = httpx.Limits().keepalive_expiry
    assert client_expiry is not None
    with service_process("booking", env=env, log_dir=tmp_path) as service:
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        try:
            connection.request("GET", "/health/live")
            first = connection.getresponse()
            first.read()
            assert first.status == 200 and connection.sock is not None
            sock = connection.sock
            # Anything the server sends now, its close included (b""), ends the wait early.
            sock.settimeout(client_expiry + 1)
            try:
                sent: bytes | None = sock.recv(1)
            except TimeoutError:
                sent = None
            assert sent is None, f"the service closed the idle connection or wrote on it: {sent!r}"
            sock.settimeout(10)
            connection.request("GET", "/health/live")
            assert connection.getresponse().status == 200
            assert connection.sock is sock, "answered on the same connection"
        finally:
            connection.close()
