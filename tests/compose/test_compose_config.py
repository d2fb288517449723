"""compose.yaml as Debian's docker-compose 1.29 validates and resolves it, with no engine.

The CI script installs the `docker-compose` package; without the binary these tests skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER_COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose binary absent (Debian package docker-compose; .ci/run installs it)",
)


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    # Only the env file may feed the interpolation, not whatever this shell exports.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return subprocess.run(
        [DOCKER_COMPOSE, "--env-file", str(env_file), "-f", "compose.yaml", "config"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    proc = compose_config(REPO / ".env.example")
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    assert isinstance(config, dict)
    return config


def test_compose_file_passes_docker_compose_config(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == {
        "redis",
        "postgres",
        "migrate",
        "booking",
        "loans",
        "catering",
        "notify",
        "devsinks",
        "web",
    }


def test_each_service_gets_its_own_database_and_the_shared_settings(
    resolved: dict[str, Any],
) -> None:
    for name in ("booking", "loans", "catering", "notify"):
        env = resolved["services"][name]["environment"]
        assert env[f"{name.upper()}_DATABASE_URL"].startswith(
            f"postgresql+asyncpg://{name}:change-me-{name}@postgres:5432/{name}"
        )
        assert env[f"{name.upper()}_PORT"] == "8000"
        assert env["HOST"] == "0.0.0.0"
        for key in ("REDIS_URL", "SMTP_URL", "SMS_GATEWAY_URL", "STAFF_TOKENS", "STAFF_DIRECTORY"):
            assert env[key], key
        others = [o for o in ("booking", "loans", "catering", "notify") if o != name]
        assert not [o for o in others if f"{o.upper()}_DATABASE_URL" in env]


def test_public_images_are_the_defaults(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["redis"]["image"] == "redis:7"
    assert services["postgres"]["image"] == "postgres:15"
    assert services["booking"]["build"]["args"]["PYTHON_IMAGE"] == "python:3.11-slim"


def test_a_missing_secret_stops_the_deploy(tmp_path: Path) -> None:
    lines = (REPO / ".env.example").read_text().splitlines()
    env_file = tmp_path / "env"
    env_file.write_text("\n".join(line for line in lines if not line.startswith("STAFF_TOKENS=")))
    proc = compose_config(env_file)
    assert proc.returncode != 0
    assert "set STAFF_TOKENS in .env" in proc.stderr
