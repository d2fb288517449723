"""`knutepunkt up` as a real process: the whole hub comes up with no REDIS_URL, and goes
away completely, whether stopped or broken."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from knutepunkt import hub_file
from shared.settings import SERVICES, parse_staff_tokens
from tests.foundation.hub_process import (
    PROC,
    Hub,
    Proc,
    Summary,
    children_of,
    free_port_range,
    hub_env,
    printed_child,
    processes_mentioning,
)
from tests.support.waiting import wait_for_sync

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PROC.is_dir(), reason="tracks processes through /proc (Linux)"),
]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Hub, set[Proc]]]:
    """A running hub and the processes it started (its direct children, read from /proc)."""
    hub = Hub(
        var_dir=tmp_path / "var", port_base=free_port_range(8), env=hub_env(bundled_redis=True)
    ).start()
    tracked: set[Proc] = set()
    try:
        yield hub, tracked
    finally:
        hub.kill_everything(tracked)


def _track(hub: Hub, summary: Summary, tracked: set[Proc]) -> None:
    assert hub.proc
    children = children_of(hub.proc.pid)
    tracked.update(children)
    # What the launcher printed is what it runs: four services, the web front, the sinks,
    # Redis.
    assert {c.pid for c in children} == set(summary.pids.values()), hub.output
    assert len(children) == len(SERVICES) + 3


def _exit_codes(hub: Hub) -> dict[str, str]:
    """What the launcher says each child ended with, once it stopped them all."""
    found = re.search(r"^Hub stopped\. Exit codes: (.*)\.$", hub.output, re.M)
    assert found, hub.output[-3000:]
    return dict(item.split(" ", 1) for item in found[1].split(", "))


def _assert_nothing_left(hub: Hub, tracked: set[Proc], var_dir: Path) -> None:
    left = [p.pid for p in tracked if p.alive]
    assert not left, f"still running: {left}\n{hub.output[-3000:]}"
    assert not processes_mentioning(str(var_dir)), hub.output[-3000:]


def test_hub_comes_up_and_sigterm_stops_every_child(hub: tuple[Hub, set[Proc]]) -> None:
    process, tracked = hub
    summary = process.wait_up()
    _track(process, summary, tracked)

    tokens = parse_staff_tokens(summary.staff_tokens)
    assert sorted(r for roles in tokens.values() for r in roles) == sorted(
        ["admin", "booking", "cafe", "desk"]
    )
    with httpx.Client(timeout=5, trust_env=False) as client:
        for name, url in summary.service_urls.items():
            response = client.get(f"{url}/health/ready")
            assert response.status_code == 200, (name, response.text)
            assert response.json()["service"] == name
            assert client.get(f"{url}/docs").status_code == 200
            # The tokens printed are the ones each service was given (whatever staff
            # endpoints it has), and it was pointed at the sinks printed.
            environ = (PROC / str(summary.pids[name]) / "environ").read_bytes().split(b"\0")
            assert f"STAFF_TOKENS={summary.staff_tokens}".encode() in environ
            assert f"SMTP_URL={summary.smtp_url}".encode() in environ
            assert f"SMS_GATEWAY_URL={summary.sms_url}".encode() in environ
        # The web front, with the dev sign-in that only the launcher turns on.
        assert client.get(f"{summary.web_url}/health/ready").status_code == 200
        signin = client.get(f"{summary.web_url}/ansatt/logg-inn")
        assert signin.status_code == 200 and 'action="/ansatt/logg-inn/utvikling"' in signin.text
        assert client.get(f"{summary.mail_url}/messages").status_code == 200
        assert client.get(f"{summary.sms_url}/messages").status_code == 200
    embedded = redis.Redis.from_url(summary.redis_url)
    try:
        assert embedded.ping()
        assert embedded.config_get("appendonly")["appendonly"] == "yes"
    finally:
        embedded.close()
    assert (process.var_dir / "redis").is_dir()
    assert all((process.var_dir / f"{name}.db").is_file() for name in SERVICES)
    # Where the ops commands in another terminal find it, while it runs.
    found = hub_file.read(process.var_dir)
    assert found["REDIS_URL"] == summary.redis_url
    assert found["STAFF_TOKENS"] == summary.staff_tokens
    assert {n: found[f"{n.upper()}_URL"] for n in SERVICES} == summary.service_urls

    assert process.proc
    process.proc.send_signal(signal.SIGTERM)
    assert process.wait_exit() == 0, process.output[-3000:]
    assert not (process.var_dir / hub_file.FILE_NAME).exists()
    # Each stopped by the launcher, on SIGTERM (uvicorn re-raises it once it has shut down
    # cleanly), not killed by the kernel after the launcher had gone.
    assert set(_exit_codes(process).values()) <= {"0", "SIGTERM"}, process.output[-3000:]
    assert set(_exit_codes(process)) == {*SERVICES, "web", "sinks", "redis"}
    _assert_nothing_left(process, tracked, process.var_dir)


def test_a_child_that_dies_is_reported_and_brings_the_hub_down(
    hub: tuple[Hub, set[Proc]],
) -> None:
    process, tracked = hub
    summary = process.wait_up()
    _track(process, summary, tracked)

    victim = summary.pids["notify"]
    os.kill(victim, signal.SIGKILL)

    assert process.wait_exit() != 0
    assert f"notify (pid {victim}) exited unexpectedly, killed by SIGKILL" in process.output
    assert not (process.var_dir / hub_file.FILE_NAME).exists()
    codes = _exit_codes(process)
    assert codes.pop("notify") == "SIGKILL"
    assert set(codes.values()) <= {"0", "SIGTERM"}, process.output[-3000:]
    _assert_nothing_left(process, tracked, process.var_dir)


_ORPHAN_MAKER = """
import asyncio, os, sys
from knutepunkt.supervisor import Supervisor

