"""compose.yaml brought up with podman-compose, waited on, scaled, restarted, torn down.

The project runs from a scratch folder holding a copy of compose.yaml and its own .env: Debian's
podman-compose 1.0.3 lets a `.env` beside the compose file override the environment, so a
developer's real .env in the checkout must not leak into the test (nor the test into it).
`deploy/` is linked in for the relative bind mounts.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from deploy.outcome import StepFailed, tail
from deploy.podman_host import Podman

APP_SERVICES = ("booking", "loans", "catering", "notify")
PUBLISHED_PORT_VARIABLES = {
    "booking": "BOOKING_HTTP_PORT",
    "loans": "LOANS_HTTP_PORT",
    "catering": "CATERING_HTTP_PORT",
    "mail": "MAIL_HTTP_PORT",
    "sms": "SMS_HTTP_PORT",
}
STANDIN_SCRIPT = "/opt/knutepunkt-standin/standin_service.py"
PROJECT_LABEL = "io.podman.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port below the ephemeral range: a port the kernel hands out for port 0 may be
    taken by any busy process's outgoing connection before podman binds it."""
    floor = ephemeral_floor()
    for _ in range(200):
        port = random.randrange(max(1025, floor - 12000), floor)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise StepFailed("no free port below the ephemeral range")


def dotenv(variables: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in variables.items())


def with_standin_commands(compose_text: str) -> str:
    """compose.yaml with each service process replaced by deploy/standin_service.py."""
    compose = yaml.safe_load(compose_text)
    commands = {name: ["serve", name] for name in APP_SERVICES}
    commands |= {"migrate": ["migrate"], "devsinks": ["sinks"]}
    for name, args in commands.items():
        service = compose["services"][name]
        service["command"] = ["python", STANDIN_SCRIPT, *args]
        service["volumes"] = [
            *service.get("volumes", []),
            f"./deploy/standin_service.py:{STANDIN_SCRIPT}:ro",
        ]
    return yaml.safe_dump(compose, sort_keys=False)


