"""The promises compose.yaml keeps, read from the file itself (no engine, no binary)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.stack import APP_SERVICES, STANDIN_SCRIPT, with_standin_commands

REPO = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (REPO / "compose.yaml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
LONG_RUNNING = ("redis", "postgres", *APP_SERVICES, "devsinks")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_init_restart_and_a_health_check(name: str) -> None:
    service = SERVICES[name]
    assert service["init"] is True
    assert service["restart"] == "unless-stopped"
    # podman-compose 1.0.3 mutates a list-form test in place, breaking a second replica.
    assert isinstance(service["healthcheck"]["test"], str)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_services_run_from_the_one_image_chosen_by_command(name: str) -> None:
    service = SERVICES[name]
    assert (
        service["image"] == SERVICES["migrate"]["image"] == "${KNUTEPUNKT_IMAGE:-knutepunkt:latest}"
    )
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert "container_name" not in service


def test_redis_persists_with_append_only_file_on_a_named_volume() -> None:
    redis = SERVICES["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in redis["volumes"]
    assert set(COMPOSE["volumes"]) >= {"redis-data", "postgres-data", "devsinks-data"}


def test_postgres_creates_the_databases_at_first_start() -> None:
    volumes = SERVICES["postgres"]["volumes"]
    init = [v for v in volumes if "/docker-entrypoint-initdb.d/" in v]
    assert init, volumes
    script = REPO / init[0].split(":")[0]
    assert script.is_file()
    assert script.stat().st_mode & 0o111, "the official image sources non-executable scripts"


def test_migrations_run_once_before_the_services() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["restart"] == "no"
    script = " ".join(migrate["command"])
    assert [s for s in APP_SERVICES if f"services.{s} migrate" in script] == list(APP_SERVICES)
    for name in APP_SERVICES:
        needs = SERVICES[name]["depends_on"]["migrate"]["condition"]
        assert needs == "service_completed_successfully"


def test_notify_scales_without_a_fixed_host_port() -> None:
    for port in SERVICES["notify"]["ports"]:
        host_part = port.rsplit(":", 1)[0]
        assert host_part.endswith(":"), f"{port} fixes a host port; replicas would collide"


def test_the_sinks_are_in_the_dev_profile_only() -> None:
    assert SERVICES["devsinks"]["profiles"] == ["dev"]
    assert [name for name, s in SERVICES.items() if s.get("profiles")] == ["devsinks"]


def test_every_variable_is_named_in_env_example() -> None:
    example = (REPO / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    assert used - documented == set()


def test_standin_mode_swaps_only_the_processes() -> None:
    swapped = yaml.safe_load(with_standin_commands(COMPOSE_TEXT))["services"]
    for name in (*APP_SERVICES, "migrate", "devsinks"):
        assert swapped[name]["command"][:2] == ["python", STANDIN_SCRIPT]
        assert any(STANDIN_SCRIPT in v for v in swapped[name]["volumes"])
        assert {k: v for k, v in swapped[name].items() if k not in ("command", "volumes")} == {
            k: v for k, v in SERVICES[name].items() if k not in ("command", "volumes")
        }
    assert swapped["redis"] == SERVICES["redis"]
