"""One real hub (`knutepunkt up` as a process, embedded Redis, free ports) for the whole
module, and the ops commands run in-process against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import typer
from typer.testing import CliRunner, Result

from knutepunkt import ops
from shared.events import CONSUMERS
from shared.settings import SERVICES
from tests.foundation.hub_process import (
    PROC,
    Hub,
    Proc,
    Summary,
    children_of,
    free_port_range,
    hub_env,
)


@dataclass
class RunningHub:
    process: Hub
    summary: Summary
    env: dict[str, str]
    redis: redis.Redis
    var_dir: Path

    def run(self, *args: str, **env: str | None) -> Result:
        """The command in this process; an env value of None unsets that name."""
        app = typer.Typer()

        @app.callback()
        def _root() -> None: ...

        ops.register(app)
        return CliRunner().invoke(app, list(args), env={**self.env, **env}, catch_exceptions=False)

    def run_json(self, *args: str, expect: int = 0, **env: str) -> Any:
        result = self.run(*args, "--json", **env)
        assert result.exit_code == expect, (result.exit_code, result.output)
        return json.loads(result.stdout)

    def groups(self) -> dict[str, set[str]]:
        return {
            stream: {g["name"].decode() for g in self.redis.xinfo_groups(stream)}
            for stream in CONSUMERS
            if self.redis.exists(stream)
        }


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    yield from running_hub(tmp_path_factory)


def running_hub(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[RunningHub]:
    """`knutepunkt up` (with `args`) on free ports, stopped with all it started."""
    if not PROC.is_dir():
        pytest.skip("tracks the hub's processes through /proc (Linux)")
    var_dir: Path = tmp_path_factory.mktemp("ops") / "var"
    process = Hub(
        var_dir=var_dir,
        port_base=free_port_range(8),
        env=hub_env(drop_suffixes=("_DATABASE_URL", "_PORT", "_URL")),
        args=args,
    ).start()
    tracked: set[Proc] = set()
    client: redis.Redis | None = None
    try:
        summary = process.wait_up()
        assert process.proc
        tracked.update(children_of(process.proc.pid))
        env = {
            "REDIS_URL": summary.redis_url,
            "STREAM_PREFIX": "",
            "STAFF_TOKENS": summary.staff_tokens,
            **{f"{name.upper()}_URL": summary.service_urls[name] for name in SERVICES},
            # This hub's file, not that of a hub someone runs from the checkout (./var).
            "KNUTEPUNKT_VAR_DIR": str(var_dir),
        }
        client = redis.Redis.from_url(summary.redis_url)
        yield RunningHub(process, summary, env, client, var_dir)
    finally:
        if client is not None:
            client.close()
        process.kill_everything(tracked)
