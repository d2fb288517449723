"""The demo clock: `knutepunkt up --at` runs every service on the given instant and on from
there, so that `knutepunkt demo` plays the whole day at any hour; a service given the
setting outside the embedded mode refuses to start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from knutepunkt.ops.demo import requests as rq
from shared.calendar import at_local
from shared.settings import SERVICES, parse_staff_tokens
from tests.ops.conftest import RunningHub, running_hub
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for_sync

pytestmark = pytest.mark.slow

AT = "2027-03-15T10:30"  # a Monday, Oslo time: the desk (10–14) and the café (10–15) are open
AT_UTC = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)  # CET is UTC+1 in March before the switch
RUNS_ON = timedelta(minutes=10)  # more than the hub's start and these tests together take


@pytest.fixture(scope="module")
def demo_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    yield from running_hub(tmp_path_factory, "--at", AT)


def _on_demo_clock(value: str, after: timedelta = timedelta(0)) -> bool:
    return AT_UTC + after <= datetime.fromisoformat(value) < AT_UTC + after + RUNS_ON


def _staff(hub: RunningHub, role: str) -> dict[str, str]:
    tokens = parse_staff_tokens(hub.summary.staff_tokens)
    token = next(t for t, roles in tokens.items() if role in roles)
    return {"Authorization": f"Bearer {token}"}


def test_every_service_runs_on_the_given_instant(demo_hub: RunningHub) -> None:
    assert "demo clock: started at 2027-03-15 10:30 Europe/Oslo" in demo_hub.process.output
    for name in SERVICES:
        body = httpx.get(f"{demo_hub.summary.service_urls[name]}/health/ready", timeout=5).json()
        assert _on_demo_clock(body["clock"]), (name, body)


def test_a_loan_is_due_and_a_take_away_is_timed_by_the_demo_clock(demo_hub: RunningHub) -> None:
    urls = demo_hub.summary.service_urls
    lend = rq.lend("pc", "Test Låner", 41)
    response = httpx.post(
        urls["loans"] + lend.path, json=lend.body, headers=_staff(demo_hub, "desk"), timeout=10
    )
    assert response.status_code == 201, response.text
    loan = response.json()
    assert _on_demo_clock(loan["started_at"]), loan
    # A PC is lent for one day: due when the desk closes the next open day, Tuesday.
    due = at_local(date(2027, 3, 16), time(14, 0))
    assert datetime.fromisoformat(loan["due_at"]) == due, loan

    too_soon = rq.takeaway_at(AT_UTC + timedelta(minutes=10))
    response = httpx.post(urls["catering"] + too_soon.path, json=too_soon.body, timeout=10)
    assert response.status_code == 422, response.text
    # Thirty minutes' notice, counted from the demo clock's now.
    earliest = response.json()["earliest_pickup_at"]
    assert _on_demo_clock(earliest, after=timedelta(minutes=30)), earliest
    in_time = rq.takeaway_at(datetime.fromisoformat(earliest) + timedelta(minutes=15))
    response = httpx.post(urls["catering"] + in_time.path, json=in_time.body, timeout=10)
    assert response.status_code == 201, response.text


def test_the_demo_lends_returns_and_orders_for_today_on_the_demo_clock(
    demo_hub: RunningHub,
) -> None:
    summary = demo_hub.run_json("demo", "--settle-timeout", "90")
    assert summary["settled"] and summary["missing"] == []
    assert summary["clock"]["demo"] and _on_demo_clock(summary["clock"]["hub"])
    assert summary["held_back"] == []
    steps = {s["label"]: s for s in summary["steps"]}
    assert all(s["status"] == "done" for s in steps.values()), steps
    assert "at the desk" in steps["A PC is lent at the citizens' desk"]["detail"]
    assert "pick-up today" in steps["A take-away order for lunch"]["detail"]
    assert {"The PC comes back", "A planter box comes back"} <= set(steps)

    text = demo_hub.run("demo", "--settle-timeout", "90")
    assert text.exit_code == 0, text.output
    assert "on a demo clock" in text.stdout and "The hour prevented" not in text.stdout


@pytest.mark.parametrize(
    ("embedded", "database", "why"),
    [
        (False, "sqlite", "without KNUTEPUNKT_EMBEDDED=1"),
        (True, "postgres", "on a database that is not SQLite"),
    ],
)
def test_a_service_outside_the_embedded_mode_refuses_the_demo_clock(
    tmp_path: Path, redis_url: str, embedded: bool, database: str, why: str
) -> None:
    # Nothing listens at this PostgreSQL: the service must refuse before it connects.
    url = {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'loans.db'}",
        "postgres": "postgresql+asyncpg://postgres@127.0.0.1:1/loans",
    }[database]
    env = {
        "REDIS_URL": redis_url,
        "LOANS_DATABASE_URL": url,
        "DEMO_CLOCK_AT": AT_UTC.isoformat(),
    }
    service = ServiceProcess("loans", env, tmp_path)
    service.env.pop("DEMO_CLOCK_SINCE", None)
    service.env.pop("KNUTEPUNKT_EMBEDDED", None)
    if embedded:
        service.env["KNUTEPUNKT_EMBEDDED"] = "1"
    try:
        service.start(wait=False)
        wait_for_sync(lambda: not service.alive, 60, message="loans refused to start")
    finally:
        service.stop()
    log = service.log_tail(60)
    assert service.proc and service.proc.returncode not in (None, 0), log
    assert f"DEMO_CLOCK_AT is set, but this service runs {why}" in log, log
    assert "must never reach production" in log
    assert "loans ready" not in log and not os.path.exists(tmp_path / "loans.db")