@dataclass
class Stack:
    podman: Podman
    repo: Path
    project_dir: Path
    project: str
    variables: dict[str, str]
    standin: bool = False
    expected: dict[str, int] = field(default_factory=dict)

    # --- lifecycle -------------------------------------------------------------------------

    def write(self) -> None:
        self.project_dir.mkdir(parents=True, exist_ok=True)
        text = (self.repo / "compose.yaml").read_text()
        if self.standin:
            text = with_standin_commands(text)
        (self.project_dir / "compose.yaml").write_text(text)
        env_file = self.project_dir / ".env"
        env_file.write_text(dotenv(self.variables))
        env_file.chmod(0o600)
        # The state folder may be shared by several clones: point at this one.
        link = self.project_dir / "deploy"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(self.repo / "deploy", target_is_directory=True)

    def compose(self, *args: str) -> str:
        return self.podman.compose(self.project_dir, self.project, *args)

    def up(self, *services: str) -> None:
        self.compose("up", "-d", "--no-build", *services)

    def scale(self, service: str, replicas: int) -> None:
        variable = f"{service.upper()}_REPLICAS"
        self.variables[variable] = str(replicas)
        self.write()
        self.up(service)
        self.expected[service] = replicas

    def restart(self, service: str, number: int = 1) -> None:
        self.podman("restart", "--time", "10", self.container_name(service, number))

    def labelled(self) -> dict[str, list[str]]:
        """Ids of this project's containers, volumes and networks, by kind."""
        label = f"label={PROJECT_LABEL}={self.project}"
        return {
            "container": self.podman("ps", "--all", "--quiet", "--filter", label).split(),
            "volume": self.podman("volume", "ls", "--quiet", "--filter", label).split(),
            "network": self.podman("network", "ls", "--quiet", "--filter", label).split(),
        }

    def teardown(self, within: float = 60.0) -> None:
        """Everything podman-compose made for this project, found by its label: one `podman rm`
        for all containers (`podman-compose down` stops them one by one, and 1.0.3 leaves the
        network behind), then the volumes and the network; again until nothing is left, since
        a container that its restart policy is restarting cannot be removed at that moment."""
        deadline = time.monotonic() + within
        found = self.labelled()
        while any(found.values()):
            if found["container"]:
                self.podman(
                    "rm", "--force", "--volumes", "--time", "1", *found["container"], check=False
                )
            if found["volume"]:
                self.podman("volume", "rm", "--force", *found["volume"], check=False)
            if found["network"]:
                self.podman("network", "rm", "--force", *found["network"], check=False)
            found = self.labelled()
            if any(found.values()) and time.monotonic() > deadline:
                raise StepFailed(f"teardown left {found}")

    # --- what is running -------------------------------------------------------------------

    def container_name(self, service: str, number: int = 1) -> str:
        return f"{self.project}_{service}_{number}"

    def containers(self) -> list[dict[str, Any]]:
        out = self.podman(
            "ps", "--all", "--format", "json", "--filter", f"label={PROJECT_LABEL}={self.project}"
        )
        return list(json.loads(out or "[]"))

    def host_port(self, container: str, port: int = 8000) -> int:
        mapping = self.podman("port", container, f"{port}/tcp").strip().splitlines()
        if not mapping:
            raise StepFailed(f"{container} publishes no host port for {port}")
        return int(mapping[0].rsplit(":", 1)[1])

    def base_url(self, name: str) -> str:
        """Published endpoint: booking, loans, catering, mail, sms."""
        return f"http://127.0.0.1:{self.variables[PUBLISHED_PORT_VARIABLES[name]]}"

    def notify_urls(self) -> list[str]:
        return [
            f"http://127.0.0.1:{self.host_port(self.container_name('notify', n))}"
            for n in range(1, self.expected.get("notify", 1) + 1)
        ]

    def logs(self, container: str, lines: int = 30) -> str:
        return tail(self.podman.output("logs", "--tail", str(lines), container), lines)

    # --- readiness -------------------------------------------------------------------------

    def problems(self, http: bool = True) -> dict[str, str]:
        """Every container of the project not (yet) ready, with why; empty when all are.
        `http` adds the published endpoints (off while only redis and postgres run)."""
        problems: dict[str, str] = {}
        seen: dict[str, int] = {}
        running: list[str] = []
        for info in self.containers():
            name = info["Names"][0]
            service = info.get("Labels", {}).get(SERVICE_LABEL, "")
            seen[service] = seen.get(service, 0) + 1
            state = info.get("State", "")
            if service == "migrate":
                if state != "exited":
                    problems[name] = f"migrate is {state}"
                elif info.get("ExitCode") != 0:
                    raise StepFailed(f"migrate exited {info.get('ExitCode')}:\n{self.logs(name)}")
            elif state == "created":
                # podman-compose carries on when `podman run` fails to start a container.
                why = self.podman.output("start", name)
                raise StepFailed(f"{name} was created but did not start:\n{tail(why)}")
            elif state != "running":
                problems[name] = f"state {state}"
            else:
                running.append(name)
        # One health check can take seconds while a service waits on a dependency; run them
        # side by side.
        with ThreadPoolExecutor(max_workers=8) as pool:
            healthy = pool.map(
                lambda name: self.podman.ok("healthcheck", "run", name, timeout=30), running
            )
            for name, ok in zip(running, healthy, strict=True):
                if not ok:
                    problems[name] = "health check failing"
        for service, count in self.expected.items():
            if seen.get(service, 0) != count:
                problems[service] = f"{seen.get(service, 0)} containers, expected {count}"
        if problems or not http:
            return problems
        for name, url in self.http_checks().items():
            try:
                status = httpx.get(url, timeout=3).status_code
            except httpx.HTTPError as exc:
                problems[name] = f"{url}: {type(exc).__name__}"
                continue
            if status != 200:
                problems[name] = f"{url}: {status}"
        return problems

    def http_checks(self) -> dict[str, str]:
        checks = {
            name: f"{self.base_url(name)}/health/ready" for name in ("booking", "loans", "catering")
        }
        checks |= {
            f"notify_{n}": f"{url}/health/ready" for n, url in enumerate(self.notify_urls(), 1)
        }
        checks |= {name: f"{self.base_url(name)}/messages" for name in ("mail", "sms")}
        return checks

    def wait_ready(self, within: float, poll: float = 1.0, http: bool = True) -> None:
        deadline = time.monotonic() + within
        problems = self.problems(http)
        while problems:
            if time.monotonic() > deadline:
                details = "\n".join(f"  {name}: {why}" for name, why in problems.items())
                logs = "\n".join(
                    f"--- logs of {name}:\n{self.logs(name)}"
                    for name in problems
                    if name.startswith(self.project)
                )
                raise StepFailed(f"not ready within {within:.0f} s:\n{details}\n{logs}")
            time.sleep(poll)
            problems = self.problems(http)

    def wait_until(self, what: str, condition: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise StepFailed(f"{what}: not within {within:.0f} s")
            time.sleep(0.5)