async def main() -> None:
    supervisor = Supervisor()
    child = await supervisor.start(
        "sleeper", [sys.executable, "-c", "import signal; signal.pause()"], os.environ, print
    )
    print("child", child.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_children_die_with_a_launcher_killed_outright() -> None:
    """SIGKILL leaves the launcher no chance to clean up: the kernel must do it."""
    import subprocess

    from tests.support.processes import ROOT

    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_MAKER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    with printed_child(parent) as child:
        # Its own process group, so a Ctrl-C at the terminal reaches only the launcher.
        assert os.getpgid(child.pid) == child.pid
        parent.kill()
        parent.wait(10)
        wait_for_sync(lambda: not child.alive, 10, message="child gone with its parent")


def test_notify_and_the_web_front_share_one_link_secret(tmp_path: Path) -> None:
    """The embedded default of ACTION_LINK_SECRET: one random secret per start, given to every
    service (notify signs the links) and the web front (it reads them); a short one set by
    hand stops the start."""
    from knutepunkt.launcher import LaunchError, make_plan, service_env, web_env

    base = free_port_range(8)
    plan = make_plan(base, tmp_path / "var", "redis://127.0.0.1:1/0", {})
    sinks = {"smtp_url": "smtp://127.0.0.1:1", "sms_url": "http://127.0.0.1:1"}
    notify = service_env(plan, "notify", "redis://127.0.0.1:1/0", sinks, {})
    web = web_env(plan, "redis://127.0.0.1:1/0", {})
    assert len(plan.action_link_secret) >= 32
    assert notify["ACTION_LINK_SECRET"] == web["ACTION_LINK_SECRET"] == plan.action_link_secret
    assert notify["WEB_PUBLIC_URL"] == web["WEB_PUBLIC_URL"] == f"http://127.0.0.1:{base + 7}"
    again = make_plan(base, tmp_path / "var", "redis://127.0.0.1:1/0", {})
    assert again.action_link_secret != plan.action_link_secret
    chosen = make_plan(base, tmp_path / "var", None, {"ACTION_LINK_SECRET": "s" * 40})
    assert chosen.action_link_secret == "s" * 40
    with pytest.raises(LaunchError, match="ACTION_LINK_SECRET"):
        make_plan(base, tmp_path / "var", None, {"ACTION_LINK_SECRET": "short"})
