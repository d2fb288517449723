"""Checks of the running stack's shape, below the business scenario: the image's promises
(non-root, a health check, no dev tools), init and restart policy in every container, Redis
persistence, and PostgreSQL's one database and role per service."""

from __future__ import annotations

import json

from deploy.outcome import StepFailed
from deploy.stack import APP_SERVICES, Stack

DEV_MODULES = ("pytest", "ruff", "hypothesis", "schemathesis")
DEV_COMMANDS = ("gcc", "cc", "make", "git")


def check_image(stack: Stack, image: str) -> None:
    inspected = json.loads(stack.podman("image", "inspect", image))[0]
    config = inspected.get("Config") or {}
    if (config.get("User") or inspected.get("User")) in (None, "", "root", "0"):
        raise StepFailed(f"{image} runs as root")
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck") or {}
    if not healthcheck.get("Test"):
        raise StepFailed(f"{image} has no HEALTHCHECK")
    probe = (
        "import importlib.util, os, shutil, sys; "
        f"found = [m for m in {DEV_MODULES!r} if importlib.util.find_spec(m)]; "
        f"found += [c for c in {DEV_COMMANDS!r} if shutil.which(c)]; "
        "found += [p for p in ('/opt/venv/bin/pip',) if os.path.exists(p)]; "
        "print(' '.join(found)); sys.exit(1 if found else 0)"
    )
    out = stack.podman("run", "--rm", "--no-healthcheck", image, "python", "-c", probe, check=False)
    if out.strip():
        raise StepFailed(f"{image} carries dev tools: {out.strip()}")


def check_containers(stack: Stack) -> None:
    for info in stack.containers():
        name = info["Names"][0]
        host = json.loads(stack.podman("inspect", "--format", "{{json .HostConfig}}", name))
        if not host.get("Init"):
            raise StepFailed(f"{name} runs without an init process")
        service = info.get("Labels", {}).get("com.docker.compose.service", "")
        policy = (host.get("RestartPolicy") or {}).get("Name", "")
        wanted = "no" if service == "migrate" else "unless-stopped"
        if policy != wanted and not (wanted == "no" and policy == ""):
            raise StepFailed(f"{name} restart policy {policy!r}, expected {wanted!r}")
    for service in APP_SERVICES:
        uid = stack.podman("exec", stack.container_name(service), "id", "-u").strip()
        if uid == "0":
            raise StepFailed(f"{service} runs as root inside its container")
    # The ops CLI that docs/deploy.md tells ops to run in a container.
    if not stack.podman.ok("exec", stack.container_name("booking"), "knutepunkt", "--help"):
        raise StepFailed("`knutepunkt --help` fails inside the booking container")


def check_redis_persistence(stack: Stack) -> None:
    redis = stack.container_name("redis")
    answer = stack.podman("exec", redis, "redis-cli", "CONFIG", "GET", "appendonly").split()
    if answer[-1:] != ["yes"]:
        raise StepFailed(f"redis appendonly is {answer}")


def check_postgres_databases(stack: Stack) -> None:
    postgres = stack.container_name("postgres")
    names = stack.podman(
        "exec",
        postgres,
        "psql",
        "--username",
        "postgres",
        "--dbname",
        "postgres",
        "--no-align",
        "--tuples-only",
        "--command",
        "SELECT datname FROM pg_database",
    ).split()
    missing = [svc for svc in APP_SERVICES if svc not in names]
    if missing:
        raise StepFailed(f"postgres lacks the databases {missing}")
    # Each service's role reaches its own database and no other.
    own = stack.podman.ok(
        "exec",
        "--env",
        f"PGPASSWORD={stack.variables['BOOKING_DB_PASSWORD']}",
        postgres,
        "psql",
        "--host",
        "127.0.0.1",
        "--username",
        "booking",
        "--dbname",
        "booking",
        "--command",
        "SELECT 1",
    )
    other = stack.podman.ok(
        "exec",
        "--env",
        f"PGPASSWORD={stack.variables['BOOKING_DB_PASSWORD']}",
        postgres,
        "psql",
        "--host",
        "127.0.0.1",
        "--username",
        "booking",
        "--dbname",
        "loans",
        "--command",
        "SELECT 1",
    )
    if not own or other:
        raise StepFailed(f"booking role: own database {own}, loans database {other}")


def check_all(stack: Stack, image: str) -> None:
    check_image(stack, image)
    check_containers(stack)
    check_redis_persistence(stack)
    check_postgres_databases(stack)
